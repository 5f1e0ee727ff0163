"""Reading supplier invoices: punte's own UBL read back field for field, and the official examples."""

from __future__ import annotations

from datetime import date
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
    assert "NOTĂ DE CREDITARE" in text and "FACTURĂ" not in text.split("FCT0043")[0]  # titled as what it is


def test_credit_note_without_reference_says_it_is_a_credit_note() -> None:
    xml = build_ubl(SCENARIOS["credit_note"]())
    start, end = xml.index(b"<cac:BillingReference>"), xml.index(b"</cac:BillingReference>")
    read = read_ubl(xml[:start] + xml[end + len(b"</cac:BillingReference>"):])
    printed = read.to_document()
    assert read.preceding_number is None and not printed.is_storno
    assert (printed.mentions or "").startswith("Nota de creditare (cod 381)")
    from pypdf import PdfReader
    import io

    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(render_pdf(printed))).pages)
    assert text.lstrip().startswith("NOTĂ DE CREDITARE") or "NOTĂ DE CREDITARE" in text[:200]


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


# -- what a received invoice says, drawn: prices, allowances and charges, dates, the number -------------------
CBC_NS = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC_NS = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
UBL_NS = {"cbc": CBC_NS, "cac": CAC_NS}


def pdf_text(pdf: bytes) -> str:
    from pypdf import PdfReader
    import io

    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


def ro(value: D, places: int = 2) -> str:
    """An amount as the renderer prints it in Romanian: 1.234,56."""
    return f"{value:,.{places}f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def stated(root: object, path: str) -> D:
    found = root.find(path, UBL_NS)  # type: ignore[attr-defined]
    return D(found.text) if found is not None else D(0)


def ubl_line(name: str, qty: str, price: str, net: str, *, pct: str = "21", base: str | None = None,
             extra: str = "", unit: str = "H87", tag: str = "InvoiceLine", qty_tag: str = "InvoicedQuantity") -> str:
    base_xml = f'<cbc:BaseQuantity unitCode="{unit}">{base}</cbc:BaseQuantity>' if base else ""
    return f"""<cac:{tag}><cbc:ID>1</cbc:ID><cbc:{qty_tag} unitCode="{unit}">{qty}</cbc:{qty_tag}>
      <cbc:LineExtensionAmount currencyID="RON">{net}</cbc:LineExtensionAmount>{extra}
      <cac:Item><cbc:Name>{name}</cbc:Name><cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>{pct}</cbc:Percent>
      <cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory></cac:Item>
      <cac:Price><cbc:PriceAmount currencyID="RON">{price}</cbc:PriceAmount>{base_xml}</cac:Price></cac:{tag}>"""


def allowance(charge: bool, amount: str, reason: str, *, pct: str | None = "21", factor: str | None = None,
              base: str | None = None) -> str:
    tax = (f"<cac:TaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>{pct}</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID>"
           "</cac:TaxScheme></cac:TaxCategory>") if pct else ""
    factor_xml = f"<cbc:MultiplierFactorNumeric>{factor}</cbc:MultiplierFactorNumeric>" if factor else ""
    base_xml = f'<cbc:BaseAmount currencyID="RON">{base}</cbc:BaseAmount>' if base else ""
    return (f"<cac:AllowanceCharge><cbc:ChargeIndicator>{'true' if charge else 'false'}</cbc:ChargeIndicator>"
            f"<cbc:AllowanceChargeReason>{reason}</cbc:AllowanceChargeReason>{factor_xml}"
            f'<cbc:Amount currencyID="RON">{amount}</cbc:Amount>{base_xml}{tax}</cac:AllowanceCharge>')


def ubl(lines: list[str], *, net: str, vat: str, line_total: str | None = None, allowances: str = "",
        allowance_total: str | None = None, charge_total: str | None = None, header: str = "",
        number: str = "FCT0042", root: str = "Invoice", prepaid: str | None = None,
        rounding: str | None = None) -> bytes:
    """A small CIUS-RO-shaped Invoice or CreditNote from a supplier to Firma Test SRL, 21% VAT on ``net``."""
    gross = D(net) + D(vat)
    payable = gross - D(prepaid or 0) + D(rounding or 0)
    type_tag = "InvoiceTypeCode" if root == "Invoice" else "CreditNoteTypeCode"
    optional = "".join(
        f'<cbc:{tag} currencyID="RON">{value}</cbc:{tag}>'
        for tag, value in (("AllowanceTotalAmount", allowance_total), ("ChargeTotalAmount", charge_total),
                           ("PrepaidAmount", prepaid), ("PayableRoundingAmount", rounding)) if value)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<{root} xmlns="urn:oasis:names:specification:ubl:schema:xsd:{root}-2" xmlns:cac="{CAC_NS}" xmlns:cbc="{CBC_NS}">
  <cbc:CustomizationID>urn:cen.eu:en16931:2017#compliant#urn:efactura.mfinante.ro:CIUS-RO:1.0.1</cbc:CustomizationID>
  <cbc:ID>{number}</cbc:ID><cbc:IssueDate>2026-03-02</cbc:IssueDate><cbc:DueDate>2026-03-16</cbc:DueDate>
  <cbc:{type_tag}>{"380" if root == "Invoice" else "381"}</cbc:{type_tag}>
  <cbc:DocumentCurrencyCode>RON</cbc:DocumentCurrencyCode>{header}
  <cac:AccountingSupplierParty><cac:Party><cac:PostalAddress><cbc:StreetName>Str. Furnizorilor 3</cbc:StreetName>
    <cbc:CityName>Brasov</cbc:CityName><cbc:CountrySubentity>RO-BV</cbc:CountrySubentity>
    <cac:Country><cbc:IdentificationCode>RO</cbc:IdentificationCode></cac:Country></cac:PostalAddress>
    <cac:PartyTaxScheme><cbc:CompanyID>RO14399840</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme>
    </cac:PartyTaxScheme><cac:PartyLegalEntity><cbc:RegistrationName>Depozitul de Hartie SRL</cbc:RegistrationName>
    </cac:PartyLegalEntity></cac:Party></cac:AccountingSupplierParty>
  <cac:AccountingCustomerParty><cac:Party><cac:PostalAddress><cbc:StreetName>Str. Memorandumului 28</cbc:StreetName>
    <cbc:CityName>Cluj-Napoca</cbc:CityName><cbc:CountrySubentity>RO-CJ</cbc:CountrySubentity>
    <cac:Country><cbc:IdentificationCode>RO</cbc:IdentificationCode></cac:Country></cac:PostalAddress>
    <cac:PartyTaxScheme><cbc:CompanyID>RO18547290</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme>
    </cac:PartyTaxScheme><cac:PartyLegalEntity><cbc:RegistrationName>Firma Test SRL</cbc:RegistrationName>
    </cac:PartyLegalEntity></cac:Party></cac:AccountingCustomerParty>
  {allowances}
  <cac:TaxTotal><cbc:TaxAmount currencyID="RON">{vat}</cbc:TaxAmount><cac:TaxSubtotal>
    <cbc:TaxableAmount currencyID="RON">{net}</cbc:TaxableAmount><cbc:TaxAmount currencyID="RON">{vat}</cbc:TaxAmount>
    <cac:TaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>21</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme>
    </cac:TaxCategory></cac:TaxSubtotal></cac:TaxTotal>
  <cac:LegalMonetaryTotal><cbc:LineExtensionAmount currencyID="RON">{line_total or net}</cbc:LineExtensionAmount>
    <cbc:TaxExclusiveAmount currencyID="RON">{net}</cbc:TaxExclusiveAmount>
    <cbc:TaxInclusiveAmount currencyID="RON">{gross}</cbc:TaxInclusiveAmount>{optional}
    <cbc:PayableAmount currencyID="RON">{payable}</cbc:PayableAmount></cac:LegalMonetaryTotal>
  {"".join(lines)}
</{root}>""".encode()


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*/*.xml")) if EXAMPLES.exists() else [], ids=lambda p: p.name)
def test_drawn_official_example_adds_up_to_the_totals_it_states(path: Path) -> None:
    from lxml import etree

    root = etree.fromstring(path.read_bytes())
    money = root.find("cac:LegalMonetaryTotal", UBL_NS)
    doc = read_ubl(path.read_bytes()).to_document()
    products = [ln for ln in doc.lines if ln.position <= len(root.findall("cac:InvoiceLine", UBL_NS)
                                                                  + root.findall("cac:CreditNoteLine", UBL_NS))]
    extra = doc.lines[len(products):]
    assert sum((ln.net_amount for ln in doc.lines), D(0)) == stated(money, "cbc:TaxExclusiveAmount")
    assert sum((ln.net_amount for ln in products), D(0)) == stated(money, "cbc:LineExtensionAmount")
    assert -sum((ln.net_amount for ln in extra if ln.is_discount), D(0)) == stated(money, "cbc:AllowanceTotalAmount")
    assert sum((ln.net_amount for ln in extra if not ln.is_discount), D(0)) == stated(money, "cbc:ChargeTotalAmount")
    totals = doc.totals
    assert totals.net_total == stated(money, "cbc:TaxExclusiveAmount")
    assert totals.gross_total == stated(money, "cbc:TaxInclusiveAmount")
    assert totals.allowance_total == stated(money, "cbc:AllowanceTotalAmount")
    assert totals.line_total - totals.allowance_total == totals.net_total  # what the totals box prints
    assert doc.paid_amount == stated(money, "cbc:PrepaidAmount")
    rounding = stated(money, "cbc:PayableRoundingAmount")
    assert totals.gross_total - doc.paid_amount + rounding == stated(money, "cbc:PayableAmount")

    text = pdf_text(render_pdf(doc))
    assert f"{ro(totals.net_total)} {doc.currency}" in text and f"{ro(totals.gross_total)} {doc.currency}" in text
    assert f"Nr. {doc.number}" in text and "Seria" not in text  # BT-1 whole, no empty series
    if rounding:
        assert f"suma de plata: {ro(stated(money, 'cbc:PayableAmount'))} {doc.currency}" in text


def test_four_decimal_prices_are_printed_with_four_decimals() -> None:
    read = read_ubl(ubl([ubl_line("Hartie A4", "10", "7.6453", "76.45"), ubl_line("Toner", "1", "120.50", "120.50")],
                        net="196.95", vat="41.36"))
    assert read.lines[0].unit_price == D("7.6453")
    doc = read.to_document()
    assert doc.precision == 4
    text = pdf_text(render_pdf(doc))
    assert "7,6453" in text and "120,5000" in text and "76,45" in text


def test_two_decimal_prices_keep_two_decimals() -> None:
    doc = read_ubl(ubl([ubl_line("Toner", "1", "120.50", "120.50")], net="120.50", vat="25.31")).to_document()
    assert doc.precision == 2 and "120,50" in pdf_text(render_pdf(doc))


def test_a_price_with_more_decimals_is_kept_exact_and_printed_rounded_with_the_exact_value() -> None:
    read = read_ubl(ubl([ubl_line("Energie", "16000", "0.00101", "16.16", unit="KWH")], net="16.16", vat="3.39"))
    assert read.lines[0].unit_price == D("0.00101")
    doc = read.to_document()
    assert doc.precision == 4 and doc.lines[0].unit_price == D("0.00101") and doc.lines[0].net_amount == D("16.16")
    text = pdf_text(render_pdf(doc))
    assert "0,0010" in text and "Pret unitar exact: 0,00101 RON" in text and "16,16" in text


def test_price_per_base_quantity_is_printed_per_unit_and_as_stated() -> None:
    read = read_ubl(ubl([ubl_line("Surub M4", "132", "15.24", "167.64", base="12")], net="167.64", vat="35.20"))
    line = read.lines[0]
    assert (line.unit_price, line.price_amount, line.base_quantity) == (D("1.27"), D("15.24"), D("12"))
    doc = read.to_document()
    assert doc.lines[0].unit_price == D("1.27") and doc.lines[0].net_amount == D("167.64")
    text = pdf_text(render_pdf(doc))
    assert "1,27" in text and "Pret: 15,24 RON pentru 12 buc" in text and "167,64" in text


def test_price_per_base_quantity_that_does_not_divide_keeps_the_stated_line_value() -> None:
    doc = read_ubl(ubl([ubl_line("Abonament", "3", "10.00", "10.00", base="3")], net="10.00",
                       vat="2.10")).to_document()
    assert doc.lines[0].net_amount == D("10.00") and doc.precision == 4
    text = pdf_text(render_pdf(doc))
    assert "3,3333" in text and "Pret: 10,00 RON pentru 3 buc" in text


def test_document_allowances_and_charges_are_drawn_as_lines_that_add_up_to_the_totals() -> None:
    xml = ubl([ubl_line("Hartie A4", "10", "10.00", "100.00")], line_total="100.00", net="95.00", vat="19.95",
              allowances=allowance(False, "10.00", "Discount fidelitate", factor="10", base="100.00")
              + allowance(True, "5.00", "Transport"),
              allowance_total="10.00", charge_total="5.00")
    read = read_ubl(xml)
    assert [(a.is_charge, a.amount, a.reason) for a in read.allowances] == [
        (False, D("10.00"), "Discount fidelitate"), (True, D("5.00"), "Transport")]
    doc = read.to_document()
    discount, charge = doc.lines[1:]
    assert (discount.name, discount.net_amount, discount.is_discount, discount.vat_percentage) == (
        "Reducere: Discount fidelitate", D("-10.00"), True, D("21"))
    assert (charge.name, charge.net_amount, charge.is_discount) == ("Majorare: Transport", D("5.00"), False)
    assert sum((ln.net_amount for ln in doc.lines), D(0)) == doc.totals.net_total == D("95.00")
    text = pdf_text(render_pdf(doc))
    assert "Reducere: Discount fidelitate" in text and "10% din 100,00 RON" in text and "-10,00" in text
    assert "Majorare: Transport" in text and "Subtotal" in text and "105,00 RON" in text
    assert "95,00 RON" in text and "114,95 RON" in text


def test_line_allowances_and_price_discounts_are_written_under_the_line() -> None:
    extra = allowance(False, "5.00", "Promotie", pct=None) + allowance(True, "2.00", "Ambalaj", pct=None)
    price_cut = ("<cac:AllowanceCharge><cbc:ChargeIndicator>false</cbc:ChargeIndicator>"
                 '<cbc:Amount currencyID="RON">2.00</cbc:Amount><cbc:BaseAmount currencyID="RON">12.00</cbc:BaseAmount>'
                 "</cac:AllowanceCharge>")
    xml = ubl([ubl_line("Hartie A4", "10", "10.00", "97.00", extra=extra)], net="97.00", vat="20.37")
    xml = xml.replace(b"</cbc:PriceAmount>", b"</cbc:PriceAmount>" + price_cut.encode())
    read = read_ubl(xml)
    line = read.lines[0]
    assert [(a.is_charge, a.amount) for a in line.allowances] == [(False, D("5.00")), (True, D("2.00"))]
    assert (line.gross_price, line.price_discount) == (D("12.00"), D("2.00")) and read.allowances == ()
    doc = read.to_document()
    assert len(doc.lines) == 1 and doc.lines[0].net_amount == D("97.00")  # already inside the line's value
    text = pdf_text(render_pdf(doc))
    assert "Reducere (Promotie): -5,00 RON" in text and "Majorare (Ambalaj): 2,00 RON" in text
    assert "Pret brut 12,00 RON, reducere de pret 2,00 RON" in text


def test_delivery_date_and_invoicing_period_are_printed() -> None:
    header = ("<cac:InvoicePeriod><cbc:StartDate>2026-02-01</cbc:StartDate><cbc:EndDate>2026-02-28</cbc:EndDate>"
              "</cac:InvoicePeriod>")
    delivery = "<cac:Delivery><cbc:ActualDeliveryDate>2026-02-27</cbc:ActualDeliveryDate></cac:Delivery>"
    xml = ubl([ubl_line("Servicii", "1", "100", "100.00")], net="100.00", vat="21.00", header=header)
    xml = xml.replace(b"<cac:TaxTotal>", delivery.encode() + b"<cac:TaxTotal>")
    read = read_ubl(xml)
    assert (read.delivery_date, read.period_start, read.period_end) == (
        date(2026, 2, 27), date(2026, 2, 1), date(2026, 2, 28))
    doc = read.to_document()
    assert doc.delivery_date == date(2026, 2, 27)
    text = pdf_text(render_pdf(doc))
    assert "Data livrării" in text and "27.02.2026" in text and "Perioada de facturare: 01.02.2026 - 28.02.2026" in text


def test_prepaid_amount_and_payable_rounding_are_printed() -> None:
    xml = ubl([ubl_line("Servicii", "1", "100", "100.00")], net="100.00", vat="21.00", prepaid="50.00",
              rounding="0.30")
    read = read_ubl(xml)
    assert (read.prepaid, read.rounding, read.payable) == (D("50.00"), D("0.30"), D("71.30"))
    text = pdf_text(render_pdf(read.to_document()))
    assert "50,00 RON" in text and "Rotunjire: 0,30 RON; suma de plata: 71,30 RON" in text


def test_the_number_is_printed_whole_without_an_empty_series() -> None:
    doc = read_ubl(ubl([ubl_line("Servicii", "1", "100", "100.00")], net="100.00", vat="21.00",
                       number="EV2026-000311")).to_document()
    assert (doc.series, doc.number) == ("", "EV2026-000311")
    text = pdf_text(render_pdf(doc))
    assert "Nr. EV2026-000311" in text and "Seria" not in text and "  " not in text.split("\n")[1]


def test_credit_note_with_an_allowance_reads_and_draws() -> None:
    header = ("<cac:BillingReference><cac:InvoiceDocumentReference><cbc:ID>FCT0041</cbc:ID>"
              "<cbc:IssueDate>2026-02-20</cbc:IssueDate></cac:InvoiceDocumentReference></cac:BillingReference>")
    xml = ubl([ubl_line("Retur hartie", "4", "12.5000", "50.00", tag="CreditNoteLine", qty_tag="CreditedQuantity")],
              root="CreditNote", number="NC0007", line_total="50.00", net="45.00", vat="9.45", header=header,
              allowances=allowance(False, "5.00", "Discount retur"), allowance_total="5.00")
    read = read_ubl(xml)
    assert (read.kind, read.type_code, read.preceding_number) == ("credit_note", "381", "FCT0041")
    doc = read.to_document()
    assert doc.is_storno and sum((ln.net_amount for ln in doc.lines), D(0)) == doc.totals.net_total == D("45.00")
    text = pdf_text(render_pdf(doc))
    assert "Nr. NC0007" in text and "Storno la factura FCT0041 din 20.02.2026" in text
    assert "Reducere: Discount retur" in text and "54,45 RON" in text


def test_an_unreadable_charge_indicator_is_refused_with_the_element_named() -> None:
    xml = ubl([ubl_line("Servicii", "1", "100", "100.00")], net="95.00", line_total="100.00", vat="19.95",
              allowances=allowance(False, "5.00", "Discount"), allowance_total="5.00")
    with pytest.raises(UblReadError, match="ChargeIndicator"):
        read_ubl(xml.replace(b"<cbc:ChargeIndicator>false", b"<cbc:ChargeIndicator>poate"))
