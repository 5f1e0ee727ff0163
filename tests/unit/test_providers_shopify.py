"""Shopify: HMAC-signed deliveries and what orders/paid and refunds/create mean."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import pytest

from punte.providers.base import InvalidDelivery, VerifyContext
from punte.providers.shopify import ShopifyProvider, sign

SHOPIFY = ShopifyProvider()
SECRET = "shpss_0123456789abcdef"


def order(**changes: Any) -> dict[str, Any]:
    """An ``orders/paid`` payload (Shopify's REST Order resource, trimmed)."""
    data: dict[str, Any] = {
        "id": 820982911946154508, "admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
        "name": "#1001", "order_number": 1001, "email": "ana@example.ro", "currency": "RON",
        "presentment_currency": "RON", "financial_status": "paid", "taxes_included": True,
        "total_price": "213.00", "subtotal_price": "198.00", "total_tax": "36.97", "total_discounts": "20.00",
        "payment_gateway_names": ["shopify_payments"], "created_at": "2026-02-14T10:00:00+02:00",
        "customer": {"id": 115310627314723954, "email": "ana@example.ro", "first_name": "Ana", "last_name": "Pop"},
        "billing_address": {"first_name": "Ana", "last_name": "Pop", "name": "Ana Pop", "company": None,
                            "address1": "Str. Lunga 3", "address2": "ap. 4", "city": "Brasov", "province": "Brasov",
                            "province_code": "BV", "zip": "500030", "country": "Romania", "country_code": "RO",
                            "phone": "0740000000"},
        "shipping_address": None,
        "line_items": [
            {"id": 466157049, "title": "Tricou", "name": "Tricou - M", "quantity": 2, "price": "59.00",
             "sku": "TR-M", "requires_shipping": True, "taxable": True, "total_discount": "0.00",
             "discount_allocations": [{"amount": "20.00", "discount_application_index": 0}],
             "tax_lines": [{"price": "17.01", "rate": 0.21, "title": "TVA"}]},
            {"id": 518995019, "title": "Carte", "name": "Carte", "quantity": 1, "price": "100.00",
             "sku": None, "requires_shipping": True, "taxable": True, "total_discount": "0.00",
             "discount_allocations": [], "tax_lines": [{"price": "9.91", "rate": 0.11, "title": "TVA redusa"}]},
        ],
        "shipping_lines": [{"id": 271878346, "title": "Curier", "price": "15.00", "discounted_price": "15.00",
                            "tax_lines": [{"price": "2.60", "rate": 0.21, "title": "TVA"}],
                            "discount_allocations": []}],
        "note_attributes": [{"name": "CUI", "value": ""}, {"name": "Reg. Com.", "value": ""}],
    }
    data.update(changes)
    return data


def headers(body: bytes, topic: str = "orders/paid", webhook_id: str = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
            secret: str = SECRET) -> dict[str, str]:
    return {"x-shopify-hmac-sha256": sign(body, secret), "x-shopify-topic": topic,
            "x-shopify-shop-domain": "magazin.myshopify.com", "x-shopify-webhook-id": webhook_id,
            "x-shopify-api-version": "2025-10", "content-type": "application/json"}


def test_hmac_of_the_raw_body_with_any_valid_secret() -> None:
    body = json.dumps(order()).encode()
    SHOPIFY.verify(body, headers(body), ["old", SECRET], VerifyContext(now=time.time()))
    with pytest.raises(InvalidDelivery, match="nu se potriveste"):
        SHOPIFY.verify(body + b" ", headers(body), [SECRET], VerifyContext(now=time.time()))
    with pytest.raises(InvalidDelivery, match="alt magazin"):
        SHOPIFY.verify(body, headers(body), [SECRET], VerifyContext(now=time.time(),
                                                                    options={"shop_domain": "altul.myshopify.com"}))


def test_envelope_is_the_webhook_id_and_topic() -> None:
    body = json.dumps(order()).encode()
    envelope = SHOPIFY.envelope(body, headers(body))
    assert (envelope.event_id, envelope.event_type) == ("b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", "orders/paid")
    with pytest.raises(InvalidDelivery):
        SHOPIFY.envelope(body, {"x-shopify-topic": "orders/paid"})


def test_paid_order_lines_shipping_discounts_and_taxes() -> None:
    facts = SHOPIFY.interpret(order(), {"x-shopify-topic": "orders/paid"}).facts
    assert facts is not None and facts.confirmed and facts.keys == ("820982911946154508",)
    sale = facts.sale
    assert [(ln.name, ln.quantity, ln.amount, ln.vat_percentage, ln.code) for ln in sale.lines] == [
        ("Tricou - M", Decimal(2), Decimal("98.00"), Decimal(21), "TR-M"),
        ("Carte", Decimal(1), Decimal("100.00"), Decimal(11), None),
        ("Transport Curier", Decimal(1), Decimal("15.00"), Decimal(21), None),
    ]
    assert sum(ln.amount for ln in sale.lines) == sale.total == Decimal("213.00")
    assert (sale.buyer.name, sale.buyer.line2, sale.buyer.state, sale.buyer.country) == ("Ana Pop", "ap. 4",
                                                                                          "Brasov", "RO")


def test_prices_without_tax_get_their_tax_added() -> None:
    data = order(taxes_included=False, total_price="121.00", line_items=[
        {"title": "Serviciu", "name": "Serviciu", "quantity": 1, "price": "100.00", "requires_shipping": False,
         "discount_allocations": [], "tax_lines": [{"price": "21.00", "rate": 0.21, "title": "TVA"}]}],
        shipping_lines=[])
    (line,) = SHOPIFY.interpret(data, {"x-shopify-topic": "orders/paid"}).facts.sale.lines
    assert (line.amount, line.vat_percentage, line.is_service) == (Decimal("121.00"), Decimal(21), True)


def test_company_buyer_from_note_attributes_and_cash_on_delivery() -> None:
    data = order(note_attributes=[{"name": "CUI", "value": "RO14399840"}, {"name": "Reg. Com.", "value": "J08/1/2001"}],
                 payment_gateway_names=["Cash on Delivery (COD)"])
    sale = SHOPIFY.interpret(data, {"x-shopify-topic": "orders/paid"}).facts.sale
    assert (sale.buyer.cif, sale.buyer.reg_com, sale.payment_type) == ("RO14399840", "J08/1/2001", "Ramburs")


def test_refund_counts_successful_refund_transactions() -> None:
    refund = {"id": 509562969, "order_id": 820982911946154508, "created_at": "2026-02-15T10:00:00+02:00",
              "note": "retur", "restock": True, "refund_line_items": [],
              "transactions": [{"id": 1, "kind": "refund", "status": "success", "amount": "59.00", "currency": "RON"},
                               {"id": 2, "kind": "refund", "status": "failure", "amount": "10.00", "currency": "RON"}]}
    facts = SHOPIFY.interpret(refund, {"x-shopify-topic": "refunds/create"}).facts
    assert facts.keys == ("820982911946154508",)
    assert [(c.key, c.amount) for c in facts.refunds] == [("509562969", Decimal("59.00"))]


def test_orders_create_is_not_acted_on() -> None:
    meaning = SHOPIFY.interpret(order(financial_status="pending"), {"x-shopify-topic": "orders/create"})
    assert meaning.facts is None
