"""Read side of the dashboard: the documents list (keyset pages), the overview figures, a document's page.

Reads only; every change goes through ``punte.services``. Money is summed in Python as ``Decimal``
(SQLite keeps amounts as text, and a float SUM would not be exact).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Float, String, case, cast, exists, func, literal_column, or_, select, tuple_, type_coerce
from sqlalchemy.orm import Session, aliased, lazyload
from sqlalchemy.sql.elements import ColumnElement

from punte.domain.errors import DomainError
from punte.domain.identifiers import cif_digits
from punte.domain.money import ZERO, round_to
from punte.services import events
from punte.services.payments import payment_label
from punte.store.models import Document, Event, Payment, Series
from punte.store.models_anaf import EfacturaSubmission
from punte.store.models_payments import PaymentAllocation

PAGE_SIZE = 50
KINDS = ("invoice", "proforma")
STATUSES = ("draft", "issued", "cancelled")
# e-Factura filter values: a submission state, or "none" (an issued invoice never submitted)
EFACTURA_STATES = ("none", "queued", "validated", "uploading", "uploaded", "ok", "nok", "unknown", "invalid")
_NUMBER = re.compile(r"^\s*([A-Za-z][A-Za-z0-9]*?)?\s*-?\s*0*(\d{1,9})\s*$")
_AMOUNT_PLACES = (0, 2, 3)  # the minor units currencies have (punte.domain.money.places)
OPEN_STATES = ("unpaid", "partial")  # Document.payment_state of an invoice with something left to collect


@dataclass(frozen=True)
class DocumentFilter:
    """What the documents list is narrowed to; empty fields do not filter."""

    kind: str = ""
    status: str = ""
    client: str = ""
    number: str = ""
    amount: str = ""
    date_from: date | None = None
    date_to: date | None = None
    efactura: str = ""

    @property
    def active(self) -> bool:
        return any((self.kind, self.status, self.client, self.number, self.amount, self.date_from, self.date_to,
                    self.efactura))

    def query(self) -> dict[str, str]:
        """The filter as query parameters (for the links to the next and previous pages)."""
        out = {
            "kind": self.kind, "status": self.status, "client": self.client, "number": self.number,
            "amount": self.amount, "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "", "efactura": self.efactura,
        }
        return {k: v for k, v in out.items() if v}


def _day(text: str | None, label: str) -> date | None:
    if not (text or "").strip():
        return None
    try:
        return date.fromisoformat(text.strip())  # type: ignore[union-attr]
    except ValueError as exc:
        raise DomainError(f"{label}: data trebuie sa fie de forma yyyy-MM-dd.") from exc


def parse_filter(params: dict[str, str]) -> DocumentFilter:
    kind = (params.get("kind") or "").strip()
    status = (params.get("status") or "").strip()
    efactura = (params.get("efactura") or "").strip()
    f = DocumentFilter(
        kind=kind if kind in KINDS else "",
        status=status if status in STATUSES else "",
        client=(params.get("client") or "").strip()[:200],
        number=(params.get("number") or "").strip()[:30],
        amount=(params.get("amount") or "").strip()[:30],
        date_from=_day(params.get("from"), "De la"),
        date_to=_day(params.get("to"), "Pana la"),
        efactura=efactura if efactura in EFACTURA_STATES else "",
    )
    if f.number and not _NUMBER.match(f.number):
        raise DomainError("Numarul cautat trebuie sa fie de forma FCT0012 sau 12.")
    if f.amount:
        _amount(f.amount)
    return f


def _amount(text: str) -> Decimal:
    """An amount as typed: ``1.234,56``, ``1234.56``, ``1 234,56`` or ``-121``."""
    value = text.replace(" ", "").replace("\u00a0", "")
    if "," in value:
        value = value.replace(".", "").replace(",", ".")
    try:
        result = Decimal(value)
    except InvalidOperation as exc:
        raise DomainError("Suma cautata nu este un numar.") from exc
    if not result.is_finite():
        raise DomainError("Suma cautata nu este un numar.")
    return result


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class DocumentRow:
    id: int
    kind: str
    series: str
    number: str | None
    status: str
    issue_date: date
    due_date: date | None
    client_name: str
    client_cif: str | None
    currency: str
    gross_total: Decimal
    is_storno: bool
    efactura: str | None = None  # the e-Factura submission's state (None: never submitted)

    @property
    def label(self) -> str:
        return f"{self.series}{self.number or ''}"


@dataclass(frozen=True)
class DocumentPage:
    rows: list[DocumentRow]
    next_cursor: str | None  # older documents
    prev_cursor: str | None  # newer documents


def _cursor(row: DocumentRow) -> str:
    return f"{row.issue_date.isoformat()}_{row.id}"


def parse_cursor(text: str | None) -> tuple[date, int] | None:
    if not text:
        return None
    day, _, ident = text.partition("_")
    try:
        return date.fromisoformat(day), int(ident)
    except ValueError as exc:
        raise DomainError("Pagina ceruta nu exista.") from exc


_COLUMNS = (
    Document.id, Document.kind, Document.series_name, Document.number_text, Document.status, Document.issue_date,
    Document.due_date, Document.client_name, Document.client_cif, Document.currency, Document.gross_total,
    Document.reverses_id, EfacturaSubmission.state,
)


def list_documents(
    session: Session,
    company_id: int,
    f: DocumentFilter,
    *,
    after: str | None = None,
    before: str | None = None,
    limit: int = PAGE_SIZE,
) -> DocumentPage:
    """Newest first, ``limit`` a page, paged by (issue_date, id) on ``ix_documents_company_date_id``.

    ``after`` continues to older documents from a cursor, ``before`` goes back to newer ones; no
    OFFSET, so page 2,000 costs what page 1 costs.
    """
    # one probe per listed row on UNIQUE(efactura_submissions.document_id): the page stays an index range
    stmt = (select(*_COLUMNS).outerjoin(EfacturaSubmission, EfacturaSubmission.document_id == Document.id)
            .where(Document.company_id == company_id))
    if f.kind:
        stmt = stmt.where(Document.kind == f.kind)
    if f.status:
        stmt = stmt.where(Document.status == f.status)
    if f.efactura == "none":
        stmt = stmt.where(Document.kind == "invoice", Document.status == "issued", EfacturaSubmission.id.is_(None))
    elif f.efactura:
        stmt = stmt.where(EfacturaSubmission.state == f.efactura)
    if f.date_from:
        stmt = stmt.where(Document.issue_date >= f.date_from)
    if f.date_to:
        stmt = stmt.where(Document.issue_date <= f.date_to)
    if f.client:
        digits = cif_digits(f.client)
        by_name = Document.client_name.ilike(f"%{_escape_like(f.client)}%", escape="\\")
        stmt = stmt.where(or_(by_name, Document.client_cif == digits) if digits and digits.isdigit() else by_name)
    if f.number:
        m = _NUMBER.match(f.number)
        assert m is not None
        # found first through UNIQUE(company, series, number): at most one document per series
        series = select(Series.id).where(Series.company_id == company_id)
        if m.group(1):
            series = series.where(func.upper(Series.name) == m.group(1).upper())
        ids = session.scalars(select(Document.id).where(
            Document.company_id == company_id, Document.series_id.in_(series), Document.number == int(m.group(2))
        )).all()
        stmt = stmt.where(Document.id.in_(ids))
    if f.amount:
        value = _amount(f.amount)
        # one spelling per number of places: SQLite compares the stored text, "121.00" is not "121"
        spellings = {str(round_to(value, n)): round_to(value, n) for n in _AMOUNT_PLACES}
        stmt = stmt.where(Document.gross_total.in_(list(spellings.values())))

    back = parse_cursor(before)
    forward = parse_cursor(after) if back is None else None
    if back is not None:
        d, i = back
        stmt = stmt.where(tuple_(Document.issue_date, Document.id) > tuple_(d, i))
        stmt = stmt.order_by(Document.issue_date.asc(), Document.id.asc())
    else:
        if forward is not None:
            d, i = forward
            # a row-value comparison is one index range (an OR of two terms scans from the start)
            stmt = stmt.where(tuple_(Document.issue_date, Document.id) < tuple_(d, i))
        stmt = stmt.order_by(Document.issue_date.desc(), Document.id.desc())
    found = [
        DocumentRow(
            id=r[0], kind=r[1], series=r[2], number=r[3], status=r[4], issue_date=r[5], due_date=r[6],
            client_name=r[7], client_cif=r[8], currency=r[9], gross_total=r[10], is_storno=r[11] is not None,
            efactura=r[12],
        )
        for r in session.execute(stmt.limit(limit + 1))
    ]
    more = len(found) > limit
    rows = found[:limit]
    if back is not None:
        rows.reverse()
        return DocumentPage(
            rows=rows,
            next_cursor=_cursor(rows[-1]) if rows else None,
            prev_cursor=_cursor(rows[0]) if rows and more else None,
        )
    return DocumentPage(
        rows=rows,
        next_cursor=_cursor(rows[-1]) if rows and more else None,
        prev_cursor=_cursor(rows[0]) if rows and forward is not None else None,
    )


# --- overview -----------------------------------------------------------------------------------------


@dataclass
class UnpaidInvoice:
    id: int
    label: str
    client_name: str
    issue_date: date
    due_date: date | None
    currency: str
    gross_total: Decimal
    paid: Decimal

    @property
    def unpaid(self) -> Decimal:
        return self.gross_total - self.paid


@dataclass
class IssuedThisMonth:
    period_start: date
    period_end: date
    count: int = 0
    by_currency: dict[str, Decimal] = field(default_factory=dict)


@dataclass
class UnpaidInvoices:
    count: int = 0
    by_currency: dict[str, Decimal] = field(default_factory=dict)  # what is still to be collected
    overdue: int = 0
    oldest: list[UnpaidInvoice] = field(default_factory=list)


def month_bounds(day: date) -> tuple[date, date]:
    start = day.replace(day=1)
    nxt = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return start, date.fromordinal(nxt.toordinal() - 1)


def issued_this_month(session: Session, company_id: int, today: date) -> IssuedThisMonth:
    """Invoices issued this calendar month, per currency: cancelled ones left out, a storno subtracts."""
    start, end = month_bounds(today)
    result = IssuedThisMonth(period_start=start, period_end=end)
    issued: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for currency, gross in session.execute(
        select(Document.currency, Document.gross_total).where(
            Document.company_id == company_id, Document.kind == "invoice", Document.status == "issued",
            Document.issue_date >= start, Document.issue_date <= end,
        )
    ):
        issued[currency] += gross
        result.count += 1
    result.by_currency = dict(sorted(issued.items()))
    return result


def _open_invoices(company_id: int) -> list[ColumnElement[bool]]:
    """Issued invoices with something left to collect: not a storno, not reversed, a positive total.

    Selected through ``ix_documents_open`` (company, invoice, issued, unpaid|partial); a partly paid
    invoice has a positive total, an unpaid one is tested (a negative invoice is never collected).
    """
    storno = aliased(Document)
    return [
        Document.company_id == company_id, Document.kind == "invoice", Document.status == "issued",
        Document.payment_state.in_(OPEN_STATES), cast(Document.gross_total, Float) > 0,  # the sign only: exact
        # "+ 0": SQLite (no statistics) would otherwise walk UNIQUE(reverses_id) for NULL, i.e. every row
        (Document.reverses_id + 0).is_(None), ~exists().where(storno.reverses_id == Document.id),
    ]


def unpaid_invoices(session: Session, company_id: int, today: date, *, show: int = 10) -> UnpaidInvoices:
    """Issued invoices not wholly paid, reversed ones and stornos left out, from the paid total each
    document keeps (``services.payments.refresh_paid``): counted and summed by the database.

    PostgreSQL sums its exact NUMERIC; SQLite keeps money as text and its SUM would be a float, so it
    hands the amounts over joined (one row per currency) and they are added here as ``Decimal``.
    """
    sqlite = session.get_bind().dialect.name == "sqlite"
    if sqlite:
        owed: ColumnElement[Any] = func.group_concat(type_coerce(Document.gross_total, String), ",")
        paid_col: ColumnElement[Any] = func.group_concat(type_coerce(Document.paid_total, String), ",")
    else:
        owed, paid_col = func.sum(Document.gross_total - Document.paid_total), literal_column("NULL")
    result = UnpaidInvoices()
    unpaid: dict[str, Decimal] = {}
    for currency, count, overdue, amounts, paid_amounts in session.execute(
        select(Document.currency, func.count(), func.sum(case((Document.due_date < today, 1), else_=0)), owed,
               paid_col)
        .where(*_open_invoices(company_id)).group_by(Document.currency)
    ):
        result.count += count
        result.overdue += int(overdue or 0)
        unpaid[currency] = _text_sum(amounts) - _text_sum(paid_amounts) if sqlite else Decimal(amounts)
    result.by_currency = dict(sorted(unpaid.items()))
    if result.count:
        oldest = session.scalars(
            select(Document).options(lazyload(Document.lines)).where(*_open_invoices(company_id))
            .order_by(func.coalesce(Document.due_date, Document.issue_date), Document.id).limit(show)
        )
        result.oldest = [
            UnpaidInvoice(
                id=d.id, label=f"{d.series_name}{d.number_text or ''}", client_name=d.client_name,
                issue_date=d.issue_date, due_date=d.due_date, currency=d.currency, gross_total=d.gross_total,
                paid=d.paid_total,
            )
            for d in oldest
        ]
    return result


def _text_sum(joined: str | None) -> Decimal:
    """The exact sum of amounts SQLite joined with commas (as stored: plain decimal text)."""
    return sum(map(Decimal, joined.split(","))) if joined else ZERO


# --- one document -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentRow:
    id: int
    type: str
    amount: Decimal  # the part of the payment that went to this document
    value: Decimal  # the whole payment (it may cover several invoices)
    currency: str
    payment_date: date
    status: str
    receipt: str | None
    created_by: str


def payments_of(session: Session, document_id: int) -> list[PaymentRow]:
    """The payments allocated to the document, oldest first."""
    rows = session.execute(
        select(Payment, PaymentAllocation.amount)
        .join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
        .where(PaymentAllocation.document_id == document_id)
        .order_by(Payment.id)
    ).all()
    return [
        PaymentRow(
            id=p.id, type=p.type, amount=amount, value=p.value, currency=p.currency, payment_date=p.payment_date,
            status=p.status, receipt=payment_label(p) if p.number else None, created_by=p.created_by,
        )
        for p, amount in rows
    ]


def event_log(session: Session, document_id: int, payment_ids: list[int]) -> list[Event]:
    """The document's own events and those of its payments, oldest first."""
    rows = events.history(session, "document", document_id)
    for pid in payment_ids:
        rows.extend(events.history(session, "payment", pid))
    return sorted(rows, key=lambda e: e.id)


def related(session: Session, doc: Document) -> dict[str, Document | None]:
    """The invoice a storno reverses, the storno of an invoice, the proforma an invoice came from."""
    return {
        "reverses": session.get(Document, doc.reverses_id) if doc.reverses_id else None,
        "reversed_by": session.scalar(select(Document).where(Document.reverses_id == doc.id)),
        "estimate": session.get(Document, doc.estimate_id) if doc.estimate_id else None,
    }
