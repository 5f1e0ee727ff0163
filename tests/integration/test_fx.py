"""BNR rates: loaded from a year file on disk, fetched once from a (local) BNR server, used by documents."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from punte.config import get_settings
from punte.services import fx
from punte.services.issuing import today_in_romania
from punte.store.db import Database
from punte.store.models import Document, ExchangeRate
from punte.worker.runner import Worker
from tests.integration.test_invoice_api import body, issue


MULTIPLIER = ' multiplier="100"'


def bnr_xml(rates: dict[date, dict[str, str]], *, ns: str = "http://www.bnr.ro/xsd") -> bytes:
    cubes = "".join(
        f'<Cube date="{d.isoformat()}">'
        + "".join(
            f'<Rate currency="{c}"{MULTIPLIER if c == "HUF" else ""}>{v}</Rate>' for c, v in values.items()
        )
        + "</Cube>"
        for d, values in sorted(rates.items())
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><DataSet xmlns="{ns}"><Header><Publisher>National Bank of Romania'
        f"</Publisher></Header><Body><Subject>Reference rates</Subject><OrigCurrency>RON</OrigCurrency>{cubes}"
        "</Body></DataSet>"
    ).encode()


def banking_days(start: date, end: date) -> list[date]:
    from punte.domain.calendar import is_working_day

    days, d = [], start
    while d <= end:
        if is_working_day(d):
            days.append(d)
        d += timedelta(days=1)
    return days


YEAR = {d: {"EUR": f"5.{d.timetuple().tm_yday:04d}", "HUF": "1.3180"} for d in banking_days(date(2025, 1, 2), date(2025, 12, 31))}


class FakeBnr:
    """A small real HTTP server standing in for www.bnr.ro."""

    def __init__(self, daily: dict[date, dict[str, str]], years: dict[int, dict[date, dict[str, str]]]) -> None:
        self.daily, self.years, self.requests = daily, years, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.requests.append(self.path)
                if self.path == "/nbrfxrates.xml":
                    data = bnr_xml(outer.daily, ns="https://www.bnr.ro/xsd")
                elif self.path.startswith("/files/xml/years/nbrfxrates"):
                    year = int(self.path[-8:-4])
                    if year not in outer.years:
                        self.send_error(404)
                        return
                    data = bnr_xml(outer.years[year])
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def bnr() -> Iterator[FakeBnr]:
    today = today_in_romania()
    recent = banking_days(today - timedelta(days=10), today)
    server = FakeBnr({recent[-1]: {"EUR": "5.0912"}}, {2025: YEAR, today.year: {d: {"EUR": "5.0900"} for d in recent}})
    yield server
    server.close()


def test_year_file_loaded_once_and_used_for_the_last_publication_on_or_before(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "nbrfxrates2025.xml"
    path.write_bytes(bnr_xml(YEAR))
    first = fx.load_file(db, path)
    assert first.added == 2 * len(YEAR) and first.first == date(2025, 1, 3)
    assert fx.load_file(db, path).added == 0  # idempotent
    # Saturday 2025-03-15 uses Friday's publication; HUF is per one unit (multiplier 100)
    assert fx.rate_for(db, "EUR", date(2025, 3, 15)) == (date(2025, 3, 14), Decimal("5.0073"))
    assert fx.rate_for(db, "HUF", date(2025, 3, 14)) == (date(2025, 3, 14), Decimal("0.013180"))


def test_invoice_without_exchange_rate_takes_and_stores_the_bnr_rate(client, account, db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "y.xml"
    path.write_bytes(bnr_xml(YEAR))
    fx.load_file(db, path)
    data = body(currency="EUR", issueDate="2025-09-14")  # a Sunday
    data["products"][0]["currency"] = "EUR"
    r = issue(client, account, data)
    assert r.status_code == 200, r.json()
    with db.session() as s:
        doc = s.scalar(select(Document))
        assert doc.exchange_rate == Decimal("5.0255")  # Friday 12 September's publication
        assert doc.vat_total_ron == (doc.vat_total * Decimal("5.0255")).quantize(Decimal("0.01"))


def test_a_store_that_stopped_a_while_ago_is_not_used(client, account, db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "y.xml"
    path.write_bytes(bnr_xml(YEAR))
    fx.load_file(db, path)
    data = body(currency="EUR", issueDate="2026-02-10")  # newest stored rate is from 2025-12-31
    data["products"][0]["currency"] = "EUR"
    r = issue(client, account, data)
    assert r.status_code == 400
    assert r.json()["errorText"].startswith("Cursul BNR pentru EUR la data 2026-02-10 nu este cunoscut.")
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Document)) == 0


def test_refresh_fetches_what_is_due_once(db: Database, bnr: FakeBnr) -> None:
    now = datetime.now(UTC)
    result = fx.refresh_if_due(db, base_url=bnr.url, now=now)
    assert result is not None and result.added > 0
    assert bnr.requests[-1].startswith("/files/xml/years/")  # empty store: the whole year
    count = len(bnr.requests)
    assert fx.refresh_if_due(db, base_url=bnr.url, now=now) is None
    assert len(bnr.requests) == count  # nothing fetched twice


def test_worker_keeps_rates_current(db: Database, settings, bnr: FakeBnr) -> None:  # type: ignore[no-untyped-def]
    settings = settings.model_copy(update={"bnr_auto_fetch": True, "bnr_base_url": bnr.url})
    Worker(db, settings).run_until_idle()
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(ExchangeRate)) > 0


def test_fetch_error_is_clear_and_stores_nothing(db: Database, bnr: FakeBnr) -> None:
    from punte.fx.bnr import BnrFeedError

    with pytest.raises(BnrFeedError, match="HTTP 404"):
        fx.fetch(db, base_url=bnr.url, year=2019)
    assert fx.latest_stored(db) is None


def test_cli_loads_a_year_file_and_shows_a_rate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bnr: FakeBnr) -> None:
    from punte.cli import app

    monkeypatch.setenv("PUNTE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("PUNTE_SECRET_KEY", "cli-test")
    get_settings.cache_clear()
    try:
        path = tmp_path / "nbrfxrates2025.xml"
        path.write_bytes(bnr_xml(YEAR))
        r = CliRunner().invoke(app, ["rates", "load", str(path)])
        assert r.exit_code == 0, r.output
        assert f"{2 * len(YEAR)} rates added" in r.output
        r = CliRunner().invoke(app, ["rates", "show", "--currency", "eur", "--date", "2025-03-15"])
        assert r.exit_code == 0 and "EUR 5.0073 RON (BNR, publicat 2025-03-14)" in r.output
        r = CliRunner().invoke(app, ["rates", "show", "--currency", "USD", "--date", "2025-03-15"])
        assert r.exit_code == 1 and "niciun curs BNR pentru USD" in r.output
        r = CliRunner().invoke(app, ["rates", "fetch", "--url", bnr.url])
        assert r.exit_code == 0 and "1 publications" in r.output
        bad = tmp_path / "bad.xml"
        bad.write_bytes(b"<html>maintenance</html>")
        r = CliRunner().invoke(app, ["rates", "load", str(bad)])
        assert r.exit_code == 1 and "Eroare" in r.output
    finally:
        get_settings.cache_clear()
