"""What can go wrong talking to ANAF, as types the pipeline can act on.

Three families, because the pipeline answers each differently:

* :class:`AnafTransientError`: try again later (5xx, 429, timeouts, HTML maintenance or firewall
  pages, plain-text answers). ``retry_after`` is the server's or our hint in seconds.
* :class:`AnafUnknownOutcome`: an upload whose request left but whose answer never came. The
  invoice may or may not be in SPV; the caller must reconcile through the message list before it
  uploads again.
* :class:`AnafPermanentError`: ANAF understood and refused (400, 404, an ``eroare`` JSON, an
  ``ExecutionStatus="1"`` upload answer). Retrying the same request gives the same answer.

:class:`AnafUnauthorized` (401/403) is permanent for the token used; refreshing it may help.
:class:`AnafLimitReached` is punte's own refusal to exceed a published per-message daily limit.
"""

from __future__ import annotations

from datetime import datetime


class AnafError(Exception):
    """Any failure of an ANAF call. ``status`` is the HTTP status when there was an answer."""

    def __init__(self, message: str, *, status: int | None = None, body: bytes | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = body[:2000] if body else body


class AnafTransientError(AnafError):
    """Try again later; ``retry_after`` seconds is the hint (Retry-After, or a default per cause)."""

    def __init__(self, message: str, *, retry_after: float = 30.0, status: int | None = None,
                 body: bytes | None = None) -> None:
        super().__init__(message, status=status, body=body)
        self.retry_after = retry_after


class AnafUnknownOutcome(AnafTransientError):
    """The upload was sent but no answer came back (read timeout, connection cut): reconcile first."""


class AnafPermanentError(AnafError):
    """ANAF refused the request; the same request will be refused again."""


class AnafUnauthorized(AnafPermanentError):
    """401/403: the access token is expired, revoked or lacks rights on this CIF."""


class AnafUploadRejected(AnafPermanentError):
    """An upload answered with ``ExecutionStatus="1"``; ``errors`` are ANAF's ``errorMessage`` texts."""

    def __init__(self, errors: list[str], *, status: int | None = None, body: bytes | None = None) -> None:
        super().__init__("; ".join(errors) or "upload refuzat fara mesaj", status=status, body=body)
        self.errors = errors


class AnafDuplicateUpload(AnafUploadRejected):
    """ANAF already has this invoice: ``previous_index`` is the upload index it was received under."""

    def __init__(self, errors: list[str], previous_index: str, previous_date: str | None, *,
                 status: int | None = None, body: bytes | None = None) -> None:
        super().__init__(errors, status=status, body=body)
        self.previous_index = previous_index
        self.previous_date = previous_date


class AnafLimitReached(AnafError):
    """punte will not make this call today: the per-message daily limit is used up."""

    def __init__(self, message: str, *, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


__all__ = [
    "AnafDuplicateUpload",
    "AnafError",
    "AnafLimitReached",
    "AnafPermanentError",
    "AnafTransientError",
    "AnafUnauthorized",
    "AnafUnknownOutcome",
    "AnafUploadRejected",
]
