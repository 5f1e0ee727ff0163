"""UBL documents built and fully validated (XSD + ANAF's rules) per second; rule compile time.

    .venv/bin/python bench/ubl.py [--shared ../shared] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from pathlib import Path

from punte.domain.documents import IssuedDocument, Party, ProductInput, compute_lines, summarize
from punte.domain.vat import default_rates, find_rate
from punte.efactura.ubl import build_ubl
from punte.efactura.validator import Validator

SELLER = Party(name="Firma SRL", cif="RO18547290", reg_com="J12/1/2020", address="Str. 1", city="Cluj-Napoca",
               county="Cluj", country="Romania", iban="RO49AAAA1B31007593840000", is_tax_payer=True)
BUYER = Party(name="Client SRL", cif="RO14399840", address="Str. 2", city="Brasov", county="Brasov",
              country="Romania", is_tax_payer=True)


def document(lines: int) -> IssuedDocument:
    day = date(2026, 11, 20)
    rate = find_rate(default_rates(), day, name="Normala", percentage=None, product="x")
    items = [ProductInput(f"Produs {i}", Decimal(i + 1), Decimal("12.34"), "buc", rate) for i in range(lines)]
    ls = compute_lines(items, currency="RON", precision=2, vat_payer=True)
    return IssuedDocument(id=1, kind="invoice", series="FCT", number="0001", issue_date=day, currency="RON",
                          seller=SELLER, buyer=BUYER, lines=ls, totals=summarize(ls, currency="RON"),
                          seller_vat_payer=True, due_date=day)


def rate(fn, seconds: float, threads: int = 1) -> float:  # type: ignore[no-untyped-def]
    def loop() -> int:
        n, end = 0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            fn()
            n += 1
        return n

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(lambda _: loop(), range(threads)))
    return total / (time.perf_counter() - start)


def _process_worker(args: tuple[str, str, str, int, float]) -> int:
    bundle, xsd, cache, lines, seconds = args
    validator = Validator(Path(bundle), Path(xsd), Path(cache))
    doc = document(lines)
    n, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        assert validator.validate(build_ubl(doc)).ok
        n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    bundle = args.shared / "efactura" / "ro16931-ubl-1.0.9.zip"
    xsd = args.shared / "efactura" / "ubl-2.1"
    cache = Path(tempfile.mkdtemp(prefix="punte-ubl-bench-"))
    print(f"cpus={os.cpu_count()} python={sys.version.split()[0]}")
    t = time.perf_counter()
    validator = Validator(bundle, xsd, cache)
    print(f"validator cold (compile bundle + XSD + XSLT): {time.perf_counter() - t:.2f} s")
    t = time.perf_counter()
    validator = Validator(bundle, xsd, cache)
    print(f"validator with cached compiled rules: {time.perf_counter() - t:.2f} s")
    for lines in (10, 100):
        doc = document(lines)

        def once() -> None:
            report = validator.validate(build_ubl(doc))
            assert report.ok, report.as_text()

        build = rate(lambda: build_ubl(doc), args.seconds / 2)
        one = rate(once, args.seconds)
        two = rate(once, args.seconds, threads=2)
        with ProcessPoolExecutor(2) as pool:
            counts = list(pool.map(_process_worker, [(str(bundle), str(xsd), str(cache), lines, args.seconds)] * 2))
        procs = sum(counts) / args.seconds
        print(f"{lines:>3} lines: build only {build:.0f}/s; build+validate {one:.1f}/s (1 thread), "
              f"{two:.1f}/s (2 threads), {procs:.1f}/s (2 processes)")
    shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
