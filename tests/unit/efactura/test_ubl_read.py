"""Reading supplier invoices: punte's own UBL read back field for field, and the official examples."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from punte.efactura.ubl import build_ubl
from punte.efactura.ubl_read import UblReadError, read_ubl
from punte.render.pdf import render_pdf

from .test_ubl import GERMAN, SCENARIOS, document, mixed_with_discounts, product

EXAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "efactura" / "examples"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_punte_ubl_reads_back_with_the_same_totals(name: str) -> None:
    doc = SCENARIOS[name]()
    read = read_ubl(build_ubl(doc))
    assert read.number == f"{doc.series}{doc.number}"
    assert read.issue_date == doc.issue_date and read.currency == doc.currency
    sign = -1 if read.kind == "credit_note" else 1  # a credit note states positive amounts
    assert sign * read.net_total == doc.totals.net_total
    assert sign * read.vat_total == doc.totals.vat_total
    assert sign * read.gross_total == doc.totals.gross_total
    assert sign * sum((s.tax_amount for s in read.vat_breakdown), D(0)) == doc.totals.vat_total
    assert read.supplier.name == doc.seller.name
    assert "18547290" in (read.supplier.cif or "")


def test_lines_and_parties_are_read() -> None:
    doc = mixed_with_discounts()
    read = read_ubl(build_ubl(doc))
    products = [ln for ln in doc.lines if not ln.is_discount]
    assert [ln.name for ln in read.lines] == [ln.name for ln in products]
    assert [ln.net_amount for ln in read.lines] == [ln.net_amount for ln in products]
    assert read.allowance_total == doc.totals.allowance_total
    assert read.customer.name == "Client SRL" and read.customer.county == "RO-BV"


def test_foreign_currency_vat_in_ron_is_read() -> None:
    doc = document([product("2", "100")], currency="EUR", rate_ron=D("5.0912"), buyer=GERMAN)
    read = read_ubl(build_ubl(doc))
    assert read.currency == "EUR" and read.vat_total_ron == doc.totals.vat_total_ron


def test_received_invoice_renders_to_pdf() -> None:
    from pypdf import PdfReader
    import io

    read = read_ubl(build_ubl(mixed_with_discounts()))
    pdf = render_pdf(read.to_document())
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "FCT0042" in text and "Firma Test SRL" in text


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*/*.xml")) if EXAMPLES.exists() else [], ids=lambda p: p.name)
def test_official_examples_are_read(path: Path) -> None:
    read = read_ubl(path.read_bytes())
    assert read.number and read.lines
    assert read.gross_total == read.net_total + read.vat_total


def test_not_an_invoice_is_refused_with_the_reason() -> None:
    with pytest.raises(UblReadError, match="nu este XML"):
        read_ubl(b"<html>")
    with pytest.raises(UblReadError, match="nu este o factura UBL"):
        read_ubl(b"<Order xmlns='urn:x'/>")


def test_credit_note_reads_the_invoice_it_corrects_and_prints_as_its_storno() -> None:
    from pypdf import PdfReader
    import io

    doc = SCENARIOS["credit_note"]()
    read = read_ubl(build_ubl(doc))
    assert (read.kind, read.type_code) == ("credit_note", "381")
    assert (read.preceding_number, read.preceding_date) == ("FCT0042", doc.reverses.issue_date)
    printed = read.to_document()
    assert printed.is_storno and printed.reverses.number == "FCT0042"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(render_pdf(printed))).pages)
    assert "FCT0043" in text and "FCT0042" in text


def test_credit_note_without_reference_says_it_is_a_credit_note() -> None:
    xml = build_ubl(SCENARIOS["credit_note"]())
    start, end = xml.index(b"<cac:BillingReference>"), xml.index(b"</cac:BillingReference>")
    read = read_ubl(xml[:start] + xml[end + len(b"</cac:BillingReference>"):])
    printed = read.to_document()
    assert read.preceding_number is None and not printed.is_storno
    assert (printed.mentions or "").startswith("Nota de creditare (cod 381)")


def test_supplier_iban_and_prepaid_amount_are_read() -> None:
    from .test_ubl import SELLER

    doc = SCENARIOS["long_notes_and_partial_payment"]()
    read = read_ubl(build_ubl(doc))
    assert read.supplier.iban and read.supplier.iban.replace(" ", "") == (SELLER.iban or "").replace(" ", "")
    assert read.prepaid == D("50.00") and read.payable == read.gross_total - D("50.00")
    assert read.to_document().paid_amount == D("50.00")


@pytest.mark.parametrize("old, new", [
    (b"<cbc:Percent>21.00</cbc:Percent>", b"<cbc:Percent>douazeci</cbc:Percent>"),
    (b'<cbc:TaxExclusiveAmount currencyID="RON">', b'<cbc:TaxExclusiveAmount currencyID="RON">1,'),
    (b'<cbc:TaxAmount currencyID="RON">', b'<cbc:TaxAmount currencyID="RON">NaN'),
])
def test_unreadable_numbers_are_refused_with_the_element_named(old: bytes, new: bytes) -> None:
    xml = build_ubl(SCENARIOS["simple_ron_b2b"]())
    assert old in xml
    with pytest.raises(UblReadError, match="valoare invalida"):
        read_ubl(xml.replace(old, new, 1))


def test_cui_repeated_as_legal_id_is_not_taken_for_the_trade_register_number() -> None:
    from dataclasses import replace

    from .test_ubl import SELLER, document, product

    without = document([product("1", "100")], seller=replace(SELLER, reg_com=None))
    read = read_ubl(build_ubl(without))
    assert read.supplier.cif == "RO18547290" and read.supplier.reg_com is None
    assert read_ubl(build_ubl(document([product("1", "100")]))).supplier.reg_com == "J12/1234/2020"
