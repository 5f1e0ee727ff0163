"""Payment webhooks: acknowledgement latency, sustained events per second, payments carried to invoices.

Starts punte's API (``punte serve``) and, unless told otherwise, a separate ``punte worker`` on a fresh
SQLite file or PostgreSQL schema, configures a Stripe bridge, then sends signed Stripe deliveries (each
payment: ``checkout.session.completed`` + ``payment_intent.succeeded``, the way Stripe sends a Checkout
payment):

1. ``rate``: an open-loop schedule of ``--rate`` events per second for ``--seconds`` (the worker busy
   processing meanwhile): acknowledgement latency p50/p99/max, each counted from the event's *scheduled*
   send time, so a slow answer that delays the next sends is not hidden (target: p99 under 20 ms at
   200 events/s on 2 cores);
2. ``burst``: ``--senders`` concurrent senders as fast as they go: sustained acknowledged events per second;
3. ``through``: from the burst's first delivery until every payment has its invoice: payments per second.

The sender is a lean asyncio HTTP/1.1 client (pre-built requests on keep-alive connections, a new
connection whenever none is free), run in a child process of its own, so that it takes as little of the
two cores as it can and never waits for an answer before the next scheduled send. Every line reports the
load average before and after, and the CPU the API process spent per event.

    .venv/bin/python bench/webhooks.py --db sqlite --rate 200 --seconds 15 --payments 1000
    .venv/bin/python bench/webhooks.py --db sqlite --embedded
    .venv/bin/python bench/webhooks.py --db sqlite --embedded --thread
    .venv/bin/python bench/webhooks.py --db postgres
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import sqlalchemy as sa

CIF = "RO18547290"
SECRET = "whsec_bench_0123456789"
PATH = f"/webhooks/stripe/{CIF}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raw_request(payload: dict, host: str) -> bytes:
    """One signed delivery as the bytes of an HTTP/1.1 request (built before the clock starts)."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    t = int(time.time())
    sig = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    head = (f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Stripe-Signature: t={t},v1={sig}\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


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


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ----- the sender (runs in a child process) -------------------------------------------------------------------


class _Connection:
    """A keep-alive HTTP/1.1 connection that sends one request at a time and reads its whole answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> _Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def send(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")  # IncompleteReadError: closed while idle
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


async def _open_loop(port: int, requests: list[bytes], rate: float) -> tuple[list[float], float, int]:
    """Send request i at ``start + i / rate`` whatever the earlier answers do; latency counts from that time."""
    idle: list[_Connection] = []
    latencies: list[float] = []
    failures = 0
    for _ in range(8):
        idle.append(await _Connection.open(port))
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.1

    async def one(i: int, due: float) -> None:
        nonlocal failures
        conn = idle.pop() if idle else await _Connection.open(port)
        try:
            status = await conn.send(requests[i])
        except (asyncio.IncompleteReadError, ConnectionError):
            conn.close()  # the server closes a keep-alive connection idle for 5 s before reading anything
            conn = await _Connection.open(port)
            status = await conn.send(requests[i])
        latencies.append(loop.time() - due)
        if status != 200:
            failures += 1
        idle.append(conn)

    tasks = []
    for i in range(len(requests)):
        due = start + i / rate
        pause = due - loop.time()
        if pause > 0:
            await asyncio.sleep(pause)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    took = loop.time() - start
    for conn in idle:
        conn.close()
    return latencies, took, failures


async def _closed_loop(port: int, requests: list[bytes], senders: int) -> tuple[list[float], float, int]:
    """``senders`` connections, each sending its next request as soon as the previous one is answered."""
    latencies: list[float] = []
    failures = 0
    loop = asyncio.get_running_loop()

    async def sender(part: list[bytes]) -> None:
        nonlocal failures
        conn = await _Connection.open(port)
        for request in part:
            t = loop.time()
            if await conn.send(request) != 200:
                failures += 1
            latencies.append(loop.time() - t)
        conn.close()

    start = loop.time()
    await asyncio.gather(*(sender(requests[i::senders]) for i in range(senders)))
    return latencies, loop.time() - start, failures


def _sender_main(mode: str, port: int, requests: list[bytes], arg: float, out: multiprocessing.Queue) -> None:
    runner = _open_loop(port, requests, arg) if mode == "open" else _closed_loop(port, requests, int(arg))
    try:
        out.put(asyncio.run(runner))
    except BaseException as exc:
        out.put(repr(exc))
        raise


def send(mode: str, port: int, payloads: list[dict], arg: float) -> tuple[list[float], float, int]:
    """Run a sender in a child process (the requests are built and signed here, before it starts)."""
    requests = [raw_request(p, f"127.0.0.1:{port}") for p in payloads]
    out: multiprocessing.Queue = multiprocessing.Queue()
    child = multiprocessing.Process(target=_sender_main, args=(mode, port, requests, arg, out))
    child.start()
    result = out.get()
    child.join()
    if isinstance(result, str):
        raise RuntimeError(f"the sender failed: {result}")
    return result


# ----- the measured processes ---------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def wait_invoiced(engine: sa.Engine, payments: int, timeout: float = 600) -> float:
    deadline = time.monotonic() + timeout
    done = 0
    while time.monotonic() < deadline:
        with engine.connect() as c:
            done = c.exec_driver_sql("select count(*) from bridge_payments where status = 'issued'").scalar_one()
        if done >= payments:
            return time.perf_counter()
        time.sleep(0.05)
    raise TimeoutError(f"only {done} of {payments} payments invoiced")


def wal_size(url: str) -> str:
    if not url.startswith("sqlite"):
        return ""
    wal = Path(url.split("///", 1)[1] + "-wal")
    return f", WAL {wal.stat().st_size / 1e6:.1f} MB" if wal.exists() else ", no WAL file"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--rate", type=float, default=200.0, help="events per second in the latency run")
    ap.add_argument("--seconds", type=float, default=15.0, help="length of the latency run")
    ap.add_argument("--payments", type=int, default=1000, help="payments in the burst run (2 events each)")
    ap.add_argument("--senders", type=int, default=8)
    ap.add_argument("--no-worker", action="store_true", help="acknowledge only (no processing meanwhile)")
    ap.add_argument("--embedded", action="store_true",
                    help="punte serve runs the worker (its default: a child process) instead of a `punte worker` apart")
    ap.add_argument("--thread", action="store_true",
                    help="with --embedded: the worker as a thread of the API process (PUNTE_WORKER_PROCESS=false)")
    ap.add_argument("--no-burst", action="store_true", help="only the latency run")
    ap.add_argument("--worker-nice", type=int, default=0,
                    help="start the separate worker at this lower CPU priority (nice), as a deployment would")
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
        env["PUNTE_WORKER_PROCESS"] = "false" if args.thread else "true"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(punte + ["serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    worker = None if args.no_worker or args.embedded else subprocess.Popen(
        punte + ["worker", "--poll", "0.2"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=(lambda: os.nice(args.worker_nice)) if args.worker_nice else None)
    state = "no worker" if args.no_worker else (
        ("embedded worker thread" if args.thread else "serve's worker process") if args.embedded else "separate worker")
    if worker is not None and args.worker_nice:
        state += f" (nice {args.worker_nice})"
    engine = sa.create_engine(url)
    try:
        for _ in range(300):
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        print(f"db={args.db} cpus={os.cpu_count()} python={sys.version.split()[0]} {state}")
        warm = [e for n in range(50) for e in payment_events("warm", n)]
        send("open", port, warm, 100)
        if not args.no_worker:
            wait_invoiced(engine, 50)

        count = int(args.rate * args.seconds)
        events = [e for n in range((count + 1) // 2) for e in payment_events("rate", n)][:count]
        before, cpu0 = load(), cpu_seconds(server.pid)
        latencies, took, failed = send("open", port, events, args.rate)
        cpu = (cpu_seconds(server.pid) - cpu0) / len(events) * 1000
        print(f"rate: {len(events)} events at {args.rate:.0f}/s scheduled ({len(events) / took:.1f}/s sent), "
              f"ack p50={quantile(latencies, .5) * 1000:.1f}ms p99={quantile(latencies, .99) * 1000:.1f}ms "
              f"max={max(latencies) * 1000:.1f}ms, {failed} not 200, API CPU {cpu:.2f} ms/event, "
              f"load {before} -> {load()}{wal_size(url)}")
        if not args.no_worker:
            sent = time.perf_counter()
            wait_invoiced(engine, 50 + (count + 1) // 2)
            print(f"rate backlog: every payment invoiced {time.perf_counter() - sent:.1f}s after the last answer")
        if args.no_burst:
            return

        burst = [e for n in range(args.payments) for e in payment_events("burst", n)]
        before, cpu0 = load(), cpu_seconds(server.pid)
        start = time.perf_counter()
        lat, acked, failed = send("closed", port, burst, args.senders)
        cpu = (cpu_seconds(server.pid) - cpu0) / len(burst) * 1000
        print(f"burst: {len(burst)} events from {args.senders} senders in {acked:.1f}s = {len(burst) / acked:.1f} "
              f"events/s acknowledged, ack p50={quantile(lat, .5) * 1000:.1f}ms p99={quantile(lat, .99) * 1000:.1f}ms"
              f", {failed} not 200, API CPU {cpu:.2f} ms/event, load {before} -> {load()}")
        if args.no_worker:
            return
        done = wait_invoiced(engine, 50 + (count + 1) // 2 + args.payments)
        print(f"through: {args.payments} payments invoiced {done - start:.1f}s after the first delivery = "
              f"{args.payments / (done - start):.1f} payments/s, load {load()}{wal_size(url)}")
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
