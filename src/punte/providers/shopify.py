"""Shopify: ``orders/paid`` makes the invoice, ``refunds/create`` the storno.

A delivery is signed with ``X-Shopify-Hmac-Sha256`` (base64 HMAC-SHA256 of the raw body with the app's
secret); its id is ``X-Shopify-Webhook-Id`` (the same on every retry), the topic is ``X-Shopify-Topic``.
Shopify signs no timestamp, so staleness is left to the inbox's deduplication. When the company
configured its shop domain, deliveries from another shop are refused.

``orders/create`` fires before payment and is not acted on. The order's lines are its line items
(price x quantity, less their discount allocations, plus their taxes when prices exclude tax) and its
shipping lines; the VAT rate is the line's tax rate when Shopify has one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from ._fields import fields_from_pairs
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

ZERO = Decimal(0)


def sign(body: bytes, secret: str) -> str:
    """The ``X-Shopify-Hmac-Sha256`` value for ``body``."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _money(value: Any) -> Decimal:
    return decimal_text(value) or ZERO


def _rate(tax_lines: Any) -> Decimal | None:
    for tax in tax_lines or []:
        if isinstance(tax, Mapping):
            rate = decimal_text(tax.get("rate"))
            if rate:
                return (rate * 100).normalize()
    return None


def _taxes(tax_lines: Any) -> Decimal:
    return sum((_money(t.get("price")) for t in tax_lines or [] if isinstance(t, Mapping)), ZERO)


def _allocated(entry: Mapping[str, Any]) -> Decimal:
    allocations = entry.get("discount_allocations")
    if allocations:
        return sum((_money(a.get("amount")) for a in allocations if isinstance(a, Mapping)), ZERO)
    return _money(entry.get("total_discount"))


def order_lines(order: Mapping[str, Any]) -> tuple[SaleLine, ...]:
    included = bool(order.get("taxes_included"))
    out: list[SaleLine] = []
    for item in order.get("line_items") or []:
        if not isinstance(item, Mapping):
            continue
        quantity = Decimal(int(item.get("current_quantity", item.get("quantity")) or 0))
        if quantity <= 0:
            continue
        gross = _money(item.get("price")) * quantity - _allocated(item)
        if not included:
            gross += _taxes(item.get("tax_lines"))
        name = item.get("name") or item.get("title") or "Produs"
        out.append(SaleLine(name=str(name), quantity=quantity, amount=gross,
                            vat_percentage=_rate(item.get("tax_lines")), code=item.get("sku") or None,
                            is_service=not item.get("requires_shipping", True)))
    for ship in order.get("shipping_lines") or []:
        if not isinstance(ship, Mapping):
            continue
        price = _money(ship.get("discounted_price") if ship.get("discounted_price") is not None else ship.get("price"))
        if ship.get("discounted_price") is None:
            price -= _allocated(ship)
        if not included:
            price += _taxes(ship.get("tax_lines"))
        if price > 0:
            out.append(SaleLine(name=f"Transport {ship.get('title') or ''}".strip(), quantity=Decimal(1), amount=price,
                                vat_percentage=_rate(ship.get("tax_lines")), is_service=True))
    return tuple(out)


def _address(addr: Any) -> dict[str, Any]:
    if not isinstance(addr, Mapping):
        return {}
    name = addr.get("name") or " ".join(p for p in (addr.get("first_name"), addr.get("last_name")) if p)
    return {
        "name": name, "business_name": addr.get("company"), "phone": addr.get("phone"),
        "line1": addr.get("address1"), "line2": addr.get("address2"), "city": addr.get("city"),
        "state": addr.get("province") or addr.get("province_code"), "postal_code": addr.get("zip"),
        "country": addr.get("country_code") or addr.get("country"),
    }


def payment_type(order: Mapping[str, Any]) -> str:
    gateways = " ".join(str(g) for g in (order.get("payment_gateway_names") or [order.get("gateway") or ""])).lower()
    if "cash on delivery" in gateways or "cod" in gateways.split() or "ramburs" in gateways:
        return "Ramburs"
    if "bank" in gateways or "transfer" in gateways:
        return "Ordin plata"
    return "Card online"


class ShopifyProvider(Provider):
    name = "shopify"
    kept_headers = ("x-shopify-topic", "x-shopify-shop-domain", "x-shopify-webhook-id", "x-shopify-triggered-at")

    def verify(self, body: bytes, headers: Mapping[str, str], secrets: Sequence[str], ctx: VerifyContext) -> None:
        given = headers.get("x-shopify-hmac-sha256")
        if not given:
            raise InvalidDelivery("lipseste antetul X-Shopify-Hmac-Sha256")
        shop = (ctx.options or {}).get("shop_domain")
        if shop and headers.get("x-shopify-shop-domain", "").lower() != str(shop).lower():
            raise InvalidDelivery("livrarea vine de la alt magazin Shopify")
        if not any(hmac.compare_digest(sign(body, secret), given.strip()) for secret in secrets):
            raise InvalidDelivery("semnatura Shopify nu se potriveste")

    def envelope(self, body: bytes, headers: Mapping[str, str]) -> Envelope:
        webhook_id = headers.get("x-shopify-webhook-id", "").strip()
        topic = headers.get("x-shopify-topic", "").strip()
        if not webhook_id or len(webhook_id) > 255:
            raise InvalidDelivery("lipseste antetul X-Shopify-Webhook-Id")
        if not topic:
            raise InvalidDelivery("lipseste antetul X-Shopify-Topic")
        data = load_json_object(body)
        if "id" not in data:
            raise InvalidDelivery("obiectul Shopify nu are id")
        return Envelope(webhook_id, topic)

    def interpret(self, event: Mapping[str, Any], headers: Mapping[str, str]) -> Interpretation:
        topic = headers.get("x-shopify-topic", "")
        if topic == "orders/paid":
            return Interpretation(self._order(event))
        if topic == "refunds/create":
            return Interpretation(self._refund(event))
        return Interpretation(None, f"subiectul {topic} nu produce documente")

    def _order(self, order: Mapping[str, Any]) -> Facts:
        currency = str(order.get("currency") or "").upper() or None
        total = decimal_text(order.get("current_total_price") or order.get("total_price"))
        attributes = [
            (a.get("name"), a.get("value")) for a in order.get("note_attributes") or [] if isinstance(a, Mapping)
        ]
        customer = order.get("customer") if isinstance(order.get("customer"), Mapping) else {}
        buyer = buyer_from([
            fields_from_pairs(attributes),
            _address(order.get("billing_address")),
            {"email": order.get("email") or order.get("contact_email") or customer.get("email"),
             "phone": order.get("phone") or customer.get("phone"),
             "name": " ".join(p for p in (customer.get("first_name"), customer.get("last_name")) if p) or None},
            _address(order.get("shipping_address")),
        ])
        sale = Sale(currency=currency, total=total, paid=total, lines=order_lines(order) or None,
                    lines_rule="line_items", buyer=buyer, payment_type=payment_type(order),
                    reference=str(order.get("name") or order.get("order_number") or ""))
        return Facts(keys=(str(order["id"]),), source="order", rank=1, confirmed=True, strong=True, sale=sale,
                     currency=currency)

    def _refund(self, refund: Mapping[str, Any]) -> Facts:
        amount = ZERO
        currency = None
        for tx in refund.get("transactions") or []:
            if isinstance(tx, Mapping) and tx.get("kind") == "refund" and tx.get("status") == "success":
                amount += _money(tx.get("amount"))
                currency = currency or (str(tx.get("currency") or "").upper() or None)
        claims = (RefundClaim(str(refund["id"]), amount),) if amount > 0 and refund.get("id") is not None else ()
        return Facts(keys=(str(refund.get("order_id")),), source="refund", rank=5, refunds=claims, currency=currency,
                     note="" if claims else "rambursare fara tranzactii de restituire reusite")


__all__ = ["ShopifyProvider", "order_lines", "payment_type", "sign"]
