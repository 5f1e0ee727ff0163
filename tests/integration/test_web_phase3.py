"""Dashboard phase 3: the e-Factura inbox page (received supplier invoices, their PDF/XML, Sincronizează),
the overview cards of the quota and of the e-Factura items needing attention, and the Plan settings tab."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from datetime import UTC, date, datetime

from fastapi.testclient import TestClient

from punte.config import Settings
from punte.domain.documents import Party
from punte.efactura.anaf import archive
from punte.efactura.ubl import build_ubl
from punte.services import received
from punte.services.companies import get_company
from punte.store.db import Database
from tests.conftest import CIF, Account
from tests.integration.web_support import add_web_user, logged_in
from tests.unit.efactura.test_ubl import R11, document, product

ACCOUNTANT, VIEWER = "dan@firma.ro", "ion@firma.ro"
US = Party(name="Firma Test SRL", cif=CIF, reg_com="J12/1234/2020", address="Str. Memorandumului 28",
           city="Cluj-Napoca", county="Cluj", is_tax_payer=True)


def receive(db: Database, settings: Settings, download_id: str, seller_cif: str, seller: str, series: str,
            number: str, day: date, items: list) -> None:  # type: ignore[type-arg]
    """A supplier's invoice received through the download job's own path: the ZIP ANAF would hand out
    sits in the archive (as after a crash between download and record), and the job reads and stores it."""
    party = Party(name=seller, cif=f"RO{seller_cif}", reg_com="J08/77/2019", address="Str. Furnizorilor 3",
                  city="Brasov", county="Brasov", is_tax_payer=True, iban="RO49AAAA1B31007593840000")
    doc = replace(document(items, seller=party, buyer=US), series=series, number=number, issue_date=day)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr(f"{download_id}.xml", build_ubl(doc))
    at = datetime.now(UTC)
    with db.session() as s:
        company = get_company(s, CIF)
        env = received.company_environment(s, company.id)
    payload = {"company_id": company.id, "environment": env, "download_id": download_id,
               "upload_index": f"5{download_id}", "message_at": at.isoformat(), "seller_cif": seller_cif}
    item = received._Download.of(payload)
    path = archive.candidate_path(settings.data_dir, company.cif, item.archive_day, item.archive_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    assert received.download_received(db, settings, payload) == "stored"


def test_received_invoices_are_listed_with_their_pdf_and_xml_and_only_accountants_sync(
    client: TestClient, db: Database, settings: Settings, account: Account,
) -> None:
    add_web_user(db, account.cif, ACCOUNTANT, "accountant")
    add_web_user(db, account.cif, VIEWER, "viewer")
    receive(db, settings, "3001", "14399840", "Depozitul de Hartie SRL", "DH", "0107", date(2026, 11, 2),
            [product("10", "12.50"), product("3", "4.10", R11)])
    receive(db, settings, "3002", "10000008", "Energie Verde SA", "EV", "000311", date(2026, 11, 5),
            [product("1", "842.19")])

    with TestClient(client.app) as viewer:
        viewer_csrf = logged_in(viewer, VIEWER)
        page = viewer.get("/efactura/received").text
        assert 'href="/efactura/received"' in page  # in the menu
        assert "Depozitul de Hartie SRL" in page and "Energie Verde SA" in page
        assert page.index("Energie Verde SA") < page.index("Depozitul de Hartie SRL")  # newest first
        assert "<td>DH0107</td>" in page and "<td>EV000311</td>" in page
        assert "02.11.2026" in page and "05.11.2026" in page
        # 10 x 12.50 + 21% = 151.25; 3 x 4.10 + 11% = 13.65 (1.353 rounds); 842.19 + 21% = 1.019,05
        assert "164,90" in page and "1.019,05" in page and "Descărcată" in page
        assert "/efactura/received/sync" not in page  # a viewer only reads
        pdf = viewer.get("/efactura/received/3001/pdf")
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")
        xml = viewer.get("/efactura/received/3002/xml")
        assert xml.status_code == 200 and xml.headers["content-type"].startswith("application/xml")
        assert b"842.19" in xml.content
        assert viewer.get("/efactura/received/9999/pdf").status_code == 404
        assert viewer.post("/efactura/received/sync", data={"csrf_token": viewer_csrf}).status_code == 403

    csrf = logged_in(client, ACCOUNTANT)
    page = client.get("/efactura/received").text
    assert 'action="/efactura/received/sync"' in page
    assert client.post("/efactura/received/sync", data={}).status_code == 403  # no CSRF token
    # the same service as the API's POST .../received/sync: without an ANAF connection it says so
    r = client.post("/efactura/received/sync", data={"csrf_token": csrf})
    assert 'class="flash error"' in r.text and "nu este conectata la ANAF" in r.text


def test_overview_shows_the_quota_and_the_efactura_items_needing_attention(
    client: TestClient, db: Database, settings: Settings, account: Account,
) -> None:
    from datetime import timedelta

    from punte.domain.periods import subscription_period
    from punte.efactura.anaf import submissions
    from punte.services import quotas
    from punte.services.issuing import today_in_romania
    from punte.store.models import Document
    from tests.integration.web_support import issue_invoice

    today = today_in_romania()
    add_web_user(db, account.cif, VIEWER, "viewer")
    csrf = logged_in(client, VIEWER)
    assert csrf
    page = client.get("/").text
    assert 'id="card-quota"' not in page  # no plan, no quota card
    assert 'id="card-efactura"' in page and "Nimic de verificat." in page

    activated = today - timedelta(days=40)
    with db.session(write=True) as s:
        quotas.set_plan(s, get_company(s, CIF), limit=100, activated_on=activated, name="Start", actor="test")
        submissions.enable(s, get_company(s, CIF), env="sandbox", auto=False, actor="test")
    old = issue_invoice(db, CIF, issue_date=(today - timedelta(days=30)).isoformat())  # never sent: overdue
    ids = [issue_invoice(db, CIF) for _ in range(3)]
    with db.session(write=True) as s:
        company = get_company(s, CIF)
        for doc_id, state in zip(ids, (submissions.NOK, submissions.INVALID, submissions.UNKNOWN), strict=True):
            submission = submissions.submit(s, company, s.get(Document, doc_id), actor="test")
            attempt = submissions.current_attempt(s, submission)
            assert attempt is not None
            submissions.set_state(s, submission, attempt, state, actor="test")
        old_label = submissions.label(s.get(Document, old))

    page = client.get("/").text
    quota = page[page.index('id="card-quota"'):]
    quota = quota[:quota.index("</section>")]
    period = subscription_period(activated, today)
    assert "Start" in quota and "4 / 100" in quota and "Rămase: 96" in quota
    assert f"Perioada se încheie la {period.end:%d.%m.%Y}" in quota
    card = page[page.index('id="card-efactura"'):]
    card = card[:card.index("</section>")]
    assert '<p class="big">4</p>' in card  # three submissions to check and one invoice past its deadline
    for state in ("nok", "invalid", "unknown"):
        assert f'<strong class="efactura-{state}">1</strong>' in card
    assert "Termen depășit: 1" in card and f'<a href="/documents/{old}">{old_label}</a>' in card
    assert "Nimic de verificat." not in card


def test_plan_tab_is_the_owners_and_shows_the_plan_and_its_use(
    client: TestClient, db: Database, settings: Settings, account: Account,
) -> None:
    from datetime import timedelta

    from punte.domain.periods import subscription_period
    from punte.services import quotas
    from punte.services.issuing import today_in_romania
    from tests.integration.web_support import issue_invoice

    owner = "ana@firma.ro"
    add_web_user(db, account.cif, owner, "owner")
    add_web_user(db, account.cif, VIEWER, "viewer")
    with TestClient(client.app) as viewer:
        logged_in(viewer, VIEWER)
        assert 'href="/settings/plan"' not in viewer.get("/settings").text
        assert viewer.get("/settings/plan").status_code == 403

    logged_in(client, owner)
    assert 'href="/settings/plan"' in client.get("/settings").text
    assert "Firma nu are un plan" in client.get("/settings/plan").text
    today = today_in_romania()
    activated = today - timedelta(days=3)
    with db.session(write=True) as s:
        quotas.set_plan(s, get_company(s, CIF), limit=50, activated_on=activated, name="Mic", actor="test")
    issue_invoice(db, CIF)
    issue_invoice(db, CIF, kind="proforma")
    page = client.get("/settings/plan").text
    period = subscription_period(activated, today)
    assert "<dd>Mic</dd>" in page and "<dd>50</dd>" in page and '<dd id="plan-used">2</dd>' in page
    assert "<dd>48</dd>" in page and f"{period.start:%d.%m.%Y} – {period.end:%d.%m.%Y}" in page
