"""Settings tabs "Plăți online" (the payment bridges) and "Facturi recurente" (schedules from an issued invoice).

Everything goes through the real app: the owner configures Stripe from the page, then signed deliveries are
posted to the webhook URL the page shows; recurring invoices are created from an issued invoice on the page
and issued by the real worker with a driven clock.
"""

from __future__ import annotations

import re
import threading
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from punte.config import Settings
from punte.services.bridge import drain_journal
from punte.store.db import Database
from punte.store.models import Document, Event
from punte.store.models_bridge import BridgeConfig
from punte.store.models_operations import RecurringInvoice
from punte.worker.runner import Worker
from tests.conftest import OTHER_CIF, Account, make_account
from tests.integration.bridge_support import body_of, checkout_session, event, stripe_headers
from tests.integration.web_support import add_web_user, issue_invoice, logged_in

OWNER, ACCOUNTANT, VIEWER = "ana@firma.ro", "dan@firma.ro", "ion@firma.ro"
FIRST, SECOND = "whsec_web_first_secret_4eC39Hq", "whsec_web_second_secret_9zT1x"
START = date(2030, 1, 31)


@pytest.fixture
def users(db: Database, account: Account) -> None:
    add_web_user(db, account.cif, OWNER, "owner")
    add_web_user(db, account.cif, ACCOUNTANT, "accountant")
    add_web_user(db, account.cif, VIEWER, "viewer")


def flash(html: str) -> tuple[str, str] | None:
    m = re.search(r'<div class="flash (\w+)"[^>]*>([^<]*)</div>', html)
    return (m.group(1), m.group(2)) if m else None


def count(db: Database, model: Any, *where: Any) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


# -- payment providers ------------------------------------------------------------------------------------------


def stripe_form(csrf: str, **fields: str) -> dict[str, str]:
    return {"csrf_token": csrf, "vat_rate": "21", "target": "engine", "enabled": "1", **fields}


def webhook_path(page: str, provider: str) -> str:
    m = re.search(rf'id="webhook-{provider}" value="([^"]+)" readonly', page)
    assert m, f"no webhook URL for {provider}"
    return m.group(1).removeprefix("http://testserver")


def delivery(client: TestClient, path: str, secret: str, pi: str) -> int:
    body = body_of(event("checkout.session.completed", checkout_session(pi=pi, amount=12100)))
    return client.post(path, content=body, headers=stripe_headers(body, secret)).status_code


def test_providers_page_shows_each_webhook_url_and_is_the_owners(client, db, users) -> None:  # type: ignore[no-untyped-def]
    logged_in(client, OWNER)
    page = client.get("/settings/providers").text
    assert webhook_path(page, "stripe") == "/webhooks/stripe/18547290"
    assert webhook_path(page, "shopify") == "/webhooks/shopify/18547290"
    assert webhook_path(page, "paypal") == "/webhooks/paypal/18547290"
    assert 'href="/settings/providers" class="active"' in page and "neconfigurat" in page
    with TestClient(client.app) as accountant:
        csrf = logged_in(accountant, ACCOUNTANT)
        assert "/settings/providers" not in accountant.get("/settings").text  # not his tab
        assert accountant.get("/settings/providers").status_code == 403
        r = accountant.post("/settings/providers/stripe", data=stripe_form(csrf, webhook_secret=FIRST))
        assert r.status_code == 403
    assert count(db, BridgeConfig) == 0


def test_stripe_configured_from_the_page_accepts_only_deliveries_signed_with_its_secret(client, db, users) -> None:  # type: ignore[no-untyped-def]
    csrf = logged_in(client, OWNER)
    path = webhook_path(client.get("/settings/providers").text, "stripe")
    assert delivery(client, path, FIRST, "pi_web_before") == 404  # no bridge yet

    r = client.post("/settings/providers/stripe", data=stripe_form(csrf, webhook_secret=FIRST, api_key="sk_test_web"))
    assert flash(r.text) == ("ok", "Setările Stripe au fost salvate.")
    assert FIRST not in r.text and "sk_test_web" not in r.text
    assert 'class="status issued">activ' in r.text and "<dt>Cheia API</dt><dd>setată</dd>" in r.text

    assert delivery(client, path, FIRST, "pi_web_1") == 200
    assert delivery(client, path, "whsec_not_the_right_one", "pi_web_2") == 400
    with db.session() as s:
        (created,) = s.scalars(select(Event).where(Event.entity == "bridge_config")).all()
        assert created.action == "created" and created.actor == OWNER


def test_a_new_secret_from_the_page_rotates_and_the_old_one_stays_valid(client, db, users) -> None:  # type: ignore[no-untyped-def]
    csrf = logged_in(client, OWNER)
    client.post("/settings/providers/stripe", data=stripe_form(csrf, webhook_secret=FIRST))
    r = client.post("/settings/providers/stripe", data=stripe_form(csrf, webhook_secret=SECOND))
    assert flash(r.text) == ("ok", "Setările Stripe au fost salvate.")
    assert "cel anterior rămâne valabil până la" in r.text
    assert FIRST not in r.text and SECOND not in r.text
    path = webhook_path(r.text, "stripe")
    assert delivery(client, path, FIRST, "pi_rot_old") == 200
    assert delivery(client, path, SECOND, "pi_rot_new") == 200
    with db.session() as s:
        changed = s.scalars(select(Event).where(Event.entity == "bridge_config", Event.action == "changed")).one()
        assert changed.data["changed"] == ["secret_rotated"]  # the form sent back the rest unchanged


def test_the_services_refusals_are_shown_and_change_nothing(client, db, users) -> None:  # type: ignore[no-untyped-def]
    csrf = logged_in(client, OWNER)
    r = client.post("/settings/providers/stripe", data=stripe_form(csrf, webhook_secret="not-a-stripe-secret"))
    assert flash(r.text) == ("error", "Secretul unui webhook Stripe incepe cu whsec_ "
                                      "(Developers &gt; Webhooks &gt; Signing secret).")
    r = client.post("/settings/providers/stripe", data=stripe_form(csrf))
    assert flash(r.text)[0] == "error" and "obligatoriu la prima configurare" in r.text
    assert count(db, BridgeConfig) == 0

    client.post("/settings/providers/stripe", data=stripe_form(csrf, webhook_secret=FIRST))
    events_before = count(db, Event, Event.entity == "bridge_config")
    for fields, text in [
        ({"vat_rate": "abc"}, "Cota TVA invalida: abc"),
        ({"vat_rate": "7"}, "7"),
        ({"series": "NUEXISTA"}, "Seria"),
        ({"target": "smartbill"}, "Tinta smartbill cere --smartbill-url"),
        ({"webhook_secret": SECOND, "target": "nimic"}, "Tinta documentelor trebuie sa fie una dintre"),
    ]:
        r = client.post("/settings/providers/stripe", data=stripe_form(csrf, **fields))
        assert flash(r.text)[0] == "error" and text in flash(r.text)[1], (fields, flash(r.text))
    with db.session() as s:
        config = s.scalars(select(BridgeConfig)).one()
        assert (str(config.vat_rate.normalize()), config.target, config.series) == ("21", "engine", None)
        assert config.previous_secret_enc is None  # the refused rotation did not happen
    assert count(db, Event, Event.entity == "bridge_config") == events_before


def test_smartbill_target_takes_its_credentials_and_keeps_the_token_write_only(client, db, users) -> None:  # type: ignore[no-untyped-def]
    csrf = logged_in(client, OWNER)
    token = "sb-token-4f9a7c2e"
    r = client.post("/settings/providers/shopify", data=stripe_form(
        csrf, webhook_secret="shpss_web_secret", target="smartbill", series="SB", shop_domain="magazin.myshopify.com",
        smartbill_url="https://ws.smartbill.ro/SBORO/api", smartbill_username="ana@firma.ro", smartbill_token=token,
        smartbill_cif="RO18547290"))
    assert flash(r.text) == ("ok", "Setările Shopify au fost salvate."), flash(r.text)
    assert "contul SmartBill (https://ws.smartbill.ro/SBORO/api (18547290))" in r.text
    assert "magazin.myshopify.com" in r.text and token not in r.text and "shpss_web_secret" not in r.text
    with db.session() as s:
        config = s.scalars(select(BridgeConfig)).one()
        assert (config.target, config.series, config.options) == ("smartbill", "SB", {"shop_domain": "magazin.myshopify.com"})
        assert config.smartbill_token_enc and token not in config.smartbill_token_enc  # encrypted at rest
    english = client.post("/account/language", data={"csrf_token": csrf, "language": "en", "next": "/settings/providers"},
                          follow_redirects=True).text
    assert "Webhook address (copy it into the provider" in english and "the SmartBill account" in english


def test_provider_forms_need_the_csrf_token(client, db, users) -> None:  # type: ignore[no-untyped-def]
    logged_in(client, OWNER)
    r = client.post("/settings/providers/stripe", data={"webhook_secret": FIRST, "vat_rate": "21", "enabled": "1"})
    assert r.status_code == 403
    r = client.post("/settings/providers/stripe", data=stripe_form("0" * 64, webhook_secret=FIRST))
    assert r.status_code == 403
    assert count(db, BridgeConfig) == 0


def test_disabling_from_the_page_refuses_deliveries_and_counts_show_on_the_card(client, db, users) -> None:  # type: ignore[no-untyped-def]
    csrf = logged_in(client, OWNER)
    client.post("/settings/providers/stripe", data=stripe_form(csrf, webhook_secret=FIRST))
    path = "/webhooks/stripe/18547290"
    assert delivery(client, path, FIRST, "pi_count_1") == 200
    page = client.get("/settings/providers").text
    assert "Evenimente primite: 1" in page and "eșuate: 0" in page
    if db.journal is not None:  # SQLite: acknowledged into the journal; no worker ran yet
        assert "1 așteaptă worker-ul" in page
        assert 'id="bridge-waiting"' in client.get("/bridge/events").text
        assert client.get("/healthz").json() | {"version": ""} == {
            "status": "ok", "version": "", "worker": "none", "webhooksWaiting": 1}
        drain_journal(db)
        page = client.get("/settings/providers").text
        assert "Evenimente primite: 1" in page and "așteaptă worker-ul" not in page
        assert 'id="bridge-waiting"' not in client.get("/bridge/events").text
        assert client.get("/healthz").json()["webhooksWaiting"] == 0
    assert 'href="/bridge/events?provider=stripe"' in page
    form = stripe_form(csrf)
    form.pop("enabled")
    r = client.post("/settings/providers/stripe", data=form)
    assert flash(r.text)[0] == "ok" and 'class="status cancelled">dezactivat' in r.text
    assert delivery(client, path, FIRST, "pi_count_2") == 404


# -- recurring invoices ------------------------------------------------------------------------------------------
BUCHAREST = ZoneInfo("Europe/Bucharest")


class Clock:
    def __init__(self, day: date) -> None:
        self.now = datetime(day.year, day.month, day.day, 9, tzinfo=BUCHAREST)

    def __call__(self) -> datetime:
        return self.now


def run_worker(db: Database, settings: Settings, day: date) -> None:
    worker = Worker(db, settings, worker_id="web", services={"clock": Clock(day)})
    thread = threading.Thread(target=worker.run_until_idle)
    thread.start()
    thread.join()


def schedule_form(csrf: str, source: int, **fields: str) -> dict[str, str]:
    return {"csrf_token": csrf, "from": str(source), "every": "1", "unit": "month", "start": START.isoformat(),
            "end_mode": "none", "due_days": "15", **fields}


def schedules(db: Database) -> list[RecurringInvoice]:
    with db.session() as s:
        return list(s.scalars(select(RecurringInvoice).order_by(RecurringInvoice.id)))


def test_an_issued_invoice_is_repeated_and_the_worker_issues_its_occurrence(client, db, settings, account, users) -> None:  # type: ignore[no-untyped-def]
    source = issue_invoice(db, account.cif, client="Abonat SRL", price="250")
    csrf = logged_in(client, ACCOUNTANT)
    assert f'href="/settings/recurring/new?from={source}"' in client.get(f"/documents/{source}").text
    form = client.get("/settings/recurring/new", params={"from": source}).text
    assert "Repetă factura FCT0001" in form and "Abonat SRL" in form and "Produs" in form
    assert f'name="from" value="{source}"' in form

    r = client.post("/settings/recurring/new", data=schedule_form(csrf, source, end_mode="count", count="3",
                                                                   name="Abonament"))
    assert flash(r.text)[0] == "ok" and "FCT0001" in flash(r.text)[1], r.text
    (schedule,) = schedules(db)
    assert (schedule.client_name, schedule.start_date, schedule.end_date) == ("Abonat SRL", START, date(2030, 3, 31))
    assert schedule.due_days == 15 and schedule.created_by == ACCOUNTANT
    assert schedule.template["products"][0]["price"] == "250"  # decimal text, never a float
    assert "issueDate" not in schedule.template and schedule.template["seriesName"] == "FCT"
    listed = client.get("/settings/recurring").text
    row = re.search(rf'<tr id="schedule-{schedule.id}">.*?</tr>', listed, re.S).group(0)
    assert "Abonat SRL" in row and "31.01.2030" in row and "Activă" in row and "Lunar" in row

    run_worker(db, settings, START)

    detail = client.get(f"/settings/recurring/{schedule.id}").text
    history = re.search(r'<table class="list" id="history">.*?</table>', detail, re.S).group(0)
    assert "31.01.2030" in history and "Emisă" in history and "FCT0002" in history
    with db.session() as s:
        issued = s.scalars(select(Document).where(Document.number_text == "0002")).one()
        assert (issued.client_name, issued.issue_date, issued.gross_total) == ("Abonat SRL", START, Decimal("302.50"))
    assert f'href="/documents/{issued.id}">FCT0002</a>' in history
    listed = client.get("/settings/recurring").text
    assert "FCT0002" in listed and "28.02.2030" in listed  # last invoice and the next date


def test_the_invoice_can_be_typed_as_series_and_number(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    source = issue_invoice(db, account.cif)
    logged_in(client, ACCOUNTANT)
    page = client.get("/settings/recurring").text
    assert 'action="/settings/recurring/new"' in page and 'name="number"' in page
    form = client.get("/settings/recurring/new", params={"series": "FCT", "number": "1"}).text
    assert f'name="from" value="{source}"' in form
    r = client.get("/settings/recurring/new", params={"series": "FCT", "number": "99"})
    assert flash(r.text)[0] == "error" and "nu a fost gasita" in flash(r.text)[1]


def test_pause_resume_and_stop_change_the_status_and_are_events(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    csrf = logged_in(client, ACCOUNTANT)
    client.post("/settings/recurring/new", data=schedule_form(csrf, issue_invoice(db, account.cif)))
    (schedule,) = schedules(db)
    base = f"/settings/recurring/{schedule.id}"
    steps = [("pause", "Suspendată", "paused"), ("resume", "Activă", "active"), ("stop", "Oprită", "stopped")]
    for action, label, status in steps:
        r = client.post(f"{base}/{action}", data={"csrf_token": csrf})
        assert flash(r.text)[0] == "ok", r.text
        assert f'id="schedule-status">{label}</span>' in r.text
        assert schedules(db)[0].status == status
    r = client.post(f"{base}/resume", data={"csrf_token": csrf})
    assert flash(r.text) == ("error", f"Factura recurenta {schedule.id} a fost oprita si nu poate fi repornita; "
                                      "adaugati-o din nou.")
    assert 'action="' + base + '/pause"' not in r.text  # a stopped schedule offers no actions
    with db.session() as s:
        actions = s.scalars(select(Event.action).where(Event.entity == "recurring_invoice").order_by(Event.id)).all()
        actors = set(s.scalars(select(Event.actor).where(Event.entity == "recurring_invoice")))
    assert actions == ["created", "paused", "resumed", "stopped"] and actors == {ACCOUNTANT}
    assert client.post(f"{base}/pause", data={}).status_code == 403  # no CSRF token


def test_recurring_invoices_are_the_accountants(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    source = issue_invoice(db, account.cif)
    csrf = logged_in(client, VIEWER)
    assert client.get("/settings/recurring").status_code == 403
    assert client.get("/settings/recurring/new", params={"from": source}).status_code == 403
    assert client.post("/settings/recurring/new", data=schedule_form(csrf, source)).status_code == 403
    assert schedules(db) == []


def test_what_cannot_be_repeated_gives_the_services_error_and_writes_nothing(client, db, settings, account, users) -> None:  # type: ignore[no-untyped-def]
    invoice = issue_invoice(db, account.cif)
    proforma = issue_invoice(db, account.cif, kind="proforma")
    draft = issue_invoice(db, account.cif, draft=True)
    make_account(db, settings, OTHER_CIF, "api@alta.ro", name="Alta Firma SRL")
    foreign = issue_invoice(db, OTHER_CIF)
    csrf = logged_in(client, ACCOUNTANT)
    events_before = count(db, Event)

    for doc_id, text in [(proforma, "PRF0001 nu este o factura"), (draft, "nu este emisa"),
                         (foreign, f"Factura {foreign} nu a fost gasita.")]:
        r = client.get("/settings/recurring/new", params={"from": doc_id})
        assert flash(r.text)[0] == "error" and text in flash(r.text)[1], (doc_id, r.text)
        r = client.post("/settings/recurring/new", data=schedule_form(csrf, doc_id))
        assert flash(r.text)[0] == "error" and text in flash(r.text)[1]
    for fields, text in [
        ({"end_mode": "date", "end": "2030-01-01"}, "Data de sfarsit a recurentei nu poate fi anterioara"),
        ({"start": "2020-01-01"}, "nu poate fi in trecut"),
        ({"end_mode": "count", "count": "0"}, "intre 1 si 1000"),
        ({"every": "0"}, "Intervalul recurentei trebuie sa fie intre 1 si 1000."),
        ({"every": "x"}, "trebuie să fie un număr întreg"),
        ({"unit": "week", "day_of_month": "5"}, "Ziua din luna se poate alege doar"),
        ({"send_email": "1"}, "SMTP"),
    ]:
        r = client.post("/settings/recurring/new", data=schedule_form(csrf, invoice, **fields))
        assert r.status_code == 400, fields
        error = re.search(r'id="form-error">([^<]*)<', r.text)
        assert error and text in error.group(1), (fields, r.text[-3000:])
        assert f'name="from" value="{invoice}"' in r.text  # the form comes back, as typed
    assert schedules(db) == [] and count(db, Event) == events_before
