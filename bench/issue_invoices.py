"""Invoices, proformas and payments per second through the HTTP API, with p50/p99 latency.

Starts a real punte server (uvicorn, one process) on a fresh SQLite file or a fresh PostgreSQL
schema, creates a company and a token, then drives it with N concurrent HTTP clients:

- invoices: ``POST /invoice``, 10 lines each;
- proformas: ``POST /estimate``, the same body in the proforma series;
- payments: ``POST /payment``, a receipt (Chitanta: receipt number, allocation to an invoice, cash
  register entry) of 1.00 lei against one of the invoices issued before.

    .venv/bin/python bench/issue_invoices.py --db sqlite --clients 1 8 --invoices 400
    .venv/bin/python bench/issue_invoices.py --db postgres --clients 1 8 --measure invoices payments
"""

from __future__ import annotations

import argparse
import base64
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
CIF = "RO18547290"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def invoice(lines: int) -> dict:
    return {
        "companyVatCode": CIF,
        "client": {"name": "Client Bench SRL", "vatCode": "RO14399840", "address": "Str. 1", "city": "Cluj-Napoca",
                   "county": "Cluj", "country": "Romania", "saveToDb": False},
        "seriesName": "FCT",
        "products": [
            {"name": f"Produs {i}", "measuringUnitName": "buc", "currency": "RON", "quantity": 1 + i,
             "price": "12.34", "isTaxIncluded": i % 2 == 0, "taxName": "Normala", "taxPercentage": 21}
            for i in range(lines)
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--invoices", type=int, default=400, help="invoices per run (split over the clients)")
    ap.add_argument("--lines", type=int, default=10)
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--measure", nargs="+", choices=["invoices", "proformas", "payments"],
                    default=["invoices", "proformas", "payments"], help="what to measure (each --invoices per run)")
    args = ap.parse_args()

    data = Path(tempfile.mkdtemp(prefix="punte-bench-"))
    env = {**os.environ, "PUNTE_DATA_DIR": str(data), "PUNTE_SECRET_KEY": "bench", "PUNTE_RATE_LIMIT_CALLS": "100000000"}
    schema = None
    if args.db == "postgres":
        import sqlalchemy as sa

        schema = f"punte_bench_{uuid.uuid4().hex[:8]}"
        with sa.create_engine(args.pg).begin() as c:
            c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        env["PUNTE_DATABASE_URL"] = f"{args.pg}?options=-csearch_path%3D{schema}"
    punte = [sys.executable, "-m", "punte.cli"]
    run = lambda *a: subprocess.run(punte + list(a), env=env, check=True, capture_output=True, text=True)  # noqa: E731
    run("company", "add", "--cif", CIF, "--name", "Bench SRL", "--address", "Str. 2", "--city", "Cluj-Napoca", "--county", "Cluj")
    run("series", "add", "--cif", CIF, "--type", "f", "--name", "FCT")
    run("series", "add", "--cif", CIF, "--type", "p", "--name", "PRF")
    run("series", "add", "--cif", CIF, "--type", "c", "--name", "CH")
    token = run("token", "add", "--cif", CIF, "--email", "bench@punte.ro").stdout.strip().splitlines()[-1]
    port = free_port()
    server = subprocess.Popen(punte + ["serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        auth = base64.b64encode(f"bench@punte.ro:{token}".encode()).decode()
        headers = {"Authorization": f"Basic {auth}", "Content-Type": "application/json"}
        body = invoice(args.lines)
        with httpx.Client(base_url=base, headers=headers) as warm:
            for _ in range(20):
                warm.post("/SBORO/api/invoice", json=body).raise_for_status()
        issued = 20
        print(f"db={args.db} lines={args.lines} cpus={os.cpu_count()} python={sys.version.split()[0]}")

        def bench(what: str, clients: int, request: Callable[[int, int], tuple[str, dict]]) -> None:
            per = max(1, args.invoices // clients)
            latencies: list[float] = []

            def worker(k: int) -> list[float]:
                out = []
                with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
                    for i in range(per):
                        path, data = request(k, i)
                        t = time.perf_counter()
                        r = c.post(path, json=data)
                        out.append(time.perf_counter() - t)
                        assert r.status_code == 200 and r.json()["errorText"] == "", r.text
                return out

            start = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                for chunk in pool.map(worker, range(clients)):
                    latencies.extend(chunk)
            elapsed = time.perf_counter() - start
            q = statistics.quantiles(latencies, n=100)
            print(f"clients={clients} {what}={len(latencies)} rate={len(latencies) / elapsed:.1f}/s "
                  f"p50={q[49] * 1000:.1f}ms p99={q[98] * 1000:.1f}ms")

        proforma = {**body, "seriesName": "PRF"}
        for clients in args.clients:
            if "invoices" in args.measure:
                bench("invoices", clients, lambda k, i: ("/SBORO/api/invoice", body))
                issued += max(1, args.invoices // clients) * clients
        for clients in args.clients:
            if "proformas" in args.measure:
                bench("proformas", clients, lambda k, i: ("/SBORO/api/estimate", proforma))
        if "payments" in args.measure:
            with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
                while issued < 2 * max(args.clients):
                    c.post("/SBORO/api/invoice", json=body).raise_for_status()
                    issued += 1
            for clients in args.clients:
                # client k pays invoices k+1, k+1+clients, ...: clients never wait on each other's invoice
                slots = issued // clients

                def receipt(k: int, i: int, clients: int = clients, slots: int = slots) -> tuple[str, dict]:
                    number = k + 1 + (i % slots) * clients
                    return "/SBORO/api/payment", {
                        "companyVatCode": CIF, "client": body["client"], "seriesName": "CH", "type": "Chitanta",
                        "value": "1.00", "invoicesList": [{"seriesName": "FCT", "number": str(number)}],
                    }

                bench("payments", clients, receipt)
    finally:
        server.terminate()
        server.wait(10)
        if schema:
            import sqlalchemy as sa

            with sa.create_engine(args.pg).begin() as c:
                c.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
