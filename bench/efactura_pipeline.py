"""e-Factura pipeline throughput against the offline ANAF sandbox: invoices from issued to ``ok`` per
second with one and with two ``punte worker`` processes, and ANAF calls per invoice.

    .venv/bin/python bench/efactura_pipeline.py [--invoices 100] [--workers 1 2] [--rules ../shared/efactura]
                                                [--database-url postgresql+psycopg://...]

punte (API + sandbox) is served by uvicorn in this process; the workers are separate ``punte worker``
processes on the same database, as in production. Invoices are issued through the issuing service
(the same transaction as the API's), every one queued for e-Factura, and the clock runs from the
first issue to the last ``ok``. The sandbox processes a file at the first call after its upload
(``processing_delay`` 0) and answers every call at once, so the figures are punte's own cost:
building the UBL, the database transitions, the HTTP calls, archiving. With ``--rules`` punte
validates every invoice locally with ANAF's Schematron and the sandbox validates it again, as ANAF would.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import func, select

from punte.config import Settings
from punte.store.db import Database
from punte.store.migrate import upgrade

CIF = "RO18547290"


def invoice_request() -> object:
    from punte.smartbill.wire import InvoiceRequest

    return InvoiceRequest.model_validate({
        "companyVatCode": CIF, "seriesName": "FCT",
        "client": {"name": "Client SRL", "vatCode": "RO14399840", "isTaxPayer": True, "address": "Str. Lunga 1",
                   "city": "Brasov", "county": "Brasov", "country": "Romania"},
        "products": [{"name": f"Produs {i}", "measuringUnitName": "buc", "currency": "RON", "quantity": i + 1,
                      "price": 12.34, "isTaxIncluded": False, "taxName": "Normala", "taxPercentage": 21}
                     for i in range(5)],
    })


def serve(settings: Settings, db: Database) -> tuple[uvicorn.Server, str, collections.Counter[str]]:
    from punte.api.app import create_app

    app = create_app(settings, db=db, migrate=False)
    calls: collections.Counter[str] = collections.Counter()

    @app.middleware("http")
    async def count(request, call_next):  # type: ignore[no-untyped-def]
        path = request.url.path
        if path.startswith("/anaf-sandbox/"):
            name = path.rsplit("/", 1)[-1] if "/FCTEL/rest/" in path else path.split("/")[-1]
            if name.startswith("listaMesaje"):  # P: the received-invoices sync, T: reconciling lost uploads
                name += f"[{request.query_params.get('filtru', '-')}]"
            calls[name] += 1
        return await call_next(request)

    sandbox = app.state.anaf_sandbox
    sandbox.processing_delay = 0
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings.public_url = base
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server, base, calls


def setup_company(db: Database, settings: Settings) -> None:
    from punte.cli_anaf import follow_sandbox_authorization
    from punte.efactura.anaf import submissions
    from punte.services import anaf_connection
    from punte.services.companies import CompanyData, add_company, add_series, get_company

    with db.session(write=True) as session:
        company = add_company(session, CompanyData(cif=CIF, name="Firma Bench SRL", address="Str. Memorandumului 28",
                                                   city="Cluj-Napoca", county="Cluj", reg_com="J12/1/2020"),
                              actor="bench")
        add_series(session, company, type="f", name="FCT", actor="bench")
        submissions.enable(session, company, env="sandbox", auto=True, actor="bench")
        auth = anaf_connection.start_authorization(session, settings, company, env="sandbox", actor="bench")
    location, _code, _state = follow_sandbox_authorization(auth.url, None)
    assert httpx.get(location, timeout=30).status_code == 200
    with db.session() as session:
        assert anaf_connection.connection_status(session, get_company(session, CIF)).state == "connected"


def start_workers(n: int, settings: Settings, url: str, log: Path) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "DATABASE_URL": url, "PUNTE_DATA_DIR": str(settings.data_dir),
           "PUNTE_SECRET_KEY": settings.secret_key or "", "PUNTE_PUBLIC_URL": settings.public_url,
           "PUNTE_ANAF_POLL_SECONDS": "0.2", "PUNTE_ANAF_POLL_MAX_SECONDS": "1", "PUNTE_BNR_AUTO_FETCH": "false"}
    env.pop("PUNTE_DATABASE_URL", None)
    return [subprocess.Popen([sys.executable, "-m", "punte.cli", "worker", "--poll", "0.05"], env=env,
                             stdout=log.open("ab"), stderr=subprocess.STDOUT) for _ in range(n)]


def wait_idle_workers(db: Database, procs: list[subprocess.Popen[bytes]], log: Path) -> None:
    """Workers are up when each has logged its start (imports and migration checks take a few seconds)."""
    deadline = time.monotonic() + 120
    while log.read_text(errors="replace").count("punte.worker: worker") < len(procs):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            raise RuntimeError(f"workers did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.1)


def run(n_invoices: int, n_workers: int, rules: Path | None, database_url: str | None) -> dict[str, float]:
    from punte.efactura.anaf.submissions import TERMINAL
    from punte.services.companies import get_company
    from punte.services.issuing import create_document
    from punte.store.models_anaf import EfacturaSubmission

    work = Path(tempfile.mkdtemp(prefix="punte-bench-efactura-"))
    settings = Settings(data_dir=work / "data", secret_key="bench-secret", bnr_auto_fetch=False,
                        embedded_worker=False)
    url = database_url or f"sqlite:///{work / 'data' / 'punte.db'}"
    if rules is not None:
        from punte.efactura.rules import install_bundle

        install_bundle(settings.data_dir, rules / "ro16931-ubl-1.0.9.zip", xsd_source=rules / "ubl-2.1")
    upgrade(url)
    db = Database(url)
    if not db.is_sqlite:
        from punte.store.models import Base

        with db.engine.begin() as conn:
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    server, _base, calls = serve(settings, db)
    log = work / "workers.log"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        setup_company(db, settings)
        calls.clear()
        procs = start_workers(n_workers, settings, url, log)
        wait_idle_workers(db, procs, log)
        request = invoice_request()
        start = time.perf_counter()
        for _ in range(n_invoices):
            with db.session(write=True) as session:
                create_document(session, get_company(session, CIF), request, kind="invoice", actor="bench")  # type: ignore[arg-type]
        issued = time.perf_counter() - start
        deadline = time.monotonic() + 600
        while True:
            with db.session() as session:
                done = session.scalar(select(func.count()).select_from(EfacturaSubmission)
                                      .where(EfacturaSubmission.state.in_(tuple(TERMINAL))))
                states = dict(session.execute(select(EfacturaSubmission.state, func.count())
                                              .group_by(EfacturaSubmission.state)).all())
            if done >= n_invoices or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
        from punte.store.models import Event

        with db.session() as session:
            detours = [(e.action, (e.data or {}).get("reason")) for e in session.scalars(select(Event).where(
                Event.entity == "efactura_submission",
                Event.action.in_(("unknown", "upload_retry", "not_found", "reconciled", "duplicate_reconciled"))))]
    finally:
        for p in procs:
            p.kill()
            p.wait()
        server.should_exit = True
        db.dispose()
    if states.get("ok") != n_invoices:
        raise RuntimeError(f"not all ok: {states}\n{log.read_text()[-3000:]}")
    total_calls = sum(v for k, v in calls.items() if k not in ("authorize", "token") and not k.endswith("[P]"))
    shutil.rmtree(work, ignore_errors=True)
    for action, reason in detours:
        print(f"  detour: {action}: {reason}", flush=True)
    return {"invoices": n_invoices, "workers": n_workers, "seconds": elapsed, "issue_seconds": issued,
            "per_second": n_invoices / elapsed, "calls_per_invoice": total_calls / n_invoices,
            **{f"calls.{k}": v / n_invoices for k, v in sorted(calls.items())}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=100)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rules", type=Path, default=None,
                        help="../shared/efactura: validate with ANAF's rules (punte and the sandbox)")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (its tables are emptied!)")
    args = parser.parse_args()
    for n in args.workers:
        result = run(args.invoices, n, args.rules, args.database_url)
        per_call = ", ".join(f"{k.removeprefix('calls.')} {v:.2f}" for k, v in result.items() if k.startswith("calls."))
        print(f"{n} worker(s): {result['invoices']} invoices issued->ok in {result['seconds']:.1f} s = "
              f"{result['per_second']:.1f} invoices/s (issuing alone {result['issue_seconds']:.1f} s); "
              f"ANAF calls per invoice by the pipeline {result['calls_per_invoice']:.2f} (all calls: {per_call})",
              flush=True)


if __name__ == "__main__":
    main()
