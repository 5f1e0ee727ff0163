"""The webhook inbox in real Chromium: a signed Stripe delivery lacking the buyer's county is received by
the server, fails in its worker, and is corrected and retried from the page into an invoice."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from punte.services.bridge_config import BridgeSettings, configure
from punte.services.companies import get_company
from tests.integration.bridge_support import (
    SECRET,
    address,
    body_of,
    checkout_session,
    event,
    stripe_headers,
)

from .conftest import ACCOUNTANT, log_in, screenshot


def test_failed_webhook_is_listed_with_its_missing_fields_and_retried_from_the_page(page, live_server) -> None:  # type: ignore[no-untyped-def]
    with live_server.db.session(write=True) as s:
        configure(s, get_company(s, live_server.cif), "stripe", BridgeSettings(webhook_secret=SECRET, settle_seconds=0),
                  secret_key=live_server.settings.resolved_secret_key(), actor="e2e")
    obj = checkout_session(pi="pi_e2e_missing", amount=24200, metadata={"product_name": "Curs online"},
                           customer={"name": "Maria Ionescu", "address": address("Str. Morii 4", "Codlea", None, "505100", "RO")})
    body = body_of(event("checkout.session.completed", obj, event_id="evt_e2e_missing"))
    digits = live_server.cif.removeprefix("RO")
    answer = httpx.post(f"{live_server.url}/webhooks/stripe/{digits}", content=body, headers=stripe_headers(body))
    assert answer.status_code == 200, answer.text

    log_in(page, ACCOUNTANT)
    page.click("nav.main >> text=Webhook-uri")
    row = page.locator("#bridge-events tr", has_text="evt_e2e_missing")
    for _ in range(50):  # the server's worker processes the delivery
        if "Eșuat" in row.inner_text():
            break
        page.wait_for_timeout(200)
        page.reload()
    expect(row.locator(".problems")).to_contain_text("buyer.county")
    row.locator("summary").click()
    screenshot(page, "webhook-inbox")
    row.locator("input[name='buyer.state']").fill("Brasov")
    row.locator("button[type=submit]").click()
    expect(page.locator(".flash.ok")).to_contain_text("done")
    done = page.locator("#bridge-events tr", has_text="evt_e2e_missing")
    expect(done).to_contain_text("Procesat")
    done.locator("a[href^='/documents/']").click()
    expect(page.locator("h1")).to_contain_text("FCT")
    expect(page.locator("#doc-total")).to_have_text("242,00 RON")
