"""The dashboard in real Chromium: log in, issue an invoice with live totals, find it, open its PDF.

Each test saves a screenshot of the page it is about into docs/screenshots/.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import ACCOUNTANT, OWNER, VIEWER, log_in, screenshot


def test_log_in_refuses_a_wrong_password_then_accepts_the_right_one(page) -> None:  # type: ignore[no-untyped-def]
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("h1")).to_have_text("Autentificare")
    screenshot(page, "login")
    page.fill("input[name=email]", OWNER)
    page.fill("input[name=password]", "nu-este-parola")
    page.click("button[type=submit]")
    expect(page.locator(".flash.error")).to_contain_text("E-mailul sau parola nu sunt corecte")
    log_in(page)
    expect(page.locator("h1")).to_contain_text("Sumar")
    cookie = next(c for c in page.context.cookies() if c["name"] == "punte_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"


def test_accountant_issues_an_invoice_with_live_totals_sees_it_listed_and_opens_its_pdf(page) -> None:  # type: ignore[no-untyped-def]
    log_in(page, ACCOUNTANT)
    page.click("nav.main >> text=Factură nouă")
    expect(page.locator("h1")).to_contain_text("Factură nouă")
    page.fill("input[name=client_name]", "Omega Trading SRL")
    page.fill("input[name=client_cif]", "RO6859662")
    page.fill("input[name=client_address]", "Str. Republicii 5")
    page.fill("input[name=client_city]", "Sibiu")
    page.fill("input[name=client_county]", "Sibiu")
    page.fill("input[name='lines-0-name']", "Mentenanta lunara")
    page.fill("input[name='lines-0-quantity']", "3")
    page.fill("input[name='lines-0-price']", "33,33")
    page.fill("input[name='lines-1-name']", "Deplasare")
    page.fill("input[name='lines-1-quantity']", "1")
    page.fill("input[name='lines-1-price']", "50")
    page.check("input[name='lines-1-tax_included']")
    # 3 x 33.33 = 99.99 net; 50.00 with VAT = 41.32 net; VAT 21% on 141.31 = 29.68 (29.67 + 0.01 per category)
    expect(page.locator("#gross-total")).to_have_text("170,99")
    expect(page.locator("output.line-net[data-line='0']")).to_have_text("99,99")
    page.click("#add-line")
    expect(page.locator("tr.line")).to_have_count(4)
    screenshot(page, "invoice-form")

    page.click("#issue-button")
    expect(page.locator(".flash.ok")).to_contain_text("Documentul a fost emis: FCT")
    label = page.locator("h1").inner_text().split()[1]
    expect(page.locator("#doc-total")).to_have_text("170,99 RON")
    screenshot(page, "document", full_page=False)  # headless Chromium has no PDF viewer for the frame below

    with page.expect_popup() as popup:
        page.click("a.button:has-text('PDF')")
    pdf = page.context.request.get(popup.value.url)
    assert pdf.headers["content-type"] == "application/pdf" and pdf.body().startswith(b"%PDF")

    page.goto("/documents")
    page.fill("input[name=client]", "omega")
    page.click("form.filters button[type=submit]")
    rows = page.locator("#documents tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(label)
    expect(rows.first).to_contain_text("170,99 RON")


def test_documents_list_overview_and_settings_pages(page) -> None:  # type: ignore[no-untyped-def]
    log_in(page)
    expect(page.locator("#card-issued .big").first).not_to_have_text("0")
    expect(page.locator("#card-unpaid .big")).not_to_have_text("0")
    screenshot(page, "overview")
    page.click("nav.main >> text=Documente")
    expect(page.locator("#documents tbody")).to_contain_text("FCT")  # the newest may be the seeded proforma
    expect(page.locator("#documents thead")).to_contain_text("e-Factura")
    screenshot(page, "documents")
    page.click("nav.main >> text=Setări")
    expect(page.locator("dl.kv")).to_contain_text("18547290")
    screenshot(page, "settings")
    page.click("nav.tabs >> text=TVA")
    expect(page.locator("#vat-rates")).to_contain_text("Normala")


def test_language_switch_is_kept_per_user(page) -> None:  # type: ignore[no-untyped-def]
    log_in(page, VIEWER)
    page.click("footer button[lang=en]")
    expect(page.locator("nav.main")).to_contain_text("Documents")
    expect(page.locator("nav.main")).not_to_contain_text("New invoice")  # a viewer only reads
    page.goto("/documents")
    expect(page.locator("h1")).to_have_text("Documents")
    page.click("footer button[lang=ro]")
    expect(page.locator("h1")).to_have_text("Documente")
