"""Domain errors carry the exact user-facing text (SmartBill's wording where one exists)."""

from __future__ import annotations


class DomainError(Exception):
    """A business rule refused an operation. ``text`` is shown to the user as is."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class NotFound(DomainError):
    """The document, series or company named does not exist."""


class Conflict(DomainError):
    """The operation collides with the current state (already reversed, not last in series...)."""
