"""A Stripe payment link made after issue: when the one asked for at issue failed, expired, or was never
asked for; it charges what is left to pay and is not made twice (service, CLI and the document page)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from punte.config import Settings
from punte.domain.errors import DomainError
from punte.services.bridge_checkout import NOT_CONFIGURED, renew_checkout
from punte.services.companies import get_company
from punte.services.operations import reverse_invoice
from punte.store.db import Database
from punte.store.models import Document, Event
from punte.store.models_bridge import BridgeCheckout
from tests.conftest import Account
from tests.integration.web_support import add_web_user, issue_invoice, logged_in

from .bridge_support import API_KEY, FakeStripe, run_cli, sqlite_database
from .test_bridge_checkout import API, request
from .test_bridge_stripe import setup_bridge

CIF = "18547290"


@pytest.fixture
def db(tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    """What this module checks does not depend on the database engine: SQLite only."""
    yield from sqlite_database(tmp_path, sqlite_template)


def _company_id(db: Database) -> int:
    with db.session() as s:
        return get_company(s, CIF).id


def _pay(client: Any, account: Account, number: str, value: str) -> None:
    answer = client.post(f"{API}/payment", headers=account.headers, json={
        "companyVatCode": account.cif, "type": "Card", "value": value, "isCash": False,
        "invoicesList": [{"seriesName": "FCT", "number": number}]})
    assert answer.status_code == 200, answer.text


def test_a_link_that_failed_at_issue_is_made_later_for_what_is_left_to_pay(
        client: Any, db: Database, settings: Settings, account: Account) -> None:
    with FakeStripe(api_key="sk_test_other") as down:
        setup_bridge(db, settings, api_key=API_KEY, api_base_url=down.url)
        issued = client.post(f"{API}/invoice", json=request(paymentUrl="Generate URL"), headers=account.headers)
    assert issued.json()["url"] == "" and "nu a putut fi generat" in issued.json()["message"]
    with db.session() as s:
        invoice = s.scalar(select(Document).where(Document.kind == "invoice"))
    company_id = _company_id(db)
    with FakeStripe() as fake:
        setup_bridge(db, settings, api_key=API_KEY, api_base_url=fake.url)
        first = renew_checkout(db, company_id, invoice.id, actor="ana@firma.ro")
        assert first.error is None and first.url.startswith("https://checkout.stripe.com/")
        (made,) = fake.sessions.values()
        assert int(made["form"]["line_items[0][price_data][unit_amount]"]) == int(invoice.gross_total * 100)
        # no link was ever made: the key of the attempt at issue first (Stripe had not made that session)
        assert fake.requests[-1][2].get("Idempotency-Key") == f"punte-checkout-{CIF}-{invoice.id}"
        assert renew_checkout(db, company_id, invoice.id, actor="ana@firma.ro").url == first.url  # not twice
        assert len(fake.sessions) == 1

        _pay(client, account, invoice.number_text, "4")  # part of it paid another way: the link is for the rest
        rest = renew_checkout(db, company_id, invoice.id, actor="ana@firma.ro")
        assert rest.url != first.url and len(fake.sessions) == 2
        newest = fake.sessions[rest.url.rsplit("/", 1)[-1]]
        assert int(newest["form"]["line_items[0][price_data][unit_amount]"]) == int((invoice.gross_total - 4) * 100)
        assert fake.requests[-1][2].get("Idempotency-Key") == f"punte-checkout-{CIF}-{invoice.id}-2"
        assert fake.sessions[first.url.rsplit("/", 1)[-1]]["status"] == "expired"  # one payable link at a time

        later = datetime.now(UTC) + timedelta(hours=24)  # Stripe's sessions expire after a day
        expired = renew_checkout(db, company_id, invoice.id, actor="ana@firma.ro", now=later)
        assert expired.url not in (first.url, rest.url) and len(fake.sessions) == 3

        _pay(client, account, invoice.number_text, str(invoice.gross_total - 4))
        with pytest.raises(DomainError, match="deja incasat"):
            renew_checkout(db, company_id, invoice.id, actor="ana@firma.ro")
    with db.session() as s:
        links = list(s.scalars(select(BridgeCheckout).order_by(BridgeCheckout.id)))
        made_events = list(s.scalars(select(Event).where(Event.action == "checkout_created")))
        document = s.get(Document, invoice.id)
    assert [link.amount for link in links] == [invoice.gross_total, invoice.gross_total - 4,
                                                invoice.gross_total - 4]
    assert document.details["paymentUrl"] == expired.url
    assert [e.actor for e in made_events] == ["ana@firma.ro"] * 3


def test_documents_that_cannot_have_a_link_are_refused(client: Any, db: Database, settings: Settings,
                                                       account: Account) -> None:
    company_id = _company_id(db)
    plain = issue_invoice(db, account.cif, price="100")
    with pytest.raises(DomainError) as refused:  # no Stripe bridge with an API key
        renew_checkout(db, company_id, plain, actor="t")
    assert refused.value.text == NOT_CONFIGURED
    with FakeStripe() as fake:
        setup_bridge(db, settings, api_key=API_KEY, api_base_url=fake.url)
        draft = issue_invoice(db, account.cif, price="100", draft=True)
        with db.session(write=True) as s:
            storno = reverse_invoice(s, get_company(s, CIF), "FCT", "0001", None, actor="t")
            storno_id = storno.id
        proforma = issue_invoice(db, account.cif, price="50", kind="proforma", series="PRF")
        answer = client.post(f"{API}/invoice", headers=account.headers, json=request(
            useEstimateDetails=True, estimate={"seriesName": "PRF", "number": "0001"}))
        assert answer.status_code == 200, answer.text
        for doc_id, text in ((draft, "emisa"), (storno_id, "emisa"), (proforma, "deja facturata"),
                             (999_999, "nu exista")):
            with pytest.raises(DomainError, match=text):
                renew_checkout(db, company_id, doc_id, actor="t")
        assert fake.sessions == {}
        assert renew_checkout(db, company_id, plain, actor="t").url  # the reversed invoice itself still can


def test_the_cli_prints_the_link(db: Database, settings: Settings, account: Account) -> None:
    issue_invoice(db, account.cif, price="100")
    with FakeStripe() as fake:
        setup_bridge(db, settings, api_key=API_KEY, api_base_url=fake.url)
        result = run_cli(settings, db, "bridge", "checkout", "--cif", account.cif, "--series", "FCT", "--number", "1")
        assert result.exit_code == 0, result.output
        (made,) = fake.sessions.values()
    assert result.output.strip() == made["url"]
    missing = run_cli(settings, db, "bridge", "checkout", "--cif", account.cif, "--series", "FCT", "--number", "9")
    assert missing.exit_code == 1 and "nu a fost gasita" in missing.output


def test_the_document_page_shows_the_failure_and_makes_the_link(
        client: Any, db: Database, settings: Settings, account: Account) -> None:
    add_web_user(db, account.cif, "dan@firma.ro", "accountant")
    add_web_user(db, account.cif, "ion@firma.ro", "viewer")
    with FakeStripe(api_key="sk_test_other") as down:
        setup_bridge(db, settings, api_key=API_KEY, api_base_url=down.url)
        client.post(f"{API}/invoice", json=request(paymentUrl="Generate URL"), headers=account.headers)
    with db.session() as s:
        doc_id = s.scalar(select(Document.id).where(Document.kind == "invoice"))
    csrf = logged_in(client, "ion@firma.ro")
    page = client.get(f"/documents/{doc_id}").text
    assert 'id="checkout-failure"' in page and "Invalid API Key" in page
    assert 'id="checkout-form"' not in page  # a viewer sees, does not act
    assert client.post(f"/documents/{doc_id}/checkout", data={"csrf_token": csrf}).status_code == 403

    client.post("/logout", data={"csrf_token": csrf})
    csrf = logged_in(client, "dan@firma.ro")
    page = client.get(f"/documents/{doc_id}").text
    assert 'id="checkout-form"' in page
    with FakeStripe() as fake:
        setup_bridge(db, settings, api_key=API_KEY, api_base_url=fake.url)
        answer = client.post(f"/documents/{doc_id}/checkout", data={"csrf_token": csrf})
        (made,) = fake.sessions.values()
    assert answer.status_code == 200 and f"Linkul de plată: {made['url']}" in answer.text
    assert f'href="{made["url"]}"' in answer.text and 'id="checkout-failure"' not in answer.text
    assert re.search(r"checkout-links.*activ", answer.text, re.S)
    assert Decimal(0) < Decimal(made["form"]["line_items[0][price_data][unit_amount]"])


def test_a_lost_answer_at_issue_gives_the_session_stripe_made_not_a_second_one(
        client: Any, db: Database, settings: Settings, account: Account) -> None:
    with FakeStripe(api_key="sk_test_other") as down:  # the answer at issue never came back
        setup_bridge(db, settings, api_key=API_KEY, api_base_url=down.url)
        client.post(f"{API}/invoice", json=request(paymentUrl="Generate URL"), headers=account.headers)
    with db.session() as s:
        invoice = s.scalar(select(Document).where(Document.kind == "invoice"))
    with FakeStripe() as fake:
        setup_bridge(db, settings, api_key=API_KEY, api_base_url=fake.url)
        made = {"id": "cs_test_made_at_issue", "object": "checkout.session", "status": "open",
                "url": "https://checkout.stripe.com/c/pay/cs_test_made_at_issue", "metadata": {}, "form": {}}
        fake.sessions[made["id"]] = made  # what Stripe had made under the issue's key
        fake.by_key[f"punte-checkout-{CIF}-{invoice.id}"] = made["id"]
        outcome = renew_checkout(db, _company_id(db), invoice.id, actor="t")
        assert outcome.url == made["url"] and list(fake.sessions) == [made["id"]]


def test_a_link_already_paid_is_not_replaced(client: Any, db: Database, settings: Settings,
                                             account: Account) -> None:
    with FakeStripe() as fake:
        setup_bridge(db, settings, api_key=API_KEY, api_base_url=fake.url)
        issued = client.post(f"{API}/invoice", json=request(paymentUrl="Generate URL"), headers=account.headers)
        (made,) = fake.sessions.values()
        made["status"] = "complete"  # paid; Stripe's events are on their way
        _pay(client, account, issued.json()["number"], "1")  # meanwhile a part was paid another way
        with db.session() as s:
            invoice_id = s.scalar(select(Document.id).where(Document.kind == "invoice"))
        with pytest.raises(DomainError, match="deja platit"):
            renew_checkout(db, _company_id(db), invoice_id, actor="t")
        assert len(fake.sessions) == 1 and made["status"] == "complete"
