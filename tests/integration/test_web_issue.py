"""The invoice/proforma forms: live totals from the issuing service, issuing, drafts, payment at issue, roles."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from punte.store.models import Client, Document, Event, ExchangeRate, Payment, Series
from tests.integration.web_support import add_web_user, logged_in

ACCOUNTANT, VIEWER = "dan@firma.ro", "ion@firma.ro"


@pytest.fixture
def users(db, account) -> None:  # type: ignore[no-untyped-def]
    add_web_user(db, account.cif, ACCOUNTANT, "accountant")
    add_web_user(db, account.cif, VIEWER, "viewer")


def form(csrf: str, *lines: tuple[str, str, str, str, bool], **extra: str) -> dict[str, str]:
    """The fields the browser posts: (name, quantity, price, "Name|pct", VAT included) per line."""
    data = {
        "csrf_token": csrf, "company_id": "1", "series": "FCT", "currency": "RON", "language": "RO",
        "client_name": "Client Exemplu SRL", "client_cif": "RO14399840", "client_address": "Str. Lunga 1",
        "client_city": "Brasov", "client_county": "Brasov", "client_country": "Romania",
    }
    for i, (name, qty, price, vat, included) in enumerate(lines):
        data |= {f"lines-{i}-name": name, f"lines-{i}-unit": "buc", f"lines-{i}-quantity": qty,
                 f"lines-{i}-price": price, f"lines-{i}-vat": vat}
        if included:
            data[f"lines-{i}-tax_included"] = "1"
    data[f"lines-{len(lines)}-name"] = ""  # a blank row, as the form always has one
    data[f"lines-{len(lines)}-vat"] = "Normala|21"
    return data | extra


def preview(client, csrf: str, data: dict[str, str], kind: str = "invoice") -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.post(f"/documents/new/{kind}/preview", data=data, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200
    return r.json()  # type: ignore[no-any-return]


def _footprint(db) -> tuple[int, int, int, int]:  # type: ignore[no-untyped-def]
    with db.session() as s:
        return (
            s.scalar(select(func.count()).select_from(Document)) or 0,
            s.scalar(select(func.count()).select_from(Event)) or 0,
            s.scalar(select(Series.next_number).where(Series.name == "FCT")) or 0,
            s.scalar(select(func.count()).select_from(Client)) or 0,
        )


CASES = [
    [("Mentenanta", "3", "33,33", "Normala|21", False), ("Deplasare", "1", "50", "Normala|21", True)],
    [("Carte", "7", "12.35", "Redusa|11", True), ("Cablu", "2,5", "1.234,57", "Normala|21", False),
     ("Scutit", "1", "10", "SDD|0", False)],
    [("A", "0,333", "3", "Normala|21", True), ("B", "3", "0,333", "Normala|21", True),
     ("C", "1", "0,01", "Redusa|11", True)],
]


def test_live_totals_are_the_issued_totals_to_the_cent_and_leave_no_trace(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    csrf = logged_in(client, ACCOUNTANT)
    for lines in CASES:
        data = form(csrf, *lines, client_save="1")
        before = _footprint(db)
        shown = preview(client, csrf, data)
        assert shown["ok"], shown
        assert _footprint(db) == before  # nothing stored, no number taken, no client saved, no event
        r = client.post("/documents/new/invoice", data=data | {"action": "issue"}, follow_redirects=False)
        assert r.status_code == 303, r.text
        doc_id = int(r.headers["location"].rsplit("/", 1)[1])
        with db.session() as s:
            doc = s.get(Document, doc_id)
            assert doc is not None
            assert Decimal(shown["gross_value"]) == doc.gross_total
            assert [Decimal(ln["net_value"]) for ln in shown["lines"]] == [ln.net_amount for ln in doc.lines]
            assert [ln["row"] for ln in shown["lines"]] == list(range(len(lines)))
        page = client.get(f"/documents/{doc_id}").text
        assert f'{shown["gross_total"]} RON' in page


def test_the_form_issues_what_the_api_issues_for_the_same_data(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    csrf = logged_in(client, ACCOUNTANT)
    lines = CASES[1]
    client.post("/documents/new/invoice", data=form(csrf, *lines) | {"action": "issue"})
    body = {
        "companyVatCode": account.cif, "seriesName": "FCT",
        "client": {"name": "Client Exemplu SRL", "vatCode": "RO14399840", "address": "Str. Lunga 1",
                   "city": "Brasov", "county": "Brasov", "country": "Romania", "saveToDb": False},
        "products": [
            {"name": "Carte", "measuringUnitName": "buc", "currency": "RON", "quantity": 7, "price": "12.35",
             "isTaxIncluded": True, "taxName": "Redusa", "taxPercentage": 11},
            {"name": "Cablu", "measuringUnitName": "buc", "currency": "RON", "quantity": "2.5", "price": "1234.57",
             "taxName": "Normala", "taxPercentage": 21},
            {"name": "Scutit", "measuringUnitName": "buc", "currency": "RON", "quantity": 1, "price": 10,
             "taxName": "SDD", "taxPercentage": 0},
        ],
    }
    assert client.post("/SBORO/api/invoice", headers=account.headers, json=body).status_code == 200
    with db.session() as s:
        web, api = s.scalars(select(Document).order_by(Document.id)).all()
        assert (web.net_total, web.vat_total, web.gross_total, web.vat_breakdown) == (
            api.net_total, api.vat_total, api.gross_total, api.vat_breakdown)
        assert web.created_by == ACCOUNTANT


def test_live_totals_explain_what_is_missing_with_the_services_words(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    csrf = logged_in(client, ACCOUNTANT)
    line = ("Produs", "1", "10", "Normala|21", False)
    assert preview(client, csrf, form(csrf, line, client_name=""))["error"] == "Client invalid!"
    assert preview(client, csrf, form(csrf))["error"] == "Factura nu contine produse!"
    assert preview(client, csrf, form(csrf, line, currency="XYZ"))["error"] == "Moneda nu a fost gasita pe server!"
    assert "quantity" in preview(client, csrf, form(csrf, ("P", "doi", "10", "Normala|21", False)))["error"]
    assert "Cursul BNR pentru EUR" in preview(client, csrf, form(csrf, line, currency="EUR"))["error"]
    proforma = preview(client, csrf, form(csrf, line, series="PRF"), kind="proforma")
    assert proforma["ok"] and proforma["gross_total"] == "12,10"


def test_a_foreign_currency_invoice_uses_the_stored_bnr_rate(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    from punte.services.issuing import today_in_romania

    with db.session(write=True) as s:
        s.add(ExchangeRate(currency="EUR", day=today_in_romania(), rate=Decimal("4.9769")))
    csrf = logged_in(client, ACCOUNTANT)
    data = form(csrf, ("Servicii", "1", "100", "Normala|21", False), currency="EUR")
    shown = preview(client, csrf, data)
    assert shown["ok"] and shown["currency"] == "EUR" and shown["gross_total"] == "121,00"
    assert shown["gross_total_ron"] == "602,20"  # 121.00 x 4.9769
    r = client.post("/documents/new/invoice", data=data | {"action": "issue"})
    assert "121,00 EUR" in r.text and "4.9769" in r.text


def test_a_refused_form_comes_back_with_its_values_and_nothing_is_stored(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    csrf = logged_in(client, ACCOUNTANT)
    data = form(csrf, ("Produs special", "1", "10", "Normala|21", False), due_date="2000-01-01",
                mentions="Comanda 77")
    before = _footprint(db)
    r = client.post("/documents/new/invoice", data=data | {"action": "issue"})
    assert r.status_code == 400 and "Data scadentei nu poate fi anterioara datei emiterii." in r.text
    assert 'value="Produs special"' in r.text and ">Comanda 77</textarea>" in r.text
    assert _footprint(db) == before


def test_an_invoice_collected_at_issue_gets_its_receipt(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    csrf = logged_in(client, ACCOUNTANT)
    data = form(csrf, ("Produs", "1", "100", "Normala|21", False), pay_now="1", pay_type="Chitanta",
                pay_value="121,00")
    r = client.post("/documents/new/invoice", data=data | {"action": "issue"})
    assert "Documentul a fost emis: FCT0001." in r.text and "CH0001" in r.text
    with db.session() as s:
        payment = s.scalar(select(Payment))
        assert payment is not None and payment.value == Decimal("121.00") and payment.created_by == ACCOUNTANT
    too_much = form(csrf, ("Produs", "1", "100", "Normala|21", False), pay_now="1", pay_type="Card", pay_value="500")
    r = client.post("/documents/new/invoice", data=too_much | {"action": "issue"})
    assert r.status_code == 400 and "depaseste totalul facturii" in r.text
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Document)) == 1


def test_a_draft_is_saved_without_a_number(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    csrf = logged_in(client, ACCOUNTANT)
    r = client.post("/documents/new/proforma", data=form(csrf, ("Produs", "2", "10", "Normala|21", False),
                                                          series="PRF") | {"action": "draft"})
    assert "Ciorna a fost salvată." in r.text
    with db.session() as s:
        doc = s.scalar(select(Document))
        assert doc is not None and doc.kind == "proforma" and doc.status == "draft" and doc.number is None
        assert s.scalar(select(Series.next_number).where(Series.name == "PRF")) == 1


def test_a_viewer_can_neither_open_nor_post_the_forms(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    csrf = logged_in(client, VIEWER)
    assert client.get("/documents/new/invoice").status_code == 403
    data = form(csrf, ("Produs", "1", "10", "Normala|21", False))
    assert client.post("/documents/new/invoice", data=data | {"action": "issue"}).status_code == 403
    assert client.post("/documents/new/invoice/preview", data=data, headers={"X-CSRF-Token": csrf}).status_code == 403
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Document)) == 0


def test_the_form_offers_the_companys_series_rates_and_units(client, users) -> None:  # type: ignore[no-untyped-def]
    logged_in(client, ACCOUNTANT)
    page = client.get("/documents/new/invoice").text
    assert '<option value="FCT" selected>FCT (următorul 0001)</option>' in page
    assert '<option value="Normala|21" selected>Normala 21%</option>' in page and "Redusa|11" in page
    assert "Normala|19" not in page  # not in force any more
    assert '<option value="buc">' in page and 'data-preview="/documents/new/invoice/preview"' in page
    assert "PRF" in client.get("/documents/new/proforma").text
    assert client.get("/documents/new/receipt").status_code == 404
