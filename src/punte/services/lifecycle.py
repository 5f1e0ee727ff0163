"""What else happens when a document is issued, reversed, cancelled, restored or deleted.

The issuing and operations services call these functions inside the same unit of work as the change
itself, so every consequence (quota use, stock movements, e-Factura submission, e-mail) is written
atomically with it or not at all. Each area adds its own call here, in this order.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from punte.store.models import Company, Document


def before_issue(session: Session, company: Company, *, kind: str, count: int = 1) -> None:
    """Runs before a document or receipt takes a number; may refuse (quota)."""


def after_issue(session: Session, company: Company, document: Document, *, actor: str) -> None:
    """Runs once a document has its number and lines (stock, e-Factura queue)."""


def after_reverse(session: Session, company: Company, original: Document, storno: Document, *, actor: str) -> None:
    """Runs after a storno was issued for ``original`` (its own ``after_issue`` has run too)."""


def after_cancel(session: Session, company: Company, document: Document, *, actor: str) -> None:
    """Runs after a document was cancelled."""


def after_restore(session: Session, company: Company, document: Document, *, actor: str) -> None:
    """Runs after a cancelled document was restored."""


def before_delete(session: Session, company: Company, document: Document, *, actor: str) -> None:
    """Runs before the last document of a series is deleted."""
