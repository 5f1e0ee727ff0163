"""The document page's actions: collect a payment (and delete it, print its receipt) and e-mail the document.

Each form calls the same service as the SmartBill-compatible API (``payments.create_payment``,
``payment_deletes``, ``email.queue_document_email``), through the real app, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from punte.services.email import NOT_CONFIGURED
from punte.services.payments import paid_amount
from punte.store.models import Event, Payment, Series
from punte.store.models_email import EmailMessage
from punte.store.models_payments import CashMovement
from tests.integration.test_email import SmtpServer, configure, run_worker
from tests.integration.web_support import add_web_user, issue_invoice, logged_in

OWNER, ACCOUNTANT, VIEWER = "ana@firma.ro", "dan@firma.ro", "ion@firma.ro"


@pytest.fixture
def users(db, account) -> None:  # type: ignore[no-untyped-def]
    add_web_user(db, account.cif, OWNER, "owner")
    add_web_user(db, account.cif, ACCOUNTANT, "accountant")
    add_web_user(db, account.cif, VIEWER, "viewer")


@pytest.fixture
def smtp():  # type: ignore[no-untyped-def]
    server = SmtpServer().start()
    yield server
    server.stop()


def _count(db, model) -> int:  # type: ignore[no-untyped-def]
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _payment_events(db) -> list[str]:  # type: ignore[no-untyped-def]
    with db.session() as s:
        return [e.action for e in s.scalars(select(Event).where(Event.entity == "payment").order_by(Event.id))]


def _next_receipt(db) -> int:  # type: ignore[no-untyped-def]
    with db.session() as s:
        series = s.scalar(select(Series).where(Series.name == "CH"))
        assert series is not None
        return series.next_number


def _collect(client, doc_id: int, csrf: str, **fields: str):  # type: ignore[no-untyped-def]
    data = {"csrf_token": csrf, "type": "Chitanta", "amount": "121", "payment_date": "", "receipt_series": "CH"}
    data.update(fields)
    return client.post(f"/documents/{doc_id}/payments", data=data)


def test_the_form_offers_the_unpaid_rest_todays_date_and_the_receipt_series(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    doc_id = issue_invoice(db, account.cif, price="100", payment={"type": "Card", "value": "21"})
    logged_in(client, ACCOUNTANT)
    page = client.get(f"/documents/{doc_id}").text
    assert 'id="collect-form"' in page and 'name="amount" class="n" size="10" inputmode="decimal" value="100"' in page
    assert '<option value="CH" selected>CH (0001)</option>' in page and '<option value="Ordin plata">' in page
    assert '<option value="Bon">' not in page  # a fiscal receipt is the cash register's


def test_accountant_collects_a_receipt_and_a_card_payment_until_the_invoice_is_paid(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    doc_id = issue_invoice(db, account.cif, price="100")  # 121.00 RON with VAT
    csrf = logged_in(client, ACCOUNTANT)
    r = _collect(client, doc_id, csrf, amount="50,50", payment_date="2026-09-02")
    assert r.url.path == f"/documents/{doc_id}" and "Încasarea CH0001 a fost înregistrată." in r.text
    assert f'href="/documents/{doc_id}/payments/' in r.text and "70,50 RON" in r.text  # receipt link; what is left
    r = _collect(client, doc_id, csrf, type="Card", amount="70.50")
    assert "Încasarea Card a fost înregistrată." in r.text and 'id="collect-form"' not in r.text  # nothing left
    with db.session() as s:
        assert paid_amount(s, doc_id) == Decimal("121.00")
        rows = list(s.scalars(select(Payment).order_by(Payment.id)))
        assert [(p.type, p.number_text, p.value, p.created_by) for p in rows] == [
            ("Chitanta", "0001", Decimal("50.50"), ACCOUNTANT), ("Card", None, Decimal("70.50"), ACCOUNTANT)]
        assert rows[0].payment_date.isoformat() == "2026-09-02"
        assert s.scalar(select(func.count()).select_from(CashMovement)) == 1  # only the receipt is cash
    assert _payment_events(db) == ["collected", "collected"]
    receipt = client.get(f"/documents/{doc_id}/payments/{rows[0].id}/pdf")
    assert receipt.headers["content-type"] == "application/pdf" and receipt.content.startswith(b"%PDF")
    assert client.get(f"/documents/{doc_id}/payments/{rows[1].id}/pdf").status_code == 404  # a card has no receipt


def test_over_payment_is_refused_with_the_services_text_and_writes_nothing(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    doc_id = issue_invoice(db, account.cif, price="100")
    csrf = logged_in(client, ACCOUNTANT)
    r = _collect(client, doc_id, csrf, amount="121.01")
    assert "Valoarea incasarii (121.01) depaseste suma de incasat pe facturi (121.00)." in r.text
    r = _collect(client, doc_id, csrf, amount="doi lei")
    assert "Suma încasării nu este un număr." in r.text
    r = _collect(client, doc_id, csrf, type="Bon")
    assert "Alegeți tipul încasării." in r.text
    assert _count(db, Payment) == 0 and _payment_events(db) == [] and _next_receipt(db) == 1
    assert _count(db, CashMovement) == 0


def test_a_cancelled_invoice_is_not_collected(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    doc_id = issue_invoice(db, account.cif)
    csrf = logged_in(client, ACCOUNTANT)
    client.post(f"/documents/{doc_id}/cancel", data={"csrf_token": csrf})
    r = _collect(client, doc_id, csrf)
    assert "Factura FCT0001 este anulata, nu o puteti incasa." in r.text
    assert _count(db, Payment) == 0 and _next_receipt(db) == 1


def test_a_payment_over_the_plans_limit_is_refused_and_takes_no_receipt_number(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    from punte.domain.periods import shift_months
    from punte.services import quotas
    from punte.services.companies import get_company
    from punte.services.issuing import today_in_romania

    doc_id = issue_invoice(db, account.cif)
    with db.session(write=True) as s:
        quotas.set_plan(s, get_company(s, account.cif), limit=1, activated_on=shift_months(today_in_romania(), -1),
                        actor="test")
    csrf = logged_in(client, ACCOUNTANT)
    r = _collect(client, doc_id, csrf, amount="10")
    assert quotas.LIMIT_REACHED in r.text and "Limita abonamentului: 1 documente" in r.text
    assert _count(db, Payment) == 0 and _next_receipt(db) == 1 and _count(db, CashMovement) == 0


def test_a_viewer_cannot_collect_and_a_post_without_csrf_is_refused(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    doc_id = issue_invoice(db, account.cif)
    csrf = logged_in(client, VIEWER)
    assert 'id="collect-form"' not in client.get(f"/documents/{doc_id}").text
    r = _collect(client, doc_id, csrf)
    assert r.status_code == 403 and "Rolul dumneavoastră nu permite această acțiune." in r.text
    client.cookies.clear()
    logged_in(client, ACCOUNTANT)
    r = client.post(f"/documents/{doc_id}/payments", data={"type": "Card", "amount": "10"})
    assert r.status_code == 403 and "Formularul a expirat" in r.text
    r = _collect(client, doc_id, "0" * 64, type="Card", amount="10")
    assert r.status_code == 403
    assert _count(db, Payment) == 0


def test_accountant_deletes_payments_with_the_apis_rules(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    doc_id = issue_invoice(db, account.cif, price="100")
    csrf = logged_in(client, ACCOUNTANT)
    _collect(client, doc_id, csrf, amount="10")
    _collect(client, doc_id, csrf, amount="20")
    _collect(client, doc_id, csrf, type="Ordin plata", amount="30")
    _collect(client, doc_id, csrf, type="Ordin plata", amount="40")
    with db.session() as s:
        ids = [p.id for p in s.scalars(select(Payment).order_by(Payment.id))]
    r = client.post(f"/documents/{doc_id}/payments/{ids[0]}/delete", data={"csrf_token": csrf})
    assert "Documentul cu seria si numarul CH 0001 nu este ultimul din serie!" in r.text
    r = client.post(f"/documents/{doc_id}/payments/{ids[1]}/delete", data={"csrf_token": csrf})
    assert "Încasarea CH0002 a fost ștearsă." in r.text and _next_receipt(db) == 2  # its number goes back
    r = client.post(f"/documents/{doc_id}/payments/{ids[3]}/delete", data={"csrf_token": csrf})
    assert "Încasarea Ordin plata a fost ștearsă." in r.text  # the second of its type: found by its data
    with db.session() as s:
        assert [p.id for p in s.scalars(select(Payment).order_by(Payment.id))] == [ids[0], ids[2]]
        assert paid_amount(s, doc_id) == Decimal("40.00")
        cash = [m.amount for m in s.scalars(select(CashMovement).order_by(CashMovement.id))]
        assert cash == [Decimal("10.00"), Decimal("20.00"), Decimal("-20.00")]  # the receipt's cash reversed
    assert _payment_events(db)[-2:] == ["deleted", "deleted"]
    client.cookies.clear()
    viewer_csrf = logged_in(client, VIEWER)
    r = client.post(f"/documents/{doc_id}/payments/{ids[2]}/delete", data={"csrf_token": viewer_csrf})
    assert r.status_code == 403 and _count(db, Payment) == 2


def test_the_very_payment_chosen_is_deleted_even_among_identical_ones(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    doc_id = issue_invoice(db, account.cif, price="100")
    other_id = issue_invoice(db, account.cif, price="100")
    csrf = logged_in(client, ACCOUNTANT)
    for _ in range(3):  # same type, day, value and client: only the id tells them apart
        _collect(client, doc_id, csrf, type="Card", amount="10")
    with db.session() as s:
        ids = [p.id for p in s.scalars(select(Payment).order_by(Payment.id))]
    r = client.post(f"/documents/{other_id}/payments/{ids[1]}/delete", data={"csrf_token": csrf})
    assert r.status_code == 404 and _count(db, Payment) == 3  # not a payment of that invoice
    r = client.post(f"/documents/{doc_id}/payments/{ids[1]}/delete", data={"csrf_token": csrf})
    assert "Încasarea Card a fost ștearsă." in r.text
    with db.session() as s:
        assert [p.id for p in s.scalars(select(Payment).order_by(Payment.id))] == [ids[0], ids[2]]
        assert paid_amount(s, doc_id) == Decimal("20.00")


def test_the_document_is_emailed_through_the_worker_to_the_smtp_server(client, db, account, users, settings, smtp) -> None:  # type: ignore[no-untyped-def]
    configure(db, settings, account, smtp.port)
    doc_id = issue_invoice(db, account.cif)
    csrf = logged_in(client, ACCOUNTANT)
    page = client.get(f"/documents/{doc_id}").text
    assert 'id="email-form"' in page and "#serie numar document#" in page and 'id="smtp-missing"' not in page
    r = client.post(f"/documents/{doc_id}/email", data={
        "csrf_token": csrf, "to": "client@exemplu.ro", "cc": "", "bcc": "",
        "subject": "Factura #serie numar document#", "body": "Buna ziua,\r\nAtasat factura #serie numar document#.",
    })
    assert "E-mailul către client@exemplu.ro a fost pus în coada de trimitere." in r.text
    assert run_worker(db, settings) == 1
    assert len(smtp.received) == 1
    message = smtp.received[0].message
    assert smtp.received[0].rcpt_tos == ["client@exemplu.ro"] and message["Subject"] == "Factura FCT0001"
    assert [a.get_filename() for a in message.iter_attachments()] == ["Factura_FCT0001.pdf"]
    with db.session() as s:
        row = s.scalar(select(EmailMessage))
        assert row is not None and row.document_id == doc_id and row.status == "sent" and row.created_by == ACCOUNTANT
    page = client.get(f"/documents/{doc_id}").text
    assert 'id="email-log"' in page and "Trimis" in page and "client@exemplu.ro" in page


def test_without_smtp_the_services_text_is_shown_with_a_link_to_the_settings(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    doc_id = issue_invoice(db, account.cif)
    csrf = logged_in(client, ACCOUNTANT)
    r = client.post(f"/documents/{doc_id}/email", data={"csrf_token": csrf, "to": "client@exemplu.ro"})
    assert str(escape(NOT_CONFIGURED)) in r.text and 'href="/settings/email"' in r.text
    assert _count(db, EmailMessage) == 0
    client.cookies.clear()
    viewer_csrf = logged_in(client, VIEWER)
    r = client.post(f"/documents/{doc_id}/email", data={"csrf_token": viewer_csrf, "to": "client@exemplu.ro"})
    assert r.status_code == 403
