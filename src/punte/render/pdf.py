"""Invoices, proformas and receipts as PDF, drawn with reportlab's canvas.

Every band of the page is measured first, then the bands are paginated and drawn, so the page
count is known when the footers are written ("Pagina 1 din 3") and the lines table repeats its
header on each page it runs over. Text uses DejaVu Sans (TrueType, embedded as a subset), which
covers Romanian diacritics; :func:`find_font_dir` says where it is looked for.
"""

from __future__ import annotations

import importlib.util
import io
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from reportlab import rl_config
from reportlab.lib.colors import Color, white
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from punte.domain.documents import PROFORMA, RECEIPT, IssuedDocument, Line, Party
from punte.domain.money import places

from .i18n import NumberFormat, labels_for, normalize_language

FONT_DIR_ENV = "PUNTE_PDF_FONT_DIR"
REGULAR_FONT_FILE, BOLD_FONT_FILE = "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"
SYSTEM_FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",  # Debian, Ubuntu: fonts-dejavu-core
    "/usr/share/fonts/dejavu-sans-fonts",  # Fedora
    "/usr/share/fonts/dejavu",  # Alpine, openSUSE
    "/usr/share/fonts/TTF",  # Arch
    "/usr/local/share/fonts/dejavu",  # FreeBSD
    "/usr/local/share/fonts",
)

# Flate-only streams instead of Flate + ASCII85: smaller, and faster to write.
rl_config.useA85 = 0

PAGE_W, PAGE_H = A4
MARGIN, BOTTOM = 36.0, 48.0  # content stops BOTTOM points above the page edge; the footer is below
CONTENT_W = PAGE_W - 2 * MARGIN
ACCENT, MUTED, LINK = Color(0.09, 0.24, 0.42), Color(0.38, 0.40, 0.44), Color(0.05, 0.33, 0.70)
RULE, SHADE = Color(0.80, 0.82, 0.86), Color(0.93, 0.95, 0.98)
STAMP_RED, STAMP_GREY = Color(0.80, 0.08, 0.08, alpha=0.28), Color(0.4, 0.4, 0.4, alpha=0.2)
PAD, LEAD = 3.0, 9.8  # cell padding; line height in the lines table
MIN_WIDTH = {"no": 22.0, "unit": 30.0, "qty": 32.0, "price": 62.0, "value": 60.0, "rate": 30.0, "vat": 54.0}


class FontNotFoundError(RuntimeError):
    """No directory holding DejaVuSans.ttf and DejaVuSans-Bold.ttf was found."""


@dataclass(frozen=True)
class Fonts:
    """Names under which the regular and bold faces are registered with reportlab."""

    regular: str
    bold: str


def _has_fonts(directory: Path) -> bool:
    return (directory / REGULAR_FONT_FILE).is_file() and (directory / BOLD_FONT_FILE).is_file()


def _package_font_dirs() -> list[Path]:
    """Font folders of installed PyPI packages shipping DejaVu (matplotlib), found without importing them."""
    spec = importlib.util.find_spec("matplotlib")
    locations = (spec.submodule_search_locations or []) if spec else []
    return [Path(p) / "mpl-data" / "fonts" / "ttf" for p in locations]


def find_font_dir(font_dir: str | os.PathLike[str] | None = None) -> Path:
    """The directory holding DejaVuSans.ttf and DejaVuSans-Bold.ttf.

    Looked up in order: ``font_dir``, the ``PUNTE_PDF_FONT_DIR`` environment variable, the usual
    system locations (Debian's ``fonts-dejavu-core`` first), then matplotlib's bundled fonts. A
    directory given explicitly must hold both files: it is never silently skipped.
    """
    for origin, given in (("font_dir argument", font_dir), (FONT_DIR_ENV, os.environ.get(FONT_DIR_ENV))):
        if given:
            path = Path(given).expanduser()
            if not _has_fonts(path):
                raise FontNotFoundError(f"{origin} {str(path)!r} lacks {REGULAR_FONT_FILE} or {BOLD_FONT_FILE}")
            return path
    searched = [Path(d) for d in SYSTEM_FONT_DIRS]
    for path in searched:
        if _has_fonts(path):
            return path
    searched += _package_font_dirs()
    for path in searched[len(SYSTEM_FONT_DIRS):]:
        if _has_fonts(path):
            return path
    raise FontNotFoundError(
        f"{REGULAR_FONT_FILE} and {BOLD_FONT_FILE} not found in {', '.join(map(str, searched))}. "
        f"Install the Debian package fonts-dejavu-core or set {FONT_DIR_ENV} to a folder holding them."
    )


_registered: dict[str, Fonts] = {}
_register_lock = threading.Lock()


def load_fonts(font_dir: str | os.PathLike[str] | None = None) -> Fonts:
    """Register the fonts found by :func:`find_font_dir` with reportlab, parsing each directory's files once."""
    directory = str(find_font_dir(font_dir).resolve())
    with _register_lock:
        if directory not in _registered:
            tag = len(_registered)
            fonts = Fonts(f"PunteSans{tag}", f"PunteSans{tag}-Bold")
            pdfmetrics.registerFont(TTFont(fonts.regular, os.path.join(directory, REGULAR_FONT_FILE)))
            pdfmetrics.registerFont(TTFont(fonts.bold, os.path.join(directory, BOLD_FONT_FILE)))
            _registered[directory] = fonts
        return _registered[directory]


def render_pdf(
    doc: IssuedDocument, *, view_url: str | None = None, font_dir: str | os.PathLike[str] | None = None
) -> bytes:
    """The document as an A4 PDF, labelled in ``doc.language``; the same document gives the same bytes.

    ``view_url`` (the document's public page) is printed as a link; ``font_dir`` overrides where
    the fonts are looked for (see :func:`find_font_dir`).
    """
    return _Renderer(doc, load_fonts(font_dir), view_url).render()


Draw = Callable[[Canvas, float], None]


@dataclass
class _Band:
    """A horizontal band of a page: its height and how to draw it from its top edge down."""

    height: float
    draw: Draw
    kind: str = "flow"  # "row": a table row; "head": the table header, kept with the next band


@dataclass
class _Col:
    key: str
    header: list[str]
    width: float
    align: str  # "l", "c" or "r"


def _space(c: Canvas, top: float) -> None:
    """Draws nothing: vertical space, dropped at the top of a page."""


def _anchor(x: float, width: float, align: str) -> float:
    return x + PAD if align == "l" else x + width / 2 if align == "c" else x + width - PAD


class _Renderer:
    def __init__(self, doc: IssuedDocument, fonts: Fonts, view_url: str | None) -> None:
        self.doc, self.fonts, self.view_url = doc, fonts, view_url
        self.lang = normalize_language(doc.language)
        self.t, self.nf = labels_for(self.lang), NumberFormat(self.lang)
        self.places, self.precision = places(doc.currency), max(2, min(4, doc.precision))
        self.vat = doc.seller_vat_payer
        kind = "proforma" if doc.kind == PROFORMA else "receipt" if doc.kind == RECEIPT else "invoice"
        if kind == "invoice" and doc.extra.get("credit_note"):  # a received UBL CreditNote
            kind = "credit_note"
        self.title = self.t["storno" if doc.is_storno and kind == "invoice" else kind].upper()
        self.number_text = f"{self.t['series']} {doc.series} {self.t['number']} {doc.number or '—'}"
        if not doc.series:  # a received invoice's number (UBL BT-1) is printed whole, without a series
            self.number_text = f"{self.t['number'][:1].upper()}{self.t['number'][1:]} {doc.number or '—'}"
        self._fill: Color | None = None  # fill colour last set on the canvas

    # ---- text -------------------------------------------------------------------------------
    def width(self, text: str, size: float, bold: bool = False) -> float:
        return float(pdfmetrics.stringWidth(text, self.fonts.bold if bold else self.fonts.regular, size))

    def wrap(self, text: str, size: float, width: float, bold: bool = False) -> list[str]:
        """Greedy word wrap; a word wider than ``width`` (a URL) is cut by characters."""
        out: list[str] = []
        for paragraph in text.splitlines() or [""]:
            line = ""
            for word in paragraph.split():
                candidate = f"{line} {word}" if line else word
                if self.width(candidate, size, bold) <= width:
                    line = candidate
                    continue
                if line:
                    out.append(line)
                line = word
                while len(line) > 1 and self.width(line, size, bold) > width:
                    cut = len(line) - 1
                    while cut > 1 and self.width(line[:cut], size, bold) > width:
                        cut -= 1
                    out.append(line[:cut])
                    line = line[cut:]
            out.append(line)
        return out

    def fill(self, c: Canvas, color: Color) -> None:
        """Set the fill colour unless already set: each change costs bytes and float formatting."""
        if color is not self._fill:
            c.setFillColor(color)
            self._fill = color

    def text(self, c: Canvas, x: float, baseline: float, s: str, size: float, bold: bool = False,
             color: Color = ACCENT, align: str = "l") -> None:
        c.setFont(self.fonts.bold if bold else self.fonts.regular, size)  # no output for TrueType fonts
        self.fill(c, color)
        draw = c.drawRightString if align == "r" else c.drawCentredString if align == "c" else c.drawString
        draw(x, baseline, s)

    def money(self, value: Decimal | None, suffix: bool = False) -> str:
        text = self.nf.number(value or Decimal(0), self.places)
        return f"{text} {self.doc.currency}" if suffix else text

    def paragraph(self, text: str, size: float = 8.0, bold: bool = False, color: Color = ACCENT,
                  gap: float = 2.0, url: str | None = None) -> list[_Band]:
        """One band per wrapped line, so that long text flows over pages; ``url`` makes it a link."""
        lead, lines = size * 1.35, self.wrap(text, size, CONTENT_W, bold)

        def band(line: str, last: bool) -> _Band:
            def draw(c: Canvas, top: float) -> None:
                self.text(c, MARGIN, top - size, line, size, bold, color)
                if url:
                    c.linkURL(url, (MARGIN, top - lead, MARGIN + self.width(line, size, bold), top), relative=0)

            return _Band(lead + (gap if last else 0), draw)

        return [band(line, i == len(lines) - 1) for i, line in enumerate(lines)]

    # ---- page furniture -----------------------------------------------------------------------
    def first_header(self) -> _Band:
        d, t = self.doc, self.t
        dates = [(t[key], self.nf.day(day)) for key, day in
                 (("issue_date", d.issue_date), ("due_date", d.due_date), ("delivery_date", d.delivery_date)) if day]
        top_h = max(50.0, 14.0 + 12.0 * len(dates)) + 8
        col_w = (CONTENT_W - 16) / 2
        parties = [(MARGIN, t["seller"], self.party_lines(d.seller, col_w)),
                   (MARGIN + col_w + 16, t["buyer"], self.party_lines(d.buyer, col_w))]
        party_h = 22 + max(sum(size * 1.3 for _, size, _ in lines) for _, _, lines in parties)

        def draw(c: Canvas, top: float) -> None:
            self.text(c, MARGIN, top - 20, self.title, 20, True)
            self.text(c, MARGIN, top - 38, self.number_text, 11, True)
            for i, (label, value) in enumerate(dates):
                self.text(c, PAGE_W - MARGIN, top - 12 - 12 * i, value, 9, True, align="r")
                self.text(c, PAGE_W - MARGIN - 64, top - 12 - 12 * i, f"{label}:", 8.5, False, MUTED, "r")
            c.setStrokeColor(ACCENT)
            c.setLineWidth(1.2)
            c.line(MARGIN, top - top_h + 4, PAGE_W - MARGIN, top - top_h + 4)
            y = top - top_h - 6
            for x, label, lines in parties:
                self.fill(c, SHADE)
                c.rect(x, y - 14, col_w, 14, stroke=0, fill=1)
                self.text(c, x + PAD, y - 10, label.upper(), 7.5, True, MUTED)
                yy = y - 18
                for s, size, bold in lines:
                    yy -= size * 1.3
                    self.text(c, x + PAD, yy + size * 0.3, s, size, bold)

        return _Band(top_h + party_h + 8, draw)

    def party_lines(self, p: Party, width: float) -> list[tuple[str, float, bool]]:
        t, w = self.t, width - 2 * PAD
        out = [(s, 10.0, True) for s in self.wrap(p.name, 10, w, True)]
        fields = [(t["cif"], p.cif), (t["reg_com"], p.reg_com), (t["address"], p.address),
                  ("", ", ".join(x for x in (p.city, p.county, p.country) if x)), (t["iban"], p.iban),
                  (t["bank"], p.bank), (t["phone"], p.phone), (t["email"], p.email), (t["contact"], p.contact)]
        for label, value in fields:
            if value:
                out += [(s, 8.5, False) for s in self.wrap(f"{label}: {value}" if label else value, 8.5, w)]
        return out

    def continuation_header(self) -> _Band:
        def draw(c: Canvas, top: float) -> None:
            self.text(c, MARGIN, top - 11, f"{self.title}  {self.number_text}", 10, True)
            self.text(c, PAGE_W - MARGIN, top - 11, f"({self.t['continued']})", 8, False, MUTED, "r")
            c.setStrokeColor(ACCENT)
            c.setLineWidth(0.8)
            c.line(MARGIN, top - 17, PAGE_W - MARGIN, top - 17)

        return _Band(26, draw)

    def page_marks(self, c: Canvas, page: int, pages: int) -> None:
        """Footer with the page number, and the ANULATĂ / CIORNĂ stamp across a cancelled or draft page."""
        d = self.doc
        c.setStrokeColor(RULE)
        c.setLineWidth(0.5)
        c.line(MARGIN, 34, PAGE_W - MARGIN, 34)
        self.text(c, MARGIN, 24, f"{self.title} {self.number_text} · {d.seller.name}"[:110], 7, False, MUTED)
        self.text(c, PAGE_W - MARGIN, 24, self.t["page"].format(page=page, pages=pages), 7, False, MUTED, "r")
        mark = self.t["cancelled"] if d.status == "cancelled" else self.t["draft"] if d.number is None else None
        if mark:
            size = min(110.0, 470 / max(1.0, self.width(mark, 1, True)))
            c.saveState()
            c.translate(PAGE_W / 2, PAGE_H / 2)
            c.rotate(35)
            self.text(c, 0, -size / 3, mark, size, True, STAMP_RED if d.status == "cancelled" else STAMP_GREY, "c")
            c.restoreState()
            self._fill = None

    # ---- body -----------------------------------------------------------------------------------
    def notices(self) -> list[_Band]:
        d, t = self.doc, self.t
        out: list[_Band] = []
        if d.reverses is not None:
            ref = d.reverses
            out += self.paragraph(" ".join(t["storno_ref"].format(  # no double space without a series
                series=ref.series, number=ref.number, date=self.nf.day(ref.issue_date)).split()), 9, True)
        if d.vat_on_collection and self.vat:
            out += self.paragraph(t["vat_on_collection"], 9, True)
        if not self.vat and d.kind != RECEIPT:  # a receipt states money received, never VAT
            out += self.paragraph(t["non_payer"], 9, True)
        if d.kind == RECEIPT:
            out += self.paragraph(t["receipt_text"].format(
                buyer=d.buyer.name, amount=self.money(d.totals.gross_total), currency=d.currency), 9)
        if d.aviz:
            out += self.paragraph(f"{t['aviz']}: {d.aviz}", 8.5)
        if out:
            out[-1].height += 6
        return out

    def line_cells(self, line: Line) -> dict[str, str]:
        translated = self.lang != "RO"
        return {
            "no": str(line.position),
            "name": line.translated_name if translated and line.translated_name else line.name,
            "unit": line.translated_unit if translated and line.translated_unit else line.unit,
            "qty": self.nf.quantity(line.quantity),
            "price": self.nf.number(-line.unit_price if line.is_discount else line.unit_price, self.precision),
            "value": self.money(line.net_amount),
            "rate": self.nf.percent(line.vat_percentage) if line.vat_percentage is not None else "",
            "vat": self.money(line.vat_amount),
        }

    def columns(self, cells: list[dict[str, str]]) -> list[_Col]:
        """Number columns as wide as their widest figure or header word; the name takes the rest."""
        t, cur = self.t, f"({self.doc.currency})"
        spec = [("no", [t["col_no"]], "c"), ("name", [t["col_name"]], "l"), ("unit", [t["col_unit"]], "c"),
                ("qty", [t["col_qty"]], "r"), ("price", [t["col_price_net" if self.vat else "col_price"], cur], "r"),
                ("value", [t["col_value"], cur], "r")]
        if self.vat:
            spec += [("rate", [t["col_vat_rate"]], "c"), ("vat", [t["col_vat"], cur], "r")]
        cols = []
        for key, header, align in spec:
            need = max([self.width(w, 6.5, True) for h in header for w in h.split()] +
                       [self.width(row[key], 8) for row in cells])
            cols.append(_Col(key, header, max(need + 2 * PAD + 2, MIN_WIDTH.get(key, 0.0)), align))
        cols[1].width = max(110.0, CONTENT_W - sum(col.width for col in cols if col.key != "name"))
        for col in cols:
            col.header = [s for h in col.header for s in self.wrap(h, 6.5, col.width - 2 * PAD, True)]
        return cols

    def table(self) -> list[_Band]:
        if not self.doc.lines:
            return []
        cells = [self.line_cells(line) for line in self.doc.lines]
        cols = self.columns(cells)
        head_h = max(len(col.header) for col in cols) * 8.0 + 2 * PAD + 1

        def draw_head(c: Canvas, top: float) -> None:
            self.fill(c, ACCENT)
            c.rect(MARGIN, top - head_h, CONTENT_W, head_h, stroke=0, fill=1)
            x = MARGIN
            for col in cols:
                for i, s in enumerate(col.header):
                    self.text(c, _anchor(x, col.width, col.align), top - PAD - 6.5 - 8.0 * i, s, 6.5, True,
                              white, col.align)
                x += col.width

        bands = [_Band(head_h, draw_head, "head")]
        name_w = cols[1].width - 2 * PAD
        for line, row in zip(self.doc.lines, cells, strict=True):
            name = [(s, 8.0, ACCENT) for s in self.wrap(row["name"], 8, name_w)]
            extra = [f"{self.t['code']}: {line.code}"] if line.code else []
            extra += [line.description] if line.description else []
            name = (name + [(s, 7.0, MUTED) for e in extra for s in self.wrap(e, 7, name_w)])[:60]
            height = LEAD * len(name) + 2 * PAD + 1
            bands.append(_Band(height, self.row_drawer(cols, row, name, height), "row"))
        return bands

    def row_drawer(self, cols: list[_Col], row: dict[str, str], name: list[tuple[str, float, Color]],
                   height: float) -> Draw:
        def draw(c: Canvas, top: float) -> None:
            x, base = MARGIN, top - PAD - 8
            for col in cols:
                if col.key == "name":
                    for i, (s, size, color) in enumerate(name):
                        self.text(c, x + PAD, base - LEAD * i, s, size, False, color)
                else:
                    self.text(c, _anchor(x, col.width, col.align), base, row[col.key], 8, False, ACCENT, col.align)
                x += col.width
            c.setStrokeColor(RULE)
            c.setLineWidth(0.5)
            c.line(MARGIN, top - height, PAGE_W - MARGIN, top - height)

        return draw

    def total_rows(self) -> list[tuple[str, str, bool]]:
        """(label, amount, emphasised) rows of the totals box."""
        d, t, tot = self.doc, self.t, self.doc.totals
        rows: list[tuple[str, str, bool]] = []
        if tot.allowance_total:
            rows += [(t["subtotal"], self.money(tot.line_total, True), False),
                     (t["discounts"], self.money(-tot.allowance_total, True), False)]
        if self.vat:
            rows += [(t["total_net"], self.money(tot.net_total, True), False),
                     (t["total_vat"], self.money(tot.vat_total, True), False)]
        rows.append((t["total_due"], self.money(tot.gross_total, True), True))
        if d.paid_amount:
            rows += [(t["paid"], self.money(d.paid_amount, True), False),
                     (t["balance"], self.money(tot.gross_total - d.paid_amount, True), False)]
        if d.currency.upper() != "RON" and d.exchange_rate:
            rows.append((t["exchange_rate"], f"1 {d.currency} = {self.nf.rate(d.exchange_rate)} RON", False))
            if self.vat and tot.vat_total_ron is not None:
                rows.append((f"{t['total_vat']} (RON)", f"{self.nf.number(tot.vat_total_ron, 2)} RON", False))
            if tot.gross_total_ron is not None:
                rows.append((f"{t['total_due']} (RON)", f"{self.nf.number(tot.gross_total_ron, 2)} RON", False))
        return rows

    def summary(self) -> _Band:
        """The VAT breakdown per rate (left) beside the totals box (right)."""
        d, t, rows = self.doc, self.t, self.total_rows()
        widths = (112.0, 84.0, 76.0)
        xs = (MARGIN, MARGIN + widths[0], MARGIN + widths[0] + widths[1], MARGIN + sum(widths))
        heads = [self.wrap(h, 6.5, w - 2 * PAD, True) for h, w in zip(
            (t["col_vat_rate"], f"{t['base']} ({d.currency})", f"{t['col_vat']} ({d.currency})"), widths, strict=True)]
        head_h = 8.0 * max(map(len, heads)) + 5
        vat_rows = [(self.wrap(self.nf.percent(b.percentage) + (f" – {b.exemption_reason}" if b.exemption_reason
                                                                 else ""), 8, widths[0] - 2 * PAD),
                     self.money(b.taxable_amount), self.money(b.tax_amount))
                    for b in (d.totals.vat_breakdown if self.vat and d.lines else ())]
        left_h = head_h + sum(LEAD * len(r[0]) + 5 for r in vat_rows) if vat_rows else 0.0
        right_w = 230.0

        def draw(c: Canvas, top: float) -> None:
            if vat_rows:
                self.fill(c, SHADE)
                c.rect(MARGIN, top - head_h, xs[3] - MARGIN, head_h, stroke=0, fill=1)
                for lines, x, align in zip(heads, (xs[0] + PAD, xs[2] - PAD, xs[3] - PAD), "lrr", strict=True):
                    for j, s in enumerate(lines):
                        self.text(c, x, top - 8.5 - 8.0 * j, s, 6.5, True, MUTED, align)
                y = top - head_h
                c.setStrokeColor(RULE)
                c.setLineWidth(0.5)
                for rate_lines, base, tax in vat_rows:
                    for i, s in enumerate(rate_lines):
                        self.text(c, xs[0] + PAD, y - 10 - LEAD * i, s, 8)
                    self.text(c, xs[2] - PAD, y - 10, base, 8, align="r")
                    self.text(c, xs[3] - PAD, y - 10, tax, 8, align="r")
                    y -= LEAD * len(rate_lines) + 5
                    c.line(MARGIN, y, xs[3], y)
            x0, y = PAGE_W - MARGIN - right_w, top
            for label, value, big in rows:
                h = 19.0 if big else 13.0
                if big:
                    self.fill(c, ACCENT)
                    c.rect(x0, y - h + 1, right_w, h - 2, stroke=0, fill=1)
                self.text(c, x0 + PAD + 2, y - h + 6, label, 10 if big else 8, big, white if big else MUTED)
                self.text(c, PAGE_W - MARGIN - PAD - 2, y - h + 6, value, 10 if big else 8.5, True,
                          white if big else ACCENT, "r")
                y -= h

        return _Band(max(left_h, sum(19.0 if big else 13.0 for _, _, big in rows)) + 12, draw)

    def closing(self) -> list[_Band]:
        """Mentions, links, issuer and shipping details."""
        d, t = self.doc, self.t
        out: list[_Band] = []
        if d.mentions:
            out += self.paragraph(f"{t['mentions']}:", 8.5, True, gap=0) + self.paragraph(d.mentions, 8.5, gap=6)
        if d.payment_url:
            out += self.paragraph(f"{t['pay_online']}: {d.payment_url}", 9, True, LINK, 3, d.payment_url)
        if self.view_url:
            out += self.paragraph(f"{t['view_online']}: {self.view_url}", 8, True, LINK, 3, self.view_url)
        groups = [("", [(t["issuer"], d.issuer_name), (t["cnp"], d.issuer_cnp)]),
                  (t["shipping"], [(t["delegate"], d.delegate_name), (t["id_card"], d.delegate_identity_card),
                                   (t["vehicle"], d.delegate_auto)])]
        for title, pairs in groups:
            present = [f"{k}: {v}" for k, v in pairs if v]
            if present:
                out += [_Band(4, _space)] + (self.paragraph(title, 8, True, MUTED, 0) if title else [])
                out += self.paragraph(" · ".join(present), 8.5, gap=2)
        return out

    # ---- assembly --------------------------------------------------------------------------------
    def paginate(self) -> list[list[_Band]]:
        first, cont, table = self.first_header(), self.continuation_header(), self.table()
        body = self.notices() + table + [_Band(10, _space), self.summary()] + self.closing()
        pages, room = [[first]], PAGE_H - MARGIN - BOTTOM - first.height
        for i, band in enumerate(body):
            need = band.height + (body[i + 1].height if band.kind == "head" else 0)
            if need > room:  # a new page; a band taller than a whole page would overflow it (rows are capped)
                if band.draw is _space:
                    continue
                pages.append([cont])
                room = PAGE_H - MARGIN - BOTTOM - cont.height
                if band.kind == "row":
                    pages[-1].append(table[0])
                    room -= table[0].height
            pages[-1].append(band)
            room -= band.height
        return pages

    def render(self) -> bytes:
        d, buf = self.doc, io.BytesIO()
        # invariant: the same document gives the same bytes; the PDF's dates are the issue date
        c = Canvas(buf, pagesize=A4, invariant=1, pageCompression=1, lang=self.lang.lower())
        c.setDateFormatter(lambda *_: f"D:{d.issue_date:%Y%m%d}000000")
        c.setTitle(f"{self.title.capitalize()} {d.full_number}")
        c.setSubject(f"{self.title.capitalize()} {d.full_number} — {d.buyer.name}")
        c.setAuthor(d.seller.name)
        c.setCreator("punte")
        pages = self.paginate()
        for number, bands in enumerate(pages, start=1):
            top = PAGE_H - MARGIN
            for band in bands:
                band.draw(c, top)
                top -= band.height
            self.page_marks(c, number, len(pages))
            c.showPage()
            self._fill = None
        c.save()
        return buf.getvalue()
