"""PDF rendering: what a reader of the PDF sees, checked through the PDF's extracted text."""

from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import replace
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest
from pypdf import PdfReader

from punte.domain.documents import (
    INVOICE,
    PROFORMA,
    RECEIPT,
    DiscountInput,
    DocumentRef,
    IssuedDocument,
    Party,
    ProductInput,
    compute_lines,
    negate,
    summarize,
)
from punte.domain.vat import VatRate
from punte.render import FONT_DIR_ENV, FontNotFoundError, find_font_dir, render_pdf
from punte.render import pdf as pdf_module
from punte.render.i18n import LANGUAGES, NumberFormat, labels_for

R21 = VatRate("Normala", D("21"))
R11 = VatRate("Redusa", D("11"))
SELLER = Party(
    "Tehnologii Digitale Ardeal SRL", cif="RO12345678", reg_com="J08/1234/2015", address="Str. Mureșenilor nr. 12",
    city="Sibiu", county="Sibiu", country="România", iban="RO49AAAA1B31007593840000", bank="Banca Transilvania",
    is_tax_payer=True,
)
BUYER = Party(
    "Societatea Ștefănescu și Fiii SRL", cif="RO87654321", reg_com="J08/999/2010", address="Str. Lungă nr. 5",
    city="Brașov", county="Brașov", country="România",
)

Item = ProductInput | DiscountInput


def standard_items() -> list[Item]:
    """2 x 1500 at 21%, 3 x 49.99 at 11%, then 10% off the 49.99 line.

    Net 3000.00 + 149.97 - 15.00 = 3134.97; VAT 630.00 + 14.85 (11% of 134.97) = 644.85; total 3779.82.
    """
    return [
        ProductInput("Laptop ușor", D(2), D(1500), "buc", R21, description="Garanție 24 de luni", code="LPT-14",
                     translated_name="Light laptop", translated_unit="pcs"),
        ProductInput("Cablu de rețea", D(3), D("49.99"), "buc", R11, translated_name="Network cable"),
        DiscountInput("Reducere fidelitate", 1, percentage=D(10), translated_name="Loyalty discount"),
    ]


def make_doc(
    items: list[Item] | None = None,
    *,
    currency: str = "RON",
    exchange_rate: D | None = None,
    vat_payer: bool = True,
    storno: bool = False,
    precision: int = 2,
    **fields: object,
) -> IssuedDocument:
    """An issued document built with the real arithmetic (compute_lines + summarize)."""
    lines = compute_lines(items or standard_items(), currency=currency, precision=precision, vat_payer=vat_payer)
    if storno:
        lines = negate(lines)
    totals = summarize(lines, currency=currency, exchange_rate=exchange_rate)
    doc = IssuedDocument(
        id=1, kind=INVOICE, series="TDA", number="0042", issue_date=date(2025, 9, 1), currency=currency,
        seller=replace(SELLER, is_tax_payer=vat_payer), buyer=BUYER, lines=lines, totals=totals,
        seller_vat_payer=vat_payer, due_date=date(2025, 9, 15), delivery_date=date(2025, 8, 29),
        exchange_rate=exchange_rate, precision=precision,
    )
    return replace(doc, **fields)  # type: ignore[arg-type]


def many_items(n: int) -> list[Item]:
    return [ProductInput(f"Articol de inventar {i}", D(1), D(10) + i, "buc", R21) for i in range(1, n + 1)]


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def text_of(doc: IssuedDocument, **kwargs: object) -> str:
    return "\n".join(pages_text(render_pdf(doc, **kwargs)))  # type: ignore[arg-type]


def lines_of(doc: IssuedDocument) -> list[str]:
    return [line.strip() for line in text_of(doc).splitlines()]


def follows(lines: list[str], *expected: str) -> bool:
    """Whether ``expected`` appears as consecutive text lines (one drawn string per line)."""
    n = len(expected)
    return any(tuple(lines[i : i + n]) == expected for i in range(len(lines) - n + 1))


# ---- the document ----------------------------------------------------------------------------


def test_output_is_a_pdf() -> None:
    pdf = render_pdf(make_doc())
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")


def test_title_series_and_number() -> None:
    text = text_of(make_doc())
    assert "FACTURĂ" in text
    assert "Seria TDA nr. 0042" in text


def test_buyer_name_and_city_keep_their_diacritics() -> None:
    lines = lines_of(make_doc())
    assert "Societatea Ștefănescu și Fiii SRL" in lines
    assert "Brașov, Brașov, România" in lines


def test_seller_block_shows_identifiers_and_bank() -> None:
    lines = lines_of(make_doc())
    for expected in ("Tehnologii Digitale Ardeal SRL", "CIF: RO12345678", "Reg. Com.: J08/1234/2015",
                     "Adresa: Str. Mureșenilor nr. 12", "IBAN: RO49AAAA1B31007593840000",
                     "Banca: Banca Transilvania"):
        assert expected in lines


def test_dates_are_day_month_year() -> None:
    lines = lines_of(make_doc())
    assert follows(lines, "01.09.2025", "Data emiterii:")
    assert follows(lines, "15.09.2025", "Data scadenței:")
    assert follows(lines, "29.08.2025", "Data livrării:")


def test_line_shows_name_description_unit_quantity_price_value_and_vat() -> None:
    lines = lines_of(make_doc())
    assert follows(lines, "1", "Laptop ușor", "Cod: LPT-14", "Garanție 24 de luni", "buc", "2", "1.500,00",
                   "3.000,00", "21%", "630,00")


def test_discount_is_a_negative_line() -> None:
    lines = lines_of(make_doc())
    assert follows(lines, "3", "Reducere fidelitate", "buc", "1", "-15,00", "-15,00", "11%", "-1,65")


def test_unit_price_has_the_document_precision() -> None:
    lines = lines_of(make_doc(precision=4))
    assert follows(lines, "Cablu de rețea", "buc", "3", "49,9900", "149,97")


def test_totals_in_romanian_number_format() -> None:
    lines = lines_of(make_doc())
    assert follows(lines, "Total fără TVA", "3.134,97 RON")
    assert follows(lines, "Total TVA", "644,85 RON")
    assert follows(lines, "Total de plată", "3.779,82 RON")


def test_vat_breakdown_per_rate() -> None:
    lines = lines_of(make_doc())
    assert follows(lines, "21%", "3.000,00", "630,00")
    assert follows(lines, "11%", "134,97", "14,85")


def test_foreign_currency_shows_exchange_rate_and_ron_equivalents() -> None:
    doc = make_doc(currency="EUR", exchange_rate=D("4.9750"))
    lines = lines_of(doc)
    assert doc.totals.vat_total_ron == D("3208.13") and doc.totals.gross_total_ron == D("18804.60")
    assert follows(lines, "Total de plată", "3.779,82 EUR")
    assert follows(lines, "Curs valutar", "1 EUR = 4,9750 RON")
    assert follows(lines, "Total TVA (RON)", "3.208,13 RON")
    assert follows(lines, "Total de plată (RON)", "18.804,60 RON")


def test_vat_on_collection_is_mentioned() -> None:
    assert "TVA la încasare" in text_of(make_doc(vat_on_collection=True))
    assert "TVA la încasare" not in text_of(make_doc())


def test_storno_names_the_reversed_invoice() -> None:
    doc = make_doc(storno=True, reverses=DocumentRef("TDA", "0041", date(2025, 8, 20)))
    lines = lines_of(doc)
    assert "FACTURĂ STORNO" in lines
    assert "Storno la factura TDA 0041 din 20.08.2025" in lines
    assert follows(lines, "Total de plată", "-3.779,82 RON")


def test_cancelled_document_is_marked_on_every_page() -> None:
    pages = pages_text(render_pdf(make_doc(many_items(80), status="cancelled")))
    assert len(pages) > 1
    assert all("ANULATĂ" in page for page in pages)


def test_issued_document_has_no_cancelled_mark() -> None:
    assert "ANULATĂ" not in text_of(make_doc())


def test_draft_without_number_is_marked() -> None:
    assert "CIORNĂ" in text_of(make_doc(number=None))


def test_non_vat_payer_has_no_vat_columns_and_the_legal_mention() -> None:
    items: list[Item] = [ProductInput("Consultanță", D("1.5"), D(300), "oră", None)]
    lines = lines_of(make_doc(items, vat_payer=False))
    assert "Furnizor neplătitor de TVA" in lines
    assert not any("Cota" in line or "Valoare TVA" in line or "Total TVA" in line for line in lines)
    assert follows(lines, "Consultanță", "oră", "1,5", "300,00", "450,00")
    assert follows(lines, "Total de plată", "450,00 RON")


def test_mentions_are_printed() -> None:
    lines = lines_of(make_doc(mentions="Plata în 14 zile.\nVă mulțumim!"))
    assert follows(lines, "Mențiuni:", "Plata în 14 zile.", "Vă mulțumim!")


def test_payment_and_view_links_are_shown_and_clickable() -> None:
    pay, view = "https://pay.example.invalid/p/TDA0042", "https://punte.example.invalid/d/abc"
    pdf = render_pdf(make_doc(payment_url=pay), view_url=view)
    text = "\n".join(pages_text(pdf))
    assert f"Plătește online: {pay}" in text
    assert f"Vezi documentul online: {view}" in text
    annotations = PdfReader(io.BytesIO(pdf)).pages[0]["/Annots"]
    uris = [annotations[i].get_object()["/A"]["/URI"] for i in range(len(annotations))]  # type: ignore[arg-type,index]
    assert uris == [pay, view]


def test_issuer_and_delegate_fields() -> None:
    doc = make_doc(issuer_name="Ana Popescu", issuer_cnp="2850101080011", delegate_name="Ion Ionescu",
                   delegate_identity_card="BV 123456", delegate_auto="BV-12-ABC")
    lines = lines_of(doc)
    assert "Întocmit de: Ana Popescu · CNP: 2850101080011" in lines
    assert "Numele delegatului: Ion Ionescu · B.I./C.I.: BV 123456 · Mijloc de transport: BV-12-ABC" in lines


def test_paid_amount_shows_the_balance() -> None:
    lines = lines_of(make_doc(paid_amount=D("1000")))
    assert follows(lines, "Încasat", "1.000,00 RON", "Rest de plată", "2.779,82 RON")


@pytest.mark.parametrize(("kind", "title"), [(PROFORMA, "FACTURĂ PROFORMĂ"), (RECEIPT, "CHITANȚĂ")])
def test_title_follows_the_kind(kind: str, title: str) -> None:
    assert title in lines_of(make_doc(kind=kind))


def test_receipt_states_the_amount_received() -> None:
    text = text_of(make_doc(kind=RECEIPT))
    assert "Am primit de la Societatea Ștefănescu și Fiii SRL suma de 3.779,82 RON." in text


# ---- languages ---------------------------------------------------------------------------------


def test_english_document_uses_english_labels_names_and_numbers() -> None:
    lines = lines_of(make_doc(language="EN"))
    assert "INVOICE" in lines and "Series TDA no. 0042" in lines
    assert follows(lines, "01.09.2025", "Issue date:")
    assert follows(lines, "1", "Light laptop", "Code: LPT-14", "Garanție 24 de luni", "pcs", "2", "1,500.00")
    assert "Loyalty discount" in lines
    assert follows(lines, "Total due", "3,779.82 RON")
    assert not any("Total de plată" in line for line in lines)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_prints_its_title_and_total_label(language: str) -> None:
    labels = labels_for(language)
    lines = lines_of(make_doc(language=language))
    assert labels["invoice"].upper() in lines
    assert labels["total_due"] in lines


def test_unknown_language_falls_back_to_english() -> None:
    assert "INVOICE" in lines_of(make_doc(language="PL"))


@pytest.mark.parametrize(
    ("language", "expected"),
    [("RO", "-1.234.567,89"), ("EN", "-1,234,567.89"), ("DE", "-1.234.567,89"), ("FR", "-1\u00a0234\u00a0567,89")],
)
def test_number_format_per_language(language: str, expected: str) -> None:
    assert NumberFormat(language).number(D("-1234567.885"), 2) == expected


def test_quantities_keep_only_their_own_decimals() -> None:
    nf = NumberFormat("RO")
    assert [nf.quantity(D(q)) for q in ("2", "2.000", "1.50", "0.333", "1E+1")] == ["2", "2", "1,5", "0,333", "10"]


# ---- pagination -------------------------------------------------------------------------------


def test_hundred_lines_paginate_with_repeated_header_and_page_numbers() -> None:
    pages = pages_text(render_pdf(make_doc(many_items(100))))
    assert len(pages) > 1
    for number, page in enumerate(pages, start=1):
        assert f"Pagina {number} din {len(pages)}" in page
    assert all("Denumirea produselor sau a serviciilor" in page for page in pages[:-1])


def test_hundred_lines_all_printed_once() -> None:
    lines = lines_of(make_doc(many_items(100)))
    for i in range(1, 101):
        assert lines.count(f"Articol de inventar {i}") == 1


def test_long_mentions_flow_onto_further_pages() -> None:
    mentions = "\n".join(f"Condiția contractuală numărul {i}." for i in range(1, 121))
    pages = pages_text(render_pdf(make_doc(mentions=mentions)))
    lines = [line.strip() for page in pages for line in page.splitlines()]
    assert len(pages) > 1
    assert all(lines.count(f"Condiția contractuală numărul {i}.") == 1 for i in range(1, 121))


def test_totals_come_after_the_last_line() -> None:
    lines = lines_of(make_doc(many_items(100)))
    assert lines.index("Articol de inventar 100") < lines.index("Total de plată")


# ---- output properties and fonts --------------------------------------------------------------


def test_same_document_renders_to_the_same_bytes() -> None:
    assert render_pdf(make_doc()) == render_pdf(make_doc())


def test_font_dir_argument_without_fonts_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FontNotFoundError, match="font_dir"):
        render_pdf(make_doc(), font_dir=tmp_path)


def test_font_dir_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    system = find_font_dir()
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"):
        (tmp_path / name).symlink_to(system / name)
    monkeypatch.setenv(FONT_DIR_ENV, str(tmp_path))
    assert find_font_dir() == tmp_path
    assert "Societatea Ștefănescu și Fiii SRL" in text_of(make_doc())


def test_font_dir_from_environment_without_fonts_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(FONT_DIR_ENV, str(tmp_path))
    with pytest.raises(FontNotFoundError, match=FONT_DIR_ENV):
        find_font_dir()


def test_missing_fonts_error_names_the_debian_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(FONT_DIR_ENV, raising=False)
    monkeypatch.setattr(pdf_module, "SYSTEM_FONT_DIRS", (str(tmp_path),))
    monkeypatch.setattr(pdf_module, "_package_font_dirs", lambda: [])
    with pytest.raises(FontNotFoundError, match="fonts-dejavu-core"):
        find_font_dir()


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (Debian poppler-utils) not installed")
def test_pages_rasterize_with_pdftoppm(tmp_path: Path) -> None:
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(render_pdf(make_doc(many_items(60), currency="EUR", exchange_rate=D("4.9750"))))
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(pdf), str(tmp_path / "page")], check=True,
                   capture_output=True, timeout=60)
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == 2
    assert all(png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 5000 for png in pngs)
