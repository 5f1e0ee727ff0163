"""End-to-end fixtures: a real punte server (uvicorn in a thread, free port, SQLite) and real Chromium.

The browser is Debian's ``chromium`` driven by Playwright (whose own browsers are never downloaded);
a missing browser skips locally and fails in CI (``require_or_skip``).
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from punte.config import Settings
from punte.store.db import Database
from tests.conftest import REPO, make_account, require_or_skip
from tests.integration.web_support import PASSWORD, add_web_user

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = REPO / "docs" / "screenshots"
OWNER = "ana@firma.ro"
ACCOUNTANT = "dan@firma.ro"
VIEWER = "ion@firma.ro"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    db: Database
    settings: Settings
    cif: str


def _seed_documents(db: Database, cif: str) -> None:
    """A few invoices and a proforma, so that the list, the overview and the screenshots show something."""
    from punte.services.companies import get_company
    from punte.services.issuing import create_document, today_in_romania
    from punte.smartbill.wire import EstimateRequest, InvoiceRequest

    clients = [
        ("Alfa Distributie SRL", "RO14399840", "Brasov", "Brasov"),
        ("Beta Software SRL", "RO13548146", "Cluj-Napoca", "Cluj"),
        ("Gamma Construct SA", "RO1590082", "Iasi", "Iasi"),
    ]
    today = today_in_romania().isoformat()
    with db.session(write=True) as s:
        company = get_company(s, cif)
        for n in range(7):
            name, vat, city, county = clients[n % 3]
            body = {
                "client": {"name": name, "vatCode": vat, "address": "Str. Libertatii 10", "city": city,
                           "county": county, "country": "Romania", "isTaxPayer": True, "saveToDb": False},
                "seriesName": "FCT", "issueDate": today, "dueDate": today,
                "products": [
                    {"name": f"Servicii consultanta {n + 1}", "measuringUnitName": "ora", "currency": "RON",
                     "quantity": n + 2, "price": "150", "taxName": "Normala", "taxPercentage": 21},
                    {"name": "Licenta software", "measuringUnitName": "buc", "currency": "RON", "quantity": 1,
                     "price": "99.90", "isTaxIncluded": True, "taxName": "Normala", "taxPercentage": 21},
                ],
            }
            if n % 3 == 0:
                body["payment"] = {"type": "Ordin plata", "value": "100"}
            create_document(s, company, InvoiceRequest.model_validate(body), kind="invoice", actor="seed@firma.ro")
        create_document(s, company, EstimateRequest.model_validate({
            "client": {"name": "Delta Retail SRL", "address": "Bd. Unirii 1", "city": "Bucuresti",
                       "county": "Bucuresti", "country": "Romania", "saveToDb": False},
            "seriesName": "PRF", "issueDate": today,
            "products": [{"name": "Abonament anual", "measuringUnitName": "buc", "currency": "RON", "quantity": 1,
                          "price": "1200", "taxName": "Normala", "taxPercentage": 21}],
        }), kind="proforma", actor="seed@firma.ro")


def _connect_efactura(db: Database, settings: Settings, cif: str) -> None:
    """Connect the company to the server's own ANAF sandbox (OAuth through ``/anaf/callback``) and turn
    automatic e-Factura sending on, as ``punte anaf connect`` + ``punte efactura enable`` do."""
    import httpx

    from punte.cli_anaf import follow_sandbox_authorization
    from punte.efactura.anaf import submissions
    from punte.services import anaf_connection
    from punte.services.companies import get_company

    with db.session(write=True) as s:
        auth = anaf_connection.start_authorization(s, settings, get_company(s, cif), env="sandbox", actor="e2e")
    location, code, state = follow_sandbox_authorization(auth.url, None)
    assert code and state == auth.state
    assert httpx.get(location, timeout=30).status_code == 200
    with db.session(write=True) as s:
        submissions.enable(s, get_company(s, cif), env="sandbox", auto=True, actor="e2e")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[LiveServer]:
    import uvicorn

    from punte.api.app import create_app

    data = tmp_path_factory.mktemp("e2e")
    shutil.copy(sqlite_template, data / "punte.db")
    port = _free_port()
    settings = Settings(
        data_dir=data, secret_key="e2e-secret", public_url=f"http://127.0.0.1:{port}", bnr_auto_fetch=False,
        database_url=f"sqlite:///{data / 'punte.db'}", anaf_poll_seconds=0.1, anaf_poll_max_seconds=0.5,
    )
    db = Database(settings.resolved_database_url())
    account = make_account(db, settings)
    add_web_user(db, account.cif, OWNER, "owner")
    add_web_user(db, account.cif, ACCOUNTANT, "accountant")
    add_web_user(db, account.cif, VIEWER, "viewer")
    _seed_documents(db, account.cif)
    app = create_app(settings, db=db, migrate=False, worker=True)  # the worker sends invoices to e-Factura
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the punte server did not start")
        time.sleep(0.05)
    _connect_efactura(db, settings, account.cif)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", db=db, settings=settings, cif=account.cif)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        db.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Per module: Playwright's sync API keeps an event loop running while it is open, which would break
    later tests in the same worker process that call ``asyncio.run``."""
    require_or_skip(CHROMIUM.exists(), "Debian's chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the test extra installs it
        require_or_skip(False, "playwright is not installed (pip install -e '.[test]')")
        raise
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server: LiveServer):  # type: ignore[no-untyped-def]
    context = browser.new_context(  # type: ignore[attr-defined]
        base_url=live_server.url, viewport={"width": 1280, "height": 860}, locale="ro-RO",
        timezone_id="Europe/Bucharest",
    )
    context.set_default_timeout(10_000)
    pg = context.new_page()
    yield pg
    context.close()


def log_in(page, email: str = OWNER, password: str = PASSWORD) -> None:  # type: ignore[no-untyped-def]
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def screenshot(page, name: str, *, full_page: bool = True) -> None:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)
