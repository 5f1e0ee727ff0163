"""Dashboard documents: the list (search, filters, keyset pages), a document's page, PDF, UBL, actions, roles."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from punte.services.companies import get_company
from punte.services.payments import paid_amount
from punte.store.models import Document, Event, Series
from punte.web import queries
from tests.conftest import OTHER_CIF, make_account
from tests.integration.web_support import add_web_user, issue_invoice, logged_in

OWNER, ACCOUNTANT, VIEWER = "ana@firma.ro", "dan@firma.ro", "ion@firma.ro"


@pytest.fixture
def users(db, account) -> None:  # type: ignore[no-untyped-def]
    add_web_user(db, account.cif, OWNER, "owner")
    add_web_user(db, account.cif, ACCOUNTANT, "accountant")
    add_web_user(db, account.cif, VIEWER, "viewer")


def _company_id(db, cif: str) -> int:  # type: ignore[no-untyped-def]
    with db.session() as s:
        return get_company(s, cif).id


def _labels(html: str) -> list[str]:
    return re.findall(r'<td><a href="/documents/\d+">([A-Z]+\d+)</a></td>', html)


def test_keyset_pages_walk_every_document_once_newest_first_and_back(db, account) -> None:  # type: ignore[no-untyped-def]
    days = ["2026-09-01", "2026-09-03", "2026-09-03", "2026-09-02", "2026-09-05", "2026-09-03", "2026-09-04"]
    ids = [issue_invoice(db, account.cif, issue_date=d) for d in days]
    issue_invoice(db, account.cif, issue_date="2026-09-02", kind="proforma")
    cid = _company_id(db, account.cif)
    with db.session() as s:
        expected = [d.id for d in s.scalars(
            select(Document).where(Document.company_id == cid).order_by(Document.issue_date.desc(), Document.id.desc())
        )]
        pages, cursor = [], None
        while True:
            page = queries.list_documents(s, cid, queries.DocumentFilter(), after=cursor, limit=3)
            pages.append(page)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert [r.id for p in pages for r in p.rows] == expected and len(expected) == 8
        assert [len(p.rows) for p in pages] == [3, 3, 2] and pages[0].prev_cursor is None
        back = queries.list_documents(s, cid, queries.DocumentFilter(), before=pages[2].prev_cursor, limit=3)
        assert [r.id for r in back.rows] == [r.id for r in pages[1].rows]
        assert back.prev_cursor is not None and back.next_cursor == pages[1].next_cursor
        first = queries.list_documents(s, cid, queries.DocumentFilter(), before=back.prev_cursor, limit=3)
        assert [r.id for r in first.rows] == [r.id for r in pages[0].rows] and first.prev_cursor is None
        invoices = queries.list_documents(s, cid, queries.DocumentFilter(kind="invoice"), limit=50)
        assert sorted(r.id for r in invoices.rows) == sorted(ids)


def test_search_by_client_number_amount_and_date(db, account) -> None:  # type: ignore[no-untyped-def]
    issue_invoice(db, account.cif, client="Alfa Distributie SRL", price="1020.30", issue_date="2026-09-01")
    issue_invoice(db, account.cif, client="Beta 100% SRL", vat_code="RO13548146", issue_date="2026-09-10")
    issue_invoice(db, account.cif, client="Gamma_Construct SA", vat_code=None, issue_date="2026-09-20")
    cid = _company_id(db, account.cif)

    def found(**params: str) -> list[str]:
        with db.session() as s:
            page = queries.list_documents(s, cid, queries.parse_filter(params))
        return sorted(r.client_name for r in page.rows)

    assert found(client="alfa") == ["Alfa Distributie SRL"]
    assert found(client="RO13548146") == ["Beta 100% SRL"]
    assert found(client="100%") == ["Beta 100% SRL"]  # LIKE wildcards are searched for literally
    assert found(client="a_c") == ["Gamma_Construct SA"]
    assert found(number="FCT0002") == found(number="2") == found(number="fct 2") == ["Beta 100% SRL"]
    assert found(number="PRF0002") == []
    # 1020.30 + 21% VAT = 1234.56 (amounts as typed in Romanian or English)
    assert found(amount="1.234,56") == found(amount="1234.56") == found(amount="1 234,56") == ["Alfa Distributie SRL"]
    assert found(amount="121") == ["Beta 100% SRL", "Gamma_Construct SA"]
    assert found(**{"from": "2026-09-05", "to": "2026-09-15"}) == ["Beta 100% SRL"]
    assert found(status="cancelled") == [] and found(kind="proforma") == []


def test_list_page_shows_documents_filters_and_a_link_to_the_next_page(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    for n in range(queries.PAGE_SIZE + 2):
        issue_invoice(db, account.cif, client=f"Client {n:03d} SRL", issue_date=f"2026-09-{1 + n % 28:02d}")
    logged_in(client, VIEWER)
    first = client.get("/documents")
    assert first.status_code == 200 and len(_labels(first.text)) == queries.PAGE_SIZE
    nxt = re.search(r'href="(/documents\?after=[^"]+)"', first.text)
    assert nxt and 'rel="prev"' not in first.text
    second = client.get(nxt.group(1).replace("&amp;", "&"))
    assert len(_labels(second.text)) == 2 and not set(_labels(second.text)) & set(_labels(first.text))
    assert 'rel="prev"' in second.text and 'rel="next"' not in second.text
    filtered = client.get("/documents", params={"client": "client 007", "status": "issued"})
    assert _labels(filtered.text) == ["FCT0008"] and 'value="client 007"' in filtered.text


def test_bad_search_input_is_explained_not_crashed_on(client, users) -> None:  # type: ignore[no-untyped-def]
    logged_in(client, VIEWER)
    r = client.get("/documents", params={"amount": "doi lei"})
    assert r.status_code == 400 and "Suma cautata nu este un numar." in r.text
    r = client.get("/documents", params={"from": "01.09.2026"})
    assert r.status_code == 400 and "yyyy-MM-dd" in r.text
    assert client.get("/documents", params={"after": "ieri"}).status_code == 400


def test_document_page_shows_lines_totals_payments_and_events(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    doc_id = issue_invoice(db, account.cif, price="100", payment={"type": "Chitanta", "value": "50"})
    logged_in(client, VIEWER)
    r = client.get(f"/documents/{doc_id}")
    assert r.status_code == 200
    text = r.text
    assert "Factură FCT0001" in text and "121,00 RON" in text
    assert "Chitanta" in text and "CH0001" in text and "50,00 RON" in text and "71,00 RON" in text  # paid / due
    assert "Încasare înregistrată" in text and "Emis" in text and "test@firma.ro" in text
    assert f'src="/documents/{doc_id}/pdf"' in text and "Stornează" not in text  # a viewer has no actions


def test_pdf_and_ubl_of_a_document(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    doc_id = issue_invoice(db, account.cif)
    proforma = issue_invoice(db, account.cif, kind="proforma")
    logged_in(client, VIEWER)
    pdf = client.get(f"/documents/{doc_id}/pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    ubl = client.get(f"/documents/{doc_id}/ubl")
    assert ubl.headers["content-type"].startswith("application/xml")
    assert b"<cbc:ID>FCT0001</cbc:ID>" in ubl.content and b"urn:cen.eu:en16931:2017#compliant#urn:efactura.mfinante.ro:CIUS-RO:1.0.1" in ubl.content
    assert 'filename="FCT0001.xml"' in ubl.headers["content-disposition"]
    assert client.get(f"/documents/{proforma}/ubl").status_code == 404
    assert client.get(f"/documents/{proforma}/pdf").content.startswith(b"%PDF")


def test_documents_of_another_company_are_not_found(client, db, account, users, settings) -> None:  # type: ignore[no-untyped-def]
    make_account(db, settings, OTHER_CIF, "api@alta.ro", name="Alta Firma SRL")
    foreign = issue_invoice(db, OTHER_CIF)
    csrf = logged_in(client, OWNER)
    for path in (f"/documents/{foreign}", f"/documents/{foreign}/pdf", f"/documents/{foreign}/ubl"):
        assert client.get(path).status_code == 404
    assert client.post(f"/documents/{foreign}/cancel", data={"csrf_token": csrf}).status_code == 404
    with db.session() as s:
        assert s.get(Document, foreign).status == "issued"  # type: ignore[union-attr]
    assert client.get("/documents").text.count("/documents/") == client.get("/documents").text.count(
        "/documents/new/")  # none of its documents are listed


def test_a_viewer_cannot_act_on_documents(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    doc_id = issue_invoice(db, account.cif)
    csrf = logged_in(client, VIEWER)
    for action in ("cancel", "delete", "reverse"):
        r = client.post(f"/documents/{doc_id}/{action}", data={"csrf_token": csrf})
        assert r.status_code == 403 and "Rolul dumneavoastră nu permite această acțiune." in r.text
    with db.session() as s:
        assert s.get(Document, doc_id).status == "issued"  # type: ignore[union-attr]
        assert s.scalar(select(func.count()).select_from(Document)) == 1


def test_accountant_cancels_restores_reverses_and_deletes_through_the_services(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    doc_id = issue_invoice(db, account.cif)
    csrf = logged_in(client, ACCOUNTANT)
    r = client.post(f"/documents/{doc_id}/cancel", data={"csrf_token": csrf})
    assert r.url.path == f"/documents/{doc_id}" and "Documentul a fost anulat." in r.text and "Restaurează" in r.text
    r = client.post(f"/documents/{doc_id}/restore", data={"csrf_token": csrf})
    assert "Documentul a fost restaurat." in r.text
    r = client.post(f"/documents/{doc_id}/reverse", data={"csrf_token": csrf, "issue_date": ""})
    assert "Factura storno FCT0002 a fost emisă." in r.text and "-121,00 RON" in r.text
    storno_id = int(r.url.path.rsplit("/", 1)[1])
    r = client.post(f"/documents/{doc_id}/reverse", data={"csrf_token": csrf})
    assert "Factura este deja stornata." in r.text  # the service's refusal, shown on the page
    r = client.post(f"/documents/{doc_id}/delete", data={"csrf_token": csrf})
    assert "nu este ultimul din serie!" in r.text
    r = client.post(f"/documents/{storno_id}/delete", data={"csrf_token": csrf})
    assert r.url.path == "/documents" and "Documentul FCT0002 a fost șters." in r.text
    with db.session() as s:
        actions = [e.action for e in s.scalars(select(Event).where(Event.entity == "document").order_by(Event.id))]
        assert actions == ["issued", "cancelled", "restored", "issued_storno", "reversed", "deleted"]
        assert {e.actor for e in s.scalars(
            select(Event).where(Event.entity == "document", Event.action != "issued"))} == {ACCOUNTANT}
        series = s.scalar(select(Series).where(Series.name == "FCT"))
        assert series is not None and series.next_number == 2


def test_a_draft_is_issued_from_its_page(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    draft = issue_invoice(db, account.cif, draft=True)
    csrf = logged_in(client, ACCOUNTANT)
    page = client.get(f"/documents/{draft}")
    assert "ciornă" in page.text and "Emite (primește număr)" in page.text and "/ubl" not in page.text
    r = client.post(f"/documents/{draft}/issue", data={"csrf_token": csrf})
    assert "Documentul a fost emis: FCT0001." in r.text
    with db.session() as s:
        doc = s.get(Document, draft)
        assert doc is not None and doc.status == "issued" and doc.number == 1


def test_overview_sums_this_months_invoices_and_lists_the_unpaid_ones(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    from punte.services.issuing import today_in_romania

    today = today_in_romania()
    paid = issue_invoice(db, account.cif, price="100", payment={"type": "Ordin plata", "value": "121"})
    partly = issue_invoice(db, account.cif, price="200", payment={"type": "Card", "value": "42"})
    issue_invoice(db, account.cif, price="300")
    issue_invoice(db, account.cif, price="1000", kind="proforma")
    issue_invoice(db, account.cif, price="5", draft=True)
    cid = _company_id(db, account.cif)
    with db.session() as s:
        issued = queries.issued_this_month(s, cid, today)
        assert issued.count == 3 and issued.by_currency == {"RON": Decimal("726.00")}
        unpaid = queries.unpaid_invoices(s, cid, today)
        assert unpaid.count == 2 and unpaid.by_currency == {"RON": Decimal("563.00")}
        assert [r.id for r in unpaid.oldest] == [partly, partly + 1] and paid not in [r.id for r in unpaid.oldest]
        assert [r.unpaid for r in unpaid.oldest] == [Decimal("200.00"), Decimal("363.00")]
        for row in unpaid.oldest:  # the batched sums agree with the payments service
            assert row.paid == paid_amount(s, row.id)
    logged_in(client, VIEWER)
    text = client.get("/").text
    assert "726,00" in text and "563,00 RON" in text and "FCT0002" in text
