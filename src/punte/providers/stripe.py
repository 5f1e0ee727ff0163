"""Stripe: signed webhooks (``Stripe-Signature``) and the events that mean a confirmed payment.

Verification is the official ``stripe`` package's (``WebhookSignature.verify_header``: HMAC-SHA256 over
``"{t}.{raw body}"``, any ``v1`` may match, 300 s tolerance), tried with each valid secret.

Which events invoice, and when (the seed's rules): ``checkout.session.completed`` when
``payment_status`` is ``paid``; ``checkout.session.async_payment_succeeded``; ``payment_intent.succeeded``;
``payment_intent.created`` with ``status`` ``succeeded``; ``invoice.paid``; ``invoice.finalized`` only
once the Stripe invoice is paid; ``charge.succeeded`` once captured. Other events about the same
payment (an unpaid session, ``invoice_payment.paid``) still contribute data and links. Refunds come
from ``charge.refunded`` (cumulative ``amount_refunded`` and the refunds it lists) and
``refund.created``/``refund.updated``.

One payment is named by its PaymentIntent (``pi_...``) or, for Stripe Billing, its invoice (``in_...``);
the Checkout Session, charge and invoice ids that an event links to it are aliases of the same payment.
Payloads of API versions after 2025-03-31 ("basil") carry ``invoice.payments`` instead of
``invoice.payment_intent``/``invoice.charge``; both shapes are read.

Billing data, in the seed's order: ``metadata``, the object's address (``customer_details``,
``customer_address``), ``billing_details``, ``shipping``; plus ``custom_fields`` (CUI, Reg. Com.) and tax ids
(``eu_vat``, ``ro_tin``). Lines, in the seed's order: ``description``, ``lines`` (a Stripe invoice's),
``line_items`` (a Checkout Session's, fetched from the API when not in the event), ``Order Item #N``
metadata, ``lineitemN`` metadata, ``quantity``/``product_name`` metadata.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import stripe as stripe_sdk

from ._fields import as_object, field_for, fields_from_mapping, norm_key
from .base import (
    Envelope,
    Facts,
    Interpretation,
    InvalidDelivery,
    Provider,
    RefundClaim,
    Sale,
    SaleLine,
    VerifyContext,
    buyer_from,
    decimal_text,
    load_json_object,
)

TOLERANCE_SECONDS = 300

# Stripe's zero-decimal currencies (amounts are whole units) and three-decimal ones. ISK, UGX, HUF
# and TWD are sent as two-decimal amounts for backwards compatibility, so they use the default.
ZERO_DECIMAL = frozenset(
    "BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF VND VUV XAF XOF XPF".split()
)
THREE_DECIMAL = frozenset("BHD JOD KWD OMR TND".split())

# Ranks: lower is richer data, merged first.
RANK = {"checkout.session": 1, "invoice": 2, "charge": 3, "payment_intent": 4, "refund": 5, "invoice_payment": 6}

DOCUMENT_METADATA = "punte_document_id"
REFUND_COUNTED = frozenset({"succeeded", "pending", "requires_action"})

_ORDER_ITEM = re.compile(r"^\s*order\s*item\s*#?\s*(\d+)\s*$", re.IGNORECASE)
_LINEITEM = re.compile(r"^\s*line_?item_?(\d+)\s*$", re.IGNORECASE)


def minor_digits(currency: str) -> int:
    code = currency.upper()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def from_minor(amount: Any, currency: str) -> Decimal | None:
    """Stripe's integer minor units as an exact Decimal in major units (zero-decimal currencies too)."""
    if amount is None or isinstance(amount, bool):
        return None
    try:
        value = Decimal(int(amount))
    except (TypeError, ValueError):
        return None
    return value.scaleb(-minor_digits(currency))


def to_minor(amount: Decimal, currency: str) -> int:
    """Major units to Stripe's integer minor units (exact; raises ValueError when it does not fit)."""
    scaled = amount.scaleb(minor_digits(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} {currency} has more decimals than Stripe accepts")
    return int(scaled)


def _id(value: Any) -> str | None:
    """An id, whether the field holds the id or the expanded object."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return value["id"]
    return None


def _address(obj: Mapping[str, Any] | None) -> dict[str, Any]:
    addr = obj if isinstance(obj, Mapping) else {}
    return {k: addr.get(k) for k in ("line1", "line2", "city", "state", "postal_code", "country")}


def _party(obj: Mapping[str, Any] | None) -> dict[str, Any]:
    """``{name, email, phone, address{...}}`` shapes: billing_details, shipping, customer_details."""
    if not isinstance(obj, Mapping):
        return {}
    out = {"name": obj.get("name"), "email": obj.get("email"), "phone": obj.get("phone")}
    out.update(_address(obj.get("address")))
    if obj.get("business_name"):
        out["business_name"] = obj["business_name"]
    if obj.get("individual_name") and not out.get("name"):
        out["name"] = obj["individual_name"]
    tax_id = obj.get("tax_id")
    if isinstance(tax_id, str) and tax_id:
        out["vat_id"] = tax_id
    return out


def _tax_ids(items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        if not isinstance(item, Mapping):
            continue
        kind, value = item.get("type"), item.get("value")
        if not value:
            continue
        if kind == "eu_vat":
            out.setdefault("vat_id", value)
        elif kind == "ro_tin":
            out.setdefault("tin", value)
    return out


def _custom_fields(items: Any) -> dict[str, Any]:
    """Checkout ``custom_fields`` (key/label + text/numeric/dropdown) and invoice ones (name/value)."""
    out: dict[str, Any] = {}
    for item in items or []:
        if not isinstance(item, Mapping):
            continue
        value = None
        for kind in ("text", "numeric", "dropdown"):
            sub = item.get(kind)
            if isinstance(sub, Mapping) and sub.get("value"):
                value = sub["value"]
        if value is None:
            value = item.get("value")
        if not value:
            continue
        label = item.get("label")
        names = [item.get("key"), item.get("name"), label.get("custom") if isinstance(label, Mapping) else None]
        for name in names:
            target = field_for(name) if name else None
            if target is not None:
                out.setdefault(target, value)
                break
    return out


def _metadata_buyer(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    data = dict(metadata or {})
    out = fields_from_mapping({k: v for k, v in data.items() if not _ORDER_ITEM.match(k) and not _LINEITEM.match(k)})
    tax_ids = as_object(data.get("tax_ids"))
    if isinstance(tax_ids, list):
        for key, value in _tax_ids(tax_ids).items():
            out.setdefault(key, value)
    return out


# -- lines -----------------------------------------------------------------------------------------------------


def _order_item(text: str, currency: str) -> SaleLine | None:
    """``"123id121, Nume produs, 3, 232.0"``: [product id,] name, quantity, line total (with VAT)."""
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) < 3:
        return None
    total, quantity = decimal_text(parts[-1]), decimal_text(parts[-2])
    head = parts[:-2]
    if total is None or quantity is None or quantity <= 0 or total < 0:
        return None
    code = None
    if len(head) >= 2:
        code, name = head[0] or None, ", ".join(head[1:])
    else:
        name = head[0]
    if not name:
        return None
    return SaleLine(name=name, quantity=quantity, amount=total, code=code)


def _lineitem(value: Any) -> SaleLine | None:
    """``{"productname": "produs 1", "quantity": "1", "itemtotal": "400"}`` (an object or its JSON text)."""
    obj = as_object(value)
    if not isinstance(obj, Mapping):
        return None
    norm = {norm_key(k): v for k, v in obj.items()}
    name = norm.get("productname") or norm.get("name")
    quantity = decimal_text(norm.get("quantity", "1"))
    total = decimal_text(norm.get("itemtotal") if "itemtotal" in norm else norm.get("total"))
    if not name or quantity is None or quantity <= 0 or total is None or total < 0:
        return None
    return SaleLine(name=str(name).strip(), quantity=quantity, amount=total,
                    code=str(norm["productid"]) if norm.get("productid") else None)


def _numbered(metadata: Mapping[str, Any], pattern: re.Pattern[str]) -> list[tuple[int, Any]]:
    found = []
    for key, value in metadata.items():
        match = pattern.match(str(key))
        if match:
            found.append((int(match.group(1)), value))
    return sorted(found, key=lambda kv: kv[0])


def metadata_lines(metadata: Mapping[str, Any] | None, total: Decimal | None, currency: str) -> tuple[
    tuple[SaleLine, ...] | None, str | None, bool
]:
    """Lines from metadata: ``Order Item #N``, then ``lineitemN``, then ``quantity``/``product_name``.

    Returns (lines, rule, malformed): ``malformed`` when entries of a rule exist but cannot be read.
    """
    md = dict(metadata or {})
    items = _numbered(md, _ORDER_ITEM)
    if items:
        lines = [_order_item(v, currency) for _, v in items]
        if any(ln is None for ln in lines):
            return None, "Order Item", True
        return tuple(ln for ln in lines if ln is not None), "Order Item", False
    items = _numbered(md, _LINEITEM)
    if items:
        lines = [_lineitem(v) for _, v in items]
        if any(ln is None for ln in lines):
            return None, "lineitem", True
        return tuple(ln for ln in lines if ln is not None), "lineitem", False
    norm = {norm_key(k): v for k, v in md.items()}
    name = norm.get("productname")
    quantity = norm.get("quantity")
    if (name or quantity) and total is not None:
        qty = decimal_text(quantity) if quantity else Decimal(1)
        if qty is None or qty <= 0:
            return None, "quantity", True
        return (SaleLine(name=str(name or "Produs").strip(), quantity=qty, amount=total),), (
            "product_name" if name else "quantity"
        ), False
    return None, None, False


def _tax_percentage(taxes: Any, currency: str) -> tuple[Decimal | None, bool, Decimal]:
    """(VAT percentage, reverse charge, exclusive tax amount) from a line's ``taxes``/``tax_amounts``."""
    percentage: Decimal | None = None
    reverse = False
    exclusive = Decimal(0)
    for tax in taxes or []:
        if not isinstance(tax, Mapping):
            continue
        amount = from_minor(tax.get("amount"), currency) or Decimal(0)
        reason = tax.get("taxability_reason")
        if reason == "reverse_charge":
            reverse = True
        rate = tax.get("rate") if isinstance(tax.get("rate"), Mapping) else None
        inclusive = tax.get("inclusive")
        if inclusive is None and tax.get("tax_behavior") is not None:
            inclusive = tax.get("tax_behavior") == "inclusive"
        if inclusive is None and rate is not None:
            inclusive = bool(rate.get("inclusive"))
        if inclusive is False:
            exclusive += amount
        if rate is not None and rate.get("percentage") is not None:
            percentage = decimal_text(rate.get("percentage"))
        elif rate is not None and rate.get("effective_percentage") is not None:
            percentage = decimal_text(rate.get("effective_percentage"))
        elif tax.get("taxable_amount"):
            taxable = from_minor(tax.get("taxable_amount"), currency)
            if taxable:
                percentage = (amount * 100 / taxable).quantize(Decimal(1))
    return percentage, reverse, exclusive


def checkout_line_items(items: Sequence[Mapping[str, Any]], currency: str) -> tuple[SaleLine, ...]:
    """A Checkout Session's line items (``item`` objects): ``amount_total`` is after discounts, with tax."""
    out = []
    for item in items:
        quantity = Decimal(int(item.get("quantity") or 1))
        total = from_minor(item.get("amount_total"), currency)
        if total is None:
            total = from_minor(item.get("amount_subtotal"), currency) or Decimal(0)
        price = item.get("price") if isinstance(item.get("price"), Mapping) else {}
        product = price.get("product")
        name = item.get("description") or (product.get("name") if isinstance(product, Mapping) else None) or "Produs"
        percentage, reverse, _ = _tax_percentage(item.get("taxes"), currency)
        out.append(SaleLine(name=str(name), quantity=quantity, amount=total, vat_percentage=percentage,
                            reverse_charge=reverse, code=_id(product)))
    return tuple(out)


def _invoice_lines(invoice: Mapping[str, Any], currency: str) -> tuple[SaleLine, ...] | None:
    data = (invoice.get("lines") or {}).get("data") if isinstance(invoice.get("lines"), Mapping) else None
    if not data:
        return None
    out = []
    for ln in data:
        if not isinstance(ln, Mapping):
            continue
        quantity = decimal_text(ln.get("quantity_decimal")) or Decimal(int(ln.get("quantity") or 1))
        amount = from_minor(ln.get("amount"), currency) or Decimal(0)
        discounts = sum(
            (from_minor(d.get("amount"), currency) or Decimal(0) for d in ln.get("discount_amounts") or []
             if isinstance(d, Mapping)),
            Decimal(0),
        )
        taxes = ln.get("taxes") if ln.get("taxes") is not None else ln.get("tax_amounts")
        percentage, reverse, exclusive = _tax_percentage(taxes, currency)
        if percentage is None:
            for rate in ln.get("tax_rates") or []:
                if isinstance(rate, Mapping) and rate.get("percentage") is not None:
                    percentage = decimal_text(rate["percentage"])
        gross = amount - discounts + exclusive
        if gross == 0 and amount == 0:
            continue  # a free line (trial period) adds nothing to the invoice
        out.append(SaleLine(name=str(ln.get("description") or "Abonament"), quantity=quantity, amount=gross,
                            vat_percentage=percentage, reverse_charge=reverse, is_service=True))
    return tuple(out) or None


def _lines(obj: Mapping[str, Any], total: Decimal | None, currency: str, *, kind: str) -> tuple[
    tuple[SaleLine, ...] | None, str | None, str | None
]:
    """(lines, rule, problem) in the seed's order."""
    description = obj.get("description")
    if isinstance(description, str) and description.strip() and total is not None:
        return (SaleLine(name=description.strip(), quantity=Decimal(1), amount=total),), "description", None
    if kind == "invoice":
        lines = _invoice_lines(obj, currency)
        if lines:
            return lines, "lines", None
    if kind == "checkout.session":
        items = obj.get("line_items")
        data = items.get("data") if isinstance(items, Mapping) else None
        if data:
            return checkout_line_items(data, currency), "line_items", None
    lines, rule, malformed = metadata_lines(obj.get("metadata"), total, currency)
    if malformed:
        return None, rule, f"metadata '{rule}' nu poate fi citita (format: id, nume, cantitate, total)"
    return lines, rule, None


def shipping_line(session: Mapping[str, Any], currency: str) -> SaleLine | None:
    cost = session.get("shipping_cost")
    if not isinstance(cost, Mapping):
        return None
    amount = from_minor(cost.get("amount_total"), currency)
    if not amount:
        return None
    percentage, reverse, _ = _tax_percentage(cost.get("taxes"), currency)
    return SaleLine(name="Transport", quantity=Decimal(1), amount=amount, vat_percentage=percentage,
                    reverse_charge=reverse, is_service=True)


def _document_id(metadata: Any) -> int | None:
    value = (metadata or {}).get(DOCUMENT_METADATA) if isinstance(metadata, Mapping) else None
    return int(value) if isinstance(value, str) and value.isdigit() else None


# -- the provider ------------------------------------------------------------------------------------------------


class StripeProvider(Provider):
    name = "stripe"
    payment_type = "Card online"

    def verify(self, body: bytes, headers: Mapping[str, str], secrets: Sequence[str], ctx: VerifyContext) -> None:
        header = headers.get("stripe-signature")
        if not header:
            raise InvalidDelivery("lipseste antetul Stripe-Signature")
        try:
            payload = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidDelivery("corpul cererii nu este UTF-8") from exc
        stale = False
        for secret in secrets:
            try:
                stripe_sdk.WebhookSignature.verify_header(payload, header, secret, TOLERANCE_SECONDS)
                return
            except stripe_sdk.SignatureVerificationError as exc:
                stale = stale or "tolerance" in str(exc)
        raise InvalidDelivery(
            "marcajul de timp al semnaturii este prea vechi" if stale else "semnatura Stripe nu se potriveste"
        )

    def envelope(self, body: bytes, headers: Mapping[str, str]) -> Envelope:
        event = load_json_object(body)
        event_id, kind = event.get("id"), event.get("type")
        if not isinstance(event_id, str) or not event_id.startswith("evt_") or len(event_id) > 255:
            raise InvalidDelivery("evenimentul Stripe nu are un id valid")
        if not isinstance(kind, str) or not kind:
            raise InvalidDelivery("evenimentul Stripe nu are tip")
        data = event.get("data")
        if not isinstance(data, Mapping) or not isinstance(data.get("object"), Mapping):
            raise InvalidDelivery("evenimentul Stripe nu are data.object")
        return Envelope(event_id, kind)

    def interpret(self, event: Mapping[str, Any], headers: Mapping[str, str]) -> Interpretation:
        kind = str(event.get("type") or "")
        obj = (event.get("data") or {}).get("object") or {}
        created = int(event.get("created") or 0)
        handler = _HANDLERS.get(kind)
        if handler is None:
            return Interpretation(None, f"evenimentul {kind} nu produce documente")
        return handler(kind, obj, created)


def _currency(obj: Mapping[str, Any]) -> str:
    return str(obj.get("currency") or "").upper()


def _session(kind: str, obj: Mapping[str, Any], created: int) -> Interpretation:
    currency = _currency(obj)
    keys = [k for k in (_id(obj.get("payment_intent")), _id(obj.get("invoice")), _id(obj.get("id"))) if k]
    if kind == "checkout.session.async_payment_failed":
        return Interpretation(Facts(keys=tuple(keys), source="checkout.session", rank=RANK["checkout.session"],
                                    occurred_at=created, failed=True, note="plata asincrona a esuat"))
    status = obj.get("payment_status")
    if status == "no_payment_required":
        return Interpretation(None, "sesiune fara plata (no_payment_required): nimic de facturat")
    confirmed = kind == "checkout.session.async_payment_succeeded" or (
        kind == "checkout.session.completed" and status == "paid"
    )
    total = from_minor(obj.get("amount_total"), currency) if currency else None
    lines, rule, problem = _lines(obj, total, currency, kind="checkout.session")
    if lines is not None and rule == "line_items":
        extra = shipping_line(obj, currency)
        lines = lines + ((extra,) if extra else ())
    metadata = obj.get("metadata") or {}
    buyer = buyer_from([
        _metadata_buyer(metadata),
        _custom_fields(obj.get("custom_fields")),
        _party(obj.get("customer_details")),
        _tax_ids((obj.get("customer_details") or {}).get("tax_ids")),
        _party(((obj.get("collected_information") or {}).get("shipping_details"))),
        _party(obj.get("shipping_details")),
        {"email": obj.get("customer_email")},
    ])
    sale = Sale(
        currency=currency or None, total=total, paid=total if confirmed else None, lines=lines,
        lines_rule=problem or rule, buyer=buyer, document_id=_document_id(metadata),
        fetch_lines=str(obj.get("id")) if lines is None and problem is None and obj.get("id") else None,
        reference=obj.get("client_reference_id"),
    )
    return Interpretation(Facts(
        keys=tuple(keys), source="checkout.session", rank=RANK["checkout.session"], confirmed=confirmed,
        strong=True, occurred_at=created, sale=sale, currency=currency or None,
        note="" if confirmed else f"plata nu este confirmata (payment_status={status})",
    ))


def _payment_intent(kind: str, obj: Mapping[str, Any], created: int) -> Interpretation:
    currency = _currency(obj)
    status = obj.get("status")
    confirmed = status == "succeeded"
    keys = [k for k in (_id(obj.get("id")), _id(obj.get("invoice"))) if k]
    received = obj.get("amount_received") or obj.get("amount")
    total = from_minor(received, currency) if currency else None
    lines, rule, problem = _lines(obj, total, currency, kind="payment_intent")
    charge = obj.get("latest_charge") if isinstance(obj.get("latest_charge"), Mapping) else {}
    buyer = buyer_from([
        _metadata_buyer(obj.get("metadata")),
        _party(charge.get("billing_details")),
        _party(obj.get("shipping")),
        {"email": obj.get("receipt_email")},
    ])
    sale = Sale(currency=currency or None, total=total, paid=total if confirmed else None, lines=lines,
                lines_rule=problem or rule, buyer=buyer, document_id=_document_id(obj.get("metadata")))
    return Interpretation(Facts(
        keys=tuple(keys), source="payment_intent", rank=RANK["payment_intent"], confirmed=confirmed,
        occurred_at=created, sale=sale, currency=currency or None,
        note="" if confirmed else f"plata nu este confirmata (status={status})",
    ))


def _charge(kind: str, obj: Mapping[str, Any], created: int) -> Interpretation:
    currency = _currency(obj)
    keys = [k for k in (_id(obj.get("payment_intent")), _id(obj.get("id")), _id(obj.get("invoice"))) if k]
    if kind == "charge.refunded":
        refunds = []
        listed = obj.get("refunds") if isinstance(obj.get("refunds"), Mapping) else {}
        for refund in listed.get("data") or []:
            if isinstance(refund, Mapping) and refund.get("id") and refund.get("status", "succeeded") in REFUND_COUNTED:
                amount = from_minor(refund.get("amount"), currency)
                if amount:
                    refunds.append(RefundClaim(str(refund["id"]), amount))
        return Interpretation(Facts(
            keys=tuple(keys), source="refund", rank=RANK["refund"], occurred_at=created,
            refunds=tuple(refunds), refunded_total=from_minor(obj.get("amount_refunded"), currency),
            currency=currency or None,
        ))
    captured = obj.get("captured")
    confirmed = obj.get("status") == "succeeded" and obj.get("paid") is not False and captured is not False
    amount = obj.get("amount_captured") if captured and obj.get("amount_captured") else obj.get("amount")
    total = from_minor(amount, currency) if currency else None
    lines, rule, problem = _lines(obj, total, currency, kind="charge")
    buyer = buyer_from([
        _metadata_buyer(obj.get("metadata")),
        _party(obj.get("billing_details")),
        _party(obj.get("shipping")),
        {"email": obj.get("receipt_email")},
    ])
    sale = Sale(currency=currency or None, total=total, paid=total if confirmed else None, lines=lines,
                lines_rule=problem or rule, buyer=buyer, document_id=_document_id(obj.get("metadata")))
    return Interpretation(Facts(
        keys=tuple(keys), source="charge", rank=RANK["charge"], confirmed=confirmed, occurred_at=created,
        sale=sale, currency=currency or None,
        note="" if confirmed else "plata nu este incasata (charge neconfirmat sau necapturat)",
    ))


def _refund(kind: str, obj: Mapping[str, Any], created: int) -> Interpretation:
    currency = _currency(obj)
    keys = [k for k in (_id(obj.get("payment_intent")), _id(obj.get("charge"))) if k]
    if not keys:
        return Interpretation(None, "rambursare fara payment_intent si charge")
    claims: tuple[RefundClaim, ...] = ()
    amount = from_minor(obj.get("amount"), currency) if currency else None
    if obj.get("status") in REFUND_COUNTED and amount and obj.get("id"):
        claims = (RefundClaim(str(obj["id"]), amount),)
    return Interpretation(Facts(keys=tuple(keys), source="refund", rank=RANK["refund"], occurred_at=created,
                                refunds=claims, currency=currency or None,
                                note="" if claims else f"rambursare cu status {obj.get('status')}"))


def _invoice_payment_keys(invoice: Mapping[str, Any]) -> list[str]:
    keys = []
    payments = invoice.get("payments")
    for item in (payments.get("data") or []) if isinstance(payments, Mapping) else []:
        payment = item.get("payment") if isinstance(item, Mapping) else None
        if isinstance(payment, Mapping):
            for name in ("payment_intent", "charge"):
                found = _id(payment.get(name))
                if found:
                    keys.append(found)
    for name in ("payment_intent", "charge"):  # API versions before 2025-03-31
        found = _id(invoice.get(name))
        if found:
            keys.append(found)
    return keys


def _invoice(kind: str, obj: Mapping[str, Any], created: int) -> Interpretation:
    currency = _currency(obj)
    paid = obj.get("status") == "paid" or obj.get("paid") is True
    confirmed = kind == "invoice.paid" or (kind == "invoice.finalized" and paid)
    keys = [k for k in [_id(obj.get("id")), *_invoice_payment_keys(obj)] if k]
    total = from_minor(obj.get("total"), currency) if currency else None
    if total == 0:
        return Interpretation(None, "factura Stripe are totalul 0: nimic de facturat")
    amount_paid = from_minor(obj.get("amount_paid"), currency) if currency else None
    lines, rule, problem = _lines(obj, total, currency, kind="invoice")
    metadata = obj.get("metadata") or {}
    buyer = buyer_from([
        _metadata_buyer(metadata),
        _custom_fields(obj.get("custom_fields")),
        {"name": obj.get("customer_name"), "email": obj.get("customer_email"), "phone": obj.get("customer_phone"),
         **_address(obj.get("customer_address"))},
        _tax_ids(obj.get("customer_tax_ids")),
        _party(obj.get("customer_shipping")),
    ])
    sale = Sale(currency=currency or None, total=total, paid=(amount_paid or total) if confirmed else None,
                lines=lines, lines_rule=problem or rule, buyer=buyer, document_id=_document_id(metadata),
                reference=obj.get("number"))
    return Interpretation(Facts(
        keys=tuple(keys), source="invoice", rank=RANK["invoice"], confirmed=confirmed, strong=True,
        occurred_at=created, sale=sale, currency=currency or None,
        note="" if confirmed else f"factura Stripe nu este platita (status={obj.get('status')})",
    ))


def _invoice_payment(kind: str, obj: Mapping[str, Any], created: int) -> Interpretation:
    payment = obj.get("payment") if isinstance(obj.get("payment"), Mapping) else {}
    keys = [k for k in (_id(obj.get("invoice")), _id(payment.get("payment_intent")), _id(payment.get("charge"))) if k]
    if len(keys) < 2:
        return Interpretation(None, "invoice_payment fara factura sau plata")
    return Interpretation(Facts(keys=tuple(keys), source="invoice_payment", rank=RANK["invoice_payment"],
                                occurred_at=created, note="leaga plata de factura Stripe"))


_HANDLERS = {
    "checkout.session.completed": _session,
    "checkout.session.async_payment_succeeded": _session,
    "checkout.session.async_payment_failed": _session,
    "payment_intent.succeeded": _payment_intent,
    "payment_intent.created": _payment_intent,
    "charge.succeeded": _charge,
    "charge.refunded": _charge,
    "refund.created": _refund,
    "refund.updated": _refund,
    "charge.refund.updated": _refund,
    "invoice.paid": _invoice,
    "invoice.finalized": _invoice,
    "invoice_payment.paid": _invoice_payment,
}

EVENT_TYPES = tuple(_HANDLERS)

__all__ = [
    "DOCUMENT_METADATA", "EVENT_TYPES", "StripeProvider", "checkout_line_items", "from_minor", "metadata_lines",
    "minor_digits", "shipping_line", "to_minor",
]
