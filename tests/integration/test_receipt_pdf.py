"""A receipt (Chitanta) printed: who paid, how much, for which invoice; no VAT mention."""

from __future__ import annotations

import io

from pypdf import PdfReader

from tests.integration.test_payments_api import API, invoice, pay


def pdf_text(data: bytes) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages)


def test_receipt_pdf_states_the_payer_amount_and_invoice(client, account) -> None:  # type: ignore[no-untyped-def]
    invoice(client, account, price="123.45")
    r = pay(client, account, seriesName="CH", value="50", type="Chitanta", invoicesList=[{"seriesName": "FCT", "number": "0001"}])
    assert r.status_code == 200, r.text
    got = client.get(API + "/payment/pdf", params={"cif": account.cif, "seriesName": "CH", "number": "0001"},
                     headers=account.headers)
    assert got.status_code == 200 and got.headers["content-type"] == "application/pdf"
    text = pdf_text(got.content)
    assert "CHITANȚĂ" in text and "Seria CH nr. 0001" in text
    assert "Contravaloare factura FCT0001" in text
    assert "suma de 50,00 RON" in text
    assert "neplătitoare" not in text.lower() and "TVA" not in text.split("Contravaloare")[1]


def test_unknown_receipt_is_a_clear_error(client, account) -> None:  # type: ignore[no-untyped-def]
    got = client.get(API + "/payment/pdf", params={"cif": account.cif, "seriesName": "CH", "number": "7"},
                     headers=account.headers)
    assert got.status_code == 400 and got.json()["errorText"] == "Chitanta nu a fost gasita!"
