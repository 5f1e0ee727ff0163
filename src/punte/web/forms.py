"""The invoice/proforma form: turning what was posted into the SmartBill request the API takes.

The form is only another way to write an ``InvoiceRequest``: the dashboard issues it with
``services.issuing.create_document``, exactly as ``POST /SBORO/api/invoice`` does. The live totals
(:func:`preview`) run that same service on the request as a draft, in a transaction that is rolled
back, so the totals shown are the ones the invoice will carry, to the cent, with no second copy of
the arithmetic anywhere (in Python or in JavaScript).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from starlette.datastructures import FormData

from punte.api.context import describe_validation
from punte.domain.errors import DomainError
from punte.services.companies import require_company
from punte.services.issuing import create_document
from punte.services.operations import line_of
from punte.smartbill.wire import DocumentRequest, EstimateRequest, InvoiceRequest
from punte.store.db import Database
from punte.store.models import DocumentLine

MAX_FORM_LINES = 400
_LINE_KEY = re.compile(r"^lines-(\d{1,3})-(name|unit|quantity|price|vat|tax_included|service)$")
LINE_FIELDS = ("name", "unit", "quantity", "price", "vat", "tax_included", "service")
CLIENT_FIELDS = (
    "client_name", "client_cif", "client_reg_com", "client_address", "client_city", "client_county",
    "client_country", "client_email", "client_phone", "client_iban", "client_bank",
)
HEADER_FIELDS = (
    "series", "issue_date", "due_date", "delivery_date", "currency", "exchange_rate", "language", "mentions",
    "observations", "pay_type", "pay_value",
)
FLAGS = ("client_is_tax_payer", "client_save", "pay_now")


def number_text(text: str | None) -> str | None:
    """A number as typed in Romanian (``1.234,56``) or English (``1234.56``), as a plain decimal string."""
    value = (text or "").strip().replace(" ", "").replace("\u00a0", "")
    if not value:
        return None
    if "," in value:
        value = value.replace(".", "").replace(",", ".")
    return value


@dataclass
class InvoiceForm:
    """What was posted, kept as typed so that the form can be shown again with an error."""

    values: dict[str, str] = field(default_factory=dict)
    lines: list[dict[str, str]] = field(default_factory=list)

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    def checked(self, name: str) -> bool:
        return self.values.get(name, "") in ("1", "on", "true")

    @classmethod
    def from_posted(cls, form: FormData) -> InvoiceForm:
        values = {k: str(form.get(k) or "").strip() for k in (*HEADER_FIELDS, *CLIENT_FIELDS, *FLAGS)}
        rows: dict[int, dict[str, str]] = {}
        for key in form.keys():
            m = _LINE_KEY.match(key)
            if m is None:
                continue
            index = int(m.group(1))
            if index >= MAX_FORM_LINES:
                raise DomainError("Numarul maxim acceptat de 400 intrari pe document a fost depasit.")
            rows.setdefault(index, {})[m.group(2)] = str(form.get(key) or "").strip()
        lines = [{f: rows[i].get(f, "") for f in LINE_FIELDS} for i in sorted(rows)]
        return cls(values=values, lines=lines)

    def filled_lines(self) -> list[tuple[int, dict[str, str]]]:
        """(row index, row) of the rows that are not blank."""
        return [(i, r) for i, r in enumerate(self.lines) if any(r.get(f) for f in ("name", "quantity", "price"))]

    def to_request(self, kind: str, *, draft: bool) -> DocumentRequest:
        """The SmartBill request this form stands for (validated by the same wire model as the API)."""
        v = self.values
        products: list[dict[str, Any]] = []
        for _, row in self.filled_lines():
            tax_name, _, tax_pct = row.get("vat", "").partition("|")
            products.append({
                "name": row.get("name") or None,
                "measuringUnitName": row.get("unit") or None,
                "currency": (v.get("currency") or "RON"),
                "quantity": number_text(row.get("quantity")),
                "price": number_text(row.get("price")),
                "isTaxIncluded": row.get("tax_included") in ("1", "on", "true"),
                "taxName": tax_name or None,
                "taxPercentage": tax_pct or None,
                "isService": row.get("service") in ("1", "on", "true"),
                "saveToDb": False,
            })
        data: dict[str, Any] = {
            "client": {
                "name": v.get("client_name") or None,
                "vatCode": v.get("client_cif") or None,
                "regCom": v.get("client_reg_com") or None,
                "address": v.get("client_address") or None,
                "city": v.get("client_city") or None,
                "county": v.get("client_county") or None,
                "country": v.get("client_country") or "Romania",
                "email": v.get("client_email") or None,
                "phone": v.get("client_phone") or None,
                "iban": v.get("client_iban") or None,
                "bank": v.get("client_bank") or None,
                "isTaxPayer": self.checked("client_is_tax_payer"),
                "saveToDb": self.checked("client_save"),
            },
            "isDraft": draft,
            "seriesName": v.get("series") or None,
            "issueDate": v.get("issue_date") or None,
            "dueDate": v.get("due_date") or None,
            "deliveryDate": v.get("delivery_date") or None,
            "currency": v.get("currency") or "RON",
            "exchangeRate": number_text(v.get("exchange_rate")),
            "language": v.get("language") or "RO",
            "mentions": v.get("mentions") or None,
            "observations": v.get("observations") or None,
            "products": products,
        }
        model: type[DocumentRequest] = EstimateRequest
        if kind == "invoice":
            model = InvoiceRequest
            if self.checked("pay_now") and not draft:
                data["payment"] = {"type": v.get("pay_type") or None, "value": number_text(v.get("pay_value"))}
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise DomainError(describe_validation(exc)) from exc


@dataclass(frozen=True)
class PreviewLine:
    row: int  # index of the form row
    net_amount: Decimal
    vat_amount: Decimal


@dataclass(frozen=True)
class Preview:
    currency: str
    lines: list[PreviewLine]
    net_total: Decimal
    vat_total: Decimal
    gross_total: Decimal
    breakdown: list[dict[str, Any]]
    gross_total_ron: Decimal | None


def preview(db: Database, company_id: int, form: InvoiceForm, kind: str, *, actor: str) -> Preview:
    """The totals the document would get: ``create_document`` run as a draft, then rolled back.

    Runs in a write transaction (on SQLite it briefly queues with the issuers) that never commits.
    """
    req = form.to_request(kind, draft=True)
    if req.client is not None:
        req.client.saveToDb = False
    rows = [i for i, _ in form.filled_lines()]
    with db.session(write=True) as session:
        try:
            company = require_company(session, company_id)
            doc = create_document(session, company, req, kind=kind, actor=actor).document
            stored = session.scalars(
                select(DocumentLine).where(DocumentLine.document_id == doc.id).order_by(DocumentLine.position)
            ).all()
            lines = [
                PreviewLine(row=rows[n] if n < len(rows) else n, net_amount=ln.net_amount,
                            vat_amount=_line_vat(ln))
                for n, ln in enumerate(stored)
            ]
            return Preview(
                currency=doc.currency, lines=lines, net_total=doc.net_total, vat_total=doc.vat_total,
                gross_total=doc.gross_total, breakdown=list(doc.vat_breakdown), gross_total_ron=doc.gross_total_ron,
            )
        finally:
            session.rollback()


def _line_vat(line: DocumentLine) -> Decimal:
    """Informative VAT of a line, as the domain defines it (the document's VAT is per category)."""
    return line_of(line).vat_amount
