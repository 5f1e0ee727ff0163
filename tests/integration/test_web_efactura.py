"""e-Factura on the dashboard against the offline ANAF sandbox over real HTTP: the document's timeline
(queued → ... → nok with ANAF's rule and text, the archived ZIP), the list's state column and filter,
and "Retrimite" after the cause was fixed (→ ok with its index), with the roles checked.
"""

from __future__ import annotations

import io
import re
import time
import zipfile
from collections.abc import Callable
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from punte.efactura.anaf import submissions
from punte.store.models import Document
from punte.store.models_anaf import EfacturaSubmission
from punte.worker.runner import Worker
from tests.anaf_sandbox_fixtures import *
from tests.anaf_sandbox_fixtures import AnafLive
from tests.conftest import Account
from tests.integration.test_efactura_pipeline import connect, enable
from tests.integration.web_support import add_web_user, issue_invoice, logged_in

ACCOUNTANT, VIEWER = "dan@firma.ro", "ion@firma.ro"


@pytest.fixture
def live(anaf_live: AnafLive, account: Account) -> AnafLive:
    s = anaf_live.settings
    s.anaf_poll_seconds = 0.05
    s.anaf_poll_max_seconds = 0.3
    s.anaf_read_timeout = 5.0
    add_web_user(anaf_live.db, account.cif, ACCOUNTANT, "accountant")
    add_web_user(anaf_live.db, account.cif, VIEWER, "viewer")
    return anaf_live


def _state(live: AnafLive) -> str | None:
    with live.db.session() as s:
        return s.scalar(select(EfacturaSubmission.state))


def _drive(live: AnafLive, until: Callable[[], bool], timeout: float = 30.0) -> None:
    w = Worker(live.db, live.settings, run_periodic=False, kinds=[submissions.SUBMIT_JOB], worker_id="web-test")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        w.run_once()
        if until():
            return
        time.sleep(0.02)
    raise AssertionError(f"e-Factura not done in {timeout} s: {_state(live)}")


def _list_labels(html: str) -> list[str]:
    return re.findall(r'<td><a href="/documents/\d+">([A-Z]+\d+)</a></td>', html)


def test_rejected_invoice_shows_anafs_rule_its_zip_and_is_resubmitted_from_the_page_to_ok(
    live: AnafLive, account: Account
) -> None:
    connect(live)
    enable(live, auto=False)
    doc_id = issue_invoice(live.db, account.cif)
    with live.db.session(write=True) as s:  # a document ANAF refuses: its VAT is 5 lei off (BR-CO-17)
        doc = s.get(Document, doc_id)
        good = (doc.vat_breakdown, doc.vat_total, doc.gross_total)
        doc.vat_breakdown = [{**b, "tax_amount": format(Decimal(b["tax_amount"]) + 5, "f")} for b in doc.vat_breakdown]
        doc.vat_total += 5
        doc.gross_total += 5

    viewer = TestClient(live.app)
    viewer_csrf = logged_in(viewer, VIEWER)
    page = viewer.get(f"/documents/{doc_id}").text
    assert 'id="efactura-state">Netransmisă' in page and "efactura-submit" not in page  # a viewer only reads
    assert viewer.post(f"/documents/{doc_id}/efactura/submit", data={"csrf_token": viewer_csrf}).status_code == 403
    assert _state(live) is None

    web = TestClient(live.app)
    csrf = logged_in(web, ACCOUNTANT)
    assert web.post(f"/documents/{doc_id}/efactura/submit", data={}).status_code == 403  # no CSRF token
    assert "Trimite în e-Factura" in web.get(f"/documents/{doc_id}").text
    r = web.post(f"/documents/{doc_id}/efactura/submit", data={"csrf_token": csrf})
    assert r.status_code == 200 and "pusă în coada e-Factura (încercarea 1)" in r.text
    assert 'id="efactura-state">În coadă' in r.text
    _drive(live, lambda: _state(live) in submissions.TERMINAL)
    assert _state(live) == "nok"

    page = web.get(f"/documents/{doc_id}").text
    assert 'id="efactura-state">Respinsă (nok)' in page and "Mesajele ANAF" in page
    assert re.search(r"<code>BR-CO-17</code> [^<]+", page)
    steps = re.findall(r'<li class="ef-(\w+)">', page)
    assert steps == ["queued", "validated", "uploading", "uploaded", "nok"]
    assert "ZIP cu erorile" in page and 'id="efactura-submit">Retrimite' in page
    zipped = web.get(f"/documents/{doc_id}/efactura/archive/1")
    assert zipped.status_code == 200 and zipped.headers["content-type"] == "application/zip"
    assert zipfile.ZipFile(io.BytesIO(zipped.content)).namelist()
    assert web.get(f"/documents/{doc_id}/efactura/archive/2").status_code == 404

    # the list: the state as a column and a filter
    other = issue_invoice(live.db, account.cif)
    nok = web.get("/documents", params={"efactura": "nok"}).text
    assert len(_list_labels(nok)) == 1 and "Respinsă (nok)" in nok
    waiting = web.get("/documents", params={"efactura": "none"}).text
    assert _list_labels(waiting) == ["FCT0002"] and f"/documents/{other}" in waiting
    assert _list_labels(web.get("/documents", params={"efactura": "ok"}).text) == []

    # the cause is fixed, then "Retrimite" sends attempt 2, which ANAF accepts
    with live.db.session(write=True) as s:
        doc = s.get(Document, doc_id)
        doc.vat_breakdown, doc.vat_total, doc.gross_total = good
    r = web.post(f"/documents/{doc_id}/efactura/submit", data={"csrf_token": csrf})
    assert "(încercarea 2)" in r.text
    _drive(live, lambda: _state(live) in submissions.TERMINAL)
    page = web.get(f"/documents/{doc_id}").text
    with live.db.session() as s:
        index = s.scalar(select(EfacturaSubmission.upload_index))
    assert 'id="efactura-state">Acceptată (ok)' in page and f'id="efactura-index">{index}' in page
    assert "Retrimisă" in page and "ZIP semnat" in page and "efactura-submit" not in page
    assert "Mesajele ANAF" not in page
    signed = web.get(f"/documents/{doc_id}/efactura/archive/2")
    assert signed.status_code == 200 and f"{index}.xml" in zipfile.ZipFile(io.BytesIO(signed.content)).namelist()
    assert _list_labels(web.get("/documents", params={"efactura": "ok"}).text) == ["FCT0001"]
    # accepted: the service refuses to send it again, and the page says why
    r = web.post(f"/documents/{doc_id}/efactura/submit", data={"csrf_token": csrf})
    assert "deja acceptata de ANAF" in r.text
    assert len(live.sandbox.uploads(cif=account.cif.removeprefix("RO"))) == 2
