"""Read side of the webhook inbox for the dashboard: which document each listed event produced.

``punte.services.bridge.list_events`` gives the rows (with the document's label); the page also links
to the document, so this looks up the ids of the same documents. Reads only.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from punte.store.models_bridge import BridgeInbox, BridgePayment


def document_ids(session: Session, company_id: int, inbox_ids: list[int]) -> dict[int, int]:
    """{inbox id: id of the invoice its payment made (or was linked to)} for the listed events."""
    if not inbox_ids:
        return {}
    rows = session.execute(
        select(BridgeInbox.id, func.coalesce(BridgePayment.document_id, BridgePayment.linked_document_id))
        .join(BridgePayment, BridgePayment.id == BridgeInbox.payment_id)
        .where(BridgeInbox.company_id == company_id, BridgeInbox.id.in_(inbox_ids))
    ).all()
    return {inbox_id: doc_id for inbox_id, doc_id in rows if doc_id is not None}
