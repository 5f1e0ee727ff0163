"""The e-Factura pipeline end to end against the offline ANAF sandbox served over real HTTP.

Invoices are issued through punte's API, the OAuth connection is made through the sandbox's
authorize/token endpoints and punte's own ``/anaf/callback``, and the worker (in this process,
or as a separate ``punte worker`` process) talks to the sandbox over HTTP. The sandbox's own
records (``sandbox.uploads()``) are the judge of "exactly one upload per document".
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from punte.cli_anaf import follow_sandbox_authorization
from punte.efactura.anaf import submissions
from punte.efactura.anaf.archive import sha256
from punte.efactura.sandbox import verify_signature
from punte.services import anaf_connection
from punte.services.companies import get_company
from punte.store.models import Document, DocumentLine, Event
from punte.store.models_anaf import AnafToken, EfacturaArchive, EfacturaAttempt, EfacturaSubmission
from punte.worker.runner import Worker
from tests.anaf_sandbox_fixtures import *  # noqa: F403
from tests.anaf_sandbox_fixtures import AnafLive
from tests.conftest import CIF, Account
from tests.integration.test_invoice_api import API, body

CUI = CIF.removeprefix("RO")


# -- helpers --------------------------------------------------------------------------------------------
@pytest.fixture
def live(anaf_live: AnafLive, account: Account) -> AnafLive:
    s = anaf_live.settings
    s.anaf_poll_seconds = 0.05
    s.anaf_poll_max_seconds = 0.3
    s.anaf_unknown_grace_seconds = 8.0
    s.anaf_read_timeout = 5.0
    return anaf_live


def api(live: AnafLive, account: Account, path: str, data: dict[str, Any]) -> dict[str, Any]:
    r = httpx.post(live.base_url + API + path, json=data, headers=account.headers, timeout=30)
    assert r.status_code == 200, r.text
    return dict(r.json())


def connect(live: AnafLive, cif: str = CIF, env: str = "sandbox") -> None:
    with live.db.session(write=True) as session:
        company = get_company(session, cif)
        auth = anaf_connection.start_authorization(session, live.settings, company, env=env, actor="test")
    location, code, state = follow_sandbox_authorization(auth.url, None)
    assert code and state == auth.state
    page = httpx.get(location, timeout=30)
    assert page.status_code == 200, page.text
    assert "conectata" in page.text


def enable(live: AnafLive, cif: str = CIF, auto: bool = True) -> None:
    with live.db.session(write=True) as session:
        submissions.enable(session, get_company(session, cif), env="sandbox", auto=auto, actor="test")


def worker(live: AnafLive, name: str = "w1") -> Worker:
    return Worker(live.db, live.settings, run_periodic=False, kinds=[submissions.SUBMIT_JOB], worker_id=name)


def subs(live: AnafLive) -> list[EfacturaSubmission]:
    with live.db.session() as session:
        return list(session.scalars(select(EfacturaSubmission).order_by(EfacturaSubmission.id)))


def all_done(live: AnafLive, expected: int) -> Callable[[], bool]:
    def check() -> bool:
        rows = subs(live)
        return len(rows) == expected and all(r.state in submissions.TERMINAL for r in rows)

    return check


def drive(w: Worker, until: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        w.run_once()
        if until():
            return
        time.sleep(0.02)
    raise AssertionError(f"not done in {timeout} s: {[(s.id, s.state) for s in subs_of(w)]}")


def subs_of(w: Worker) -> list[EfacturaSubmission]:
    with w.db.session() as session:
        return list(session.scalars(select(EfacturaSubmission)))


def attempts(live: AnafLive, submission_id: int) -> list[EfacturaAttempt]:
    with live.db.session() as session:
        return list(session.scalars(select(EfacturaAttempt).where(EfacturaAttempt.submission_id == submission_id)
                                    .order_by(EfacturaAttempt.number)))


def states_logged(live: AnafLive, submission_id: int) -> list[str]:
    with live.db.session() as session:
        return [e.action for e in session.scalars(select(Event).where(
            Event.entity == "efactura_submission", Event.entity_id == submission_id).order_by(Event.id))]


def ready(live: AnafLive, account: Account, *, auto: bool = True) -> None:
    connect(live)
    enable(live, auto=auto)


# -- the happy path -----------------------------------------------------------------------------------------
def test_issued_invoice_goes_to_ok_and_its_signed_zip_is_archived(live: AnafLive, account: Account) -> None:
    ready(live, account)
    api(live, account, "/invoice", body())
    rows = subs(live)
    assert [r.state for r in rows] == ["queued"]  # queued in the issuing transaction
    drive(worker(live), all_done(live, 1))
    sub = subs(live)[0]
    assert sub.state == "ok" and sub.upload_index
    att = attempts(live, sub.id)[0]
    assert att.validation == "skipped" and att.endpoint == "upload" and att.standard == "UBL"
    uploads = live.sandbox.uploads(cif=CUI)
    assert len(uploads) == 1 and str(uploads[0].index_incarcare) == sub.upload_index
    assert uploads[0].body_sha256 == att.xml_sha256 and uploads[0].kind == "upload"
    with live.db.session() as session:
        stored = session.get(EfacturaArchive, att.archive_id)
        issued = session.scalar(select(Document.issue_date))
    assert stored is not None and stored.kind == "invoice"
    path = live.settings.data_dir / stored.path
    assert path.parent == live.settings.data_dir / "archive" / CUI / f"{issued.year:04d}" / f"{issued.month:02d}"
    assert path.name == f"FCT0001_{sub.upload_index}_{att.download_id}.zip"
    data = path.read_bytes()
    assert sha256(data) == stored.sha256
    assert states_logged(live, sub.id) == ["queued", "validated", "uploading", "uploaded", "ok"]
    verified = verify_signature(data, live.sandbox.certificate_pem())
    assert verified.trusted and sha256(verified.document) == att.xml_sha256


def test_two_workers_send_each_invoice_exactly_once(live: AnafLive, account: Account) -> None:
    import threading

    ready(live, account)
    for _ in range(4):
        api(live, account, "/invoice", body())
    done = all_done(live, 4)
    threads = [threading.Thread(target=drive, args=(worker(live, f"w{i}"), done)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {s.state for s in subs(live)} == {"ok"}
    uploads = live.sandbox.uploads(cif=CUI)
    assert sorted(u.invoice_number for u in uploads) == [f"FCT{n:04d}" for n in range(1, 5)]


def test_rule_breaking_invoice_is_nok_with_the_rule_and_is_resent_only_when_asked(
    live: AnafLive, account: Account, cli_env: Callable[..., Any]
) -> None:
    ready(live, account, auto=False)
    api(live, account, "/invoice", body())
    assert subs(live) == []  # automatic sending is off
    with live.db.session(write=True) as session:  # a document the rules refuse: its VAT is 5 lei off (BR-CO-17)
        doc = session.scalar(select(Document))
        good = (doc.vat_breakdown, doc.vat_total, doc.gross_total)
        doc.vat_breakdown = [{**b, "tax_amount": format(Decimal(b["tax_amount"]) + 5, "f")} for b in doc.vat_breakdown]
        doc.vat_total += 5
        doc.gross_total += 5
    run = cli_env(live)
    r = run("efactura", "submit", "--cif", CIF, "--series", "FCT", "--number", "1")
    assert r.exit_code == 0, r.output
    drive(worker(live), all_done(live, 1))
    sub = subs(live)[0]
    assert sub.state == "nok"
    att = attempts(live, sub.id)[0]
    assert "BR-CO-17" in {m["rule"] for m in att.messages}
    with live.db.session() as session:
        stored = session.get(EfacturaArchive, att.archive_id)
    assert stored.kind == "errors" and (live.settings.data_dir / stored.path).is_file()
    r = run("efactura", "status", "--cif", CIF, "--series", "FCT", "--number", "1")
    assert "nok" in r.output and "[BR-CO-17]" in r.output
    # Nothing is re-sent on its own; the user fixes the cause and resubmits.
    drive(worker(live), lambda: True)
    assert len(live.sandbox.uploads(cif=CUI)) == 1
    with live.db.session(write=True) as session:
        doc = session.scalar(select(Document))
        doc.vat_breakdown, doc.vat_total, doc.gross_total = good
    assert run("efactura", "submit", "--cif", CIF, "--series", "FCT", "--number", "1").exit_code == 0
    drive(worker(live), all_done(live, 1))
    sub = subs(live)[0]
    assert sub.state == "ok" and sub.attempt == 2
    assert [u.stare for u in live.sandbox.uploads(cif=CUI)] == ["nok", "ok"]
    # Accepted: never sent again, and a document changed after upload says so.
    with live.db.session(write=True) as session:
        session.execute(update(DocumentLine).values(name="Alt produs"))
    r = run("efactura", "submit", "--cif", CIF, "--series", "FCT", "--number", "1")
    assert r.exit_code == 1 and "deja acceptata" in r.output and "s-a schimbat" in r.output


def test_with_anafs_rules_installed_a_rule_breaking_invoice_is_invalid_and_never_uploaded(
    live: AnafLive, account: Account
) -> None:
    from punte.efactura.rules import install_bundle
    from tests.anaf_sandbox_fixtures import BUNDLE, XSD_DIR
    from tests.conftest import require_or_skip

    require_or_skip(BUNDLE.is_file() and XSD_DIR.is_dir(), "../shared/efactura missing")
    install_bundle(live.settings.data_dir, BUNDLE, xsd_source=XSD_DIR)
    ready(live, account, auto=False)
    api(live, account, "/invoice", body())
    api(live, account, "/invoice", body())
    with live.db.session(write=True) as session:
        doc = session.scalar(select(Document).where(Document.number == 1))
        doc.vat_breakdown = [{**b, "tax_amount": format(Decimal(b["tax_amount"]) + 5, "f")} for b in doc.vat_breakdown]
        doc.vat_total += 5
        doc.gross_total += 5
        company = get_company(session, CIF)
        for number in (1, 2):
            submissions.submit(session, company, session.scalar(select(Document).where(Document.number == number)),
                               actor="test")
    drive(worker(live), all_done(live, 2))
    bad, good = subs(live)
    assert (bad.state, good.state) == ("invalid", "ok")
    att = attempts(live, bad.id)[0]
    assert att.validation == "failed" and "BR-CO-17" in {m["rule"] for m in att.messages}
    assert attempts(live, good.id)[0].validation == "passed"
    assert [u.invoice_number for u in live.sandbox.uploads(cif=CUI)] == ["FCT0002"]


def test_invoice_to_an_individual_goes_through_uploadb2c(live: AnafLive, account: Account) -> None:
    ready(live, account)
    person = {"name": "Ion Popescu", "vatCode": "", "isTaxPayer": False, "address": "Str. Lunga 5", "city": "Brasov",
              "county": "Brasov", "country": "Romania"}
    api(live, account, "/invoice", body(client=person))
    drive(worker(live), all_done(live, 1))
    assert subs(live)[0].state == "ok"
    assert [u.kind for u in live.sandbox.uploads(cif=CUI)] == ["uploadb2c"]


def test_storno_is_its_own_submission_and_a_sent_invoice_cannot_be_deleted(live: AnafLive, account: Account) -> None:
    ready(live, account)
    api(live, account, "/invoice", body())
    w = worker(live)
    drive(w, all_done(live, 1))
    api(live, account, "/invoice/reverse", {"companyVatCode": CIF, "seriesName": "FCT", "number": "0001"})
    drive(w, all_done(live, 2))
    original, storno = subs(live)
    assert original.state == storno.state == "ok" and original.upload_index != storno.upload_index
    uploads = live.sandbox.uploads(cif=CUI)
    assert [u.invoice_number for u in uploads] == ["FCT0001", "FCT0002"]
    xml = attempts(live, storno.id)[0].xml
    assert b"<cac:BillingReference>" in xml and b"FCT0001" in xml and b"<cbc:InvoiceTypeCode>380" in xml
    r = httpx.delete(live.base_url + API + "/invoice", params={"cif": CIF, "seriesname": "FCT", "number": "0002"},
                     headers=account.headers)
    assert r.status_code == 400 and "transmisa in e-Factura" in r.json()["errorText"]


def test_validare_and_transformare_against_the_sandbox(live: AnafLive, account: Account) -> None:
    from pathlib import Path as _Path

    from punte.efactura.anaf.client import AnafClient
    from punte.efactura.anaf.errors import AnafPermanentError
    from tests.conftest import require_or_skip

    ready(live, account, auto=False)
    api(live, account, "/invoice", body())
    with live.db.session() as session:
        from punte.efactura.ubl import build_ubl
        from punte.services.operations import read_model

        xml = build_ubl(read_model(session, session.scalar(select(Document))))
    with AnafClient(live.api_url("prod")) as anaf:  # no token: these calls are public at ANAF
        assert anaf.validare(xml).ok
        broken = anaf.validare(xml.replace(b"<cbc:IssueDate>", b"<cbc:IssueDate>x", 1))
        assert not broken.ok and broken.findings
        require_or_skip(_Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").exists(), "DejaVu fonts missing")
        assert anaf.transformare(xml).startswith(b"%PDF")
        with pytest.raises(AnafPermanentError):
            anaf.transformare(b"<Invoice/>")


# -- faults ---------------------------------------------------------------------------------------------------
def hurry(live: AnafLive, w: Worker, until: Callable[[], bool], timeout: float = 60.0) -> None:
    """Drive, making waiting jobs due at once (what ``punte efactura sync`` does)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with live.db.session(write=True) as session:
            submissions.run_now(session, get_company(session, CIF))
        w.run_once()
        if until():
            return
        time.sleep(0.02)
    raise AssertionError(f"not done: {[(s.id, s.state) for s in subs(live)]}")


def test_429_500_html_and_text_answers_are_retried_and_nothing_is_lost_or_duplicated(
    live: AnafLive, account: Account
) -> None:
    from punte.store.models import Job

    ready(live, account)
    faults = live.sandbox.faults
    faults.add("upload", "429")
    faults.add("stareMesaj", "500")
    faults.add("stareMesaj", "html")
    faults.add("descarcare", "text")
    faults.add("descarcare", "rejected")
    api(live, account, "/invoice", body())
    w = worker(live)
    w.run_once()
    with live.db.session() as session:
        job = session.scalar(select(Job).where(Job.kind == submissions.SUBMIT_JOB))
    assert job.run_at > datetime.now(UTC) + timedelta(seconds=50)  # ANAF's Retry-After: 60 is respected
    assert subs(live)[0].state == "validated"
    hurry(live, w, all_done(live, 1))
    assert subs(live)[0].state == "ok" and faults.pending() == []
    assert len(live.sandbox.uploads(cif=CUI)) == 1
    actions = states_logged(live, subs(live)[0].id)
    assert actions.count("uploading") == 2 and "upload_retry" in actions and "unknown" not in actions


def test_upload_answered_by_a_500_is_reconciled_then_sent_again_exactly_once(live: AnafLive, account: Account) -> None:
    live.settings.anaf_unknown_grace_seconds = 1.0
    ready(live, account)
    live.sandbox.faults.add("upload", "500")
    api(live, account, "/invoice", body())
    drive(worker(live), all_done(live, 1))
    sub = subs(live)[0]
    assert sub.state == "ok"
    actions = states_logged(live, sub.id)
    assert actions[:4] == ["queued", "validated", "uploading", "unknown"] and "not_found" in actions
    uploads = live.sandbox.uploads(cif=CUI)
    assert len(uploads) == 1 and uploads[0].body_sha256 == attempts(live, sub.id)[0].xml_sha256


def test_upload_that_timed_out_but_arrived_is_found_in_the_list_not_sent_twice(
    live: AnafLive, account: Account
) -> None:
    live.settings.anaf_read_timeout = 1.5
    live.settings.anaf_unknown_grace_seconds = 20.0
    ready(live, account)
    live.sandbox.faults.add("upload", "hang", seconds=3.0)  # ANAF has the file but answers after our timeout
    api(live, account, "/invoice", body())
    drive(worker(live), all_done(live, 1))
    sub = subs(live)[0]
    assert sub.state == "ok"
    actions = states_logged(live, sub.id)
    assert "unknown" in actions and "reconciled" in actions and "not_found" not in actions
    assert len(live.sandbox.uploads(cif=CUI)) == 1
    assert str(live.sandbox.uploads(cif=CUI)[0].index_incarcare) == sub.upload_index


def test_anafs_duplicate_answer_adopts_the_first_index(live: AnafLive, account: Account) -> None:
    ready(live, account)
    api(live, account, "/invoice", body())
    drive(worker(live), all_done(live, 1))
    first = subs(live)[0]
    # punte's record says nok (say, an answer it lost), so the invoice is sent again: ANAF answers nok with
    # "Factura a mai fost transmisa anterior cu index=...", which punte recognises and adopts.
    with live.db.session(write=True) as session:
        session.execute(update(EfacturaSubmission).values(state="nok"))
        session.execute(update(EfacturaAttempt).values(state="nok"))
    with live.db.session(write=True) as session:
        company = get_company(session, CIF)
        submissions.submit(session, company, session.scalar(select(Document)), actor="test")
    drive(worker(live), all_done(live, 1))
    sub = subs(live)[0]
    assert sub.state == "ok" and sub.upload_index == first.upload_index
    assert "duplicate_reconciled" in states_logged(live, sub.id)
    assert [u.stare for u in live.sandbox.uploads(cif=CUI)] == ["ok", "nok"]


# -- the worker as a separate process, killed at the worst moments ---------------------------------------------
def start_worker(live: AnafLive, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": live.db.url, "PUNTE_DATA_DIR": str(live.settings.data_dir),
           "PUNTE_SECRET_KEY": live.settings.secret_key or "", "PUNTE_PUBLIC_URL": live.base_url,
           "PUNTE_ANAF_POLL_SECONDS": "0.05", "PUNTE_ANAF_POLL_MAX_SECONDS": "0.2",
           "PUNTE_ANAF_UNKNOWN_GRACE_SECONDS": "30", "PUNTE_ANAF_READ_TIMEOUT": "30", "PUNTE_BNR_AUTO_FETCH": "false"}
    env.pop("PUNTE_DATABASE_URL", None)
    return subprocess.Popen([sys.executable, "-m", "punte.cli", "worker", "--poll", "0.05"], env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


def kill(live: AnafLive, proc: subprocess.Popen[bytes]) -> None:
    from punte.store.models import Job

    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    with live.db.session(write=True) as session:  # the dead worker's lease would expire; do not wait for it
        session.execute(update(Job).where(Job.status == "running")
                        .values(locked_until=datetime.now(UTC) - timedelta(seconds=1)))


def wait_for(check: Callable[[], Any], timeout: float = 90.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def attempt_of(live: AnafLive, number: str) -> EfacturaAttempt | None:
    with live.db.session() as session:
        return session.scalar(select(EfacturaAttempt).join(EfacturaSubmission).join(
            Document, Document.id == EfacturaSubmission.document_id).where(Document.number == int(number)))


def test_worker_process_killed_mid_upload_mid_poll_and_mid_download_sends_each_invoice_once(
    live: AnafLive, account: Account, tmp_path: Path
) -> None:
    ready(live, account)
    log = tmp_path / "worker.log"
    sandbox = live.sandbox
    # 1. Killed between the upload and storing its index: ANAF has the file, punte has no index.
    sandbox.faults.add("upload", "hold")
    api(live, account, "/invoice", body())
    proc = start_worker(live, log)
    try:
        sandbox.holds.wait_for(timeout=60)
        kill(live, proc)
        sandbox.holds.release()
        assert attempt_of(live, "1").state == "uploading"
        proc = start_worker(live, log)
        wait_for(lambda: attempt_of(live, "1").state == "ok", what="invoice 1 ok")
        # 2. Killed while polling stareMesaj (ANAF still processing).
        sandbox.set_processing_delay(60)
        api(live, account, "/invoice", body())
        wait_for(lambda: (a := attempt_of(live, "2")) is not None and a.polls >= 2, what="invoice 2 polled")
        kill(live, proc)
        sandbox.set_processing_delay(0)
        sandbox.process_pending()
        proc = start_worker(live, log)
        wait_for(lambda: attempt_of(live, "2").state == "ok", what="invoice 2 ok")
        # 3. Killed during the download.
        sandbox.faults.add("descarcare", "hang", seconds=6)
        api(live, account, "/invoice", body())
        wait_for(lambda: not sandbox.faults.pending(), what="download started")
        time.sleep(0.2)
        kill(live, proc)
        assert attempt_of(live, "3").state == "uploaded"
        proc = start_worker(live, log)
        wait_for(lambda: attempt_of(live, "3").state == "ok", what="invoice 3 ok")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    uploads = sandbox.uploads(cif=CUI)
    assert sorted(u.invoice_number for u in uploads) == ["FCT0001", "FCT0002", "FCT0003"], log.read_text()[-3000:]
    assert all(u.stare == "ok" for u in uploads)
    first = attempt_of(live, "1")
    assert str(uploads[0].index_incarcare) == first.upload_index
    assert {"unknown", "reconciled"} <= set(states_logged(live, first.submission_id))
    with live.db.session() as session:
        assert len(list(session.scalars(select(EfacturaArchive)))) == 3


# -- OAuth -------------------------------------------------------------------------------------------------------
def token_row(live: AnafLive) -> AnafToken:
    with live.db.session() as session:
        rows = list(session.scalars(select(AnafToken)))
    assert len(rows) == 1
    return rows[0]


def test_one_token_serves_every_company_of_the_same_holder(live: AnafLive, account: Account) -> None:
    from tests.conftest import OTHER_CIF, make_account

    make_account(live.db, live.settings, OTHER_CIF, "other@firma.ro", name="Alta Firma SRL")
    connect(live, CIF)
    connect(live, OTHER_CIF)
    token = token_row(live)
    with live.db.session() as session:
        states = {s.cif: s for s in anaf_connection.all_connections(session)}
    assert states[CUI].token_id == states[OTHER_CIF.removeprefix("RO")].token_id == token.id
    assert states[CUI].state == "connected"


def test_token_is_refreshed_before_it_expires_and_the_refresh_token_rotates(live: AnafLive, account: Account) -> None:
    from punte.crypto import SecretBox
    from punte.efactura.pipeline import REFRESH_JOB, check_tokens_task

    live.sandbox.oauth.access_token_lifetime = timedelta(days=10)  # inside the 14-day refresh margin
    ready(live, account)
    box = SecretBox(live.settings.resolved_secret_key())
    before = token_row(live)
    old_refresh = box.decrypt(before.refresh_token_enc)
    check_tokens_task(live.db, live.settings, {})
    Worker(live.db, live.settings, run_periodic=False, kinds=[REFRESH_JOB]).run_until_idle()
    after = token_row(live)
    assert after.refreshed_at is not None and after.status == "active"
    assert box.decrypt(after.refresh_token_enc) != old_refresh
    assert box.decrypt(after.access_token_enc) != box.decrypt(before.access_token_enc)
    refused = httpx.post(f"{live.oauth_url}/token", auth=("punte-sandbox", "punte-sandbox-secret"),
                         data={"grant_type": "refresh_token", "refresh_token": old_refresh})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"  # rotated: the old one is dead
    api(live, account, "/invoice", body())
    drive(worker(live), all_done(live, 1))
    assert subs(live)[0].state == "ok"


def test_expired_refresh_token_is_reported_and_work_waits_for_reauthorization(
    live: AnafLive, account: Account
) -> None:
    ready(live, account)
    live.sandbox.clock.advance(366 * 86400)  # at ANAF, both tokens have expired
    api(live, account, "/invoice", body())
    w = worker(live)
    hurry(live, w, lambda: token_row(live).status == "reauthorize", timeout=40)
    hurry(live, w, lambda: "Autorizarea ANAF" in (attempts(live, subs(live)[0].id)[0].last_error or ""), timeout=40)
    with live.db.session() as session:
        company = get_company(session, CIF)
        assert anaf_connection.connection_status(session, company).state == "reauthorize needed"
        attention = anaf_connection.tokens_needing_attention(session)
        events = [e.action for e in session.scalars(select(Event).where(Event.entity == "anaf_connection"))]
    assert attention[0].state == "reauthorize needed" and attention[0].companies == [CUI]
    assert "reauthorize_needed" in events
    assert subs(live)[0].state == "validated" and live.sandbox.uploads(cif=CUI) == []
    live.sandbox.clock.reset()
    connect(live)  # the holder authorizes again: the same token row becomes active
    assert token_row(live).status == "active"
    hurry(live, w, all_done(live, 1))
    assert subs(live)[0].state == "ok" and len(live.sandbox.uploads(cif=CUI)) == 1


# -- CLI ----------------------------------------------------------------------------------------------------------
@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    from typer.testing import CliRunner

    from punte.cli import app
    from punte.config import get_settings

    def make(live: AnafLive) -> Callable[..., Any]:
        for key in ("PUNTE_DATABASE_URL", "DATABASE_URL"):
            monkeypatch.delenv(key, raising=False)
        monkeypatch.setenv("PUNTE_DATABASE_URL", live.db.url)
        monkeypatch.setenv("PUNTE_DATA_DIR", str(live.settings.data_dir))
        monkeypatch.setenv("PUNTE_SECRET_KEY", live.settings.secret_key or "")
        monkeypatch.setenv("PUNTE_PUBLIC_URL", live.base_url)
        monkeypatch.setenv("PUNTE_ANAF_POLL_SECONDS", "0.05")
        monkeypatch.setenv("PUNTE_BNR_AUTO_FETCH", "false")
        get_settings.cache_clear()

        def run(*args: str) -> Any:
            return CliRunner().invoke(app, list(args))

        return run

    yield make
    get_settings.cache_clear()


def test_cli_connects_enables_syncs_and_shows_status(live: AnafLive, account: Account,
                                                     cli_env: Callable[..., Any]) -> None:
    run = cli_env(live)
    r = run("anaf", "connect", "--cif", CIF)
    assert r.exit_code == 0, r.output
    assert "/anaf-sandbox/anaf-oauth2/v1/authorize?response_type=code" in r.output and "Conectat" in r.output
    r = run("efactura", "enable", "--cif", CIF, "--env", "sandbox", "--auto")
    assert r.exit_code == 0 and "connected" in r.output
    api(live, account, "/invoice", body())
    api(live, account, "/invoice", body())
    r = run("efactura", "sync", "--cif", CIF, "--timeout", "30")
    assert r.exit_code == 0 and "ok: 2" in r.output, r.output
    r = run("efactura", "status", "--cif", CIF)
    lines = [ln for ln in r.output.splitlines() if ln.startswith("FCT")]
    index = subs(live)[0].upload_index
    assert len(lines) == 2 and " ok " in lines[0] and index in lines[0]
    r = run("anaf", "status")
    assert "connected" in r.output and CUI in r.output
    r = run("efactura", "submit", "--cif", CIF, "--series", "FCT", "--number", "2")
    assert r.exit_code == 1 and "deja acceptata" in r.output


# -- without the sandbox: limits, deadlines, token warnings ------------------------------------------------------
def test_per_message_daily_limits_are_counted_in_the_database(db) -> None:  # type: ignore[no-untyped-def]
    from punte.efactura.anaf.errors import AnafLimitReached
    from punte.efactura.anaf.limits import DbCallBudget, next_anaf_day

    budget, other_process = DbCallBudget(db), DbCallBudget(db)
    for n in range(100):
        (budget if n % 2 else other_process).spend("stareMesaj", "5001")
    with pytest.raises(AnafLimitReached) as info:
        budget.spend("stareMesaj", "5001")
    assert info.value.retry_at == next_anaf_day()
    budget.spend("stareMesaj", "5002")  # per message
    for _ in range(10):
        budget.spend("descarcare", "3001")
    with pytest.raises(AnafLimitReached):
        other_process.spend("descarcare", "3001")
    assert budget.used("stareMesaj", "5001") == 100 and budget.used("descarcare", "3001") == 10


def test_unsent_and_rejected_invoices_near_or_past_the_deadline_are_flagged(client, account, db) -> None:  # type: ignore[no-untyped-def]
    from punte.domain.calendar import add_working_days, efactura_deadline
    from punte.services.issuing import today_in_romania

    today = today_in_romania()
    dates = {"old": today - timedelta(days=20), "near": add_working_days(today, -4), "new": today}
    for day in dates.values():
        r = client.post(API + "/invoice", headers=account.headers, json=body(issueDate=day.isoformat(),
                                                                             dueDate=day.isoformat()))
        assert r.status_code == 200, r.text
    with db.session(write=True) as session:
        company = get_company(session, CIF)
        submissions.enable(session, company, env="sandbox", auto=False, actor="test")
        alerts = submissions.deadline_alerts(session, company, today=today)
        assert [(a.document, a.flag) for a in alerts] == [("FCT0001", "overdue"), ("FCT0002", "due soon")]
        assert alerts[1].deadline == efactura_deadline(dates["near"])
        summary = submissions.deadline_summary(session, company, today=today)  # the overview's counted version
        assert (summary.overdue, summary.due_soon) == (1, 1)
        assert [v.document for v in summary.first_overdue + summary.first_due_soon] == ["FCT0001", "FCT0002"]
        assert submissions.deadline_summary(session, company, today=today, show=0).first_overdue == []
        # Sent (uploaded or accepted) invoices are not flagged; rejected ones are.
        first = session.scalar(select(Document).where(Document.number == 1))
        second = session.scalar(select(Document).where(Document.number == 2))
        submissions.submit(session, company, first, actor="test")
        submissions.submit(session, company, second, actor="test")
        session.execute(update(EfacturaSubmission).where(EfacturaSubmission.document_id == first.id)
                        .values(state="ok"))
        session.execute(update(EfacturaSubmission).where(EfacturaSubmission.document_id == second.id)
                        .values(state="nok"))
        session.flush()
        alerts = submissions.deadline_alerts(session, company, today=today)
        assert [(a.document, a.state, a.flag) for a in alerts] == [("FCT0002", "nok", "due soon")]
        summary = submissions.deadline_summary(session, company, today=today)
        assert (summary.overdue, summary.due_soon, [v.state for v in summary.first_due_soon]) == (0, 1, ["nok"])
        assert submissions.states_count(session, company, ("nok", "ok", "invalid"), today=today) == {
            "nok": 1, "ok": 1, "invalid": 0}
    assert submissions.deadline_flag(today, today, "queued") == "due soon"
    assert submissions.deadline_flag(today - timedelta(days=1), today, "invalid") == "overdue"
    assert submissions.deadline_flag(today - timedelta(days=1), today, "uploaded") == ""


def test_authorization_expiring_within_30_days_is_warned_once_then_reported_expired(db, settings, account) -> None:  # type: ignore[no-untyped-def]
    from punte.efactura.anaf.oauth import TokenSet
    from punte.store.models_anaf import EfacturaSettings

    now = datetime.now(UTC)
    tokens = TokenSet("access", "refresh", now + timedelta(days=60), now + timedelta(days=20), "holder")
    with db.session(write=True) as session:
        company = get_company(session, CIF)
        token, reused = anaf_connection.store_tokens(session, settings, "sandbox", tokens)
        session.add(EfacturaSettings(company_id=company.id, enabled=True, environment="sandbox", auto_submit=True,
                                     token_id=token.id, updated_at=now))
    assert not reused
    assert anaf_connection.check_tokens(db, settings) == []  # access is 60 days away: nothing to refresh
    anaf_connection.check_tokens(db, settings)
    with db.session() as session:
        warned = [e for e in session.scalars(select(Event).where(Event.action == "refresh_expiring"))]
        attention = anaf_connection.tokens_needing_attention(session)
        state = anaf_connection.connection_status(session, get_company(session, CIF)).state
    assert len(warned) == 1 and warned[0].company_id is not None  # once per expiry, not at every check
    assert [(a.state, a.companies) for a in attention] == [("reauthorize soon", [CUI])] and state == "reauthorize soon"
    anaf_connection.check_tokens(db, settings, now=now + timedelta(days=21))
    with db.session() as session:
        assert anaf_connection.connection_status(session, get_company(session, CIF)).state == "reauthorize needed"
        assert session.scalar(select(AnafToken)).status == "reauthorize"


def test_cli_connect_to_the_sandbox_completes_alone_even_without_a_running_server(  # type: ignore[no-untyped-def]
    db, settings, account, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from punte.cli import app
    from punte.config import get_settings
    from tests.conftest import OTHER_CIF, make_account

    make_account(db, settings, OTHER_CIF, "other@firma.ro", name="Alta Firma SRL")
    for key, value in {"PUNTE_DATABASE_URL": db.url, "PUNTE_DATA_DIR": str(settings.data_dir),
                       "PUNTE_SECRET_KEY": settings.secret_key, "PUNTE_PUBLIC_URL": "http://127.0.0.1:9",
                       "PUNTE_BNR_AUTO_FETCH": "false"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(app, ["anaf", "connect", "--cif", CIF])
        assert r.exit_code == 0 and "Conectat la sandbox" in r.output, r.output
        r = CliRunner().invoke(app, ["anaf", "connect", "--cif", OTHER_CIF, "--same-as", CIF])
        assert r.exit_code == 0 and "foloseste acum tokenul" in r.output, r.output
    finally:
        get_settings.cache_clear()
    with db.session() as session:
        states = anaf_connection.all_connections(session)
        assert {s.state for s in states} == {"connected"} and len({s.token_id for s in states}) == 1
