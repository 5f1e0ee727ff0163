"""e-Factura in real Chromium: an invoice issued through the dashboard is sent by the server's worker to
the ANAF sandbox and its page shows it accepted (ok, upload index, signed ZIP), reloading until then."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from .conftest import ACCOUNTANT, log_in, screenshot


def test_invoice_issued_in_the_dashboard_reaches_ok_at_anaf_and_its_page_shows_it(page) -> None:  # type: ignore[no-untyped-def]
    log_in(page, ACCOUNTANT)
    page.goto("/documents/new/invoice")
    page.fill("input[name=client_name]", "Sigma Logistic SRL")
    page.fill("input[name=client_cif]", "RO14399840")
    page.fill("input[name=client_address]", "Str. Fabricii 3")
    page.fill("input[name=client_city]", "Brasov")
    page.fill("input[name=client_county]", "Brasov")
    page.fill("input[name='lines-0-name']", "Transport marfa")
    page.fill("input[name='lines-0-quantity']", "2")
    page.fill("input[name='lines-0-price']", "450")
    page.click("#issue-button")
    expect(page.locator(".flash.ok")).to_contain_text("Documentul a fost emis: FCT")
    state = page.locator("#efactura-state")
    deadline = time.monotonic() + 30
    while state.inner_text() != "Acceptată (ok)":
        assert time.monotonic() < deadline, f"still {state.inner_text()!r} after 30 s"
        time.sleep(0.3)
        page.reload()
    assert page.locator("#efactura-index").inner_text().isdigit()
    expect(page.locator("#efactura-timeline li")).to_have_count(5)
    expect(page.locator("#efactura-attempts a.archive")).to_have_text("ZIP semnat")
    page.locator("#efactura").scroll_into_view_if_needed()
    screenshot(page, "efactura-timeline", full_page=False)
    label = page.locator("h1").inner_text().split()[1]
    page.goto("/documents?efactura=ok")
    expect(page.locator("#documents tbody")).to_contain_text(label)
