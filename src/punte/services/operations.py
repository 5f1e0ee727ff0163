"""Operations on issued documents: storno, cancel, restore, delete, payment status, read model."""

from __future__ import annotations

import secrets
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from punte.domain.documents import DocumentRef, IssuedDocument, Line, Party, Totals, VatSubtotal, negate
from punte.domain.errors import Conflict, DomainError, NotFound
from punte.domain.money import ZERO
from punte.store.models import Company, Document, DocumentLine, Series

from . import events, lifecycle
from .companies import vat_status_on
from .issuing import assign_number, doc_label, parse_date, set_totals, snapshot, store_lines, today_in_romania
from .payments import has_payments, paid_amount

KIND_WORD = {"invoice": "Factura", "proforma": "Proforma"}


def find_document(
    session: Session, company: Company, kind: str, series: str | None, number: str | None, *, lock: bool = False
) -> Document | None:
    value = (number or "").strip()
    if not series or not value.isdigit():
        return None
    stmt = select(Document).where(
        Document.company_id == company.id,
        Document.kind == kind,
        Document.series_name == series.strip(),
        Document.number == int(value),
    )
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def require_document(
    session: Session, company: Company, kind: str, series: str | None, number: str | None, *, lock: bool = False
) -> Document:
    doc = find_document(session, company, kind, series, number, lock=lock)
    if doc is None:
        raise NotFound(f"{KIND_WORD[kind]} cu seria si numarul {(series or '')}{(number or '')} nu a fost gasita!")
    return doc


def check_same_vat_status(company: Company, doc: Document, verb: str, today: date | None = None) -> None:
    """Documents issued under the other VAT-payer status can only be viewed (SmartBill's rule)."""
    current = vat_status_on(company, today or today_in_romania()).vat_payer
    if current != doc.vat_payer:
        status = "platitor" if doc.vat_payer else "neplatitor"
        raise Conflict(f"Documentul a fost emis ca {status} tva. Nu se poate {verb}.")


def reverse_invoice(
    session: Session, company: Company, series: str | None, number: str | None, issue_date: str | None, *, actor: str
) -> Document:
    """Storno: a new invoice in the same series with negated quantities, linked to the original, once."""
    if not series:
        raise DomainError("Seria facturii trebuie specificata in parametrul 'seriesName'!")
    if not number:
        raise DomainError("Numarul facturii trebuie specificat in parametrul 'number'!")
    label = f"{series}{number}"
    original = find_document(session, company, "invoice", series, number)
    if original is None or original.status == "draft":
        raise NotFound(f"Factura cu seria si numarul {label} nu a fost gasita!")
    if original.reverses_id is not None:
        raise Conflict(f"Factura {label} este de tip storno. Nu se poate storna.")
    already = session.scalar(select(func.count()).select_from(Document).where(Document.reverses_id == original.id))
    if already:
        raise Conflict("Factura este deja stornata.")
    if original.status == "cancelled":
        raise Conflict(f"Factura {label} este anulata. Nu se poate storna.")
    check_same_vat_status(company, original, "storna")
    when = parse_date(issue_date, default=today_in_romania())
    assert when is not None
    if when < original.issue_date:
        raise DomainError("Data emiterii facturii storno nu poate fi anterioara datei emiterii facturii stornate.")
    series_row = session.scalar(select(Series).where(Series.id == original.series_id).with_for_update())
    assert series_row is not None
    lines = negate([line_of(ln) for ln in original.lines])
    storno = Document(
        company_id=company.id,
        kind="invoice",
        series_id=original.series_id,
        series_name=original.series_name,
        status="draft",
        issue_date=when,
        due_date=when,
        delivery_date=None,
        currency=original.currency,
        exchange_rate=original.exchange_rate,
        language=original.language,
        precision=original.precision,
        vat_payer=original.vat_payer,
        vat_on_collection=original.vat_on_collection,
        seller=dict(original.seller),
        buyer=dict(original.buyer),
        client_name=original.client_name,
        client_cif=original.client_cif,
        details={"mentions": f"Storno la factura {original.series_name}{original.number_text} "
                 f"din {original.issue_date.strftime('%d.%m.%Y')}"},
        reverses_id=original.id,
        view_token=secrets.token_urlsafe(24),
        created_by=actor,
    )
    set_totals(storno, lines)
    lifecycle.before_issue(session, company, kind="invoice")
    assign_number(session, series_row, storno)
    session.add(storno)
    session.flush()
    store_lines(session, storno, lines)
    events.record(
        session, company_id=company.id, entity="document", entity_id=storno.id, action="issued_storno",
        actor=actor, data={**snapshot(storno, lines), "reverses": original.id},
    )
    events.record(
        session, company_id=company.id, entity="document", entity_id=original.id, action="reversed",
        actor=actor, data={"storno_id": storno.id, "storno": f"{storno.series_name}{storno.number_text}"},
    )
    lifecycle.after_issue(session, company, storno, actor=actor)
    lifecycle.after_reverse(session, company, original, storno, actor=actor)
    return storno


def cancel_document(session: Session, company: Company, kind: str, series: str | None, number: str | None,
                    *, actor: str) -> Document:
    doc = require_document(session, company, kind, series, number, lock=True)
    label = doc_label(doc.series_name, doc.number_text)
    check_same_vat_status(company, doc, "anula")
    if doc.status == "cancelled":
        raise Conflict(f"{KIND_WORD[kind]} {label} este deja anulata.")
    if kind == "invoice" and paid_amount(session, doc.id) != ZERO:
        raise Conflict(f"Factura {label} are incasari. Stergeti intai incasarile.")
    doc.status = "cancelled"
    events.record(session, company_id=company.id, entity="document", entity_id=doc.id, action="cancelled",
                  actor=actor, data={"label": label})
    lifecycle.after_cancel(session, company, doc, actor=actor)
    return doc


def restore_document(session: Session, company: Company, kind: str, series: str | None, number: str | None,
                     *, actor: str) -> Document:
    doc = require_document(session, company, kind, series, number, lock=True)
    label = doc_label(doc.series_name, doc.number_text)
    check_same_vat_status(company, doc, "restaura")
    if doc.status != "cancelled":
        raise Conflict(f"{KIND_WORD[kind]} {label} nu necesita restaurare.")
    if doc.reverses_id is not None:
        original = session.get(Document, doc.reverses_id)
        if original is not None and original.status == "cancelled":
            raise Conflict(
                f"Eroare restaurare factura storno {label}. Trebuie initial sa restaurezi facturile stornate "
                f"de aceasta ({original.series_name}{original.number_text})."
            )
    doc.status = "issued"
    events.record(session, company_id=company.id, entity="document", entity_id=doc.id, action="restored",
                  actor=actor, data={"label": label})
    lifecycle.after_restore(session, company, doc, actor=actor)
    return doc


def delete_document(session: Session, company: Company, kind: str, series: str | None, number: str | None,
                    *, actor: str) -> None:
    """Only the last document of a series is deleted (its number is given back to the series)."""
    if not series:
        raise DomainError("Seriesname trebuie specificat.")
    if not number:
        raise DomainError("Number trebuie specificat.")
    series_row = session.scalar(
        select(Series).where(
            Series.company_id == company.id, Series.type == ("f" if kind == "invoice" else "p"),
            Series.name == series.strip(),
        ).with_for_update()
    )
    doc = require_document(session, company, kind, series, number, lock=True)
    label = doc_label(doc.series_name, doc.number_text)
    check_same_vat_status(company, doc, "sterge")
    assert series_row is not None and doc.number is not None
    if doc.number != series_row.next_number - 1:
        raise Conflict(f"Documentul cu seria si numarul {label} nu este ultimul din serie!")
    if has_payments(session, doc.id):
        raise Conflict(f"Factura {label} are incasari. Stergeti intai incasarile.")
    if session.scalar(select(func.count()).select_from(Document).where(Document.estimate_id == doc.id)):
        raise Conflict(f"Proforma {label} a fost facturata si nu poate fi stearsa.")
    lifecycle.before_delete(session, company, doc, actor=actor)
    events.record(session, company_id=company.id, entity="document", entity_id=doc.id, action="deleted",
                  actor=actor, data=snapshot(doc))
    series_row.next_number = doc.number
    session.delete(doc)
    session.flush()


def payment_status(session: Session, company: Company, series: str | None, number: str | None) -> tuple[Document, Decimal]:
    doc = find_document(session, company, "invoice", series, number)
    if doc is None or doc.status == "draft":
        raise NotFound("Factura nu a fost gasita!")
    return doc, paid_amount(session, doc.id)


def line_of(r: DocumentLine) -> Line:
    """A stored line as the domain computes with it."""
    return Line(
        position=r.position, name=r.name, quantity=r.quantity, unit_price=r.unit_price, net_amount=r.net_amount,
        unit=r.unit, vat_name=r.vat_name, vat_percentage=r.vat_percentage, vat_category=r.vat_category,
        vat_exemption_reason=r.vat_exemption_reason, is_discount=r.is_discount, tax_included=r.tax_included,
        entered_price=r.entered_price, entered_currency=r.entered_currency,
        entered_exchange_rate=r.entered_exchange_rate, code=r.code, description=r.description,
        is_service=r.is_service, translated_name=r.translated_name, translated_unit=r.translated_unit,
        warehouse=r.warehouse, discount_items=r.discount_items, discount_percentage=r.discount_percentage,
        gross_amount=r.gross_amount,
    )


def read_model(session: Session, doc: Document) -> IssuedDocument:
    """The document as UBL and PDF rendering see it.

    A storno names the invoice it corrects (UBL BillingReference, the PDF's notice): a whole storno through
    ``reverses_id``, a partial one (a refunded part, see ``bridge_storno``) through ``partialStornoOf``.
    """
    reverses = None
    original_id = doc.reverses_id if doc.reverses_id is not None else (doc.details or {}).get("partialStornoOf")
    if original_id is not None:
        original = session.get(Document, int(original_id))
        if original is not None:
            reverses = DocumentRef(original.series_name, original.number_text or "", original.issue_date)
    breakdown = tuple(
        VatSubtotal(
            category=b["category"], percentage=Decimal(b["percentage"]), taxable_amount=Decimal(b["taxable_amount"]),
            tax_amount=Decimal(b["tax_amount"]), name=b.get("name"), exemption_reason=b.get("exemption_reason"),
        )
        for b in doc.vat_breakdown
    )
    totals = Totals(
        line_total=doc.line_total, allowance_total=doc.allowance_total, net_total=doc.net_total,
        vat_total=doc.vat_total, gross_total=doc.gross_total, vat_breakdown=breakdown,
        vat_total_ron=doc.vat_total_ron, gross_total_ron=doc.gross_total_ron,
    )
    d = doc.details or {}
    return IssuedDocument(
        id=doc.id, kind=doc.kind, series=doc.series_name, number=doc.number_text, issue_date=doc.issue_date,
        currency=doc.currency, seller=Party(**doc.seller), buyer=Party(**doc.buyer),
        lines=[line_of(ln) for ln in doc.lines], totals=totals, seller_vat_payer=doc.vat_payer,
        status=doc.status, due_date=doc.due_date, delivery_date=doc.delivery_date, exchange_rate=doc.exchange_rate,
        language=doc.language, precision=doc.precision, vat_on_collection=doc.vat_on_collection,
        use_intra_cif=bool(d.get("useIntraCif")), mentions=d.get("mentions"), observations=d.get("observations"),
        payment_url=d.get("paymentUrl"), issuer_name=d.get("issuerName"), issuer_cnp=d.get("issuerCnp"),
        delegate_name=d.get("delegateName"), delegate_identity_card=d.get("delegateIdentityCard"),
        delegate_auto=d.get("delegateAuto"), aviz=d.get("aviz"), reverses=reverses,
        paid_amount=paid_amount(session, doc.id),
    )
