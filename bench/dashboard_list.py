"""The dashboard's documents list (and overview) with 100,000 documents: latency per page and filter.

Builds a fresh database (SQLite file or a PostgreSQL schema) with one company and N documents spread
over three years (invoices, proformas, some cancelled, a fifth of the invoices paid), inserted in bulk
rather than issued one by one (issuing is measured by bench/issue_invoices.py). Then starts a real
``punte serve``, logs in through the log-in form and times the pages over HTTP.

    .venv/bin/python bench/dashboard_list.py --db sqlite --documents 100000
    .venv/bin/python bench/dashboard_list.py --db postgres --documents 100000
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx

CIF = "RO18547290"
EMAIL, PASSWORD = "bench@punte.ro", "parola-de-bench-1"
WORDS = ["Alfa", "Beta", "Gamma", "Delta", "Omega", "Nord", "Sud", "Est", "Vest", "Carpati", "Dunarea", "Mures",
         "Olt", "Siret", "Prut", "Tisa", "Bega", "Jiu", "Arges", "Ialomita"]
FORMS = ["SRL", "SA", "PFA", "II", "SNC"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(url: str, documents: int, data_dir: Path) -> dict[str, str]:
    """Company, series, a dashboard owner and ``documents`` documents; returns values to search for."""
    from sqlalchemy import insert, select, update

    from punte.config import Settings
    from punte.services.companies import CompanyData, add_company, add_series
    from punte.store.db import Database
    from punte.store.migrate import upgrade
    from punte.store.models import Document, Payment, Series
    from punte.store.models_payments import PaymentAllocation
    from punte.web.accounts import add_user

    upgrade(url)
    db = Database(url)
    Settings(data_dir=data_dir, secret_key="bench")
    with db.session(write=True) as s:
        company = add_company(s, CompanyData(cif=CIF, name="Bench SRL", address="Str. 2", city="Cluj-Napoca",
                                             county="Cluj"), actor="bench")
        fct = add_series(s, company, type="f", name="FCT", actor="bench")
        prf = add_series(s, company, type="p", name="PRF", actor="bench")
        add_user(s, company, EMAIL, PASSWORD, "owner", actor="bench")
        company_id, fct_id, prf_id = company.id, fct.id, prf.id

    rnd = random.Random(7)
    clients = [f"{rnd.choice(WORDS)} {rnd.choice(WORDS)} {n:04d} {rnd.choice(FORMS)}" for n in range(2000)]
    start = date.today() - timedelta(days=3 * 365)
    seller = {"name": "Bench SRL", "cif": f"RO{CIF[2:]}", "address": "Str. 2", "city": "Cluj-Napoca",
              "county": "Cluj", "country": "Romania", "is_tax_payer": True}
    numbers = {"invoice": 0, "proforma": 0}
    picked: dict[str, str] = {}
    rows, payments = [], []
    for n in range(documents):
        kind = "proforma" if n % 10 == 9 else "invoice"
        numbers[kind] += 1
        number = numbers[kind]
        net = Decimal(rnd.randint(1000, 500000)) / 100
        vat = (net * Decimal("0.21")).quantize(Decimal("0.01"))
        client = clients[rnd.randrange(len(clients))]
        day = start + timedelta(days=n * 3 * 365 // documents)
        rows.append({
            "company_id": company_id, "kind": kind, "series_id": fct_id if kind == "invoice" else prf_id,
            "series_name": "FCT" if kind == "invoice" else "PRF", "number": number, "number_text": f"{number:06d}",
            "status": "cancelled" if n % 20 == 7 else "issued", "issue_date": day, "due_date": day + timedelta(days=15),
            "currency": "RON", "language": "RO", "precision": 2, "vat_payer": True, "vat_on_collection": False,
            "seller": seller, "buyer": {"name": client, "country": "Romania"}, "client_name": client,
            "client_cif": None, "line_total": net, "allowance_total": Decimal("0.00"), "net_total": net,
            "vat_total": vat, "gross_total": net + vat,
            "vat_breakdown": [{"category": "S", "percentage": "21", "taxable_amount": str(net), "tax_amount": str(vat),
                               "name": "Normala", "exemption_reason": None}],
            "details": {}, "view_token": secrets.token_urlsafe(24), "created_by": "bench",
            "created_at": datetime.now(UTC), "issued_at": datetime.now(UTC),
        })
        if n == documents // 2:
            picked |= {"number": f"FCT{number:06d}" if kind == "invoice" else f"PRF{number:06d}",
                       "amount": format(net + vat, "f").replace(".", ","), "client": client}
    t = time.perf_counter()
    with db.session(write=True) as s:
        for chunk in range(0, len(rows), 5000):
            s.execute(insert(Document), rows[chunk:chunk + 5000])
        s.execute(update(Series).where(Series.id == fct_id).values(next_number=numbers["invoice"] + 1))
        s.execute(update(Series).where(Series.id == prf_id).values(next_number=numbers["proforma"] + 1))
        ids = s.execute(select(Document.id, Document.gross_total, Document.issue_date).where(
            Document.kind == "invoice", Document.status == "issued").order_by(Document.id)).all()
        paid_part = ids[: len(ids) * 4 // 5]  # the older four fifths are paid, as in a business that collects
        for doc_id, gross, day in paid_part:
            payments.append({"company_id": company_id, "document_id": doc_id, "type": "Ordin plata", "value": gross,
                             "currency": "RON", "payment_date": day, "is_cash": False, "created_by": "bench",
                             "created_at": datetime.now(UTC), "status": "issued"})
        for chunk in range(0, len(payments), 5000):
            s.execute(insert(Payment), payments[chunk:chunk + 5000])
        pay_ids = s.scalars(select(Payment.id).order_by(Payment.id)).all()
        allocations = [{"payment_id": pid, "document_id": doc_id, "position": 1, "amount": gross}
                       for pid, (doc_id, gross, _) in zip(pay_ids, paid_part, strict=True)]
        for chunk in range(0, len(allocations), 5000):
            s.execute(insert(PaymentAllocation), allocations[chunk:chunk + 5000])
        # what services.payments.refresh_paid keeps on each invoice, in one statement: each is wholly paid
        s.execute(update(Document).where(Document.kind == "invoice", Document.status == "issued",
                                         Document.id <= paid_part[-1][0])
                  .values(paid_total=Document.gross_total, payment_state="paid")
                  .execution_options(synchronize_session=False))
    with db.session() as s:  # the bulk update agrees with the allocations (a sample, both sides of the edge)
        from punte.services.payments import paid_amounts

        sample = [doc_id for doc_id, _, _ in ids[len(paid_part) - 250:len(paid_part) + 250]]
        paid = paid_amounts(s, sample)
        for doc_id, kept in s.execute(select(Document.id, Document.paid_total).where(Document.id.in_(sample))):
            assert kept == paid.get(doc_id, Decimal(0)), (doc_id, kept, paid.get(doc_id))
    if db.engine.dialect.name == "postgresql":  # what autovacuum does soon after a bulk load
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    print(f"seeded {documents} documents and {len(payments)} payments in {time.perf_counter() - t:.1f}s")
    mid = rows[documents // 2]
    picked["rare_client"] = clients[1234].split()[2]  # "1234": in one client name only
    picked["common_client"] = "alfa"
    picked["month_from"] = mid["issue_date"].replace(day=1).isoformat()
    picked["month_to"] = (mid["issue_date"].replace(day=1) + timedelta(days=31)).replace(day=1).isoformat()
    db.dispose()
    return picked


def cards(url: str) -> None:
    """Where the overview's time goes: each card's loader in process (p50 of 5, after one warm-up)."""
    from sqlalchemy import select

    from punte.services.issuing import today_in_romania
    from punte.store.db import Database
    from punte.store.models import Company
    from punte.web.panels import OVERVIEW_CARDS

    db = Database(url)
    today = today_in_romania()
    with db.session() as s:
        company_id = s.scalar(select(Company.id))
        assert company_id is not None
        for card in OVERVIEW_CARDS:
            times = []
            for _ in range(6):
                t = time.perf_counter()
                card.load(s, company_id, today)
                times.append((time.perf_counter() - t) * 1000)
            print(f"  overview card {card.template:36s} p50={statistics.median(times[1:]):7.1f} ms (in process)")
    db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--documents", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=30, help="requests per measured page")
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()

    data = Path(tempfile.mkdtemp(prefix="punte-bench-dash-"))
    env = {**os.environ, "PUNTE_DATA_DIR": str(data), "PUNTE_SECRET_KEY": "bench", "PUNTE_EMBEDDED_WORKER": "false",
           "PUNTE_BNR_AUTO_FETCH": "false"}
    schema = None
    url = f"sqlite:///{data / 'punte.db'}"
    if args.db == "postgres":
        import sqlalchemy as sa

        schema = f"punte_bench_{uuid.uuid4().hex[:8]}"
        with sa.create_engine(args.pg).begin() as c:
            c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = f"{args.pg}?options=-csearch_path%3D{schema}"
    env["PUNTE_DATABASE_URL"] = url
    port = free_port()
    env["PUNTE_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    server = None
    try:
        picked = seed(url, args.documents, data)
        server = subprocess.Popen([sys.executable, "-m", "punte.cli", "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        with httpx.Client(base_url=base, timeout=60) as c:
            csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', c.get("/login").text).group(1)  # type: ignore[union-attr]
            r = c.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": csrf})
            assert r.status_code in (200, 303) and "punte_session" in c.cookies, r.text[:300]
            first = c.get("/documents")
            assert first.status_code == 200
            # a cursor in the middle of the list: follow "older" 1,000 documents at a time from a mid document
            mid_cursor = None
            with_after = re.findall(r'after=([0-9-]+_\d+)', first.text)
            assert with_after, "no next page link"
            from sqlalchemy import create_engine, text

            eng = create_engine(url)
            with eng.connect() as conn:
                row = conn.execute(text("select issue_date, id from documents order by issue_date, id "
                                        "limit 1 offset :n"), {"n": args.documents // 2}).one()
                mid_cursor = f"{row[0]}_{row[1]}" if isinstance(row[0], str) else f"{row[0].isoformat()}_{row[1]}"
                plan = None
                if args.db == "sqlite":
                    plan = conn.execute(text(
                        "explain query plan select id, client_name, gross_total from documents where company_id = 1 "
                        "and (issue_date, id) < (:d, :i) order by issue_date desc, id desc limit 51"
                    ), {"d": row[0], "i": row[1]}).all()
            eng.dispose()
            pages = {
                "first page": "/documents",
                "page in the middle (keyset cursor)": f"/documents?after={mid_cursor}",
                "last page": "/documents?before=1900-01-01_0",
                "filter status=cancelled": "/documents?status=cancelled",
                "filter kind=proforma, middle": f"/documents?kind=proforma&after={mid_cursor}",
                "search number": f"/documents?number={picked['number']}",
                "search amount": f"/documents?amount={picked['amount']}",
                "search client, common (alfa)": f"/documents?client={picked['common_client']}",
                "search client, rare (one client)": f"/documents?client={picked['rare_client']}",
                "date range, one month": f"/documents?from={picked['month_from']}&to={picked['month_to']}",
                "overview (month total, unpaid invoices)": "/",
            }
            print(f"db={args.db} documents={args.documents} cpus={os.cpu_count()} python={sys.version.split()[0]}")
            if plan:
                print("sqlite plan, keyset page:", "; ".join(str(p[-1]) for p in plan))
            for label, path in pages.items():
                for _ in range(3 if path != "/" else 1):
                    r = c.get(path)
                    assert r.status_code == 200, (path, r.status_code, r.text[:300])
                rows = len(re.findall(r'<tr class="st-', r.text))
                times = []
                for _ in range(args.requests if path != "/" else max(5, args.requests // 4)):
                    t = time.perf_counter()
                    c.get(path).raise_for_status()
                    times.append((time.perf_counter() - t) * 1000)
                q = statistics.quantiles(times, n=20)
                print(f"{label:42s} rows={rows:3d}  p50={statistics.median(times):7.1f} ms  p95={q[18]:7.1f} ms")
            cards(url)
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        if schema:
            import sqlalchemy as sa

            with sa.create_engine(args.pg).begin() as c:
                c.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
