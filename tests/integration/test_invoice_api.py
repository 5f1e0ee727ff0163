"""POST /invoice and friends, as SmartBill clients call them (on SQLite and PostgreSQL)."""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from punte.services.issuing import today_in_romania
from punte.store.models import Document, Event
from tests.conftest import Account, make_account

TODAY = today_in_romania().isoformat()
API = "/SBORO/api"

SEED_INVOICE: dict[str, Any] = {
    "companyVatCode": "RO18547290",
    "client": {
        "name": "Client Exemplu SRL",
        "vatCode": "RO14399840",
        "isTaxPayer": True,
        "address": "Str. Lunga 1",
        "city": "Brasov",
        "county": "Brasov",
        "country": "Romania",
        "email": "client@example.ro",
        "saveToDb": False,
    },
    "issueDate": TODAY,
    "seriesName": "FCT",
    "isDraft": False,
    "dueDate": TODAY,
    "deliveryDate": TODAY,
    "products": [
        {
            "name": "Produs 1",
            "isDiscount": False,
            "measuringUnitName": "buc",
            "currency": "RON",
            "quantity": 1,
            "price": 10,
            "isTaxIncluded": True,
            "taxName": "Normala",
            "taxPercentage": 21,
            "saveToDb": False,
            "isService": False,
        }
    ],
}


def body(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(SEED_INVOICE)
    data.update(changes)
    return data


def issue(client, account: Account, data: dict[str, Any] | None = None, path: str = "/invoice", **kw):  # type: ignore[no-untyped-def]
    return client.post(API + path, headers={**account.headers, **kw.pop("headers", {})}, json=data or body(), **kw)


def test_invoice_is_issued_with_the_first_number_of_the_series(client, account) -> None:  # type: ignore[no-untyped-def]
    r = issue(client, account)
    assert r.status_code == 200
    assert r.json() == {"errorText": "", "message": "", "number": "0001", "series": "FCT", "url": ""}


def test_v2_answer_adds_document_id_and_public_view(client, account) -> None:  # type: ignore[no-untyped-def]
    r = issue(client, account, path="/invoice/v2")
    data = r.json()
    assert data["number"] == "0001" and data["documentId"] > 0
    assert data["documentViewUrl"].startswith("http://testserver/view/")
    page = client.get(data["documentViewUrl"].removeprefix("http://testserver"))
    assert page.status_code == 200 and "FCT0001" in page.text and "12,10" not in page.text


def test_consecutive_invoices_take_consecutive_numbers(client, account) -> None:  # type: ignore[no-untyped-def]
    numbers = [issue(client, account).json()["number"] for _ in range(3)]
    assert numbers == ["0001", "0002", "0003"]


def test_historical_rate_after_its_end_is_refused_like_smartbill(client, account, db) -> None:  # type: ignore[no-untyped-def]
    data = body()
    data["products"][0]["taxPercentage"] = 19
    r = issue(client, account, data)
    assert r.status_code == 400
    assert r.json()["errorText"] == "Cota Normala 19% nu a fost gasita pe server!"
    with db.session() as s:
        assert s.scalar(select(Document)) is None


def test_historical_rate_is_accepted_on_a_document_dated_before_the_change(client, account) -> None:  # type: ignore[no-untyped-def]
    data = body(issueDate="2025-07-10", dueDate="2025-07-10", deliveryDate="2025-07-10")
    data["products"][0]["taxPercentage"] = 19
    assert issue(client, account, data).json()["number"] == "0001"


def test_non_payer_company_issues_without_vat(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    acct = make_account(db, settings, cif="RO14399840", email="np@firma.ro", vat_payer=False)
    data = body(companyVatCode="RO14399840")
    data["products"] = [{"name": "Produs 1", "measuringUnitName": "buc", "currency": "RON", "quantity": 1, "price": 10}]
    r = issue(client, acct, data)
    assert r.json()["number"] == "0001"
    with db.session() as s:
        doc = s.scalar(select(Document))
        assert doc.vat_total == 0 and doc.gross_total == 10 and doc.lines[0].vat_category == "O"


def test_vat_on_collection_is_refused_for_a_non_payer(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    acct = make_account(db, settings, cif="RO14399840", email="np@firma.ro", vat_payer=False)
    r = issue(client, acct, body(companyVatCode="RO14399840", usePaymentTax=True, paymentBase=20))
    assert r.json()["errorText"] == "O firma neplatitoare de tva nu poate folosi tva la incasare!"


def test_vat_on_collection_is_recorded(client, account, db) -> None:  # type: ignore[no-untyped-def]
    r = issue(client, account, body(usePaymentTax=True, paymentBase=20, colectedTax="4.20", paymentTotal="24.20"))
    assert r.status_code == 200
    with db.session() as s:
        doc = s.scalar(select(Document))
        assert doc.vat_on_collection and doc.details["colectedTax"] == "4.20"


def test_draft_takes_no_number_until_issued(client, account, db) -> None:  # type: ignore[no-untyped-def]
    r = issue(client, account, body(isDraft=True), path="/invoice/v2")
    assert r.json()["number"] == "" and r.json()["documentId"] > 0
    assert issue(client, account).json()["number"] == "0001"
    r2 = client.put(f"{API}/invoice/issue", headers=account.headers,
                    params={"cif": account.cif, "documentId": r.json()["documentId"]})
    assert r2.json()["number"] == "0002"
    again = client.put(f"{API}/invoice/issue", headers=account.headers,
                       params={"cif": account.cif, "documentId": r.json()["documentId"]})
    assert again.status_code == 400


def test_discounts_percentage_and_value(client, account, db) -> None:  # type: ignore[no-untyped-def]
    data = body()
    data["products"] = [
        {"name": "A", "measuringUnitName": "buc", "currency": "RON", "quantity": 2, "price": 50, "taxName": "Normala", "taxPercentage": 21},
        {"name": "B", "measuringUnitName": "buc", "currency": "RON", "quantity": 1, "price": 100, "taxName": "Normala", "taxPercentage": 21},
        {"name": "Discount 10%", "isDiscount": True, "numberOfItems": 2, "discountType": 2, "discountPercentage": 10},
        {"name": "Discount valoric", "isDiscount": True, "numberOfItems": 3, "discountType": 1, "discountValue": -5, "isTaxIncluded": False},
    ]
    assert issue(client, account, data).status_code == 200
    with db.session() as s:
        doc = s.scalar(select(Document))
        assert doc.line_total == 200 and doc.allowance_total == 25 and doc.net_total == 175
        assert doc.vat_total == Decimal("36.75") and doc.gross_total == Decimal("211.75")


def test_discount_over_mixed_rates_without_tax_is_refused(client, account) -> None:  # type: ignore[no-untyped-def]
    data = body()
    data["products"] = [
        {"name": "A", "measuringUnitName": "buc", "currency": "RON", "quantity": 1, "price": 50, "taxPercentage": 21},
        {"name": "B", "measuringUnitName": "buc", "currency": "RON", "quantity": 1, "price": 50, "taxPercentage": 11},
        {"name": "D", "isDiscount": True, "numberOfItems": 2, "discountType": 1, "discountValue": -5},
    ]
    r = issue(client, account, data)
    assert r.json()["errorText"] == (
        "La aplicarea unui discount pentru produse cu cote tva diferite, trebuie sa specifici si cota tva a discountului."
    )


def test_foreign_currency_invoice_uses_the_given_rate(client, account, db) -> None:  # type: ignore[no-untyped-def]
    data = body(currency="EUR", exchangeRate=5.0912)
    data["products"][0]["currency"] = "EUR"
    assert issue(client, account, data).status_code == 200
    with db.session() as s:
        doc = s.scalar(select(Document))
        assert doc.currency == "EUR" and str(doc.exchange_rate).startswith("5.0912")
        assert doc.vat_total_ron is not None


def test_foreign_currency_without_rate_or_bnr_data_is_a_clear_error(client, account) -> None:  # type: ignore[no-untyped-def]
    data = body(currency="EUR")
    data["products"][0]["currency"] = "EUR"
    r = issue(client, account, data)
    assert r.status_code == 400 and "Cursul BNR pentru EUR" in r.json()["errorText"]


def test_reference_currency_products_are_invoiced_in_ron(client, account, db) -> None:  # type: ignore[no-untyped-def]
    data = body(currency="RON")
    data["products"] = [
        {"name": "P1", "measuringUnitName": "buc", "currency": "EUR", "exchangeRate": 4.47, "quantity": 2, "price": 10, "taxPercentage": 21},
    ]
    assert issue(client, account, data).status_code == 200
    with db.session() as s:
        assert s.scalar(select(Document)).net_total == Decimal("89.40")


def test_language_and_translations_are_kept(client, account, db) -> None:  # type: ignore[no-untyped-def]
    data = body(language="EN")
    data["products"][0].update(translatedName="Product 1", translatedMeasuringUnit="piece")
    assert issue(client, account, data).status_code == 200
    with db.session() as s:
        doc = s.scalar(select(Document))
        assert doc.language == "EN" and doc.lines[0].translated_name == "Product 1"
    assert issue(client, account, body(language="XX")).json()["errorText"] == "Limba nu a fost gasita pe server!"


def test_invoice_paid_at_issue_with_a_receipt(client, account) -> None:  # type: ignore[no-untyped-def]
    r = issue(client, account, body(payment={"value": 10, "paymentSeries": "CH", "type": "Chitanta", "isCash": True}))
    assert r.status_code == 200
    st = client.get(f"{API}/invoice/paymentstatus", headers=account.headers,
                    params={"cif": account.cif, "seriesname": "FCT", "number": "0001"}).json()
    assert st["invoiceTotalAmount"] == 10 and st["paidAmount"] == 10 and st["unpaidAmount"] == 0 and st["paid"] is True
    series = client.get(f"{API}/series", headers=account.headers, params={"cif": account.cif, "type": "c"}).json()
    assert series["list"] == [{"name": "CH", "nextNumber": "0002", "type": "c"}]


def test_partial_payment_leaves_an_unpaid_amount(client, account) -> None:  # type: ignore[no-untyped-def]
    issue(client, account, body(payment={"value": 4, "type": "Ordin plata"}))
    st = client.get(f"{API}/invoice/paymentstatus", headers=account.headers,
                    params={"cif": account.cif, "seriesName": "FCT", "number": "1"}).json()
    assert st["paidAmount"] == 4 and st["unpaidAmount"] == 6 and st["paid"] is False


@pytest.mark.parametrize(
    ("change", "text"),
    [
        ({"companyVatCode": None}, "CIF-ul firmei ('companyVatCode') trebuie specificat"),
        ({"issueDate": "23.11.2026"}, "Data documentului trebuie sa fie de forma yyyy-MM-dd."),
        ({"client": None}, "client trebuie specificat"),
        ({"client": {"name": ""}}, "Client invalid!"),
        ({"products": []}, "Factura nu contine produse!"),
        ({"seriesName": "NUEXISTA"}, "Seria nu a fost gasita! Folositi o serie creata in contul de cloud."),
        ({"currency": "XYZ"}, "Moneda nu a fost gasita pe server!"),
        ({"payment": {"value": 1, "type": "Bitcoin"}}, "Tipul incasarii nu a fost gasit!"),
        ({"payment": {"value": 1}}, "type trebuie specificat pentru incasare"),
        ({"payment": {"type": "Card"}}, "value trebuie specificat pentru incasare"),
        ({"payment": {"value": 1, "type": "Chitanta", "paymentSeries": "ZZ"}}, "Seria incasarii nu a fost gasita pe server."),
        ({"useEstimateDetails": True, "estimate": {"seriesName": "PRF", "number": "0032"}}, "Factura proforma PRF0032 nu a fost gasita!"),
    ],
)
def test_documented_errors_have_smartbill_texts_and_write_nothing(client, account, db, change, text) -> None:  # type: ignore[no-untyped-def]
    r = issue(client, account, body(**change))
    assert r.status_code == 400
    assert r.json()["errorText"] == text
    assert r.json()["number"] == "" and r.json()["series"] == ""
    with db.session() as s:
        assert s.scalar(select(Document)) is None


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("name", "name trebuie specificat pentru fiecare produs"),
        ("measuringUnitName", "measuringUnitName trebuie specificat pentru fiecare produs"),
        ("currency", "currency trebuie specificat pentru fiecare produs"),
        ("quantity", "quantity trebuie specificat pentru fiecare produs"),
        ("price", "price trebuie specificat pentru fiecare produs"),
    ],
)
def test_missing_product_fields(client, account, field, text) -> None:  # type: ignore[no-untyped-def]
    data = body()
    del data["products"][0][field]
    assert issue(client, account, data).json()["errorText"] == text


def test_more_than_400_lines_is_refused(client, account) -> None:  # type: ignore[no-untyped-def]
    data = body()
    data["products"] = data["products"] * 401
    assert issue(client, account, data).json()["errorText"] == (
        "Numarul maxim acceptat de 400 intrari pe document a fost depasit."
    )


@pytest.mark.parametrize("qty", [0, -1, "1e12", "abc", True])
def test_absurd_or_wrong_quantities_are_a_clear_400(client, account, qty) -> None:  # type: ignore[no-untyped-def]
    data = body()
    data["products"][0]["quantity"] = qty
    r = issue(client, account, data)
    assert r.status_code == 400 and r.json()["errorText"]


def test_malformed_json_is_a_400(client, account) -> None:  # type: ignore[no-untyped-def]
    r = client.post(API + "/invoice", headers=account.headers, content=b'{"companyVatCode": ')
    assert r.status_code == 400 and "JSON" in r.json()["errorText"]


def test_wrong_type_of_a_known_field_is_a_400(client, account) -> None:  # type: ignore[no-untyped-def]
    r = issue(client, account, body(isDraft="poate"))
    assert r.status_code == 400 and "isDraft" in r.json()["errorText"]


def test_other_media_types_are_415(client, account) -> None:  # type: ignore[no-untyped-def]
    headers = {**account.headers, "Content-Type": "application/xml"}
    r = client.post(API + "/invoice", headers=headers, content=b"<invoice/>")
    assert r.status_code == 415


def test_unknown_fields_are_ignored(client, account) -> None:  # type: ignore[no-untyped-def]
    assert issue(client, account, body(somethingNew={"x": 1})).status_code == 200


def test_client_saved_to_nomenclature_refuses_a_conflicting_cif(client, account) -> None:  # type: ignore[no-untyped-def]
    data = body()
    data["client"]["saveToDb"] = True
    assert issue(client, account, data).status_code == 200
    data["client"]["vatCode"] = "RO18547290"
    assert issue(client, account, data).json()["errorText"] == "Clientul exista deja pe server"


def test_issue_is_written_to_the_event_log(client, account, db) -> None:  # type: ignore[no-untyped-def]
    issue(client, account)
    with db.session() as s:
        doc = s.scalar(select(Document))
        ev = s.scalars(select(Event).where(Event.entity == "document", Event.entity_id == doc.id)).all()
        assert [e.action for e in ev] == ["issued"] and ev[0].actor == account.email
        assert ev[0].data["number"] == "0001"


def test_idempotency_key_replays_the_first_answer(client, account, db) -> None:  # type: ignore[no-untyped-def]
    first = issue(client, account, headers={"Idempotency-Key": "k-1"})
    second = issue(client, account, headers={"Idempotency-Key": "k-1"})
    assert first.json() == second.json()
    assert second.headers["Idempotency-Replayed"] == "true"
    with db.session() as s:
        assert len(s.scalars(select(Document)).all()) == 1


def test_idempotency_key_reused_with_another_body_is_rejected(client, account) -> None:  # type: ignore[no-untyped-def]
    issue(client, account, headers={"Idempotency-Key": "k-2"})
    r = issue(client, account, body(mentions="altceva"), headers={"Idempotency-Key": "k-2"})
    assert r.status_code == 400 and "Idempotency-Key" in r.json()["errorText"]


def test_error_answers_are_not_remembered_by_idempotency(client, account) -> None:  # type: ignore[no-untyped-def]
    bad = body(seriesName="NU")
    assert issue(client, account, bad, headers={"Idempotency-Key": "k-3"}).status_code == 400
    raw = json.dumps(bad)
    assert client.post(API + "/invoice", headers={**account.headers, "Idempotency-Key": "k-3"}, content=raw).status_code == 400


def test_date_in_answers_is_today_by_default(client, account, db) -> None:  # type: ignore[no-untyped-def]
    data = body()
    del data["issueDate"], data["dueDate"]
    issue(client, account, data)
    with db.session() as s:
        assert s.scalar(select(Document)).issue_date == date.fromisoformat(TODAY)


@pytest.mark.parametrize(
    ("client_change", "field"),
    [({"county": "Atlantida"}, "buyer.county"), ({"city": ""}, "buyer.city"), ({"address": None}, "buyer")],
)
def test_an_invoice_that_could_not_be_reported_is_not_issued(client, account, db, client_change, field) -> None:  # type: ignore[no-untyped-def]
    data = body()
    data["client"].update(client_change)
    r = issue(client, account, data)
    assert r.status_code == 400
    assert r.json()["errorText"].startswith("Factura nu poate fi raportata in e-Factura:")
    assert field in r.json()["errorText"]
    with db.session() as s:
        assert s.scalar(select(Document)) is None


def test_county_written_loosely_is_accepted(client, account) -> None:  # type: ignore[no-untyped-def]
    data = body()
    data["client"].update(county="jud. Brașov")
    assert issue(client, account, data).status_code == 200
    data["client"].update(county="Bucuresti", city="Sector 3")
    assert issue(client, account, data).status_code == 200


def test_send_email_is_refused_until_email_is_configured(client, account, db) -> None:  # type: ignore[no-untyped-def]
    r = issue(client, account, body(sendEmail=True, email={"to": "x@y.ro"}))
    assert r.status_code == 400 and "e-mail" in r.json()["errorText"]
    with db.session() as s:
        assert s.scalar(select(Document)) is None


def test_invoice_from_a_proforma_copies_it_and_links_both(client, account, db) -> None:  # type: ignore[no-untyped-def]
    est = issue(client, account, body(seriesName="PRF"), path="/estimate")
    assert est.json()["number"] == "0001" and est.json()["series"] == "PRF"
    r = issue(client, account, {"companyVatCode": account.cif, "seriesName": "FCT", "useEstimateDetails": True,
                                "estimate": {"seriesName": "PRF", "number": "0001"}})
    assert r.status_code == 200 and r.json()["number"] == "0001"
    with db.session() as s:
        proforma = s.scalar(select(Document).where(Document.kind == "proforma"))
        invoice = s.scalar(select(Document).where(Document.kind == "invoice"))
        assert invoice.estimate_id == proforma.id
        assert invoice.gross_total == proforma.gross_total and invoice.client_name == proforma.client_name
