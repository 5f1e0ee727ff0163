"""The e-Factura validator on ANAF's samples and on samples broken one rule at a time; rules install."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from lxml import etree
from saxonche import PySaxonApiError

from punte.efactura import rules, schematron
from punte.efactura.rules import (
    ANAF_BUNDLE_SHA256,
    ANAF_BUNDLE_URL,
    BundleChecksumError,
    RulesInstallError,
    RulesNotInstalled,
    default_validator,
    install_bundle,
    installed_bundle,
    ubl_xsd_dir,
)
from punte.efactura.validator import Report, Validator

from .conftest import EFACTURA, NS, REPO, shared_missing_reason

# Module-level: without the shared material this whole module skips (and fails in CI).
_missing = shared_missing_reason()
if _missing is not None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"required in CI: {_missing} (repo {REPO})", pytrace=False)
    pytest.skip(_missing, allow_module_level=True)

Sample = Callable[..., etree._Element]
INVOICE = "anaf/eInvoice_ex.xml"
CREDIT_NOTE = "anaf/creditNote_ex.xml"


def validate(validator: Validator, root: etree._Element) -> Report:
    return validator.validate(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def one(root: etree._Element, path: str) -> etree._Element:
    found = root.xpath(path, namespaces=NS)
    assert len(found) == 1, f"{path} matched {len(found)} nodes"
    return found[0]


def set_text(path: str, value: str) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        one(root, path).text = value

    return edit


def remove(path: str) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        for node in root.xpath(path, namespaces=NS):
            node.getparent().remove(node)

    return edit


def shift(*paths: str, by: str = "1.00") -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        for path in paths:
            node = one(root, path)
            node.text = f"{Decimal(node.text) + Decimal(by):.2f}"

    return edit


def add_after(path: str, tag: str, text: str) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        prefix, local = tag.split(":")
        node = etree.Element(f"{{{NS[prefix]}}}{local}")
        node.text = text
        one(root, path).addnext(node)

    return edit


def chain(*edits: Callable[[etree._Element], None]) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        for e in edits:
            e(root)

    return edit


def move_line_amount_between_vat_rates(root: etree._Element) -> None:
    """+100 on a 5% line, -100 on a 9% line: totals still add up, the 5% and 9% breakdowns do not."""
    for rate, delta in (("5.00", "100"), ("9.00", "-100")):
        line = root.xpath(f"cac:InvoiceLine[cac:Item/cac:ClassifiedTaxCategory/cbc:Percent='{rate}']", namespaces=NS)[0]
        amount = line.find("cbc:LineExtensionAmount", NS)
        amount.text = f"{Decimal(amount.text) + Decimal(delta):.2f}"


def invoice_in_eur_without_ron_vat_currency(root: etree._Element) -> None:
    one(root, "cbc:DocumentCurrencyCode").text = "EUR"
    for amount in root.xpath("//*[@currencyID]"):
        amount.set("currencyID", "EUR")


def unpatched(root: etree._Element) -> None:
    one(root, "cbc:CustomizationID").text = "urn:cen.eu:en16931:2017#compliant#urn:efactura.mfinante.ro:CIUS-RO:1.0.0"


BUYER = "cac:AccountingCustomerParty/cac:Party"
SELLER = "cac:AccountingSupplierParty/cac:Party"
TOTALS = "cac:LegalMonetaryTotal"

# rule id -> (base sample, minimal edit). Each edit breaks exactly that one rule.
BROKEN: dict[str, tuple[str, Callable[[etree._Element], None]]] = {
    "BR-RO-001": (INVOICE, unpatched),
    "BR-RO-020_1": (INVOICE, set_text("cbc:InvoiceTypeCode", "383")),  # ANAF's id for BR-RO-020 on invoices
    "BR-RO-020_2": (CREDIT_NOTE, set_text("cbc:CreditNoteTypeCode", "396")),  # ... and on credit notes
    "BR-RO-030": (INVOICE, invoice_in_eur_without_ron_vat_currency),
    "BR-RO-010": (INVOICE, set_text("cbc:ID", "ABC")),
    "BR-RO-081": (INVOICE, remove(f"{SELLER}/cac:PostalAddress/cbc:StreetName")),
    "BR-RO-082": (INVOICE, remove(f"{BUYER}/cac:PostalAddress/cbc:StreetName")),
    "BR-RO-092": (INVOICE, remove(f"{BUYER}/cac:PostalAddress/cbc:CityName")),
    "BR-RO-100": (INVOICE, set_text(f"{SELLER}/cac:PostalAddress/cbc:CityName", "Bucuresti")),  # report
    "BR-RO-101": (INVOICE, set_text(f"{BUYER}/cac:PostalAddress/cbc:CountrySubentity", "RO-B")),  # report
    "BR-RO-110": (INVOICE, set_text(f"{SELLER}/cac:PostalAddress/cbc:CountrySubentity", "B")),  # report
    "BR-RO-111": (INVOICE, set_text(f"{BUYER}/cac:PostalAddress/cbc:CountrySubentity", "RO-XX")),  # report
    "BR-RO-120": (INVOICE, remove(f"{BUYER}/cac:PartyLegalEntity/cbc:CompanyID | {BUYER}/cac:PartyTaxScheme")),
    "BR-RO-A020": (INVOICE, chain(*(add_after("cbc:Note[1]", "cbc:Note", f"note {i}") for i in range(20)))),
    "BR-RO-L302": (INVOICE, set_text("cbc:Note", "x" * 301)),
    "BR-RO-L1024": (INVOICE, set_text("cac:InvoiceLine[1]/cac:Item/cbc:Name", "x" * 101)),
    "BR-CO-03": (INVOICE, chain(
        add_after("cbc:Note", "cbc:TaxPointDate", "2022-05-31"),
        add_after("cac:InvoicePeriod/cbc:EndDate", "cbc:DescriptionCode", "3"),
    )),
    "BR-CO-09": (INVOICE, set_text(f"{SELLER}/cac:PartyTaxScheme/cbc:CompanyID", "1234567890")),
    "BR-CO-10": (INVOICE, shift(*(f"{TOTALS}/cbc:{n}" for n in
                                  ("LineExtensionAmount", "TaxExclusiveAmount", "TaxInclusiveAmount", "PayableAmount")))),
    "BR-CO-13": (INVOICE, shift(*(f"{TOTALS}/cbc:{n}" for n in ("TaxExclusiveAmount", "TaxInclusiveAmount", "PayableAmount")))),
    "BR-CO-14": (INVOICE, shift("cac:TaxTotal/cbc:TaxAmount", f"{TOTALS}/cbc:TaxInclusiveAmount", f"{TOTALS}/cbc:PayableAmount")),
    "BR-CO-15": (INVOICE, shift(f"{TOTALS}/cbc:TaxInclusiveAmount", f"{TOTALS}/cbc:PayableAmount")),
    "BR-CO-16": (INVOICE, shift(f"{TOTALS}/cbc:PayableAmount")),
    "BR-CO-25": (INVOICE, remove("cbc:DueDate")),
    "BR-S-08": (INVOICE, move_line_amount_between_vat_rates),
    "BR-27": (INVOICE, set_text("cac:InvoiceLine[1]/cac:Price/cbc:PriceAmount", "-1.00")),
    "BR-06": (INVOICE, set_text(f"{SELLER}/cac:PartyLegalEntity/cbc:RegistrationName", "")),
    "BR-61": (INVOICE, chain(set_text("cac:PaymentMeans/cbc:PaymentMeansCode", "30"),
                             remove("cac:PaymentMeans/cac:PayeeFinancialAccount"))),
    "BR-CL-14": (INVOICE, set_text(f"{BUYER}/cac:PostalAddress/cac:Country/cbc:IdentificationCode", "XX")),
}

# Rules that cannot fail alone on an XSD-valid document: what fires with them, and why.
BROKEN_TOGETHER: dict[str, tuple[str, Callable[[etree._Element], None], set[str]]] = {
    # an empty invoice number has no digit either
    "BR-02": (INVOICE, set_text("cbc:ID", ""), {"BR-02", "BR-RO-010"}),
    # without a document currency the RON/TaxCurrencyCode rule cannot hold
    "BR-05": (INVOICE, remove("cbc:DocumentCurrencyCode"), {"BR-05", "BR-RO-030"}),
    # BR-S-09 repeats BR-CO-17's arithmetic for category S
    "BR-CO-17": (INVOICE, shift("cac:TaxTotal/cac:TaxSubtotal[1]/cbc:TaxAmount", "cac:TaxTotal/cbc:TaxAmount",
                                f"{TOTALS}/cbc:TaxInclusiveAmount", f"{TOTALS}/cbc:PayableAmount", by="2.00"),
                 {"BR-CO-17", "BR-S-09"}),
}


@pytest.mark.parametrize("name", [INVOICE, CREDIT_NOTE])
def test_anaf_sample_patched_to_1_0_1_has_no_fatal_finding(validator: Validator, sample: Sample, name: str) -> None:
    report = validate(validator, sample(name))
    assert report.ok, report.as_text()
    assert report.fatal == []


@pytest.mark.parametrize("name", [INVOICE, CREDIT_NOTE])
def test_anaf_sample_as_published_fails_only_br_ro_001(validator: Validator, sample: Sample, name: str) -> None:
    report = validate(validator, sample(name, patch=False))
    assert not report.ok
    assert report.rule_ids() == {"BR-RO-001"}


RO_ADAPTED = sorted(p.name for p in (EFACTURA / "examples" / "ro-adapted").glob("*.xml"))


@pytest.mark.parametrize("name", [n for n in RO_ADAPTED if n != "ubl_b2g_example6.xml"])
def test_ro_adapted_sample_passes(validator: Validator, examples_dir: Path, name: str) -> None:
    report = validator.validate_file(examples_dir / "ro-adapted" / name)
    assert report.ok, report.as_text()


def test_ro_adapted_example6_fails_br_ro_111_br_ro_170_and_br_s_08(validator: Validator, examples_dir: Path) -> None:
    report = validator.validate_file(examples_dir / "ro-adapted" / "ubl_b2g_example6.xml")
    assert report.rule_ids() == {"BR-RO-111", "BR-RO-170", "BR-S-08"}


@pytest.mark.parametrize("rule_id", sorted(BROKEN))
def test_minimal_edit_breaks_exactly_one_rule(validator: Validator, sample: Sample, rule_id: str) -> None:
    base, edit = BROKEN[rule_id]
    root = sample(base)
    edit(root)
    report = validate(validator, root)
    assert report.rule_ids() == {rule_id}, report.as_text()
    assert all(f.source == "schematron" for f in report.fatal)


@pytest.mark.parametrize("rule_id", sorted(BROKEN_TOGETHER))
def test_rule_that_cannot_fail_alone_fires_with_its_companions(validator: Validator, sample: Sample, rule_id: str) -> None:
    base, edit, expected = BROKEN_TOGETHER[rule_id]
    root = sample(base)
    edit(root)
    assert validate(validator, root).rule_ids() == expected


def test_report_rule_finding_carries_location_and_message(validator: Validator, sample: Sample) -> None:
    root = sample(INVOICE)
    BROKEN["BR-RO-101"][1](root)
    (finding,) = validate(validator, root).fatal
    assert finding.location == "/Invoice"
    assert finding.text.startswith("[BR-RO-100]-Daca Codul tarii Cumparatorului (BT-55) este RO")
    assert "SECTOR-RO" in finding.text and "\n" not in finding.text


def test_message_includes_the_evaluated_value_and_node_location(validator: Validator, sample: Sample) -> None:
    root = sample(INVOICE)
    BROKEN["BR-27"][1](root)
    (finding,) = validate(validator, root).fatal
    assert finding.location == "/Invoice/cac:InvoiceLine[1]/cac:Price/cbc:PriceAmount"
    assert finding.text.endswith("(cbc:PriceAmount = '-1.00')")
    assert "Preţul net al articolului" in finding.text  # diacritics survive the Saxon round trip


def test_non_numeric_amount_is_an_xsd_finding_and_skips_the_schematron(
    validator: Validator, sample: Sample, monkeypatch: pytest.MonkeyPatch
) -> None:
    def schematron_must_not_run(text: str) -> tuple[()]:
        raise AssertionError("schematron ran after an XSD failure")

    monkeypatch.setattr(validator, "_run_schematron", schematron_must_not_run)
    root = sample(INVOICE)
    one(root, f"{TOTALS}/cbc:PayableAmount").text = "12,50"
    report = validate(validator, root)
    assert not report.ok
    assert {(f.rule_id, f.source, f.flag) for f in report.findings} == {("XSD", "xsd", "fatal")}
    assert "PayableAmount" in report.fatal[0].text


def test_dynamic_error_in_the_rules_is_a_fatal_finding_not_a_crash(
    validator: Validator, examples_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Failing:
        def transform_to_string(self, **kwargs: object) -> str:
            raise PySaxonApiError("FORG0001 cannot convert")

    monkeypatch.setattr(validator, "_thread_executable", lambda: Failing())
    report = validator.validate_file(examples_dir / "ro-adapted" / "ubl_b2g_example1.xml")
    assert [(f.rule_id, f.flag, f.source) for f in report.findings] == [("SCHEMATRON", "fatal", "schematron")]
    assert "FORG0001" in report.findings[0].text


def test_missing_mandatory_element_is_an_xsd_finding(validator: Validator, sample: Sample) -> None:
    root = sample(INVOICE)
    remove("cac:InvoiceLine")(root)  # BR-16 cannot be reached: the XSD already demands a line
    assert validate(validator, root).rule_ids() == {"XSD"}


def test_not_well_formed_input_is_rejected_clearly(validator: Validator) -> None:
    report = validator.validate(b"<Invoice><unclosed></Invoice>")
    assert [(f.rule_id, f.flag) for f in report.findings] == [("XML", "fatal")]
    assert "not well-formed" in report.findings[0].text


def test_non_xml_input_is_rejected(validator: Validator) -> None:
    assert validator.validate(b"%PDF-1.7 not xml").rule_ids() == {"XML"}


def test_wrong_root_element_is_rejected(validator: Validator) -> None:
    report = validator.validate(b"<Order xmlns='urn:oasis:names:specification:ubl:schema:xsd:Order-2'/>")
    assert report.rule_ids() == {"ROOT"}
    assert "Invoice" in report.fatal[0].text and "CreditNote" in report.fatal[0].text


def test_doctype_is_refused(validator: Validator) -> None:
    data = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><Invoice>&e;</Invoice>'
    assert validator.validate(data).rule_ids() == {"XML"}


def test_text_input_gives_the_same_report_as_bytes(validator: Validator, examples_dir: Path) -> None:
    path = examples_dir / "ro-adapted" / "ubl_b2g_example6.xml"
    assert validator.validate(path.read_text(encoding="utf-8")) == validator.validate(path.read_bytes())


def test_warnings_do_not_make_a_report_fail(validator: Validator, examples_dir: Path) -> None:
    report = validator.validate_file(examples_dir / "ro-adapted" / "ubl_b2g_example0.xml")
    assert report.ok and report.warnings and report.fatal == []


def test_as_text_lists_each_finding_with_rule_and_location(validator: Validator, sample: Sample) -> None:
    text = validate(validator, sample(INVOICE, patch=False)).as_text()
    assert text.splitlines()[0] == "e-Factura validation: INVALID (1 fatal, 0 warnings)"
    assert "[fatal] BR-RO-001 at /Invoice (schematron): [BR-RO-001]" in text


def test_ten_line_invoice_is_valid_and_validates_quickly(validator: Validator, ten_line_invoice: bytes) -> None:
    assert validator.validate(ten_line_invoice).ok
    start = time.perf_counter()
    for _ in range(20):
        validator.validate(ten_line_invoice)
    assert (time.perf_counter() - start) / 20 < 0.1  # about 10 ms in practice; this only catches recompiling


def test_concurrent_validation_from_threads_gives_the_serial_results(validator: Validator, examples_dir: Path) -> None:
    docs = [(examples_dir / "ro-adapted" / n).read_bytes() for n in ("ubl_b2g_example6.xml", "ubl_b2g_example10.xml")]
    expected = [validator.validate(d) for d in docs]
    mismatches: list[int] = []

    def work(index: int) -> None:
        for _ in range(15):
            if validator.validate(docs[index % 2]) != expected[index % 2]:
                mismatches.append(index)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert mismatches == []


def test_second_validator_reuses_the_compiled_xslt_on_disk(
    validator: Validator, bundle_path: Path, xsd_dir: Path, xslt_cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached = validator.compiled.path
    assert cached is not None and cached.parent == xslt_cache_dir
    mtime = cached.stat().st_mtime_ns

    def no_compiling(*args: object) -> str:
        raise AssertionError("compiled again")

    monkeypatch.setattr(schematron, "compile_schematron", no_compiling)
    again = Validator(bundle_path, xsd_dir, xslt_cache_dir)
    assert again.compiled.from_cache and again.compiled.path == cached
    assert cached.stat().st_mtime_ns == mtime


# ------------------------------------------------------------------ rules installation


def test_install_bundle_refuses_a_file_with_the_wrong_sha256(tmp_path: Path) -> None:
    fake = tmp_path / "ro16931-ubl-1.0.9.zip"
    fake.write_bytes(b"PK not really")
    with pytest.raises(BundleChecksumError, match=ANAF_BUNDLE_SHA256):
        install_bundle(tmp_path / "data", source_path=fake)
    assert installed_bundle(tmp_path / "data") is None


def test_install_bundle_accepts_anafs_file(tmp_path: Path, bundle_path: Path) -> None:
    path = install_bundle(tmp_path / "data", source_path=bundle_path)
    assert path == installed_bundle(tmp_path / "data") == tmp_path / "data" / "rules" / bundle_path.name
    assert hashlib.sha256(path.read_bytes()).hexdigest() == ANAF_BUNDLE_SHA256


def test_install_bundle_downloads_through_the_given_transport(tmp_path: Path, bundle_path: Path) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, content=bundle_path.read_bytes())

    path = install_bundle(tmp_path / "data", transport=httpx.MockTransport(handler))
    assert seen == [ANAF_BUNDLE_URL]
    assert path.read_bytes() == bundle_path.read_bytes()


def test_downloaded_bundle_with_the_wrong_sha256_is_refused(tmp_path: Path) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"<html>maintenance</html>"))
    with pytest.raises(BundleChecksumError):
        install_bundle(tmp_path / "data", transport=transport)
    assert installed_bundle(tmp_path / "data") is None


def test_http_error_during_download_says_how_to_install_by_hand(tmp_path: Path) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(404))
    with pytest.raises(RulesInstallError, match="--from PATH"):
        install_bundle(tmp_path / "data", transport=transport)


def test_default_validator_without_rules_says_to_run_punte_rules_install(tmp_path: Path) -> None:
    with pytest.raises(RulesNotInstalled, match=r"punte rules install"):
        default_validator(tmp_path / "empty")


def test_default_validator_without_xsd_points_to_xsd_from(tmp_path: Path, bundle_path: Path) -> None:
    install_bundle(tmp_path / "data", source_path=bundle_path)
    with pytest.raises(RulesNotInstalled, match="UBL 2.1 schemas.*--xsd-from"):
        default_validator(tmp_path / "data")


def test_installed_rules_and_xsd_give_a_cached_default_validator(
    tmp_path: Path, bundle_path: Path, xsd_dir: Path, validator: Validator, examples_dir: Path
) -> None:
    data = tmp_path / "data"
    install_bundle(data, source_path=bundle_path, xsd_source=xsd_dir)
    assert (ubl_xsd_dir(data) / "maindoc" / "UBL-Invoice-2.1.xsd").is_file()
    assert validator.compiled.path is not None  # seed the cache so this test does not compile again
    cache = rules.rules_dir(data) / "cache"
    cache.mkdir(parents=True)
    shutil.copy(validator.compiled.path, cache / validator.compiled.path.name)
    first = default_validator(data)
    assert first is default_validator(data)
    assert first.compiled.from_cache
    assert first.validate_file(examples_dir / "ro-adapted" / "ubl_b2g_example1.xml").ok


def test_xsd_install_accepts_the_oasis_zip_layout(tmp_path: Path, xsd_dir: Path) -> None:
    archive = tmp_path / "UBL-2.1.zip"
    shutil.make_archive(str(archive.with_suffix("")), "zip", root_dir=xsd_dir.parent, base_dir=xsd_dir.name)
    target = rules.install_xsd(tmp_path / "data", archive)
    assert (target / "maindoc" / "UBL-CreditNote-2.1.xsd").is_file()
    assert (target / "common" / "UBL-CommonBasicComponents-2.1.xsd").is_file()


def test_xsd_install_refuses_a_directory_without_ubl_schemas(tmp_path: Path) -> None:
    (tmp_path / "nothing").mkdir()
    with pytest.raises(RulesInstallError, match="UBL-Invoice-2.1.xsd"):
        rules.install_xsd(tmp_path / "data", tmp_path / "nothing")
