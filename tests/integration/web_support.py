"""Helpers of the dashboard tests: users, log-in through the real form, CSRF tokens from the pages."""

from __future__ import annotations

import re

from punte.services.companies import get_company
from punte.store.db import Database
from punte.web.accounts import add_user

PASSWORD = "parola-lunga-de-test"
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')
_META = re.compile(r'<meta name="csrf-token" content="([0-9a-f]{64})">')


def add_web_user(db: Database, cif: str, email: str, role: str, password: str | None = PASSWORD) -> None:
    with db.session(write=True) as s:
        add_user(s, get_company(s, cif), email, password, role, actor="test")


def form_csrf(html: str) -> str:
    m = _CSRF.search(html)
    assert m, "no CSRF field on the page"
    return m.group(1)


def page_csrf(html: str) -> str:
    m = _META.search(html)
    assert m, "no CSRF meta on the page"
    return m.group(1)


def login(client, email: str, password: str = PASSWORD, **extra: str):  # type: ignore[no-untyped-def]
    """Log in through the form; returns the answer of the POST (a 303 to the next page on success)."""
    page = client.get("/login")
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": form_csrf(page.text), **extra},
        follow_redirects=False,
    )


def logged_in(client, email: str, password: str = PASSWORD) -> str:  # type: ignore[no-untyped-def]
    """Log in and return the session's CSRF token (for the forms the test posts)."""
    r = login(client, email, password)
    assert r.status_code == 303, r.text
    return page_csrf(client.get("/account").text)


def issue_invoice(
    db: Database, cif: str, *, client: str = "Client Exemplu SRL", vat_code: str | None = "RO14399840",
    price: str = "100", quantity: str = "1", issue_date: str | None = None, kind: str = "invoice",
    draft: bool = False, series: str | None = None, payment: dict | None = None,
) -> int:
    """Issue a document through the issuing service (as the API does); returns its id."""
    from punte.services.issuing import create_document
    from punte.smartbill.wire import EstimateRequest, InvoiceRequest

    body = {
        "client": {"name": client, "vatCode": vat_code, "address": "Str. Lunga 1", "city": "Brasov",
                   "county": "Brasov", "country": "Romania", "saveToDb": False},
        "seriesName": series or ("FCT" if kind == "invoice" else "PRF"), "issueDate": issue_date, "isDraft": draft,
        "products": [{"name": "Produs", "measuringUnitName": "buc", "currency": "RON", "quantity": quantity,
                      "price": price, "taxName": "Normala", "taxPercentage": 21}],
    }
    if payment:
        body["payment"] = payment
    model = InvoiceRequest if kind == "invoice" else EstimateRequest
    with db.session(write=True) as s:
        doc = create_document(s, get_company(s, cif), model.model_validate(body), kind=kind, actor="test@firma.ro")
        return doc.document.id
