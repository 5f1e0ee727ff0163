"""Invoices issued per second through the HTTP API (10 lines each), with p50/p99 latency.

Starts a real punte server (uvicorn, one process) on a fresh SQLite file or a fresh PostgreSQL
schema, creates a company and a token, then drives it with N concurrent HTTP clients.

    .venv/bin/python bench/issue_invoices.py --db sqlite --clients 1 8 --invoices 400
    .venv/bin/python bench/issue_invoices.py --db postgres --clients 1 8
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
        print(f"db={args.db} lines={args.lines} cpus={os.cpu_count()} python={sys.version.split()[0]}")
        for clients in args.clients:
            per = max(1, args.invoices // clients)
            latencies: list[float] = []

            def worker(_: int) -> list[float]:
                out = []
                with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
                    for _ in range(per):
                        t = time.perf_counter()
                        r = c.post("/SBORO/api/invoice", json=body)
                        out.append(time.perf_counter() - t)
                        assert r.status_code == 200 and r.json()["errorText"] == "", r.text
                return out

            start = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                for chunk in pool.map(worker, range(clients)):
                    latencies.extend(chunk)
            elapsed = time.perf_counter() - start
            q = statistics.quantiles(latencies, n=100)
            print(f"clients={clients} invoices={len(latencies)} rate={len(latencies) / elapsed:.1f}/s "
                  f"p50={q[49] * 1000:.1f}ms p99={q[98] * 1000:.1f}ms")
    finally:
        server.terminate()
        server.wait(10)
        if schema:
            import sqlalchemy as sa

            with sa.create_engine(args.pg).begin() as c:
                c.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
