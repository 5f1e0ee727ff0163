"""Received invoices (FACTURA PRIMITA) end to end against the offline ANAF sandbox served over HTTP.

Suppliers' invoices are injected into the sandbox for the company (processed, signed and listed as
ANAF does), punte connects through the sandbox's OAuth server, and the sync, the worker's jobs, the
CLI and the API talk to it over real HTTP. The sandbox's own counters are the judge of "downloaded
once".
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from punte.cli_anaf import follow_sandbox_authorization
from punte.domain.documents import DocumentRef, IssuedDocument, Party, negate, summarize
from punte.efactura.anaf import submissions
from punte.efactura.anaf.archive import sha256
from punte.efactura.anaf.limits import anaf_day, next_anaf_day
from punte.efactura.sandbox import verify_signature
from punte.efactura.sandbox.clock import bucharest_day
from punte.efactura.ubl import build_ubl
from punte.services import anaf_connection, received, received_read
from punte.services.companies import get_company
from punte.store.models import Event, Job
from punte.store.models_anaf import AnafCallCount
from punte.store.models_received import ReceivedInvoice, ReceivedSync
from punte.store.models_sandbox import AnafSandboxCounter
from punte.worker import queue
from punte.worker.runner import Worker
from tests.anaf_sandbox_fixtures import *  # noqa: F403
from tests.anaf_sandbox_fixtures import AnafLive
from tests.conftest import CIF, OTHER_CIF, Account, make_account
from tests.unit.efactura.test_ubl import R11, R21, document, product

CUI = CIF.removeprefix("RO")
API = "/SBORO/api/efactura/received"
US = Party(name="Firma Test SRL", cif=CIF, reg_com="J12/1234/2020", address="Str. Memorandumului 28",
           city="Cluj-Napoca", county="Cluj", is_tax_payer=True)


def supplier(cif: str, name: str) -> Party:
    return Party(name=name, cif=f"RO{cif}", reg_com="J08/77/2019", address="Str. Furnizorilor 3", city="Brasov",
                 county="Brasov", is_tax_payer=True, iban="RO49AAAA1B31007593840000")


def supplier_invoice(seller: Party, series: str, number: str, items: list[Any]) -> IssuedDocument:
    doc = document(items, seller=seller, buyer=US)
    return replace(doc, series=series, number=number, issue_date=bucharest_day(datetime.now().astimezone()))


def credit_note_of(original: IssuedDocument, series: str, number: str) -> IssuedDocument:
    lines = negate(original.lines)
    return replace(original, series=series, number=number, lines=lines,
                   totals=summarize(lines, currency=original.currency, exchange_rate=None),
                   reverses=DocumentRef(original.series, original.number or "", original.issue_date),
                   extra={"credit_note": True})


SUPPLIERS = {
    "14399840": "Depozitul de Hartie SRL",
    "10000008": "Energie Verde SA",
    "10000016": "Service Auto Brasov SRL",
}


# -- helpers ----------------------------------------------------------------------------------------------
@pytest.fixture
def live(anaf_live: AnafLive, account: Account) -> AnafLive:
    anaf_live.settings.anaf_read_timeout = 10.0
    return anaf_live


def connect(live: AnafLive, cif: str = CIF) -> None:
    with live.db.session(write=True) as session:
        company = get_company(session, cif)
        auth = anaf_connection.start_authorization(session, live.settings, company, env="sandbox", actor="test")
    location, code, state = follow_sandbox_authorization(auth.url, None)
    assert code and state == auth.state
    assert httpx.get(location, timeout=30).status_code == 200
    with live.db.session(write=True) as session:
        submissions.enable(session, get_company(session, cif), env="sandbox", auto=False, actor="test")


def inject_three(live: AnafLive) -> dict[str, IssuedDocument]:
    """Two invoices and a credit note from three suppliers, received by the company."""
    (a, name_a), (b, name_b), (c, name_c) = SUPPLIERS.items()
    docs = {
        a: supplier_invoice(supplier(a, name_a), "DH", "0107", [product("10", "12.50"), product("3", "4.10", R11)]),
        b: supplier_invoice(supplier(b, name_b), "EV2026-", "000311", [product("1", "842.19")]),
    }
    repair = supplier_invoice(supplier(c, name_c), "SAB", "88", [product("2", "150"), product("1", "99.99")])
    docs[c] = credit_note_of(repair, "SABC", "12")
    for doc in docs.values():
        live.sandbox.inject_invoice(CUI, xml=build_ubl(doc))
    return docs


def company(live: AnafLive, cif: str = CIF) -> Any:
    with live.db.session() as session:
        return get_company(session, cif)


def rows(live: AnafLive) -> list[ReceivedInvoice]:
    with live.db.session() as session:
        return list(session.scalars(select(ReceivedInvoice).order_by(ReceivedInvoice.id)))


def downloads_at_anaf(live: AnafLive) -> int:
    with live.db.session() as session:
        return int(session.scalar(select(func.coalesce(func.sum(AnafSandboxCounter.count), 0))
                                  .where(AnafSandboxCounter.scope == "descarcare")) or 0)


def worker(live: AnafLive, name: str = "w1", *, periodic: bool = False) -> Worker:
    return Worker(live.db, live.settings, kinds=[received.SYNC_JOB, received.DOWNLOAD_JOB], run_periodic=periodic,
                  worker_id=name)


def by_supplier(live: AnafLive) -> dict[str, ReceivedInvoice]:
    return {r.supplier_cif or "": r for r in rows(live)}


def get(live: AnafLive, account: Account, path: str, **params: str) -> httpx.Response:
    return httpx.get(live.base_url + API + path, params={"cif": CIF, **params}, headers=account.headers, timeout=30)


# -- download once ----------------------------------------------------------------------------------------
def test_sync_downloads_and_archives_each_received_invoice_once(live: AnafLive) -> None:
    connect(live)
    docs = inject_three(live)
    result = received.sync_received(live.db, live.settings, company(live))
    assert result.ok and (result.listed, result.queued) == (3, 3)
    worker(live).run_until_idle()
    stored = by_supplier(live)
    assert set(stored) == set(SUPPLIERS) and downloads_at_anaf(live) == 3
    for cif, doc in docs.items():
        row = stored[cif]
        assert row.status == "downloaded" and row.error is None
        assert row.supplier_name == SUPPLIERS[cif] and row.number == doc.full_number
        assert row.issue_date == doc.issue_date and row.currency == "RON" and row.buyer_cif == CUI
        sign = -1 if row.kind == "credit_note" else 1  # a credit note states the storno's amounts positive
        assert (sign * row.net_total, sign * row.vat_total, sign * row.gross_total) == (
            doc.totals.net_total, doc.totals.vat_total, doc.totals.gross_total)
        assert [ln["name"] for ln in row.lines] == [ln.name for ln in doc.lines]
        assert sum(Decimal(b["taxAmount"]) for b in row.vat_breakdown) == row.vat_total
    assert stored["10000016"].kind == "credit_note" and stored["10000016"].type_code == "381"
    assert stored["14399840"].kind == "invoice" and stored["14399840"].net_total == Decimal("137.30")

    again = received.sync_received(live.db, live.settings, company(live))
    assert again.ok and (again.listed, again.queued) == (3, 0)
    worker(live).run_until_idle()
    assert len(rows(live)) == 3 and downloads_at_anaf(live) == 3  # nothing downloaded twice

    # The archive keeps ANAF's signed answer as it came, with its sha256.
    for row in rows(live):
        path = live.settings.data_dir / row.archive_path
        assert path.parent.parent.parent == live.settings.data_dir / "archive" / CUI
        data = path.read_bytes()
        assert sha256(data) == row.archive_sha256 and len(data) == row.archive_size
        verified = verify_signature(data, live.sandbox.certificate_pem())
        assert verified.trusted and verified.kind == "invoice"
        assert verified.document == build_ubl(docs[row.supplier_cif or ""])
    with live.db.session() as session:
        logged = list(session.scalars(select(Event.action).where(Event.entity == "received_invoice")))
    assert logged == ["downloaded"] * 3


def test_anafs_daily_download_limit_is_respected(live: AnafLive) -> None:
    connect(live)
    record = live.sandbox.inject_invoice(CUI, seller_cif="10000008")
    received.sync_received(live.db, live.settings, company(live))
    with live.db.session(write=True) as session:  # this message's 10 downloads of the day are spent
        session.add(AnafCallCount(call="descarcare", key=str(record.id_descarcare), day=anaf_day(), count=10))
    worker(live).run_until_idle()
    assert rows(live) == [] and downloads_at_anaf(live) == 0
    with live.db.session() as session:
        job = session.scalar(select(Job).where(Job.kind == received.DOWNLOAD_JOB))
    assert job.status == "queued" and job.run_at >= next_anaf_day().replace(microsecond=0)
    assert "limita ANAF de 10" in (job.last_error or "")


def test_anaf_clock_behind_ours_does_not_stop_the_sync(live: AnafLive) -> None:
    connect(live)
    live.sandbox.clock.advance(-90)  # ANAF's "now" is 90 s behind punte's: our endTime is in its future
    live.sandbox.inject_invoice(CUI, seller_cif="10000008")
    first = received.sync_received(live.db, live.settings, company(live))
    assert first.ok and first.listed == 0  # listed up to 2 minutes ago by our clock: the invoice is later
    live.sandbox.clock.reset()
    second = received.sync_received(live.db, live.settings, company(live))
    assert second.ok and (second.listed, second.queued) == (1, 1)  # the next listing overlaps the last one


def test_zip_archived_before_a_crash_is_not_downloaded_again(live: AnafLive) -> None:
    connect(live)
    live.sandbox.inject_invoice(CUI, seller_cif="10000008")
    received.sync_received(live.db, live.settings, company(live))
    worker(live).run_until_idle()
    [first] = rows(live)
    with live.db.session(write=True) as session:  # the worker died after archiving, before its row was committed
        session.delete(session.get(ReceivedInvoice, first.id))
        job = session.scalar(select(Job).where(Job.kind == received.DOWNLOAD_JOB))
        queue.requeue(session, job.id)
    worker(live).run_until_idle()
    [again] = rows(live)
    assert downloads_at_anaf(live) == 1
    assert (again.archive_path, again.archive_sha256) == (first.archive_path, first.archive_sha256)


# -- unreadable files -------------------------------------------------------------------------------------
def test_unreadable_invoice_is_archived_and_listed_as_parse_error(live: AnafLive, account: Account) -> None:
    connect(live)
    # ANAF's rules would refuse this file; without them the sandbox delivers it as ANAF delivers any file
    # punte's reader cannot read (a decimal comma in a total).
    live.sandbox.use_validator(None)
    good = build_ubl(supplier_invoice(supplier("10000008", "Energie Verde SA"), "EV", "77", [product("1", "10")]))
    total = b'<cbc:TaxExclusiveAmount currencyID="RON">'
    bad = good.replace(total + b"10.00<", total + b"10,00<")
    assert bad != good
    record = live.sandbox.inject_invoice(CUI, xml=bad)
    received.sync_received(live.db, live.settings, company(live))
    worker(live).run_until_idle()
    [row] = rows(live)
    assert row.status == "parse_error" and "TaxExclusiveAmount" in (row.error or "")
    assert row.supplier_cif == "10000008" and row.download_id == str(record.id_descarcare)  # from the message
    data = (live.settings.data_dir / row.archive_path).read_bytes()
    assert sha256(data) == row.archive_sha256 and verify_signature(data, live.sandbox.certificate_pem()).document == bad

    listed = get(live, account, "").json()["invoices"]
    assert [(i["status"], i["id"]) for i in listed] == [("parse_error", row.download_id)]
    pdf = get(live, account, "/pdf", id=row.download_id)
    assert pdf.status_code == 400 and "nu a putut fi citita" in pdf.json()["errorText"]
    xml = get(live, account, "/xml", id=row.download_id)
    assert xml.status_code == 200 and xml.content == bad


# -- API --------------------------------------------------------------------------------------------------
def test_api_lists_filters_renders_and_guards_received_invoices(live: AnafLive, account: Account) -> None:
    connect(live)
    docs = inject_three(live)
    answer = httpx.post(live.base_url + API + "/sync", params={"cif": CIF}, headers=account.headers, timeout=30)
    assert answer.status_code == 200 and answer.json()["queued"] is True, answer.text
    worker(live).run_until_idle()
    listing = get(live, account, "", lines="1")
    assert listing.status_code == 200, listing.text
    data = listing.json()
    assert data["count"] == 3 and data["sync"]["status"] == "ok" and data["pendingDownloads"] == 0
    item = next(i for i in data["invoices"] if i["supplierCif"] == "10000008")
    assert item["number"] == "EV2026-000311" and item["grossTotal"] == "1019.05" and item["kind"] == "invoice"
    assert item["lines"][0]["netAmount"] == "842.19" and item["vatBreakdown"][0]["percentage"] == "21.00"

    today = docs["10000008"].issue_date.isoformat()
    assert get(live, account, "", **{"from": today, "to": today}).json()["count"] == 3
    assert get(live, account, "", **{"from": "2020-01-01", "to": "2020-12-31"}).json()["count"] == 0
    assert [i["supplierCif"] for i in get(live, account, "", supplier="energie").json()["invoices"]] == ["10000008"]
    assert [i["supplierCif"] for i in get(live, account, "", supplier="RO14399840").json()["invoices"]] == [
        "14399840"]
    assert get(live, account, "", **{"from": "03.02.2026"}).status_code == 400

    pdf = get(live, account, "/pdf", id=item["id"])
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Energie Verde SA" in text and "EV2026-000311" in text and "Firma Test SRL" in text
    credit = next(i for i in data["invoices"] if i["kind"] == "credit_note")
    credit_text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(get(
        live, account, "/pdf", id=credit["id"]).content)).pages)
    assert "SABC12" in credit_text and "SAB88" in credit_text  # the credit note names the invoice it corrects

    xml = get(live, account, "/xml", id=item["id"])
    assert xml.status_code == 200 and xml.content == build_ubl(docs["10000008"])
    missing = get(live, account, "/pdf", id="123")
    assert missing.status_code == 400 and "nu exista" in missing.json()["errorText"]
    assert get(live, account, "/pdf").json()["errorText"].startswith("Id-ul facturii primite")

    other = make_account(live.db, live.settings, OTHER_CIF, "altul@firma.ro", name="Alta Firma SRL")
    assert httpx.get(live.base_url + API, params={"cif": CIF}, timeout=30).status_code == 401
    assert httpx.get(live.base_url + API, params={"cif": CIF}, headers=other.headers, timeout=30).status_code == 401
    assert httpx.get(live.base_url + API + "/xml", params={"cif": OTHER_CIF, "id": item["id"]}, headers=other.headers,
                     timeout=30).status_code == 400  # another company's invoice does not exist for it


# -- schedule ---------------------------------------------------------------------------------------------
def test_periodic_task_syncs_connected_companies_once_with_several_workers(live: AnafLive) -> None:
    connect(live)
    inject_three(live)
    workers = [worker(live, f"w{i}", periodic=True) for i in range(2)]
    for w in workers:  # both workers' periodic ticks fall in the same period: one sync job
        w.tick_periodic()
    with live.db.session() as session:
        syncs = list(session.scalars(select(Job).where(Job.kind == received.SYNC_JOB)))
    assert len(syncs) == 1 and syncs[0].company_id == company(live).id
    threads = [threading.Thread(target=w.run_until_idle) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(by_supplier(live)) == set(SUPPLIERS) and downloads_at_anaf(live) == 3
    with live.db.session() as session:
        state = session.scalar(select(ReceivedSync))
    assert state.status == "ok" and state.synced_until is not None and state.last_message_at is not None

    live.settings.received_sync_minutes = 0  # on demand only: the schedule queues nothing
    assert received.schedule_syncs(live.db, live.settings, now=datetime.now().astimezone() + timedelta(hours=2)) == 0


# -- CLI --------------------------------------------------------------------------------------------------
@pytest.fixture
def cli(live: AnafLive, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    from typer.testing import CliRunner

    from punte.cli import app
    from punte.config import get_settings

    for key in ("PUNTE_DATABASE_URL", "DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("PUNTE_DATABASE_URL", live.db.url)
    monkeypatch.setenv("PUNTE_DATA_DIR", str(live.settings.data_dir))
    monkeypatch.setenv("PUNTE_SECRET_KEY", live.settings.secret_key or "")
    monkeypatch.setenv("PUNTE_PUBLIC_URL", live.base_url)
    monkeypatch.setenv("PUNTE_BNR_AUTO_FETCH", "false")
    from rich.console import Console

    from punte import cli_received

    monkeypatch.setattr(cli_received, "console", Console(width=250))  # the rich table: one line per invoice
    get_settings.cache_clear()

    def run(*args: str) -> Any:
        return CliRunner().invoke(app, ["efactura", "received", *args])

    yield run
    get_settings.cache_clear()


def test_cli_syncs_lists_and_writes_pdf_and_xml(live: AnafLive, account: Account, cli: Callable[..., Any],
                                               tmp_path: Any) -> None:
    connect(live)
    docs = inject_three(live)
    r = cli("sync", "--cif", CIF, "--timeout", "30")
    assert r.exit_code == 0, r.output
    assert "3 facturi primite in lista, 3 noi" in r.output and "downloaded: 3" in r.output
    r = cli("list", "--cif", CIF)
    assert r.exit_code == 0 and "Energie Verde SA" in r.output and "nota credit" in r.output, r.output
    r = cli("list", "--cif", CIF, "--supplier", "10000016")
    assert "SABC12" in r.output and "EV2026" not in r.output
    row = by_supplier(live)["14399840"]
    out = tmp_path / "primita.pdf"
    r = cli("pdf", "--cif", CIF, "--id", row.download_id, "--output", str(out))
    assert r.exit_code == 0, r.output
    assert "DH0107" in "".join(p.extract_text() for p in PdfReader(out).pages)
    xml_out = tmp_path / "primita.xml"
    assert cli("xml", "--cif", CIF, "--id", row.download_id, "--output", str(xml_out)).exit_code == 0
    assert xml_out.read_bytes() == build_ubl(docs["14399840"])
    r = cli("sync", "--cif", CIF)
    assert r.exit_code == 0 and "0 noi" in r.output and downloads_at_anaf(live) == 3


def test_company_without_a_token_is_skipped_with_a_clear_status(live: AnafLive, account: Account,
                                                                cli: Callable[..., Any]) -> None:
    other = make_account(live.db, live.settings, OTHER_CIF, "altul@firma.ro", name="Alta Firma SRL")
    with live.db.session(write=True) as session:  # e-Factura on, but nobody authorized punte at ANAF
        submissions.enable(session, get_company(session, OTHER_CIF), env="sandbox", auto=False, actor="test")
    assert received.schedule_syncs(live.db, live.settings) == 0
    with live.db.session() as session:
        state = received_read.sync_status(session, get_company(session, OTHER_CIF))
        jobs = session.scalar(select(func.count()).select_from(Job).where(Job.kind == received.SYNC_JOB))
    assert jobs == 0 and state.status == "not connected" and "punte anaf connect" in (state.status_text or "")
    result = received.sync_received(live.db, live.settings, company(live, OTHER_CIF))
    assert result.status == "not connected" and result.listed == 0
    answer = httpx.post(live.base_url + API + "/sync", params={"cif": OTHER_CIF}, headers=other.headers, timeout=30)
    assert answer.status_code == 400 and "nu este conectata la ANAF" in answer.json()["errorText"]
    listing = httpx.get(live.base_url + API, params={"cif": OTHER_CIF}, headers=other.headers, timeout=30).json()
    assert listing["count"] == 0 and listing["sync"]["status"] == "not connected"
    r = cli("sync", "--cif", OTHER_CIF)
    said = " ".join(r.output.split())  # the error console wraps long lines
    assert r.exit_code == 1 and "not connected" in said and "punte anaf connect" in said
