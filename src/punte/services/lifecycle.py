"""What else happens when a document is issued, reversed, cancelled, restored or deleted.

The issuing and operations services call these functions inside the same unit of work as the change
itself, so every consequence (quota use, stock movements, e-Factura submission, e-mail) is written
atomically with it or not at all. Each area adds its own call here, in this order.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from punte.store.models import Company, Document

from . import stock


def before_issue(session: Session, company: Company, *, kind: str, count: int = 1) -> None:
    """Runs before a document or receipt takes a number; may refuse (quota)."""
    from .quotas import consume

    consume(session, company, kind=kind, count=count)


def after_issue(session: Session, company: Company, document: Document, *, actor: str) -> None:
    """Runs once a document has its number and lines (stock, e-Factura queue)."""
    stock.discharge_document(session, company, document, actor=actor)  # a storno puts its goods back here
    from punte.efactura.anaf.submissions import queue_on_issue

    queue_on_issue(session, company, document, actor=actor)  # e-Factura: queued with the issue, when automatic


def after_reverse(session: Session, company: Company, original: Document, storno: Document, *, actor: str) -> None:
    """Runs after a storno was issued for ``original`` (its own ``after_issue`` has run too)."""


def after_cancel(session: Session, company: Company, document: Document, *, actor: str) -> None:
    """Runs after a document was cancelled."""
    stock.cancel_document_stock(session, company, document, actor=actor)


def after_restore(session: Session, company: Company, document: Document, *, actor: str) -> None:
    """Runs after a cancelled document was restored."""
    stock.restore_document_stock(session, company, document, actor=actor)


def before_delete(session: Session, company: Company, document: Document, *, actor: str) -> None:
    """Runs before the last document of a series is deleted."""
    from punte.efactura.anaf.submissions import guard_delete

    guard_delete(session, company, document)  # a document that may be in SPV is never deleted
    stock.delete_document_stock(session, company, document, actor=actor)
