"""The PDF of a received invoice, as the accountant gets it from the API, draws everything the invoice says.

A supplier's invoice with 4-decimal prices, a document-level discount and a delivery date is injected
into the offline ANAF sandbox, punte syncs it over real HTTP, and its PDF is fetched from the API.
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date
from decimal import Decimal

import httpx
from pypdf import PdfReader

from punte.domain.documents import DiscountInput
from punte.efactura.ubl import build_ubl
from tests.anaf_sandbox_fixtures import *  # noqa: F403
from tests.anaf_sandbox_fixtures import AnafLive
from tests.conftest import CIF, Account
from tests.integration.test_received import API, CUI, US, connect, get, live, supplier, worker  # noqa: F401
from tests.unit.efactura.test_ubl import R11, R21, document, product


def ro(value: Decimal) -> str:
    return f"{value:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def test_received_invoice_pdf_shows_four_decimal_prices_discounts_delivery_and_the_whole_number(
        live: AnafLive, account: Account) -> None:  # noqa: F811
    connect(live)
    items = [product("10", "7.6453"), product("3", "4.10", R11),
             DiscountInput(name="Discount fidelitate", number_of_items=2, value=Decimal("5"), rate=R21)]
    doc = replace(document(items, seller=supplier("14399840", "Depozitul de Hartie SRL"), buyer=US, precision=4),
                  series="DH", number="0107", delivery_date=date(2026, 2, 27))
    live.sandbox.inject_invoice(CUI, xml=build_ubl(doc))
    answer = httpx.post(live.base_url + API + "/sync", params={"cif": CIF}, headers=account.headers, timeout=30)
    assert answer.status_code == 200, answer.text
    worker(live).run_until_idle()
    [item] = get(live, account, "").json()["invoices"]

    pdf = get(live, account, "/pdf", id=item["id"])
    assert pdf.status_code == 200, pdf.text
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Nr. DH0107" in text and "Seria" not in text
    assert "7,6453" in text and "4,1000" in text  # the supplier's prices, not rounded to 2 decimals
    assert "Reducere: Discount fidelitate" in text and "-5,00" in text
    assert "Data livrării" in text and "27.02.2026" in text
    totals = doc.totals
    assert totals.allowance_total == Decimal("5.00")
    for amount in (totals.line_total, totals.net_total, totals.vat_total, totals.gross_total):
        assert f"{ro(amount)} RON" in text

    [listed] = get(live, account, "", lines="1").json()["invoices"]  # the API lists the discount as well
    kinds = [(entry["kind"], entry["name"]) for entry in listed["lines"]]
    assert kinds[-1] == ("allowance", "Discount fidelitate") and {k for k, _ in kinds[:-1]} == {"line"}
    assert listed["lines"][-1]["netAmount"] == "-5.00"
    assert sum(Decimal(entry["netAmount"]) for entry in listed["lines"]) == Decimal(listed["netTotal"])
