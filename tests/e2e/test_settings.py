"""Settings and document actions in real Chromium: the ANAF OAuth button goes through the server's own
sandbox and back, a payment provider is configured from its card, a payment is collected on a document."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import ACCOUNTANT, log_in, screenshot


def test_owner_reauthorizes_at_the_anaf_sandbox_with_the_button_and_comes_back(page, live_server) -> None:  # type: ignore[no-untyped-def]
    log_in(page)
    page.click("nav.main >> text=Setări")
    page.click("nav.tabs >> text=Conexiune ANAF")
    expect(page.locator("nav.tabs a.active")).to_have_text("Conexiune ANAF")
    status = page.locator("#anaf-status")
    expect(status).to_contain_text("Sandbox")
    before = status.inner_text()
    page.click("#anaf-connect button")  # -> the sandbox's authorize -> /anaf/callback -> back to this tab
    expect(page).to_have_url(re.compile(r"/settings/anaf$"))
    expect(page.locator(".flash.ok")).to_be_visible()
    expect(status).not_to_contain_text("–")  # both expiry dates are known
    assert "Conectată" in status.inner_text(), before
    screenshot(page, "settings-anaf")


def test_owner_sees_the_webhook_url_and_changes_a_provider_from_its_card(page, live_server) -> None:  # type: ignore[no-untyped-def]
    log_in(page)
    page.goto("/settings/providers")
    digits = live_server.cif.removeprefix("RO")
    expect(page.locator("#webhook-paypal")).to_have_value(f"{live_server.url}/webhooks/paypal/{digits}")
    card = page.locator("section#shopify")
    card.locator("input[name=webhook_secret]").fill("shpss_e2e_secret_0123456789")
    card.locator("input[name=shop_domain]").fill("magazin-e2e.myshopify.com")
    card.locator("input[name=vat_rate]").fill("21")
    card.locator("button[type=submit]").click()
    expect(page.locator(".flash.ok")).to_be_visible()
    expect(page.locator("section#shopify")).to_contain_text("magazin-e2e.myshopify.com")
    assert "shpss_e2e_secret_0123456789" not in page.content()  # secrets are write-only
    screenshot(page, "settings-providers")


def test_accountant_collects_a_payment_on_an_unpaid_invoice_from_its_page(page) -> None:  # type: ignore[no-untyped-def]
    log_in(page, ACCOUNTANT)
    page.locator("#card-unpaid-oldest tbody a").first.click()
    form = page.locator("#collect-form")
    expect(form).to_be_visible()
    rest = form.locator("input[name=amount]").input_value()
    form.locator("select[name=type]").select_option("Ordin plata")
    form.locator("button[type=submit]").click()
    expect(page.locator(".flash.ok")).to_be_visible()
    payments = page.locator("#payments tbody")
    expect(payments).to_contain_text("Ordin plata")
    expect(page.locator("#collect-form")).to_have_count(0)  # wholly paid: nothing left to collect
    assert rest.replace(".", ",") in payments.inner_text()
    page.locator("#payments").scroll_into_view_if_needed()
    screenshot(page, "document-payment", full_page=False)
