"""Payments (incasari): against invoices or standalone, of every SmartBill type.

- A ``Chitanta`` (receipt) takes the next number of a receipt series (type ``c``); a ``Bon`` (fiscal
  receipt) the next number of the company's fiscal printer, and its text for the cash register is
  stored. Every payment is an API document for the quota (SmartBill's FAQ): the hook runs before a
  receipt takes its number (kind ``receipt``) and before any other payment is stored (``payment``).
- A payment may cover several invoices of one client (``payment_allocations``): the value fills the
  invoices in the order given, never beyond what is left to collect on each.
- Cash payments (every Chitanta, the cash part of a Bon, any payment sent with ``isCash``) go into the
  company's cash book (:mod:`punte.services.cash`).
- Deleting payments is :mod:`punte.services.payment_deletes`.
- Every invoice keeps what was collected on it (``paid_total``, ``payment_state``), recomputed from its
  allocations by :func:`refresh_paid` in the transaction of each change, so lists need no allocation sums.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from punte.domain.errors import Conflict, DomainError, NotFound
from punte.domain.fiscal_receipt import TENDERS, ReceiptItem, Settlement, render, settle, total
from punte.domain.money import CURRENCIES, ZERO, places, round_money
from punte.smartbill.wire import ClientData, PaymentData, PaymentRequest
from punte.store.models import Company, Document, Payment, Series
from punte.store.models_payments import FiscalPrinter, PaymentAllocation

from . import cash, events, lifecycle
from .fiscal_receipts import TOO_MANY, encode_text, items_from_invoices, items_from_products

PAYMENT_TYPES = {
    t.casefold(): t
    for t in (
        "Chitanta",
        "Bon",
        "Card",
        "Card online",
        "CEC",
        "Bilet ordin",
        "Ordin plata",
        "Mandat postal",
        "Extras de cont",
        "Ramburs",
        "Alta incasare",
    )
}
CASH_TYPES = {"Chitanta", "Bon"}  # numbered receipts, always (at least partly) cash

INVOICE_NOT_FOUND = "Factura nu a fost gasita!"
NEED_INVOICE = "Pentru emiterea unei incasari cu datele de pe factura trebuie specificate seria si numarul facturii."
NEED_DETAILS_FLAG = "Pentru emiterea unei incasari cu datele de pe factura trebuie specificat useInvoiceDetails cu valoarea true."
SEVERAL_CLIENTS = "Nu puteti emite o incasare pentru facturi de la mai multi clienti."
SERIES_NOT_FOUND = "Seria nu a fost gasita! Folositi o serie creata in contul de cloud."
RECEIPT_NOT_FOUND = "Chitanta nu a fost gasita."
NO_MATCH = "Nu au fost gasite incasari conform datelor specificate."
CANNOT_VIEW = "Nu puteti vizualiza documentul"
FISCAL_PADDING = 4  # digits of a fiscal receipt's number in answers ("0012")


def canonical_type(text: str | None, missing: str = "type trebuie specificat pentru incasare") -> str:
    if not (text or "").strip():
        raise DomainError(missing)
    found = PAYMENT_TYPES.get(text.strip().casefold())  # type: ignore[union-attr]
    if found is None:
        raise DomainError("Tipul incasarii nu a fost gasit!")
    return found


def paid_amount(session: Session, document_id: int) -> Decimal:
    """What has been collected on an invoice (issued payments only; drafts do not count).

    Read from the total the document keeps (:func:`refresh_paid`, called by every writer of payments in
    the same transaction); :func:`paid_amounts` is the sum of the allocations it is recomputed from.
    """
    doc = session.get(Document, document_id)
    return doc.paid_total if doc is not None else ZERO


def paid_amounts(session: Session, document_ids: list[int]) -> dict[int, Decimal]:
    """:func:`paid_amount` for many invoices at once (one query per 500 ids); missing ids paid nothing."""
    paid: dict[int, Decimal] = {}
    for start in range(0, len(document_ids), 500):
        rows = session.execute(
            select(PaymentAllocation.document_id, PaymentAllocation.amount)
            .join(Payment, Payment.id == PaymentAllocation.payment_id)
            .where(PaymentAllocation.document_id.in_(document_ids[start:start + 500]), Payment.status == "issued")
        )
        for doc_id, amount in rows:
            paid[doc_id] = paid.get(doc_id, ZERO) + amount
    return paid


def payment_state(gross_total: Decimal, paid_total: Decimal) -> str:
    """``unpaid`` (nothing collected), ``partial`` or ``paid`` (the total is covered).

    It depends on the amounts only, so a new document (nothing paid) is right with the column's default
    and issuing, cancelling, restoring or reversing never has to touch it; whether an invoice is open at
    all (issued, not reversed, positive) is the reader's question (``web.queries.unpaid_invoices``).
    """
    if paid_total <= ZERO:
        return "unpaid"
    return "paid" if paid_total >= gross_total else "partial"


def refresh_paid(session: Session, document_ids: Iterable[int]) -> None:
    """Recompute ``paid_total`` and ``payment_state`` of the documents from their allocations.

    Called in the transaction of every change to an allocation or to a payment's status, after it was
    made; recomputing (rather than adding a difference) makes it exact and idempotent. Lock order is the
    one of recording a payment (invoices, then plan, receipt series, cash register): recording holds the
    invoices already; deleting locks them right after the payment and before the cash register, or before
    the receipt series (``payment_deletes``). Only rows whose values change are written.
    """
    ids = sorted(set(document_ids))
    if not ids:
        return
    session.flush()  # the allocations and statuses just changed must be counted
    docs: list[Document] = []
    for start in range(0, len(ids), 500):
        # locked before the allocations are read: a concurrent payment of the same invoice cannot slip in
        # between the sum and the write (a no-op for callers that hold the locks already)
        docs.extend(lock_documents(session, ids[start:start + 500]))
    paid = paid_amounts(session, ids)
    for doc in docs:
        total = paid.get(doc.id, ZERO)
        state = payment_state(doc.gross_total, total)
        if doc.paid_total != total or doc.payment_state != state:
            doc.paid_total, doc.payment_state = total, state
    session.flush()


def has_payments(session: Session, document_id: int) -> bool:
    """Whether any payment (draft receipts included) is allocated to the document."""
    return session.scalar(
        select(PaymentAllocation.id).where(PaymentAllocation.document_id == document_id).limit(1)
    ) is not None


def label(doc: Document) -> str:
    return f"{doc.series_name}{doc.number_text or ''}"


def payment_label(payment: Payment) -> str:
    if payment.type == "Chitanta" and payment.number_text:
        return f"{payment.series_name}{payment.number_text}"
    if payment.type == "Bon" and payment.number_text:
        return f"Bon {payment.number_text}"
    return payment.type


def local_today() -> date:
    from .issuing import today_in_romania

    return today_in_romania()


def _parse_date(text: str | None, default: date) -> date:
    from .issuing import parse_date

    day = parse_date(text, default=default)
    assert day is not None
    return day


# ---- what a payment is made of, whichever way it arrives ------------------------------------------------


@dataclass
class Client:
    name: str
    cif: str  # as written ("" when none)
    party: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of_request(cls, data: ClientData) -> Client:
        name, cif = (data.name or "").strip(), (data.vatCode or "").strip()
        party = {k: v for k, v in data.model_dump(exclude={"saveToDb"}).items() if v not in (None, "")}
        return cls(name, cif, party)

    @classmethod
    def of_invoice(cls, doc: Document) -> Client:
        return cls(doc.client_name, ((doc.buyer or {}).get("cif") or "").strip(), dict(doc.buyer or {}))

    def same_as(self, other: Client) -> bool:
        """Identity is name and CIF exactly as written (SmartBill: CIF case included)."""
        return self.name == other.name and self.cif == other.cif


@dataclass
class PaymentSpec:
    """A payment validated and ready to store."""

    type: str
    value: Decimal
    currency: str
    day: date
    language: str
    client: Client | None
    targets: list[tuple[Document, Decimal]]
    is_cash: bool
    cash_amount: Decimal
    series: Series | None = None
    is_draft: bool = False
    exchange_rate: Decimal | None = None
    fiscal: tuple[list[ReceiptItem], Settlement] | None = None
    details: dict[str, Any] = field(default_factory=dict)
    quota_taken: bool = False  # before_issue already ran (it must run before a receipt series is locked)


@dataclass
class Recorded:
    payment: Payment
    fiscal_message: str = ""  # base64 text for the register, when it was asked for

    @property
    def number(self) -> str:
        return self.payment.number_text or ""

    @property
    def series(self) -> str:
        return self.payment.series_name or ""


# ---- invoices ------------------------------------------------------------------------------------------------


def find_invoice(session: Session, company: Company, series: str | None, number: str | None) -> Document | None:
    value = (number or "").strip()
    if not (series or "").strip() or not value.isdigit():
        return None
    return session.scalar(select(Document).options(lazyload(Document.lines)).where(
        Document.company_id == company.id, Document.kind == "invoice", Document.series_name == series.strip(),  # type: ignore[union-attr]
        Document.number == int(value),
    ))


def _lock(session: Session, docs: list[Document]) -> None:
    lock_documents(session, [d.id for d in docs])


def lock_documents(session: Session, document_ids: Iterable[int]) -> list[Document]:
    """Lock the invoices' rows in id order (no deadlock between two payments of the same invoices)."""
    ids = sorted(set(document_ids))
    if not ids:
        return []
    return list(session.scalars(
        select(Document).options(lazyload(Document.lines)).where(Document.id.in_(ids)).order_by(Document.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ))


def _check_collectable(doc: Document) -> None:
    if doc.status == "cancelled":
        raise Conflict(
            f"Factura {label(doc)} este anulata, nu o puteti incasa. Restaurati intai factura sau emiteti "
            "incasarea independent de factura."
        )


def _allocate(session: Session, docs: list[Document], value: Decimal, *, single_text: bool = False) -> list[tuple[Document, Decimal]]:
    """Spread ``value`` over the invoices in order, each up to what is left to collect on it."""
    left = value
    out: list[tuple[Document, Decimal]] = []
    money = lambda amount: format(round_money(amount, docs[0].currency), "f")  # noqa: E731
    due_total = ZERO
    for doc in docs:
        due = max(ZERO, doc.gross_total - paid_amount(session, doc.id))
        due_total += due
        if left <= 0:
            raise DomainError(f"Valoarea incasarii se epuizeaza inaintea facturii {label(doc)}; scoateti-o din lista.")
        part = min(due, left)
        if part > 0:
            out.append((doc, part))
        left -= part
    if left > 0:
        if single_text and len(docs) == 1:
            raise DomainError(
                f"Valoarea incasarii ({money(value)}) depaseste suma de incasat pe factura {label(docs[0])} "
                f"({money(due_total)})."
            )
        raise DomainError(
            f"Valoarea incasarii ({money(value)}) depaseste suma de incasat pe facturi ({money(due_total)})."
        )
    return out


# ---- POST /payment ------------------------------------------------------------------------------------------


@dataclass
class _Source:
    """What the invoices named in a request say about the payment."""

    docs: list[Document]
    client: Client | None
    currency: str | None
    language: str | None
    exchange_rate: Decimal | None
    value: Decimal | None


def _from_invoices(session: Session, company: Company, req: PaymentRequest, currency: str | None,
                   language: str | None) -> _Source:
    """Find, lock and check the invoices of ``invoicesList``; take what ``useInvoiceDetails`` takes from them."""
    refs = req.invoicesList or []
    source = _Source([], Client.of_request(req.client) if req.client is not None else None, currency, language,
                     req.exchangeRate, req.value)
    if any(not (r.seriesName or "").strip() or not (r.number or "").strip() for r in refs):
        raise DomainError(NEED_INVOICE)
    if req.useInvoiceDetails and not refs:
        raise DomainError(NEED_INVOICE)
    if req.useInvoiceDetails and len(refs) > 1:
        raise DomainError("Trebuie specificata doar o factura!")
    if not refs:
        return source
    seen: set[int] = set()
    for ref in refs:
        doc = find_invoice(session, company, ref.seriesName, ref.number)
        if doc is None or doc.status == "draft":
            raise NotFound(INVOICE_NOT_FOUND)
        if doc.id in seen:
            raise DomainError(f"Factura {label(doc)} apare de mai multe ori in lista de facturi.")
        seen.add(doc.id)
        source.docs.append(doc)
    _lock(session, source.docs)
    for doc in source.docs:
        _check_collectable(doc)
    first = source.docs[0]
    if req.useInvoiceDetails:  # the invoice's data wins over the request's
        return _Source(source.docs, Client.of_invoice(first), first.currency, first.language, first.exchange_rate,
                       first.gross_total)
    owners = [Client.of_invoice(d) for d in source.docs]
    if any(not o.same_as(owners[0]) for o in owners[1:]):
        raise DomainError(SEVERAL_CLIENTS)
    if source.client is not None and not source.client.same_as(owners[0]):
        raise DomainError(f"Clientul facturii {label(first)} nu corespunde cu clientul incasarii!")
    source.client = source.client or owners[0]
    source.currency = currency or first.currency
    for doc in source.docs:
        if doc.currency != source.currency:
            raise DomainError(f"Moneda facturii {label(doc)} nu corespunde cu moneda incasarii!")
        if language is not None and doc.language != language:
            raise DomainError(f"Limba facturii {label(doc)} nu corespunde cu limba incasarii!")
    if source.exchange_rate is None and source.currency != "RON":
        source.exchange_rate = first.exchange_rate
    return source


def create_payment(session: Session, company: Company, req: PaymentRequest, *, actor: str,
                   today: date | None = None) -> Recorded:
    """Validate a SmartBill ``POST /payment`` body and record the payment (and its receipt)."""
    from .issuing import LANGUAGES

    ptype = canonical_type(req.type, missing="Tipul incasarii trebuie specificat.")
    day = _parse_date(req.issueDate, today or local_today())
    if len(req.invoicesList or []) > 70 or len(req.products or []) > 70:
        raise DomainError(TOO_MANY)
    language = (req.language or "").strip().upper() or None
    if language is not None and language not in LANGUAGES:
        raise DomainError("Limba nu a fost gasita pe server!")
    currency = (req.currency or "").strip().upper() or None
    if currency is not None and currency not in CURRENCIES:
        raise DomainError("Moneda nu a fost gasita pe server!")

    source = _from_invoices(session, company, req, currency, language)
    client, docs, value = source.client, source.docs, source.value
    currency = source.currency or "RON"
    if (client is None and ptype != "Bon") or (client is not None and not client.name):
        raise DomainError("Client invalid!")
    if source.exchange_rate is not None and source.exchange_rate <= 0:
        raise DomainError("Cursul valutar trebuie sa fie pozitiv.")

    items: list[ReceiptItem] = []
    if ptype == "Bon":
        if currency != "RON":
            raise DomainError("Bonurile fiscale pot fi emise doar in Lei!")
        if req.useStock:
            raise DomainError(
                "Descarcarea gestiunii de pe bonul fiscal nu este disponibila in punte; emiteti bonul cu useStock false."
            )
        if req.products:
            items = items_from_products(session, company, req.products, day)
            receipt_total = total(items)
            if value is not None and value != receipt_total:
                raise DomainError(f"Valoarea incasarii ({format(value, 'f')}) nu corespunde cu totalul bonului "
                                  f"({format(receipt_total, 'f')}).")
            value = receipt_total
    if value is None:
        raise DomainError(NEED_DETAILS_FLAG if docs else "Valoarea incasarii trebuie specificata.")
    _check_value(value, currency)
    targets = _allocate(session, docs, value, single_text=bool(req.useInvoiceDetails)) if docs else []

    fiscal: tuple[list[ReceiptItem], Settlement] | None = None
    details: dict[str, Any] = {"text": req.text, "translatedText": req.translatedText, "observation": req.observation}
    cash_amount = value if ptype == "Chitanta" or (ptype != "Bon" and req.isCash) else ZERO
    if ptype == "Bon":
        items = items or items_from_invoices(targets)
        if not items:
            raise DomainError("Bonul nu contine produse!")
        received = {f: getattr(req, f) for f in TENDERS}
        fiscal = (items, settle(value, received))
        cash_amount = fiscal[1].cash
        details["received"] = {f: format(v, "f") for f, v in received.items() if v}
        details["change"] = format(fiscal[1].change, "f") if fiscal[1].change else None

    is_draft = bool(req.isDraft) and ptype == "Chitanta"
    if not is_draft:
        # Lock order (see services.quotas): the plan row before a receipt series, as an invoice issued with
        # its payment does (invoice series, plan, receipt series); the other order could deadlock.
        lifecycle.before_issue(session, company, kind="receipt" if ptype in CASH_TYPES else "payment")
    series = _receipt_series(session, company, req.seriesName, not_found=SERIES_NOT_FOUND) if ptype == "Chitanta" else None
    spec = PaymentSpec(
        type=ptype, value=value, currency=currency, day=day, language=source.language or "RO", client=client,
        targets=targets, is_cash=cash_amount > 0, cash_amount=cash_amount, series=series,
        is_draft=is_draft, exchange_rate=source.exchange_rate, fiscal=fiscal,
        details={k: v for k, v in details.items() if v}, quota_taken=not is_draft,
    )
    payment = store(session, company, spec, actor=actor)
    message = encode_text(payment.fiscal_text or "") if fiscal and req.returnFiscalPrinterText else ""
    return Recorded(payment, message)


def _check_value(value: Decimal, currency: str) -> None:
    if value <= 0:
        raise DomainError("Valoarea incasarii trebuie sa fie pozitiva.")
    if round_money(value, currency) != value:
        raise DomainError(f"Valoarea incasarii poate avea cel mult {places(currency)} zecimale in {currency}.")
    if value > Decimal("1e12"):
        raise DomainError("Valoarea incasarii depaseste valorile acceptate.")


def _receipt_series(session: Session, company: Company, name: str | None, *, not_found: str) -> Series:
    """The receipt series named (or the default one), locked for numbering."""
    if name and name.strip():
        rows = list(session.scalars(
            select(Series).where(Series.company_id == company.id, Series.name == name.strip())
        ))
        if not rows:
            raise DomainError(not_found)
        if not any(s.type == "c" for s in rows):
            raise DomainError("Seria nu poate fi folosita la chitante.")
        stmt = select(Series).where(Series.company_id == company.id, Series.type == "c", Series.name == name.strip())
    else:
        stmt = select(Series).where(Series.company_id == company.id, Series.type == "c", Series.is_default.is_(True))
    series = session.scalar(stmt.with_for_update().execution_options(populate_existing=True))
    if series is None:
        raise DomainError(not_found)
    return series


def _fiscal_printer(session: Session, company: Company) -> FiscalPrinter:
    """The company's fiscal printer row, created on first use, locked for numbering."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    stmt = (select(FiscalPrinter).where(FiscalPrinter.company_id == company.id).with_for_update()
            .execution_options(populate_existing=True))
    printer = session.scalar(stmt)
    if printer is None:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(insert(FiscalPrinter).values(company_id=company.id, name="Casa de marcat", next_number=1)
                        .on_conflict_do_nothing(index_elements=["company_id"]))
        printer = session.scalar(stmt)
    assert printer is not None
    return printer


def store(session: Session, company: Company, spec: PaymentSpec, *, actor: str) -> Payment:
    """Number (unless a draft), store, allocate, book the cash and log a validated payment."""
    client = spec.client
    payment = Payment(
        company_id=company.id,
        document_id=spec.targets[0][0].id if spec.targets else None,
        type=spec.type,
        value=spec.value,
        currency=spec.currency,
        payment_date=spec.day,
        is_cash=spec.is_cash,
        client_name=client.name if client else None,
        client_cif=(client.cif or None) if client else None,
        created_by=actor,
        status="draft" if spec.is_draft else "issued",
        language=spec.language,
        exchange_rate=spec.exchange_rate,
        details={**spec.details, **({"client": client.party} if client else {})},
    )
    if spec.series is not None:
        payment.series_id = spec.series.id
        payment.series_name = spec.series.name
    if not spec.is_draft and spec.type in CASH_TYPES:
        _assign_number(session, company, payment, spec.series, fiscal=spec.fiscal is not None,
                       quota_taken=spec.quota_taken)
    elif not spec.is_draft and not spec.quota_taken:  # SmartBill's FAQ: every payment counts for the limit
        lifecycle.before_issue(session, company, kind="payment")
    if spec.fiscal is not None:
        payment.fiscal_text = render(*spec.fiscal)
    session.add(payment)
    session.flush()
    if spec.targets:
        session.execute(
            PaymentAllocation.__table__.insert(),
            [{"payment_id": payment.id, "document_id": doc.id, "position": i, "amount": amount}
             for i, (doc, amount) in enumerate(spec.targets, start=1)],
        )
        if not spec.is_draft:  # a draft receipt counts once it is issued (issue_draft_receipt)
            refresh_paid(session, [doc.id for doc, _ in spec.targets])
    events.record(
        session, company_id=company.id, entity="payment", entity_id=payment.id,
        action="draft_created" if spec.is_draft else "collected", actor=actor, data=snapshot(payment, spec.targets),
    )
    if not spec.is_draft and spec.cash_amount > 0:
        _book_cash(session, company, payment, spec.cash_amount, actor=actor)
    return payment


def _assign_number(session: Session, company: Company, payment: Payment, series: Series | None, *, fiscal: bool,
                   quota_taken: bool = False) -> None:
    if series is not None:
        if not quota_taken:
            lifecycle.before_issue(session, company, kind="receipt")
        payment.number = series.next_number
        payment.number_text = series.format(series.next_number)
        series.next_number += 1
    elif fiscal:
        if not quota_taken:
            lifecycle.before_issue(session, company, kind="receipt")
        printer = _fiscal_printer(session, company)
        payment.fiscal_printer_id = printer.id
        payment.number = printer.next_number
        payment.number_text = str(printer.next_number).zfill(FISCAL_PADDING)
        printer.next_number += 1


def _book_cash(session: Session, company: Company, payment: Payment, amount: Decimal, *, actor: str) -> None:
    cash.record(
        session, company, currency=payment.currency, amount=amount, day=payment.payment_date, kind="payment",
        actor=actor, payment_id=payment.id, document=payment_label(payment),
        text=f"{payment.type} {payment.client_name or ''}".strip(),
    )


def snapshot(payment: Payment, targets: list[tuple[Document, Decimal]] | None = None) -> dict[str, Any]:
    """What the event log keeps of a payment (enough to rebuild it)."""
    if targets is None:
        targets = []
    return {
        "type": payment.type,
        "status": payment.status,
        "value": round_money(payment.value, payment.currency),
        "currency": payment.currency,
        "date": payment.payment_date,
        "series": payment.series_name,
        "number": payment.number_text,
        "is_cash": payment.is_cash,
        "client": payment.client_name,
        "client_cif": payment.client_cif,
        "invoices": [{"id": d.id, "invoice": label(d), "amount": round_money(a, d.currency)} for d, a in targets],
        "document_id": payment.document_id,
        "details": payment.details,
    }


# ---- the payment section of POST /invoice -------------------------------------------------------------------


def record_payment_at_issue(
    session: Session, company: Company, document: Document, data: PaymentData, *, actor: str
) -> Payment:
    """The ``payment`` section of ``POST /invoice``: the invoice is collected (partly or wholly) at issue."""
    ptype = canonical_type(data.type)
    if data.value is None:
        raise DomainError("value trebuie specificat pentru incasare")
    value = data.value
    _check_value(value, document.currency)
    if document.gross_total > 0 and value > document.gross_total:
        raise DomainError(
            f"Valoarea incasarii ({value}) depaseste totalul facturii ({document.gross_total})."
        )
    targets = [(document, value)]
    fiscal = None
    cash_amount = value if (ptype == "Chitanta" or data.isCash) else ZERO
    if ptype == "Bon":
        if document.currency != "RON":
            raise DomainError("Bonurile fiscale pot fi emise doar in Lei!")
        settlement = settle(value, {})
        fiscal = (items_from_invoices(targets), settlement)
        cash_amount = settlement.cash
    series = None
    if ptype == "Chitanta":
        series = _receipt_series(session, company, data.paymentSeries, not_found="Seria incasarii nu a fost gasita pe server.")
    spec = PaymentSpec(
        type=ptype, value=value, currency=document.currency, day=document.issue_date, language=document.language,
        client=Client.of_invoice(document), targets=targets, is_cash=cash_amount > 0, cash_amount=cash_amount,
        series=series, exchange_rate=document.exchange_rate, fiscal=fiscal,
    )
    return store(session, company, spec, actor=actor)


def allocations(session: Session, payment: Payment) -> list[tuple[Document, Decimal]]:
    rows = session.execute(
        select(Document, PaymentAllocation.amount).options(lazyload(Document.lines))
        .join(PaymentAllocation, PaymentAllocation.document_id == Document.id)
        .where(PaymentAllocation.payment_id == payment.id).order_by(PaymentAllocation.position)
    )
    return [(doc, amount) for doc, amount in rows]


# ---- draft receipts -------------------------------------------------------------------------------------------


def issue_draft_receipt(session: Session, company: Company, payment_id: str | None, *, actor: str) -> Payment:
    """Give a draft receipt its number (punte extension; SmartBill does this in its web interface)."""
    payment = own_payment(session, company, payment_id, lock=True)
    if payment is None or payment.status != "draft":
        raise NotFound(f"Chitanta ciorna {payment_id} nu a fost gasita.")
    rows = allocations(session, payment)
    _lock(session, [d for d, _ in rows])
    for doc, amount in rows:
        _check_collectable(doc)
        if amount > doc.gross_total - paid_amount(session, doc.id):
            raise DomainError(
                f"Valoarea incasarii ({format(round_money(amount, doc.currency), 'f')}) depaseste suma de incasat "
                f"pe factura {label(doc)}."
            )
    lifecycle.before_issue(session, company, kind="receipt")  # the plan row before the series (lock order)
    series = session.scalar(select(Series).where(Series.id == payment.series_id).with_for_update()
                            .execution_options(populate_existing=True))
    if series is None:
        raise DomainError(SERIES_NOT_FOUND)
    _assign_number(session, company, payment, series, fiscal=False, quota_taken=True)
    payment.status = "issued"
    refresh_paid(session, [doc.id for doc, _ in rows])
    events.record(session, company_id=company.id, entity="payment", entity_id=payment.id, action="issued",
                  actor=actor, data=snapshot(payment, rows))
    _book_cash(session, company, payment, payment.value, actor=actor)
    return payment


def own_payment(session: Session, company: Company, payment_id: str | int | None, *, lock: bool = False) -> Payment | None:
    text = str(payment_id or "").strip()
    if not text.isdigit():
        return None
    stmt = select(Payment).where(Payment.id == int(text), Payment.company_id == company.id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


# ---- GET /payment/text ------------------------------------------------------------------------------------------


def fiscal_text(session: Session, company: Company, payment_id: str | None) -> str:
    """The base64 text of a fiscal receipt for the cash register."""
    payment = own_payment(session, company, payment_id)
    if payment is None or payment.type != "Bon" or not payment.fiscal_text:
        raise NotFound(CANNOT_VIEW)
    return encode_text(payment.fiscal_text)
