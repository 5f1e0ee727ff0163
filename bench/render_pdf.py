"""PDFs per second of punte.render.render_pdf on one core, for a 10-line and a 100-line invoice.

    .venv/bin/python bench/render_pdf.py [--seconds 5] [--lines 10 100] [--cpu 0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import types
from datetime import date
from decimal import Decimal

import reportlab
from reportlab.lib import rl_accel

from punte.domain.documents import (
    INVOICE,
    DiscountInput,
    IssuedDocument,
    Party,
    ProductInput,
    compute_lines,
    summarize,
)
from punte.domain.vat import VatRate
from punte.render import render_pdf


def sample_invoice(n_lines: int) -> IssuedDocument:
    """A RON invoice from a VAT payer with ``n_lines`` lines (one of them a discount)."""
    normal, reduced = VatRate("Normala", Decimal(21)), VatRate("Redusa", Decimal(11))
    items: list[ProductInput | DiscountInput] = []
    for i in range(n_lines - 1):
        items.append(
            ProductInput(
                name=f"Servicii de mentenanță și întreținere echipament nr. {i + 1}",
                quantity=Decimal(i % 3 + 1),
                price=Decimal("1234.50") + i,
                unit="buc",
                rate=reduced if i % 4 == 0 else normal,
                description="Intervenție la sediul clientului din Brașov" if i % 5 == 0 else None,
            )
        )
    items.append(DiscountInput("Discount fidelitate 5%", number_of_items=1, percentage=Decimal(5)))
    lines = compute_lines(items, currency="RON", precision=2, vat_payer=True)
    seller = Party("Tehnologii Digitale Ardeal SRL", cif="RO12345678", reg_com="J08/1234/2015",
                   address="Str. Mureșenilor nr. 12", city="Brașov", county="Brașov", country="România",
                   iban="RO49AAAA1B31007593840000", bank="Banca Transilvania", is_tax_payer=True)
    buyer = Party("Societatea Ștefănescu și Fiii SRL", cif="RO87654321", reg_com="J40/999/2010",
                  address="Bd. Ștefan cel Mare nr. 5", city="București", country="România")
    return IssuedDocument(
        id=1, kind=INVOICE, series="TDA", number="0042", issue_date=date(2025, 9, 1), currency="RON",
        seller=seller, buyer=buyer, lines=lines, totals=summarize(lines, currency="RON"),
        seller_vat_payer=True, due_date=date(2025, 9, 15), mentions="Vă mulțumim!",
        payment_url="https://pay.example.invalid/p/TDA0042",
    )


def measure(doc: IssuedDocument, seconds: float) -> dict[str, float]:
    """Render ``doc`` repeatedly for about ``seconds`` of wall time.

    Returns PDFs per second by wall clock and by this process's CPU time (the per-core figure,
    which stays meaningful when other processes share the machine), the median wall time per
    PDF, the PDF size and the number of renders.
    """
    render_pdf(doc)  # warm-up: imports, font registration
    walls: list[float] = []
    size = 0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    while time.perf_counter() - wall0 < seconds:
        t0 = time.perf_counter()
        size = len(render_pdf(doc))
        walls.append(time.perf_counter() - t0)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    n = len(walls)
    return {"wall_rate": n / wall, "cpu_rate": n / cpu, "median_ms": statistics.median(walls) * 1000,
            "size": size, "renders": n}


def main() -> None:
    """Parse arguments, pin to one CPU when possible, print one result line per invoice size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="time spent per invoice size")
    parser.add_argument("--lines", type=int, nargs="+", default=[10, 100], help="invoice sizes (lines)")
    parser.add_argument("--cpu", type=int, default=0, help="CPU to pin to (Linux); -1 to not pin")
    args = parser.parse_args()
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
        print(f"pinned to CPU {args.cpu}")
    accelerated = not isinstance(rl_accel.fp_str, types.FunctionType)  # C builtins when rl-accel is installed
    print(f"reportlab {reportlab.Version}, rl-accel C helpers: {'yes' if accelerated else 'no'}")
    for n in args.lines:
        r = measure(sample_invoice(n), args.seconds)
        print(f"{n:4d} lines: {r['cpu_rate']:6.1f} PDFs/s per core (CPU time)  {r['wall_rate']:6.1f} PDFs/s wall  "
              f"median {r['median_ms']:6.2f} ms  {r['size'] / 1024:5.1f} KiB  ({r['renders']:.0f} renders)")

if __name__ == "__main__":
    main()
