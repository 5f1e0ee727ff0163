"""The CIUS-RO UBL writer: documents built with the real arithmetic, checked against the UBL 2.1 XSD
and ANAF's Schematron rules (zero fatal findings), plus the representation choices one by one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest
from lxml import etree

from punte.domain.documents import (
    DiscountInput,
    DocumentRef,
    IssuedDocument,
    Party,
    ProductInput,
    compute_lines,
    negate,
    summarize,
)
from punte.domain.vat import VatRate, default_rates, find_rate
from punte.efactura.ubl import CUSTOMIZATION_ID, UblError, build_ubl, check_reportable
from punte.efactura.validator import Validator

NS = {
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
}
DAY = date(2026, 3, 2)
RATES = default_rates()


def rate(name: str) -> VatRate:
    return find_rate(RATES, DAY, name=name, percentage=None, product="x")


R21, R11, SDD, SFDD, EXEMPT, REVERSE = (rate(n) for n in ("Normala", "Redusa", "SDD", "SFDD", "Scutita", "Inversa"))

SELLER = Party(
    name="Firma Test SRL", cif="RO18547290", reg_com="J12/1234/2020", address="Str. Memorandumului 28",
    city="Cluj-Napoca", county="Cluj", country="Romania", iban="RO49 AAAA 1B31 0075 9384 0000",
    email="facturi@firma.ro", phone="0264 000 000", is_tax_payer=True,
)
RO_COMPANY = Party(name="Client SRL", cif="RO14399840", reg_com="J40/1/2001", address="Bd. Eroilor 1",
                   city="Brasov", county="jud. Brașov", is_tax_payer=True)
RO_NON_PAYER = Party(name="Mic Client SRL", cif="14399840", address="Str. Mica 2", city="Iasi", county="Iaşi")
INDIVIDUAL = Party(name="Ion Popescu", cif="-", address="Str. Lunga 5", city="Brasov", county="Brasov")
INDIVIDUAL_CNP = Party(name="Ion Popescu", cif="1800101221144", address="Str. Lunga 5", city="Sibiu", county="SB")
BUCHAREST = Party(name="Client Bucuresti SRL", cif="RO14399840", address="Calea Victoriei 10",
                  city="Bucuresti Sector 1", county="Municipiul București", is_tax_payer=True)
GERMAN = Party(name="Kunde GmbH", cif="DE123456789", address="Hauptstrasse 1", city="Berlin",
               country="Germania", is_tax_payer=True)
GREEK = Party(name="Pelatis AE", cif="094012345", address="Odos Ermou 1", city="Athina", country="Grecia",
              is_tax_payer=True)
AMERICAN = Party(name="Customer Inc", cif="12-3456789", address="1 Main St", city="New York", country="SUA")


def product(qty: str, price: str, vat: VatRate | None = R21, **kw: object) -> ProductInput:
    fields: dict[str, object] = {"name": "Produs", "unit": "buc"}
    fields.update(kw)
    return ProductInput(quantity=D(qty), price=D(price), rate=vat, **fields)  # type: ignore[arg-type]


def document(items: list[ProductInput | DiscountInput], *, buyer: Party = RO_COMPANY, seller: Party = SELLER,
             currency: str = "RON", rate_ron: D | None = None, payer: bool = True, precision: int = 2,
             **kw: object) -> IssuedDocument:
    lines = compute_lines(items, currency=currency, precision=precision, vat_payer=payer)
    totals = summarize(lines, currency=currency, exchange_rate=rate_ron)
    return IssuedDocument(id=1, kind="invoice", series="FCT", number="0042", issue_date=DAY, currency=currency,
                          seller=seller, buyer=buyer, lines=lines, totals=totals, seller_vat_payer=payer,
                          exchange_rate=rate_ron, **kw)  # type: ignore[arg-type]


def storno_of(original: IssuedDocument, **extra: object) -> IssuedDocument:
    lines = negate(original.lines)
    return replace(original, number="0043", lines=lines,
                   totals=summarize(lines, currency=original.currency, exchange_rate=original.exchange_rate),
                   reverses=DocumentRef(original.series, original.number or "", original.issue_date),
                   issue_date=date(2026, 3, 5), **extra)


def mixed_with_discounts() -> IssuedDocument:
    return document([
        product("3", "10.33"), product("1", "7.77", R11),
        DiscountInput(name="Discount 15%", number_of_items=1, percentage=D("15")),
        product("2", "9.99"),
        DiscountInput(name="Discount fidelitate", number_of_items=4, value=D("3"), rate=R21),
    ])


SCENARIOS: dict[str, Callable[[], IssuedDocument]] = {
    "simple_ron_b2b": lambda: document([product("2", "10.50"), product("1", "3", R11)]),
    "b2b_buyer_not_vat_payer": lambda: document([product("1", "100")], buyer=RO_NON_PAYER),
    "b2c_without_cnp": lambda: document([product("1", "100")], buyer=INDIVIDUAL),
    "b2c_with_cnp": lambda: document([product("1", "100")], buyer=INDIVIDUAL_CNP),
    "bucharest_buyer_and_seller": lambda: document(
        [product("1", "100")], buyer=BUCHAREST,
        seller=replace(SELLER, address="Str. Sf. Vineri 3, sector 3", city="București", county="Bucuresti")),
    "eu_reverse_charge_ae": lambda: document([product("10", "50", REVERSE)], buyer=GERMAN),
    "eu_intra_community_k": lambda: document([product("10", "50", SDD)], buyer=GERMAN),
    "greek_intra_community_k": lambda: document([product("1", "80", SDD)], buyer=GREEK),
    "export_g": lambda: document([product("4", "25", SDD)], buyer=AMERICAN),
    "non_payer_seller_o": lambda: document(
        [product("2", "50", None), DiscountInput(name="Reducere", number_of_items=1, value=D("5"))], payer=False),
    "exempt_e": lambda: document([product("1", "100", SFDD), product("1", "50", EXEMPT)], buyer=RO_NON_PAYER),
    "mixed_rates_with_discounts": mixed_with_discounts,
    "vat_included_prices": lambda: document(
        [product("1", "100", tax_included=True)] * 5 + [product("3", "33.33", R11, tax_included=True)]),
    "eur_with_ron_vat": lambda: document([product("2", "10.50"), product("1", "99.99", R11)], currency="EUR",
                                         rate_ron=D("5.0912"), due_date=date(2026, 4, 1)),
    "storno": lambda: storno_of(mixed_with_discounts()),
    "storno_in_eur": lambda: storno_of(document([product("1", "10")], currency="EUR", rate_ron=D("5.0912"))),
    "credit_note": lambda: storno_of(mixed_with_discounts(), extra={"credit_note": True}),
    "vat_on_collection": lambda: document([product("1", "100")], vat_on_collection=True, due_date=date(2026, 4, 1)),
    "four_decimal_unit_prices": lambda: document(
        [product("3", "1.2345"), product("7", "0.0001"), product("1.5", "19.9999", R11)], precision=4),
    "four_hundred_lines": lambda: document(
        [product(str(i % 7 + 1), f"{i}.{i % 100:02d}", R21 if i % 3 else R11, name=f"Produs {i} " + "x" * 120,
                 description="descriere " * 30, code=f"P{i:04d}") for i in range(1, 401)]),
    "long_notes_and_partial_payment": lambda: document(
        [product("1", "100")], mentions="Mentiune lunga. " * 400, observations="Observatii\npe doua randuri",
        paid_amount=D("50.00")),
    "without_iban": lambda: document([product("1", "100")], seller=replace(SELLER, iban=None)),
}


def parse(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def texts(root: etree._Element, path: str) -> list[str]:
    return [str(x) for x in root.xpath(path, namespaces=NS)]


def text(root: etree._Element, path: str) -> str:
    found = texts(root, path)
    assert len(found) == 1, f"{path}: {found}"
    return found[0]


@pytest.fixture(scope="module")
def schemas(xsd_dir: Path) -> dict[str, etree.XMLSchema]:
    return {name: etree.XMLSchema(etree.parse(str(xsd_dir / "maindoc" / f"UBL-{name}-2.1.xsd")))
            for name in ("Invoice", "CreditNote")}


# -- validity -------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_scenario_is_valid_against_the_ubl_xsd(scenario: str, schemas: dict[str, etree.XMLSchema]) -> None:
    root = parse(build_ubl(SCENARIOS[scenario]()))
    schema = schemas[etree.QName(root).localname]
    assert schema.validate(root), "\n".join(str(e) for e in schema.error_log)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_scenario_passes_anaf_rules_without_fatal_findings(scenario: str, validator: Validator) -> None:
    report = validator.validate(build_ubl(SCENARIOS[scenario]()))
    assert report.ok, report.as_text()


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_scenario_raises_no_anaf_warnings(scenario: str, validator: Validator) -> None:
    report = validator.validate(build_ubl(SCENARIOS[scenario]()))
    assert not report.warnings, report.as_text()


# -- document header ------------------------------------------------------------------------------


def test_customization_id_is_cius_ro_1_0_1() -> None:
    assert text(parse(build_ubl(SCENARIOS["simple_ron_b2b"]())), "cbc:CustomizationID/text()") == CUSTOMIZATION_ID
    assert CUSTOMIZATION_ID.endswith("CIUS-RO:1.0.1")


def test_no_schema_location_is_ever_emitted() -> None:
    for scenario in ("simple_ron_b2b", "credit_note"):
        assert b"schemaLocation" not in build_ubl(SCENARIOS[scenario]())


def test_id_is_series_and_number_and_dates_are_iso() -> None:
    root = parse(build_ubl(document([product("1", "1")], due_date=date(2026, 4, 30))))
    assert text(root, "cbc:ID/text()") == "FCT0042"
    assert text(root, "cbc:IssueDate/text()") == "2026-03-02"
    assert text(root, "cbc:DueDate/text()") == "2026-04-30"
    assert text(root, "cbc:InvoiceTypeCode/text()") == "380"


def test_draft_without_number_cannot_be_reported() -> None:
    with pytest.raises(UblError, match="number"):
        build_ubl(replace(document([product("1", "1")]), number=None))


def test_proforma_is_not_reported() -> None:
    with pytest.raises(UblError, match="kind"):
        build_ubl(replace(document([product("1", "1")]), kind="proforma"))


# -- parties ----------------------------------------------------------------------------------------


def test_seller_vat_payer_has_ro_vat_id_and_trade_register_number() -> None:
    root = parse(build_ubl(SCENARIOS["simple_ron_b2b"]()))
    seller = "cac:AccountingSupplierParty/cac:Party"
    assert text(root, f"{seller}/cac:PartyTaxScheme/cbc:CompanyID/text()") == "RO18547290"
    assert text(root, f"{seller}/cac:PartyTaxScheme/cac:TaxScheme/cbc:ID/text()") == "VAT"
    assert text(root, f"{seller}/cac:PartyLegalEntity/cbc:CompanyID/text()") == "J12/1234/2020"
    assert text(root, f"{seller}/cac:PostalAddress/cbc:CountrySubentity/text()") == "RO-CJ"
    assert text(root, f"{seller}/cac:Contact/cbc:ElectronicMail/text()") == "facturi@firma.ro"


def test_buyer_vat_payer_has_bt48_with_ro_prefix() -> None:
    root = parse(build_ubl(SCENARIOS["simple_ron_b2b"]()))
    buyer = "cac:AccountingCustomerParty/cac:Party"
    assert text(root, f"{buyer}/cac:PartyTaxScheme/cbc:CompanyID/text()") == "RO14399840"
    assert text(root, f"{buyer}/cac:PostalAddress/cbc:CountrySubentity/text()") == "RO-BV"


def test_buyer_not_vat_payer_has_bt47_digits_and_no_vat_scheme() -> None:
    root = parse(build_ubl(SCENARIOS["b2b_buyer_not_vat_payer"]()))
    buyer = "cac:AccountingCustomerParty/cac:Party"
    assert texts(root, f"{buyer}/cac:PartyTaxScheme") == []
    assert text(root, f"{buyer}/cac:PartyLegalEntity/cbc:CompanyID/text()") == "14399840"


def test_individual_without_cnp_gets_thirteen_zeros_outside_any_vat_scheme() -> None:
    root = parse(build_ubl(SCENARIOS["b2c_without_cnp"]()))
    buyer = "cac:AccountingCustomerParty/cac:Party"
    assert text(root, f"{buyer}/cac:PartyLegalEntity/cbc:CompanyID/text()") == "0000000000000"
    assert texts(root, f"{buyer}/cac:PartyTaxScheme") == []


def test_individual_with_cnp_gets_the_cnp_in_bt47() -> None:
    root = parse(build_ubl(SCENARIOS["b2c_with_cnp"]()))
    assert text(root, "cac:AccountingCustomerParty/cac:Party/cac:PartyLegalEntity/cbc:CompanyID/text()") == \
        "1800101221144"


def test_bucharest_addresses_use_ro_b_and_the_sector_as_city() -> None:
    root = parse(build_ubl(SCENARIOS["bucharest_buyer_and_seller"]()))
    for role, sector in (("AccountingSupplierParty", "SECTOR3"), ("AccountingCustomerParty", "SECTOR1")):
        address = f"cac:{role}/cac:Party/cac:PostalAddress"
        assert text(root, f"{address}/cbc:CountrySubentity/text()") == "RO-B"
        assert text(root, f"{address}/cbc:CityName/text()") == sector


def test_foreign_buyer_address_has_country_and_no_subentity() -> None:
    root = parse(build_ubl(SCENARIOS["export_g"]()))
    address = "cac:AccountingCustomerParty/cac:Party/cac:PostalAddress"
    assert text(root, f"{address}/cac:Country/cbc:IdentificationCode/text()") == "US"
    assert text(root, f"{address}/cbc:CityName/text()") == "New York"
    assert texts(root, f"{address}/cbc:CountrySubentity") == []


def test_greek_buyer_vat_id_uses_the_el_prefix() -> None:
    root = parse(build_ubl(SCENARIOS["greek_intra_community_k"]()))
    assert text(root, "cac:AccountingCustomerParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID/text()") == \
        "EL094012345"


# -- VAT categories ---------------------------------------------------------------------------------


def categories(root: etree._Element) -> list[str]:
    return texts(root, "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:ID/text()")


def test_reverse_charge_is_ae_with_exemption_reason() -> None:
    root = parse(build_ubl(SCENARIOS["eu_reverse_charge_ae"]()))
    assert categories(root) == ["AE"]
    assert text(root, "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:TaxExemptionReason/text()") == "Taxare inversa"


def test_reverse_charge_without_buyer_vat_id_cannot_be_reported() -> None:
    with pytest.raises(UblError, match="buyer.cif"):
        build_ubl(document([product("1", "100", REVERSE)], buyer=INDIVIDUAL))


def test_exempt_with_deduction_to_eu_business_is_intra_community_k_with_delivery() -> None:
    root = parse(build_ubl(SCENARIOS["eu_intra_community_k"]()))
    assert categories(root) == ["K"]
    assert text(root, "cac:InvoiceLine/cac:Item/cac:ClassifiedTaxCategory/cbc:ID/text()") == "K"
    assert text(root, "cac:Delivery/cbc:ActualDeliveryDate/text()") == "2026-03-02"
    assert text(root, "cac:Delivery/cac:DeliveryLocation/cac:Address/cac:Country/cbc:IdentificationCode/text()") == "DE"


def test_exempt_with_deduction_to_buyer_outside_eu_is_export_g() -> None:
    root = parse(build_ubl(SCENARIOS["export_g"]()))
    assert categories(root) == ["G"]
    assert text(root, "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:TaxExemptionReasonCode/text()") == "VATEX-EU-G"


def test_exempt_with_deduction_to_romanian_buyer_stays_e() -> None:
    root = parse(build_ubl(document([product("1", "100", SDD)])))
    assert categories(root) == ["E"]
    assert text(root, "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:TaxExemptionReason/text()") == \
        "Scutit cu drept de deducere"


def test_exempt_lines_with_different_reasons_share_one_e_breakdown() -> None:
    root = parse(build_ubl(SCENARIOS["exempt_e"]()))
    assert categories(root) == ["E"]
    assert text(root, "cac:TaxTotal/cac:TaxSubtotal/cbc:TaxableAmount/text()") == "150.00"
    assert text(root, "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:TaxExemptionReason/text()") == \
        "Scutit fara drept de deducere; Scutit de TVA"


def test_non_payer_seller_reports_category_o_without_vat_ids_or_percent() -> None:
    root = parse(build_ubl(SCENARIOS["non_payer_seller_o"]()))
    assert categories(root) == ["O"]
    assert texts(root, "//cac:PartyTaxScheme") == []
    assert texts(root, "//cbc:Percent") == []
    assert text(root, "cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity/cbc:CompanyID/text()") == "18547290"
    assert text(root, "cac:AccountingCustomerParty/cac:Party/cac:PartyLegalEntity/cbc:CompanyID/text()") == "14399840"


def test_zero_standard_rate_is_reported_as_zero_rated_z() -> None:
    zero = VatRate("Zero", D("0"))
    root = parse(build_ubl(document([product("1", "10", zero)])))
    assert categories(root) == ["Z"]


# -- lines and amounts ------------------------------------------------------------------------------


def test_line_carries_unit_code_code_and_price() -> None:
    root = parse(build_ubl(document([product("2.5", "4.1234", unit="kg", code="ABC-1")], precision=4)))
    line = "cac:InvoiceLine"
    assert text(root, f"{line}/cbc:ID/text()") == "1"
    assert text(root, f"{line}/cbc:InvoicedQuantity/@unitCode") == "KGM"
    assert text(root, f"{line}/cbc:InvoicedQuantity/text()") == "2.5"
    assert text(root, f"{line}/cbc:LineExtensionAmount/text()") == "10.31"
    assert text(root, f"{line}/cac:Price/cbc:PriceAmount/text()") == "4.1234"
    assert text(root, f"{line}/cac:Item/cac:SellersItemIdentification/cbc:ID/text()") == "ABC-1"


def test_long_item_name_and_description_are_cut_to_the_cius_ro_limits() -> None:
    root = parse(build_ubl(SCENARIOS["four_hundred_lines"]()))
    names = texts(root, "cac:InvoiceLine/cac:Item/cbc:Name/text()")
    descriptions = texts(root, "cac:InvoiceLine/cac:Item/cbc:Description/text()")
    assert len(names) == 400
    assert max(map(len, names)) <= 100 and names[0].startswith("Produs 1 ")
    assert max(map(len, descriptions)) <= 200


def test_amounts_have_two_decimals_and_never_negative_zero() -> None:
    for scenario in SCENARIOS:
        root = parse(build_ubl(SCENARIOS[scenario]()))
        for element in root.iter():
            name = etree.QName(element).localname
            if name.endswith("Amount") and name != "PriceAmount":
                assert len(element.text.split(".")[1]) == 2, (scenario, name, element.text)
                assert element.text != "-0.00", (scenario, name)


def test_discounts_are_document_level_allowances_with_their_vat_category() -> None:
    root = parse(build_ubl(SCENARIOS["mixed_rates_with_discounts"]()))
    assert texts(root, "cac:AllowanceCharge/cbc:ChargeIndicator/text()") == ["false", "false"]
    assert texts(root, "cac:AllowanceCharge/cbc:AllowanceChargeReason/text()") == ["Discount 15%",
                                                                                  "Discount fidelitate"]
    assert texts(root, "cac:AllowanceCharge/cac:TaxCategory/cbc:Percent/text()") == ["11.00", "21.00"]
    doc = SCENARIOS["mixed_rates_with_discounts"]()
    total = "cac:LegalMonetaryTotal"
    assert text(root, f"{total}/cbc:LineExtensionAmount/text()") == str(doc.totals.line_total)
    assert text(root, f"{total}/cbc:AllowanceTotalAmount/text()") == str(doc.totals.allowance_total)
    assert text(root, f"{total}/cbc:TaxExclusiveAmount/text()") == str(doc.totals.net_total)
    assert text(root, f"{total}/cbc:TaxInclusiveAmount/text()") == str(doc.totals.gross_total)
    assert len(root.xpath("cac:InvoiceLine", namespaces=NS)) == 3


def test_partial_payment_is_prepaid_amount() -> None:
    root = parse(build_ubl(SCENARIOS["long_notes_and_partial_payment"]()))
    assert text(root, "cac:LegalMonetaryTotal/cbc:PrepaidAmount/text()") == "50.00"
    assert text(root, "cac:LegalMonetaryTotal/cbc:PayableAmount/text()") == "71.00"


def test_amount_with_more_than_two_decimals_cannot_be_reported() -> None:
    doc = document([product("1", "1.234")], currency="KWD", rate_ron=D("15"))
    with pytest.raises(UblError, match="2 zecimale"):
        build_ubl(doc)


# -- storno and credit note -------------------------------------------------------------------------


def test_storno_is_380_with_negative_quantities_positive_prices_and_reference() -> None:
    root = parse(build_ubl(SCENARIOS["storno"]()))
    assert text(root, "cbc:InvoiceTypeCode/text()") == "380"
    assert text(root, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID/text()") == "FCT0042"
    assert text(root, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:IssueDate/text()") == "2026-03-02"
    assert all(q.startswith("-") for q in texts(root, "cac:InvoiceLine/cbc:InvoicedQuantity/text()"))
    assert all(a.startswith("-") for a in texts(root, "cac:InvoiceLine/cbc:LineExtensionAmount/text()"))
    assert not any(p.startswith("-") for p in texts(root, "cac:InvoiceLine/cac:Price/cbc:PriceAmount/text()"))


def test_storno_reverses_discounts_as_document_level_charges() -> None:
    root = parse(build_ubl(SCENARIOS["storno"]()))
    assert texts(root, "cac:AllowanceCharge/cbc:ChargeIndicator/text()") == ["true", "true"]
    assert texts(root, "cac:LegalMonetaryTotal/cbc:AllowanceTotalAmount") == []
    original = mixed_with_discounts()
    assert text(root, "cac:LegalMonetaryTotal/cbc:ChargeTotalAmount/text()") == str(original.totals.allowance_total)
    assert text(root, "cac:LegalMonetaryTotal/cbc:PayableAmount/text()") == str(-original.totals.gross_total)


def test_credit_note_is_381_with_positive_amounts() -> None:
    root = parse(build_ubl(SCENARIOS["credit_note"]()))
    assert etree.QName(root).localname == "CreditNote"
    assert text(root, "cbc:CreditNoteTypeCode/text()") == "381"
    assert not any(q.startswith("-") for q in texts(root, "cac:CreditNoteLine/cbc:CreditedQuantity/text()"))
    assert not any(a.startswith("-") for a in texts(root, "//*[contains(local-name(), 'Amount')]/text()"))
    assert texts(root, "cac:AllowanceCharge/cbc:ChargeIndicator/text()") == ["false", "false"]
    assert text(root, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID/text()") == "FCT0042"


def test_credit_note_due_date_goes_to_payment_means() -> None:
    root = parse(build_ubl(replace(SCENARIOS["credit_note"](), due_date=date(2026, 4, 1))))
    assert texts(root, "cbc:DueDate") == []
    assert text(root, "cac:PaymentMeans/cbc:PaymentDueDate/text()") == "2026-04-01"


# -- currency, VAT on collection, notes, payment ----------------------------------------------------


def test_foreign_currency_adds_ron_tax_currency_and_ron_vat_total() -> None:
    doc = SCENARIOS["eur_with_ron_vat"]()
    root = parse(build_ubl(doc))
    assert text(root, "cbc:DocumentCurrencyCode/text()") == "EUR"
    assert text(root, "cbc:TaxCurrencyCode/text()") == "RON"
    assert texts(root, "cac:TaxTotal/cbc:TaxAmount/@currencyID") == ["EUR", "RON"]
    assert text(root, "cac:TaxTotal[2]/cbc:TaxAmount/text()") == str(doc.totals.vat_total_ron)
    assert texts(root, "cac:TaxTotal[2]/cac:TaxSubtotal") == []


def test_foreign_currency_without_exchange_rate_cannot_be_reported() -> None:
    with pytest.raises(UblError, match="exchange_rate"):
        build_ubl(document([product("1", "10")], currency="EUR"))


def test_vat_on_collection_uses_code_432_and_a_note_never_tax_point_date() -> None:
    root = parse(build_ubl(SCENARIOS["vat_on_collection"]()))
    assert text(root, "cac:InvoicePeriod/cbc:DescriptionCode/text()") == "432"
    assert texts(root, "cbc:Note/text()")[0] == "TVA la incasare"
    assert texts(root, "cbc:TaxPointDate") == []


def test_notes_are_at_most_twenty_of_at_most_300_characters() -> None:
    root = parse(build_ubl(SCENARIOS["long_notes_and_partial_payment"]()))
    notes = texts(root, "cbc:Note/text()")
    assert len(notes) == 20
    assert max(map(len, notes)) <= 300
    assert notes[0].startswith("Mentiune lunga. Mentiune lunga.")


def test_control_characters_are_removed_from_text() -> None:
    root = parse(build_ubl(document([product("1", "1", name="Produs\x01 cu\x0b control")], mentions="a\x00b")))
    assert text(root, "cac:InvoiceLine/cac:Item/cbc:Name/text()") == "Produs cu control"
    assert text(root, "cbc:Note/text()") == "a b"


def test_seller_iban_gives_credit_transfer_with_payee_account() -> None:
    root = parse(build_ubl(SCENARIOS["simple_ron_b2b"]()))
    assert text(root, "cac:PaymentMeans/cbc:PaymentMeansCode/text()") == "30"
    assert text(root, "cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID/text()") == "RO49AAAA1B31007593840000"


def test_without_iban_payment_means_is_not_defined() -> None:
    root = parse(build_ubl(SCENARIOS["without_iban"]()))
    assert text(root, "cac:PaymentMeans/cbc:PaymentMeansCode/text()") == "1"
    assert texts(root, "cac:PaymentMeans/cac:PayeeFinancialAccount") == []


def test_amount_due_without_due_date_gets_payment_terms() -> None:
    root = parse(build_ubl(SCENARIOS["simple_ron_b2b"]()))
    assert texts(root, "cbc:DueDate") == []
    assert text(root, "cac:PaymentTerms/cbc:Note/text()") == "Plata la primirea facturii"


def test_due_date_replaces_payment_terms() -> None:
    root = parse(build_ubl(SCENARIOS["vat_on_collection"]()))
    assert texts(root, "cac:PaymentTerms") == []


# -- errors and check_reportable -------------------------------------------------------------------


def test_unknown_romanian_county_is_an_error_naming_the_field() -> None:
    with pytest.raises(UblError, match=r"buyer\.county.*Atlantida"):
        build_ubl(document([product("1", "1")], buyer=replace(RO_COMPANY, county="Atlantida")))


def test_missing_county_of_a_romanian_address_is_an_error() -> None:
    with pytest.raises(UblError, match=r"seller\.county"):
        build_ubl(document([product("1", "1")], seller=replace(SELLER, county=None)))


def test_missing_city_is_an_error_naming_the_field() -> None:
    with pytest.raises(UblError, match=r"buyer\.city"):
        build_ubl(document([product("1", "1")], buyer=replace(RO_COMPANY, city="  ")))


def test_missing_street_is_an_error_naming_the_field() -> None:
    with pytest.raises(UblError, match=r"seller\.address"):
        build_ubl(document([product("1", "1")], seller=replace(SELLER, address=None)))


def test_bucharest_address_without_sector_is_an_error() -> None:
    with pytest.raises(UblError, match=r"buyer\.city"):
        build_ubl(document([product("1", "1")], buyer=replace(BUCHAREST, city="Bucuresti")))


def test_check_reportable_accepts_reportable_parties() -> None:
    check_reportable(SELLER, GERMAN)
    check_reportable(SELLER, INDIVIDUAL)


@pytest.mark.parametrize(
    ("seller", "buyer", "field"),
    [
        (replace(SELLER, cif="RO18547291"), RO_COMPANY, "seller.cif"),
        (SELLER, replace(RO_COMPANY, county="Narnia"), "buyer.county"),
        (SELLER, replace(GERMAN, country="Atlantis"), "buyer.country"),
        (SELLER, replace(INDIVIDUAL, address=""), "buyer.address"),
        (replace(SELLER, city=None), RO_COMPANY, "seller.city"),
    ],
)
def test_check_reportable_names_the_field_that_cannot_be_reported(seller: Party, buyer: Party, field: str) -> None:
    with pytest.raises(UblError) as caught:
        check_reportable(seller, buyer)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_not_subject_line_cannot_be_mixed_with_taxed_lines() -> None:
    with pytest.raises(UblError, match="categoria O"):
        build_ubl(document([product("1", "10"), product("1", "10", None)]))


def test_intra_community_k_line_needs_an_eu_buyer_with_vat_id() -> None:
    intra = VatRate("Intra", D("0"), "K")
    with pytest.raises(UblError, match="buyer.cif"):
        build_ubl(document([product("1", "10", intra)], buyer=AMERICAN))
