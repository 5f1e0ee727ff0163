"""Reading the received invoices punte stored: lists, one invoice, its XML and its PDF, the API's shape.

The invoices get here through :mod:`punte.services.received` (sync, download, archive, parse).
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from punte.config import Settings
from punte.domain.errors import DomainError, NotFound
from punte.domain.identifiers import cif_digits
from punte.efactura.anaf import archive
from punte.efactura.ubl_read import UblReadError, read_ubl
from punte.store.models import Company, Job
from punte.store.models_received import DOWNLOADED, ReceivedInvoice, ReceivedSync

from .received import BUCHAREST, DOWNLOAD_JOB, company_environment, sync_row, xml_members


def _money(value: Decimal | None) -> str | None:
    """A stored amount as written, at least 2 decimals (PostgreSQL hands back NUMERIC(20, 6)'s six)."""
    if value is None:
        return None
    exponent = value.normalize().as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return format(value.quantize(Decimal(1).scaleb(-places)), "f")



def sync_status(session: Session, company: Company) -> ReceivedSync | None:
    return sync_row(session, company.id, company_environment(session, company.id))


def pending_downloads(session: Session, company: Company) -> int:
    return int(session.scalar(select(func.count()).select_from(Job).where(
        Job.kind == DOWNLOAD_JOB, Job.company_id == company.id, Job.status.in_(("queued", "running")))) or 0)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), BUCHAREST).astimezone(UTC)


def list_received(
    session: Session, company: Company, *, start: date | None = None, end: date | None = None,
    supplier: str | None = None, env: str | None = None,
) -> list[ReceivedInvoice]:
    """The company's received invoices, newest first, in its current e-Factura environment (or ``env``).

    ``start``/``end`` bound the issue date (for a file that could not be read: the day it was
    received); ``supplier`` matches the supplier's CIF or part of its name.
    """
    env = env or company_environment(session, company.id)
    stmt = select(ReceivedInvoice).where(ReceivedInvoice.company_id == company.id,
                                         ReceivedInvoice.environment == env)
    if start is not None and end is not None and start > end:
        raise DomainError("Data de inceput este dupa data de sfarsit.")
    if start is not None:
        stmt = stmt.where(or_(ReceivedInvoice.issue_date >= start, and_(
            ReceivedInvoice.issue_date.is_(None), ReceivedInvoice.message_at >= _day_start(start))))
    if end is not None:
        stmt = stmt.where(or_(ReceivedInvoice.issue_date <= end, and_(
            ReceivedInvoice.issue_date.is_(None), ReceivedInvoice.message_at < _day_start(end + timedelta(days=1)))))
    if supplier and supplier.strip():
        term = supplier.strip()
        digits = cif_digits(term)
        conditions = [func.lower(ReceivedInvoice.supplier_name).contains(term.lower(), autoescape=True)]
        if digits.isdigit():
            conditions.append(ReceivedInvoice.supplier_cif == digits)
        stmt = stmt.where(or_(*conditions))
    stmt = stmt.order_by(ReceivedInvoice.issue_date.desc().nulls_last(), ReceivedInvoice.id.desc())
    return list(session.scalars(stmt))


def get_received(session: Session, company: Company, download_id: str) -> ReceivedInvoice:
    """One received invoice by its ANAF download id (``id`` in the message list)."""
    key = (download_id or "").strip()
    if not key:
        raise DomainError("Id-ul facturii primite (id-ul de descarcare ANAF) trebuie specificat.")
    rows = list(session.scalars(select(ReceivedInvoice).where(
        ReceivedInvoice.company_id == company.id, ReceivedInvoice.download_id == key)))
    if not rows:
        raise NotFound(f"Factura primita cu id {key} nu exista pentru firma {company.cif}.")
    current = company_environment(session, company.id)
    return next((r for r in rows if r.environment == current), rows[0])


def archived_zip(settings: Settings, row: ReceivedInvoice) -> bytes:
    try:
        return archive.read(settings.data_dir, row.archive_path, row.archive_sha256)
    except FileNotFoundError as exc:
        raise DomainError(f"Arhiva facturii primite {row.download_id} lipseste: {row.archive_path}.") from exc
    except ValueError as exc:
        raise DomainError(f"Arhiva facturii primite {row.download_id} a fost modificata: {exc}.") from exc


def received_xml(settings: Settings, row: ReceivedInvoice) -> tuple[bytes, str]:
    """The invoice XML as the supplier sent it (from the archived ZIP), and its file name."""
    data = archived_zip(settings, row)
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        names = bundle.namelist()
        if row.xml_name and row.xml_name in names:
            return bundle.read(row.xml_name), row.xml_name.rsplit("/", 1)[-1]
    members = xml_members(data)
    if not members:
        raise DomainError(f"ZIP-ul facturii primite {row.download_id} nu contine un fisier XML.")
    return members[0][1], members[0][0].rsplit("/", 1)[-1]


def received_pdf(settings: Settings, row: ReceivedInvoice) -> bytes:
    """The received invoice drawn by punte's PDF renderer, from the archived XML."""
    from punte.render.pdf import FontNotFoundError, render_pdf

    if row.status != DOWNLOADED:
        raise DomainError(f"Factura primita {row.download_id} nu a putut fi citita ({row.error}); descarcati "
                          "XML-ul ei.")
    xml, _ = received_xml(settings, row)
    try:
        return render_pdf(read_ubl(xml).to_document())
    except UblReadError as exc:
        raise DomainError(f"Factura primita {row.download_id} nu poate fi citita: {exc}") from exc
    except FontNotFoundError as exc:
        raise DomainError(f"PDF-ul nu poate fi desenat: {exc}") from exc


def as_dict(row: ReceivedInvoice, *, lines: bool = False) -> dict[str, Any]:
    """A received invoice in the API's shape (amounts as decimal strings)."""
    data: dict[str, Any] = {
        "id": row.download_id, "uploadIndex": row.upload_index, "environment": row.environment,
        "status": row.status, "error": row.error, "kind": row.kind, "typeCode": row.type_code,
        "supplierCif": row.supplier_cif, "supplierName": row.supplier_name, "buyerCif": row.buyer_cif,
        "number": row.number, "issueDate": row.issue_date.isoformat() if row.issue_date else None,
        "dueDate": row.due_date.isoformat() if row.due_date else None, "currency": row.currency,
        "netTotal": _money(row.net_total), "vatTotal": _money(row.vat_total),
        "grossTotal": _money(row.gross_total), "payable": _money(row.payable),
        "messageDate": row.message_at.isoformat() if row.message_at else None,
        "downloadedAt": row.created_at.isoformat(), "sha256": row.archive_sha256,
    }
    if lines:
        data["lines"] = [{"kind": "line", **entry} for entry in row.lines or []]  # older rows had no kind
        data["vatBreakdown"] = row.vat_breakdown
    return data


def sync_dict(row: ReceivedSync | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"status": row.status, "text": row.status_text,
            "lastSyncAt": row.last_sync_at.isoformat() if row.last_sync_at else None,
            "syncedUntil": row.synced_until.isoformat() if row.synced_until else None,
            "lastMessageAt": row.last_message_at.isoformat() if row.last_message_at else None}


__all__ = [
    "archived_zip", "as_dict", "get_received", "list_received", "pending_downloads", "received_pdf", "received_xml",
    "sync_dict", "sync_status",
]
