"""Payment webhooks: acknowledgement latency, sustained events per second, payments carried to invoices.

Starts punte's API (``punte serve``, no embedded worker) and a separate ``punte worker`` on a fresh SQLite
file or PostgreSQL schema, configures a Stripe bridge, then sends signed Stripe deliveries (each payment:
``checkout.session.completed`` + ``payment_intent.succeeded``, the way Stripe sends a Checkout payment):

1. ``rate``: an open-loop schedule of ``--rate`` events per second for ``--seconds`` (the worker busy
   processing meanwhile): acknowledgement latency p50/p99 (target: p99 under 20 ms at 200 events/s on 2 cores);
2. ``burst``: ``--senders`` concurrent senders as fast as they go: sustained acknowledged events per second;
3. ``through``: from the burst's first delivery until every payment has its invoice: payments per second.

    .venv/bin/python bench/webhooks.py --db sqlite --rate 200 --seconds 15 --payments 1000
    .venv/bin/python bench/webhooks.py --db postgres
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import sqlalchemy as sa

CIF = "RO18547290"
SECRET = "whsec_bench_0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def signed(payload: dict) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload, separators=(",", ":")).encode()
    t = int(time.time())
    sig = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return body, {"Stripe-Signature": f"t={t},v1={sig}", "Content-Type": "application/json"}


def payment_events(tag: str, n: int) -> list[dict]:
    pi = f"pi_{tag}_{n:06d}"
    amount = 1000 + (n % 90) * 11
    now = int(time.time())
    session = {
        "id": f"cs_test_{tag}_{n:06d}", "object": "checkout.session", "amount_total": amount, "currency": "ron",
        "customer_details": {"name": f"Client {n}", "email": f"c{n}@example.ro", "phone": None,
                             "address": {"line1": "Str. Lunga 1", "line2": None, "city": "Brasov", "state": "Brasov",
                                         "postal_code": "500030", "country": "RO"}, "tax_ids": []},
        "metadata": {"Order Item #1": f"SKU{n % 7}, Produs {n % 7}, 1, {amount / 100:.2f}"},
        "mode": "payment", "payment_intent": pi, "payment_status": "paid", "status": "complete",
        "custom_fields": [], "livemode": False,
    }
    intent = {"id": pi, "object": "payment_intent", "amount": amount, "amount_received": amount, "currency": "ron",
              "description": None, "metadata": {}, "status": "succeeded", "livemode": False}
    return [
        {"id": f"evt_{tag}_s{n:06d}", "object": "event", "api_version": "2025-03-31.basil", "created": now,
         "type": "checkout.session.completed", "data": {"object": session}, "livemode": False},
        {"id": f"evt_{tag}_p{n:06d}", "object": "event", "api_version": "2025-03-31.basil", "created": now,
         "type": "payment_intent.succeeded", "data": {"object": intent}, "livemode": False},
    ]


def quantiles(values: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(values, n=100)
    return q[49] * 1000, q[98] * 1000


def open_loop(base: str, events: list[dict], rate: float, senders: int = 16) -> tuple[list[float], float]:
    """Send event i at ``start + i / rate`` (whatever the answers do); latency counts from that due time."""
    latencies: list[float] = []
    lock = threading.Lock()
    pending = list(enumerate(events))
    signed_all = [signed(p) for p in events]
    start = time.perf_counter() + 0.2

    def sender() -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            while True:
                with lock:
                    if not pending:
                        return
                    i, _ = pending.pop(0)
                due = start + i / rate
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                body, headers = signed_all[i]
                r = client.post(f"/webhooks/stripe/{CIF}", content=body, headers=headers)
                done = time.perf_counter() - due
                assert r.status_code == 200, r.text
                with lock:
                    latencies.append(done)

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - start


def wait_invoiced(engine: sa.Engine, payments: int, timeout: float = 600) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as c:
            done = c.exec_driver_sql("select count(*) from bridge_payments where status = 'issued'").scalar_one()
        if done >= payments:
            return time.perf_counter()
        time.sleep(0.05)
    raise TimeoutError(f"only {done} of {payments} payments invoiced")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--rate", type=float, default=200.0, help="events per second in the latency run")
    ap.add_argument("--seconds", type=float, default=15.0, help="length of the latency run")
    ap.add_argument("--payments", type=int, default=1000, help="payments in the burst run (2 events each)")
    ap.add_argument("--senders", type=int, default=8)
    ap.add_argument("--no-worker", action="store_true", help="acknowledge only (no processing meanwhile)")
    ap.add_argument("--embedded", action="store_true",
                    help="the worker runs inside the API process (punte serve's default) instead of apart")
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()

    data = Path(tempfile.mkdtemp(prefix="punte-bench-"))
    env = {**os.environ, "PUNTE_DATA_DIR": str(data), "PUNTE_SECRET_KEY": "bench", "PUNTE_EMBEDDED_WORKER": "false",
           "PUNTE_CONFIG": str(data / "none.toml")}
    schema = None
    if args.db == "postgres":
        schema = f"punte_bench_{uuid.uuid4().hex[:8]}"
        with sa.create_engine(args.pg).begin() as c:
            c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        env["PUNTE_DATABASE_URL"] = f"{args.pg}?options=-csearch_path%3D{schema}"
        url = env["PUNTE_DATABASE_URL"]
    else:
        url = f"sqlite:///{data / 'punte.db'}"
    punte = [sys.executable, "-m", "punte.cli"]
    run = lambda *a: subprocess.run(punte + list(a), env=env, check=True, capture_output=True, text=True)  # noqa: E731
    run("company", "add", "--cif", CIF, "--name", "Bench SRL", "--address", "Str. 2", "--city", "Cluj-Napoca",
        "--county", "Cluj")
    run("series", "add", "--cif", CIF, "--type", "f", "--name", "FCT")
    run("series", "add", "--cif", CIF, "--type", "c", "--name", "CH")
    run("bridge", "stripe", "--cif", CIF, "--webhook-secret", SECRET, "--settle-seconds", "0")
    if args.embedded and not args.no_worker:
        env["PUNTE_EMBEDDED_WORKER"] = "true"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(punte + ["serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    worker = None if args.no_worker or args.embedded else subprocess.Popen(
        punte + ["worker", "--poll", "0.2"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = "no worker" if args.no_worker else ("embedded worker running" if args.embedded else "worker running")
    engine = sa.create_engine(url)
    try:
        for _ in range(200):
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        print(f"db={args.db} cpus={os.cpu_count()} python={sys.version.split()[0]}")
        warm = [e for n in range(20) for e in payment_events("warm", n)]
        open_loop(base, warm, 100)

        count = int(args.rate * args.seconds)
        events = [e for n in range((count + 1) // 2) for e in payment_events("rate", n)][:count]
        latencies, took = open_loop(base, events, args.rate)
        p50, p99 = quantiles(latencies)
        print(f"rate: {len(events)} events at {args.rate:.0f}/s scheduled ({len(events) / took:.1f}/s sent), "
              f"{state}: ack p50={p50:.1f}ms p99={p99:.1f}ms max={max(latencies) * 1000:.1f}ms")
        if not args.no_worker:
            wait_invoiced(engine, 20 + (count + 1) // 2)

        burst = [e for n in range(args.payments) for e in payment_events("burst", n)]
        chunks = [burst[i::args.senders] for i in range(args.senders)]
        lat: list[float] = []

        def send(chunk: list[dict]) -> list[float]:
            out = []
            with httpx.Client(base_url=base, timeout=30) as c:
                for payload in chunk:
                    body, headers = signed(payload)
                    t = time.perf_counter()
                    r = c.post(f"/webhooks/stripe/{CIF}", content=body, headers=headers)
                    out.append(time.perf_counter() - t)
                    assert r.status_code == 200, r.text
            return out

        start = time.perf_counter()
        with ThreadPoolExecutor(args.senders) as pool:
            for part in pool.map(send, chunks):
                lat.extend(part)
        acked = time.perf_counter() - start
        p50, p99 = quantiles(lat)
        print(f"burst: {len(burst)} events from {args.senders} senders in {acked:.1f}s = {len(burst) / acked:.1f} "
              f"events/s acknowledged ({state}), ack p50={p50:.1f}ms p99={p99:.1f}ms")
        if args.no_worker:
            return
        done = wait_invoiced(engine, 20 + (count + 1) // 2 + args.payments)
        print(f"through: {args.payments} payments invoiced {done - start:.1f}s after the first delivery = "
              f"{args.payments / (done - start):.1f} payments/s")
    finally:
        for proc in (server, worker):
            if proc is None:
                continue
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        engine.dispose()
        if schema:
            with sa.create_engine(args.pg).begin() as c:
                c.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
