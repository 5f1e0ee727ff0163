"""Stripe: signature checks and what each event means (the seed's rules), without a database."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from punte.providers.base import InvalidDelivery, VerifyContext
from punte.providers.stripe import StripeProvider, from_minor, metadata_lines, to_minor
from tests.integration.bridge_support import (
    SECRET,
    address,
    body_of,
    charge,
    checkout_session,
    event,
    invoice_line,
    line_item,
    payment_intent,
    refund,
    stripe_invoice,
    stripe_signature,
)

STRIPE = StripeProvider()
CTX = VerifyContext(now=time.time())


def facts(payload: dict) -> object:
    meaning = STRIPE.interpret(payload, {})
    assert meaning.facts is not None, meaning.ignored
    return meaning.facts


# ---- signatures --------------------------------------------------------------------------------------------------


def test_valid_signature_passes_with_any_of_the_valid_secrets() -> None:
    body = body_of(event("charge.succeeded", charge(pi="pi_1", amount=100)))
    header = stripe_signature(body, "whsec_new")
    STRIPE.verify(body, {"stripe-signature": header}, ["whsec_old", "whsec_new"], CTX)
    STRIPE.verify(body, {"stripe-signature": stripe_signature(body, "whsec_x", extra_secrets=("whsec_old",))},
                  ["whsec_old"], CTX)


@pytest.mark.parametrize(("header", "reason"), [
    (None, "lipseste antetul"),
    ("t=1,v1=00", "nu se potriveste"),
    ("garbage", "nu se potriveste"),
])
def test_bad_signatures_are_refused(header: str | None, reason: str) -> None:
    body = body_of(event("charge.succeeded", charge(pi="pi_1", amount=100)))
    with pytest.raises(InvalidDelivery, match=reason):
        STRIPE.verify(body, {"stripe-signature": header} if header else {}, [SECRET], CTX)


def test_stale_timestamp_is_refused_even_when_correctly_signed() -> None:
    body = body_of(event("charge.succeeded", charge(pi="pi_1", amount=100)))
    header = stripe_signature(body, timestamp=int(time.time()) - 600)
    with pytest.raises(InvalidDelivery, match="prea vechi"):
        STRIPE.verify(body, {"stripe-signature": header}, [SECRET], CTX)


def test_signature_is_over_the_raw_bytes_not_reserialised_json() -> None:
    payload = event("charge.succeeded", charge(pi="pi_1", amount=100))
    spaced = json.dumps(payload, indent=2).encode()
    header = stripe_signature(spaced)
    STRIPE.verify(spaced, {"stripe-signature": header}, [SECRET], CTX)
    with pytest.raises(InvalidDelivery):
        STRIPE.verify(body_of(payload), {"stripe-signature": header}, [SECRET], CTX)


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"id": "x", "type": "a"}', b'{"id": "evt_1", "type": "a"}'])
def test_malformed_events_are_refused(body: bytes) -> None:
    with pytest.raises(InvalidDelivery):
        STRIPE.envelope(body, {})


# ---- when a payment is confirmed (the seed's list) --------------------------------------------------------------


@pytest.mark.parametrize(("payload", "confirmed"), [
    (event("checkout.session.completed", checkout_session(pi="pi_1", amount=100)), True),
    (event("checkout.session.completed", checkout_session(pi="pi_1", amount=100, paid=False)), False),
    (event("checkout.session.async_payment_succeeded", checkout_session(pi="pi_1", amount=100, paid=False)), True),
    (event("payment_intent.succeeded", payment_intent(pi="pi_1", amount=100)), True),
    (event("payment_intent.created", payment_intent(pi="pi_1", amount=100, status="requires_payment_method")), False),
    (event("payment_intent.created", payment_intent(pi="pi_1", amount=100, status="succeeded")), True),
    (event("invoice.paid", stripe_invoice(invoice_id="in_1", pi="pi_1", amount=100)), True),
    (event("invoice.finalized", stripe_invoice(invoice_id="in_1", pi="pi_1", amount=100, status="open")), False),
    (event("invoice.finalized", stripe_invoice(invoice_id="in_1", pi="pi_1", amount=100)), True),
    (event("charge.succeeded", charge(pi="pi_1", amount=100)), True),
    (event("charge.succeeded", charge(pi="pi_1", amount=100, captured=False)), False),
])
def test_confirmation_follows_the_seed_rules(payload: dict, confirmed: bool) -> None:
    assert facts(payload).confirmed is confirmed


def test_other_events_change_nothing() -> None:
    meaning = STRIPE.interpret(event("customer.created", {"id": "cus_1", "object": "customer"}), {})
    assert meaning.facts is None and "nu produce" in meaning.ignored
    free = STRIPE.interpret(event("invoice.paid", stripe_invoice(invoice_id="in_0", pi=None, amount=0)), {})
    assert free.facts is None and "totalul 0" in free.ignored


def test_events_of_one_payment_share_a_key() -> None:
    session = facts(event("checkout.session.completed", checkout_session(pi="pi_A", amount=100, session_id="cs_A")))
    intent = facts(event("payment_intent.succeeded", payment_intent(pi="pi_A", amount=100)))
    ch = facts(event("charge.succeeded", charge(pi="pi_A", charge_id="ch_A", amount=100)))
    re = facts(event("refund.created", refund(pi="pi_A", charge_id="ch_A", amount=50)))
    billing = facts(event("invoice.paid", stripe_invoice(invoice_id="in_A", pi="pi_A", amount=100)))
    assert session.keys == ("pi_A", "cs_A") and intent.keys == ("pi_A",) and ch.keys == ("pi_A", "ch_A")
    assert re.keys == ("pi_A", "ch_A") and billing.keys == ("in_A", "pi_A")
    old_shape = stripe_invoice(invoice_id="in_B", pi=None, amount=100)
    old_shape["payment_intent"] = "pi_B"  # before 2025-03-31 invoices named their PaymentIntent directly
    assert facts(event("invoice.paid", old_shape)).keys == ("in_B", "pi_B")


def test_refund_facts() -> None:
    listed = refund(pi="pi_R", charge_id="ch_R", amount=300, refund_id="re_1")
    f = facts(event("charge.refunded", charge(pi="pi_R", charge_id="ch_R", amount=1000, refunded=300,
                                              refunds=[listed])))
    assert f.refunded_total == Decimal("3.00") and [(c.key, c.amount) for c in f.refunds] == [("re_1", Decimal("3.00"))]
    failed = facts(event("refund.updated", refund(pi="pi_R", charge_id="ch_R", amount=300, status="failed")))
    assert failed.refunds == ()


# ---- billing data --------------------------------------------------------------------------------------------


def test_billing_data_in_the_seed_order_metadata_first() -> None:
    metadata = {
        "address": json.dumps({"city": "Brasov", "country": "RO", "line1": "Apollonia Hirscher,11",
                               "line2": "Cod postal: 500015", "postal_code": "500015", "state": "Brasov",
                               "cui": "123321"}),
        "email": " test@testmail.com", "name": "Client factureaza", "phone": None, "tax_exempt": "none",
        "tax_ids": "[]",
    }
    obj = charge(pi="pi_1", amount=100, metadata=metadata,
                 billing={"name": "Card Holder", "address": address("Alta 1", "Cluj-Napoca", "Cluj")})
    buyer = facts(event("charge.succeeded", obj)).sale.buyer
    assert (buyer.name, buyer.email, buyer.line1, buyer.city, buyer.cif) == (
        "Client factureaza", "test@testmail.com", "Apollonia Hirscher,11", "Brasov", "123321")


def test_billing_falls_back_to_billing_details_then_shipping() -> None:
    obj = charge(pi="pi_1", amount=100, billing={"name": None, "email": None, "address": address(None, None, None,
                                                                                                 None, None)})
    obj["shipping"] = {"name": "Livrare Ion", "address": address("Str. Mare 2", "Iasi", "IS"), "phone": "0740"}
    buyer = facts(event("charge.succeeded", obj)).sale.buyer
    assert (buyer.name, buyer.line1, buyer.state, buyer.phone) == ("Livrare Ion", "Str. Mare 2", "IS", "0740")


def test_tax_ids_and_custom_fields() -> None:
    obj = checkout_session(pi="pi_1", amount=100, customer={"tax_ids": [{"type": "eu_vat", "value": "DE136695976"},
                                                                        {"type": "ro_tin", "value": "1800101221144"}]},
                           custom_fields=[{"key": "nrregcom", "label": {"custom": "Nr. Reg. Com.", "type": "custom"},
                                           "type": "text", "text": {"value": "J40/1/2020"}}])
    buyer = facts(event("checkout.session.completed", obj)).sale.buyer
    assert (buyer.vat_id, buyer.tin, buyer.reg_com) == ("DE136695976", "1800101221144", "J40/1/2020")


# ---- lines ---------------------------------------------------------------------------------------------------


def test_description_comes_first() -> None:
    obj = payment_intent(pi="pi_1", amount=5000, description="Consultanta iunie",
                         metadata={"Order Item #1": "Altceva, 1, 50"})
    sale = facts(event("payment_intent.succeeded", obj)).sale
    assert sale.lines_rule == "description" and [(ln.name, ln.amount) for ln in sale.lines] == [
        ("Consultanta iunie", Decimal("50.00"))]


def test_stripe_invoice_lines_with_discounts_and_exclusive_taxes() -> None:
    taxed = invoice_line("Plan Pro", 10000, quantity=2, taxes=[
        {"amount": 2100, "tax_behavior": "exclusive", "taxability_reason": "standard_rated",
         "taxable_amount": 10000, "type": "tax_rate_details", "tax_rate_details": {"tax_rate": "txr_1"}}])
    taxed["discount_amounts"] = [{"amount": 0, "discount": "di_1"}]
    free = invoice_line("Perioada de proba", 0)
    obj = stripe_invoice(invoice_id="in_1", pi="pi_1", amount=12100, lines=[taxed, free])
    sale = facts(event("invoice.paid", obj)).sale
    assert sale.lines_rule == "lines"
    (line,) = sale.lines
    assert (line.name, line.quantity, line.amount, line.vat_percentage) == (
        "Plan Pro", Decimal(2), Decimal("121.00"), Decimal(21))


def test_checkout_line_items_in_the_event_are_used_with_shipping_and_tax_rates() -> None:
    tax = [{"amount": 349, "rate": {"id": "txr_1", "percentage": 21.0, "inclusive": True, "object": "tax_rate"},
            "taxability_reason": "standard_rated", "taxable_amount": 1661}]
    obj = checkout_session(pi="pi_1", amount=3010, shipping=1000,
                           line_items=[line_item("Carte", 1005, 2, taxes=tax)])
    sale = facts(event("checkout.session.completed", obj)).sale
    assert sale.lines_rule == "line_items" and sale.fetch_lines is None
    assert [(ln.name, ln.quantity, ln.amount, ln.vat_percentage) for ln in sale.lines] == [
        ("Carte", Decimal(2), Decimal("20.10"), Decimal("21.0")), ("Transport", Decimal(1), Decimal("10.00"), None)]


def test_session_without_lines_asks_for_the_api() -> None:
    sale = facts(event("checkout.session.completed", checkout_session(pi="pi_1", amount=100,
                                                                      session_id="cs_fetch"))).sale
    assert sale.lines is None and sale.fetch_lines == "cs_fetch"


@pytest.mark.parametrize(("metadata", "rule", "lines"), [
    ({"Order Item #1": "123id121, Nume produs, 3, 232.0", "Order Item #2": "Husa, 1, 10"}, "Order Item",
     [("Nume produs", "123id121", Decimal(3), Decimal("232.0")), ("Husa", None, Decimal(1), Decimal(10))]),
    ({"lineitem1": json.dumps({"productname": "produs 1", "quantity": "1", "itemtotal": "400"}),
      "lineitem2": {"productname": "produs 2", "quantity": "2", "itemtotal": "500"}}, "lineitem",
     [("produs 1", None, Decimal(1), Decimal(400)), ("produs 2", None, Decimal(2), Decimal(500))]),
    ({"product_name": "Abonament", "quantity": "3"}, "product_name", [("Abonament", None, Decimal(3), Decimal(9))]),
    ({"quantity": "2"}, "quantity", [("Produs", None, Decimal(2), Decimal(9))]),
])
def test_metadata_lines_in_the_seed_order(metadata: dict, rule: str, lines: list) -> None:
    found, used, malformed = metadata_lines(metadata, Decimal(9), "RON")
    assert not malformed and used == rule
    assert [(ln.name, ln.code, ln.quantity, ln.amount) for ln in found] == lines


def test_order_items_win_over_lineitems_and_unreadable_ones_are_reported() -> None:
    found, used, _ = metadata_lines({"lineitem1": '{"productname": "B", "quantity": "1", "itemtotal": "1"}',
                                     "Order Item #1": "A, 1, 1"}, None, "RON")
    assert used == "Order Item" and [ln.name for ln in found] == ["A"]
    assert metadata_lines({"Order Item #1": "doar un nume"}, None, "RON") == (None, "Order Item", True)


# ---- amounts -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "currency", "value"), [
    (12345, "ron", Decimal("123.45")), (500, "JPY", Decimal(500)), (1000, "krw", Decimal(1000)),
    (12345, "kwd", Decimal("12.345")), (100, "huf", Decimal("1.00")), (0, "eur", Decimal("0.00")),
])
def test_minor_units_to_decimal(amount: int, currency: str, value: Decimal) -> None:
    assert from_minor(amount, currency) == value
    assert to_minor(value, currency) == amount


def test_to_minor_refuses_amounts_finer_than_the_currency() -> None:
    with pytest.raises(ValueError):
        to_minor(Decimal("1.5"), "JPY")
