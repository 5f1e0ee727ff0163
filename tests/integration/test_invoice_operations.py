"""Storno, cancel, restore, delete, queries, isolation and limits through the SmartBill API."""

from __future__ import annotations

import base64

from sqlalchemy import select, text

from punte.store.models import Document, Event
from tests.conftest import Account, make_account
from tests.integration.test_invoice_api import API, body, issue


def q(account: Account, number: str = "0001", series: str = "FCT") -> dict[str, str]:
    return {"cif": account.cif, "seriesName": series, "number": number}


def reverse(client, account, number="0001", issue_date=None):  # type: ignore[no-untyped-def]
    payload = {"companyVatCode": account.cif, "seriesName": "FCT", "number": number}
    if issue_date:
        payload["issueDate"] = issue_date
    return client.post(f"{API}/invoice/reverse", headers=account.headers, json=payload)


def test_storno_is_a_new_linked_invoice_with_negated_lines(client, account, db) -> None:  # type: ignore[no-untyped-def]
    issue(client, account)
    r = reverse(client, account)
    assert r.status_code == 200
    data = r.json()
    assert data["number"] == "0002" and data["series"] == "FCT" and data["documentId"] > 0
    with db.session() as s:
        original, storno = s.scalars(select(Document).order_by(Document.number)).all()
        assert storno.reverses_id == original.id
        assert storno.gross_total == -original.gross_total and storno.vat_total == -original.vat_total
        assert storno.lines[0].quantity == -original.lines[0].quantity
        assert storno.lines[0].unit_price == original.lines[0].unit_price
        assert storno.lines[0].vat_percentage == original.lines[0].vat_percentage


def test_storno_keeps_the_vat_rate_of_what_it_reverses(client, account, db) -> None:  # type: ignore[no-untyped-def]
    data = body(issueDate="2025-07-10", dueDate="2025-07-10", deliveryDate="2025-07-10")
    data["products"][0]["taxPercentage"] = 19
    issue(client, account, data)
    assert reverse(client, account).status_code == 200
    with db.session() as s:
        storno = s.scalar(select(Document).where(Document.reverses_id.is_not(None)))
        assert storno.lines[0].vat_percentage == 19


def test_an_invoice_is_reversed_only_once(client, account) -> None:  # type: ignore[no-untyped-def]
    issue(client, account)
    reverse(client, account)
    r = reverse(client, account)
    assert r.status_code == 400
    assert r.json() == {
        "errorText": "Factura este deja stornata.", "message": "", "number": "", "series": "", "url": "",
        "documentUrl": "", "documentId": -1, "documentViewUrl": "",
    }


def test_a_storno_cannot_be_reversed(client, account) -> None:  # type: ignore[no-untyped-def]
    issue(client, account)
    reverse(client, account)
    assert reverse(client, account, "0002").json()["errorText"] == "Factura FCT0002 este de tip storno. Nu se poate storna."


def test_storno_cannot_be_dated_before_the_original(client, account) -> None:  # type: ignore[no-untyped-def]
    issue(client, account)
    r = reverse(client, account, issue_date="2020-01-01")
    assert r.json()["errorText"] == "Data emiterii facturii storno nu poate fi anterioara datei emiterii facturii stornate."


def test_reverse_of_a_missing_invoice(client, account) -> None:  # type: ignore[no-untyped-def]
    assert reverse(client, account, "0042").json()["errorText"] == "Factura cu seria si numarul FCT0042 nu a fost gasita!"


def test_reverse_requires_series_and_number(client, account) -> None:  # type: ignore[no-untyped-def]
    r = client.post(f"{API}/invoice/reverse", headers=account.headers, json={"companyVatCode": account.cif})
    assert r.json()["errorText"] == "Seria facturii trebuie specificata in parametrul 'seriesName'!"


def test_cancel_and_restore_are_events_not_edits(client, account, db) -> None:  # type: ignore[no-untyped-def]
    issue(client, account)
    assert client.put(f"{API}/invoice/cancel", headers=account.headers, params=q(account)).status_code == 200
    assert client.put(f"{API}/invoice/cancel", headers=account.headers, params=q(account)).status_code == 400
    assert client.put(f"{API}/invoice/restore", headers=account.headers, params=q(account)).status_code == 200
    with db.session() as s:
        doc = s.scalar(select(Document))
        actions = [e.action for e in s.scalars(select(Event).where(Event.entity_id == doc.id, Event.entity == "document"))]
        assert doc.status == "issued" and actions == ["issued", "cancelled", "restored"]


def test_cancel_of_a_missing_invoice(client, account) -> None:  # type: ignore[no-untyped-def]
    r = client.put(f"{API}/invoice/cancel", headers=account.headers, params=q(account, "0009"))
    assert r.status_code == 400 and r.json()["errorText"] == "Factura cu seria si numarul FCT0009 nu a fost gasita!"


def test_restoring_a_storno_whose_original_is_cancelled_is_refused(client, account) -> None:  # type: ignore[no-untyped-def]
    issue(client, account)
    reverse(client, account)
    client.put(f"{API}/invoice/cancel", headers=account.headers, params=q(account, "0002"))
    client.put(f"{API}/invoice/cancel", headers=account.headers, params=q(account, "0001"))
    r = client.put(f"{API}/invoice/restore", headers=account.headers, params=q(account, "0002"))
    assert r.json()["errorText"] == (
        "Eroare restaurare factura storno FCT0002. Trebuie initial sa restaurezi facturile stornate de aceasta (FCT0001)."
    )


def test_only_the_last_invoice_of_a_series_is_deleted_and_its_number_reused(client, account, db) -> None:  # type: ignore[no-untyped-def]
    issue(client, account)
    issue(client, account)
    r = client.delete(f"{API}/invoice", headers=account.headers, params=q(account, "0001"))
    assert r.json()["errorText"] == "Documentul cu seria si numarul FCT0001 nu este ultimul din serie!"
    assert client.delete(f"{API}/invoice", headers=account.headers, params=q(account, "0002")).status_code == 200
    assert issue(client, account).json()["number"] == "0002"
    with db.session() as s:
        deleted = s.scalar(select(Event).where(Event.action == "deleted"))
        assert deleted.data["number"] == "0002" and deleted.data["lines"]


def test_delete_requires_series_and_number(client, account) -> None:  # type: ignore[no-untyped-def]
    r = client.delete(f"{API}/invoice", headers=account.headers, params={"cif": account.cif, "number": "1"})
    assert r.json()["errorText"] == "Seriesname trebuie specificat."
    r = client.delete(f"{API}/invoice", headers=account.headers, params={"cif": account.cif, "seriesName": "FCT"})
    assert r.json()["errorText"] == "Number trebuie specificat."


def test_paid_invoice_cannot_be_deleted_or_cancelled(client, account) -> None:  # type: ignore[no-untyped-def]
    issue(client, account, body(payment={"value": 5, "type": "Card"}))
    assert "incasari" in client.delete(f"{API}/invoice", headers=account.headers, params=q(account)).json()["errorText"]
    assert "incasari" in client.put(f"{API}/invoice/cancel", headers=account.headers, params=q(account)).json()["errorText"]


def test_payment_status_of_a_missing_invoice(client, account) -> None:  # type: ignore[no-untyped-def]
    r = client.get(f"{API}/invoice/paymentstatus", headers=account.headers, params=q(account, "0077"))
    assert r.status_code == 400 and r.json()["errorText"] == "Factura nu a fost gasita!"


def test_series_list_by_type_and_all(client, account) -> None:  # type: ignore[no-untyped-def]
    issue(client, account)
    everything = client.get(f"{API}/series", headers=account.headers, params={"cif": account.cif}).json()
    assert {(i["name"], i["type"], i["nextNumber"]) for i in everything["list"]} == {
        ("FCT", "f", "0002"), ("PRF", "p", "0001"), ("CH", "c", "0001")
    }
    bad = client.get(f"{API}/series", headers=account.headers, params={"cif": account.cif, "type": "g"})
    assert bad.json()["errorText"].startswith("Tipul documentului nu poate fi g!")


def test_tax_list_shows_the_rates_in_force(client, account) -> None:  # type: ignore[no-untyped-def]
    taxes = client.get(f"{API}/tax", headers=account.headers, params={"cif": account.cif}).json()["taxes"]
    assert {"name": "Normala", "percentage": 21} in taxes and {"name": "Redusa", "percentage": 11} in taxes
    assert {"name": "Normala", "percentage": 19} not in taxes


def test_measuring_units(client, account) -> None:  # type: ignore[no-untyped-def]
    mu = client.get(f"{API}/company/mu", headers=account.headers, params={"cif": account.cif}).json()["mu"]
    assert "buc" in mu and "kg" in mu


def test_query_accepts_both_series_spellings(client, account) -> None:  # type: ignore[no-untyped-def]
    issue(client, account)
    for key in ("seriesName", "seriesname"):
        r = client.get(f"{API}/invoice/paymentstatus", headers=account.headers,
                       params={"cif": account.cif, key: "FCT", "number": "0001"})
        assert r.status_code == 200


def test_wrong_token_is_401(client, account) -> None:  # type: ignore[no-untyped-def]
    bad = base64.b64encode(f"{account.email}:nope".encode()).decode()
    r = client.post(f"{API}/invoice", headers={"Authorization": f"Basic {bad}", "Content-Type": "application/json"},
                    json=body())
    assert r.status_code == 401
    assert client.post(f"{API}/invoice", json=body()).status_code == 401


def test_a_token_of_company_a_reaches_nothing_of_company_b(client, account, db, settings) -> None:  # type: ignore[no-untyped-def]
    other = make_account(db, settings, cif="RO14399840", email="b@firma-b.ro", name="Firma B SRL")
    issue(client, other, body(companyVatCode=other.cif))
    assert issue(client, account, body(companyVatCode=other.cif)).status_code == 401
    params = {"cif": other.cif, "seriesName": "FCT", "number": "0001"}
    for method, path in (("put", "/invoice/cancel"), ("put", "/invoice/restore"), ("delete", "/invoice"),
                         ("get", "/invoice/paymentstatus"), ("get", "/series"), ("get", "/tax")):
        assert getattr(client, method)(API + path, headers=account.headers, params=params).status_code == 401
    r = client.post(f"{API}/invoice/reverse", headers=account.headers,
                    json={"companyVatCode": other.cif, "seriesName": "FCT", "number": "0001"})
    assert r.status_code == 401
    with db.session() as s:
        assert s.scalar(select(Document)).status == "issued"


def test_rate_limit_headers_and_block(db, settings) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from punte.api.app import create_app

    limited = settings.model_copy(update={"rate_limit_calls": 3, "rate_limit_window_seconds": 10})
    acct = make_account(db, limited)
    with TestClient(create_app(limited, db=db, migrate=False)) as c:
        answers = [c.get(f"{API}/tax", headers=acct.headers, params={"cif": acct.cif}) for _ in range(4)]
        other = [c.get("/healthz", headers=acct.headers) for _ in range(4)]  # only /SBORO/ counts
    assert [a.status_code for a in answers] == [200, 200, 200, 403]
    assert answers[3].json()["errorText"] == "Ati depasit numarul de apeluri permise. Accesul este blocat temporar."
    assert [a.status_code for a in other] == [200] * 4 and "X-RateLimit-Limit" not in other[0].headers
    assert answers[0].headers["X-RateLimit-Limit"] == "3"
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert int(answers[3].headers["X-RateLimit-Reset"]) > int(answers[0].headers["X-RateLimit-Reset"])


def test_event_log_refuses_updates_and_deletes(db, account) -> None:  # type: ignore[no-untyped-def]
    import pytest
    from sqlalchemy.exc import DBAPIError

    for stmt in ("UPDATE events SET actor = 'x'", "DELETE FROM events"):
        with pytest.raises(DBAPIError, match="append-only"):
            with db.session(write=True) as s:
                s.execute(text(stmt))


def test_openapi_describes_the_invoice_operations(client) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/openapi.json").json()
    assert "/SBORO/api/invoice" in spec["paths"] and "/SBORO/api/invoice/reverse" in spec["paths"]
    body_schema = spec["paths"]["/SBORO/api/invoice"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body_schema["$ref"].endswith("/InvoiceRequest")
    assert "products" in spec["components"]["schemas"]["InvoiceRequest"]["properties"]
    assert client.get("/docs").status_code == 200


def test_invoice_pdf_carries_the_invoice(client, account) -> None:  # type: ignore[no-untyped-def]
    import io

    from pypdf import PdfReader

    data = body()
    data["client"]["name"] = "Societatea Ștefănescu și Fiii SRL"
    issue(client, account, data)
    r = client.get(f"{API}/invoice/pdf", headers={**account.headers, "Accept": "application/octet-stream"},
                   params=q(account))
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(r.content)).pages)
    assert "Societatea Ștefănescu și Fiii SRL" in text and "FCT" in text and "0001" in text and "10,00" in text


def test_pdf_of_a_missing_invoice_and_missing_parameters(client, account) -> None:  # type: ignore[no-untyped-def]
    r = client.get(f"{API}/invoice/pdf", headers=account.headers, params=q(account, "0099"))
    assert r.json()["errorText"] == "Factura cu seria si numarul FCT0099 nu a fost gasita!"
    r = client.get(f"{API}/invoice/pdf", headers=account.headers, params={"cif": account.cif, "number": "1"})
    assert r.json()["errorText"] == "Seria facturii trebuie specificata!"


def test_public_view_links_to_its_pdf(client, account) -> None:  # type: ignore[no-untyped-def]
    url = issue(client, account, path="/invoice/v2").json()["documentViewUrl"].removeprefix("http://testserver")
    assert client.get(url + "/pdf").headers["content-type"] == "application/pdf"
    assert client.get("/view/" + "x" * 32 + "/pdf").status_code == 404


def test_idempotency_keys_never_cross_companies(client, account, db, settings) -> None:  # type: ignore[no-untyped-def]
    from punte.services.companies import add_token, get_company

    other = make_account(db, settings, cif="RO14399840", email="b@firma-b.ro", name="Firma B SRL")
    with db.session(write=True) as s:  # the same user also works for company B
        token_b = add_token(s, get_company(s, other.cif), account.email, secret_key=settings.resolved_secret_key(), actor="t")
    same_user_b = Account(other.cif, account.email, token_b)
    issue(client, account)
    issue(client, same_user_b, body(companyVatCode=other.cif))
    key = {"Idempotency-Key": "cancel-1"}
    assert client.put(f"{API}/invoice/cancel", headers={**account.headers, **key}, params=q(account)).status_code == 200
    r = client.put(f"{API}/invoice/cancel", headers={**same_user_b.headers, **key}, params=q(same_user_b))
    assert r.status_code == 200 and r.headers.get("Idempotency-Replayed") == "false"
    with db.session() as s:
        assert {d.status for d in s.scalars(select(Document))} == {"cancelled"}


def test_restore_of_an_invoice_that_is_not_cancelled(client, account) -> None:  # type: ignore[no-untyped-def]
    issue(client, account)
    r = client.put(f"{API}/invoice/restore", headers=account.headers, params=q(account))
    assert r.json()["errorText"] == "Factura FCT0001 nu necesita restaurare."


def test_unknown_paths_answer_in_smartbill_shape(client, account) -> None:  # type: ignore[no-untyped-def]
    r = client.get(f"{API}/nothing-here", headers=account.headers)
    assert r.status_code == 404 and "errorText" in r.json()
