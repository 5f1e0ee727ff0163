"""E-mail: POST /document/send and sendEmail, through the outbox and the worker, to a real SMTP server.

The SMTP server is aiosmtpd, started in the test on a free local port; what it receives is parsed
back and checked as a mail client would see it.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import email
import io
import socket
import ssl
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage as MimeMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pypdf import PdfReader
from sqlalchemy import select, text, update

from punte.config import Settings
from punte.crypto import SecretBox
from punte.services.companies import get_company
from punte.services.email import (
    JOB_KIND,
    SSL_CONTEXT_SERVICE,
    SmtpConfig,
    configure_smtp,
    notify_company,
)
from punte.store.db import Database
from punte.store.models import Event, Job
from punte.store.models_email import EmailMessage
from punte.worker import queue
from punte.worker.runner import Worker
from tests.conftest import Account
from tests.integration.test_invoice_api import SEED_INVOICE, TODAY

API = "/SBORO/api"
SENDER = "facturi@firma-test.ro"


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: MimeMessage


@dataclass
class Recorder:
    """aiosmtpd handler: keeps what it accepts; can refuse recipients or answer DATA with set replies."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    data_replies: list[str] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]  # noqa: N802
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        with self.lock:
            if self.data_replies:
                return self.data_replies.pop(0)
            parsed = email.message_from_bytes(envelope.original_content, policy=default_policy)
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        return "250 2.0.0 Ok: queued as T3ST"

    def authenticate(self, server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((login, password))
        return AuthResult(success=(login, password) == ("smtp-user", "s3cret-parola"))


class SmtpServer:
    """A running aiosmtpd on 127.0.0.1; ``start``/``stop`` to take it up and down on the same port."""

    def __init__(self, port: int | None = None, **controller_kw: Any) -> None:
        self.port = port or free_port()
        self.recorder = Recorder()
        self.controller_kw = controller_kw
        self.controller: Controller | None = None

    def start(self) -> SmtpServer:
        kw = dict(self.controller_kw)
        if kw.pop("auth", False):
            kw.update(authenticator=self.recorder.authenticate, auth_required=True, auth_require_tls=False)
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port, **kw)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def received(self) -> list[Received]:
        return self.recorder.received


@pytest.fixture
def smtp():  # type: ignore[no-untyped-def]
    server = SmtpServer().start()
    yield server
    server.stop()


def configure(db: Database, settings: Settings, account: Account, port: int, **changes: Any) -> None:
    values: dict[str, Any] = dict(host="127.0.0.1", port=port, security="none", from_address=SENDER,
                                  from_name="Firma Test SRL", reply_to="contabilitate@firma-test.ro", timeout_seconds=5)
    values.update(changes)
    with db.session(write=True) as session:
        company = get_company(session, account.cif)
        configure_smtp(session, company, SmtpConfig(**values), secret_key=settings.resolved_secret_key(), actor="test")


def run_worker(db: Database, settings: Settings, **services: Any) -> int:
    return Worker(db, settings, kinds=[JOB_KIND], run_periodic=False, services=services).run_until_idle()


def invoice_body(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(SEED_INVOICE)
    data["client"]["contact"] = "Ioana Pop"
    data["mentions"] = "Comanda 77"
    data.update(changes)
    return data


def issue(client, account: Account, path: str = "/invoice", **changes: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.post(API + path, headers=account.headers, json=invoice_body(**changes))
    assert r.status_code == 200, r.text
    return r.json()


def send(client, account: Account, **fields: Any):  # type: ignore[no-untyped-def]
    data = {"companyVatCode": account.cif, "seriesName": "FCT", "number": "0001", "type": "factura", **fields}
    return client.post(API + "/document/send", headers=account.headers, json=data)


def messages(db: Database) -> list[EmailMessage]:
    with db.session() as session:
        return list(session.scalars(select(EmailMessage).order_by(EmailMessage.id)))


def email_jobs(db: Database) -> list[Job]:
    with db.session() as session:
        return list(session.scalars(select(Job).where(Job.kind == JOB_KIND)))


def make_due(db: Database) -> None:
    """Skip the back-off wait: the retried job becomes due now."""
    with db.session(write=True) as session:
        session.execute(update(Job).where(Job.kind == JOB_KIND, Job.status == "queued")
                        .values(run_at=queue.now() - timedelta(seconds=1)))


def parts(message: MimeMessage) -> tuple[str, str, list[MimeMessage]]:
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    assert text_part is not None and html_part is not None
    def lines(part: MimeMessage) -> str:  # text travels in canonical CRLF form
        return str(part.get_content()).replace("\r\n", "\n")

    return lines(text_part), lines(html_part), list(message.iter_attachments())


# SmartBill's own example body (seed 004), HTML with </br>, plus the other placeholders.
SMARTBILL_BODY = (
    "Buna ziua, </br></br>Atasat va transmitem <b><i>#tip document# #serie numar document#</i></b> emisa in data de "
    "<i>#data emiterii#</i>, in valoare de <i>#total document#</i>. </br></br> Multumim pentru colaborare!"
    "</br>Scadenta: #data scadentei#</br>Mentiune: #mentiune#</br>Client: #nume client#, in atentia "
    "#persoana contact#</br>Link: #link document#"
)


def test_document_send_delivers_the_invoice_with_placeholders_replaced_and_its_pdf(client, account, db, settings, smtp) -> None:  # type: ignore[no-untyped-def]
    configure(db, settings, account, smtp.port)
    issued = issue(client, account, path="/invoice/v2", dueDate=(dt.date.fromisoformat(TODAY) + timedelta(days=10)).isoformat())
    r = send(client, account, subject=b64("#tip document# #serie numar document#"), bodyText=b64(SMARTBILL_BODY),
             to="Client Exemplu <client@example.ro>", cc="sef@example.ro", bcc="arhiva@firma-test.ro")
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["errorText"] == "" and answer["status"]["code"] == 0
    assert len(messages(db)) == 1 and messages(db)[0].status == "queued"
    assert smtp.received == []  # nothing leaves before the worker runs

    assert run_worker(db, settings) == 1
    [got] = smtp.received
    assert got.mail_from == SENDER
    assert got.rcpt_tos == ["client@example.ro", "sef@example.ro", "arhiva@firma-test.ro"]
    msg = got.message
    assert msg["Subject"] == "factura FCT0001"
    assert msg["To"] == "Client Exemplu <client@example.ro>" and msg["Cc"] == "sef@example.ro"
    assert msg["Bcc"] is None
    assert msg["From"] == f"Firma Test SRL <{SENDER}>" and msg["Reply-To"] == "contabilitate@firma-test.ro"
    text_body, html_body, attachments = parts(msg)
    issue_day = dt.date.fromisoformat(TODAY)
    due_day = issue_day + timedelta(days=10)
    assert (f"Atasat va transmitem factura FCT0001 emisa in data de {issue_day:%d.%m.%Y}, "
            "in valoare de 10,00 RON.") in text_body
    assert f"Scadenta: {due_day:%d.%m.%Y}" in text_body
    assert "Mentiune: Comanda 77" in text_body
    assert "Client: Client Exemplu SRL, in atentia Ioana Pop" in text_body
    assert f"Link: {issued['documentViewUrl']}" in text_body
    assert "#" not in text_body
    assert "<b><i>factura FCT0001</i></b>" in html_body
    page = client.get(issued["documentViewUrl"].removeprefix("http://testserver"))
    assert page.status_code == 200 and "FCT0001" in page.text

    [pdf] = attachments
    assert pdf.get_content_type() == "application/pdf" and pdf.get_filename() == "Factura_FCT0001.pdf"
    data = pdf.get_content()
    assert data.startswith(b"%PDF-")
    pdf_text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    assert "FCT" in pdf_text and "0001" in pdf_text and "Client Exemplu SRL" in pdf_text

    [row] = messages(db)
    assert row.status == "sent" and row.attempts == 1 and row.sent_at is not None
    assert row.subject == "factura FCT0001" and row.smtp_response.startswith("250 2.0.0 Ok: queued as T3ST")
    assert msg["Message-ID"] == row.message_id
    with db.session() as session:
        actions = [e.action for e in session.scalars(select(Event).where(Event.entity == "email"))]
    assert actions == ["queued", "sent"]


def test_proforma_goes_to_the_client_address_with_the_company_texts(client, account, db, settings, smtp) -> None:  # type: ignore[no-untyped-def]
    configure(db, settings, account, smtp.port, proforma_subject="Proforma #serie numar document# de la noi",
              proforma_body="Buna ziua #persoana contact#,\nDe plata: #total document# pana la #data scadentei#.",
              default_bcc="arhiva@firma-test.ro")
    issue(client, account, path="/estimate", seriesName="PRF")
    data = {"companyVatCode": account.cif, "seriesName": "PRF", "number": "1", "type": "proforma"}
    headers = {**account.headers, "Idempotency-Key": "trimite-prf-1"}
    r = client.post(API + "/document/send", headers=headers, json=data)
    assert r.status_code == 200 and r.json()["status"]["code"] == 0
    again = client.post(API + "/document/send", headers=headers, json=data)
    assert again.headers["Idempotency-Replayed"] == "true" and again.json() == r.json()
    assert len(messages(db)) == 1
    run_worker(db, settings)
    [got] = smtp.received
    assert got.rcpt_tos == ["client@example.ro", "arhiva@firma-test.ro"]
    assert got.message["Subject"] == "Proforma PRF0001 de la noi"
    text_body, html_body, [pdf] = parts(got.message)
    assert "Buna ziua Ioana Pop,\nDe plata: 10,00 RON pana la" in text_body
    assert "Buna ziua Ioana Pop,<br>" in html_body
    assert pdf.get_filename() == "Proforma_PRF0001.pdf"


def test_a_server_that_is_down_is_retried_and_the_message_sent_once_when_it_is_up(client, account, db, settings) -> None:  # type: ignore[no-untyped-def]
    server = SmtpServer(auth=True)  # not started yet: connections are refused
    configure(db, settings, account, server.port, username="smtp-user", password="s3cret-parola")
    issue(client, account)
    assert send(client, account).json()["status"]["code"] == 0

    assert run_worker(db, settings) == 1
    [row] = messages(db)
    assert row.status == "queued" and row.attempts == 1 and row.sent_at is None
    assert "Conectarea la 127.0.0.1" in (row.last_error or "")
    [job] = email_jobs(db)
    assert job.status == "queued" and job.run_at > queue.now()  # backing off
    assert run_worker(db, settings) == 0  # not due yet

    server.start()
    try:
        make_due(db)
        assert run_worker(db, settings) == 1
        assert len(server.received) == 1
        assert server.recorder.logins == [("smtp-user", "s3cret-parola")]
        [row] = messages(db)
        assert row.status == "sent" and row.attempts == 2 and row.last_error is None

        # The job runs again (an operator's requeue, a lost lease): the message is not sent twice.
        with db.session(write=True) as session:
            queue.requeue(session, email_jobs(db)[0].id)
        assert run_worker(db, settings) == 1
        assert len(server.received) == 1
        assert messages(db)[0].attempts == 2
    finally:
        server.stop()


def test_a_message_still_undelivered_at_the_last_attempt_is_failed(client, account, db, settings) -> None:  # type: ignore[no-untyped-def]
    configure(db, settings, account, free_port())  # nothing ever listens there
    issue(client, account)
    send(client, account)
    with db.session(write=True) as session:
        session.execute(update(Job).where(Job.kind == JOB_KIND).values(max_attempts=2))
    run_worker(db, settings)
    make_due(db)
    run_worker(db, settings)
    [row] = messages(db)
    assert row.status == "failed" and row.attempts == 2 and "Conectarea la 127.0.0.1" in (row.last_error or "")
    assert [j.status for j in email_jobs(db)] == ["done"]


def test_a_temporary_4xx_answer_is_retried(client, account, db, settings, smtp) -> None:  # type: ignore[no-untyped-def]
    configure(db, settings, account, smtp.port)
    smtp.recorder.data_replies.append("451 4.3.0 Mail server temporarily rejected message")
    issue(client, account)
    send(client, account)
    run_worker(db, settings)
    [row] = messages(db)
    assert row.status == "queued" and row.smtp_response == "451 4.3.0 Mail server temporarily rejected message"
    make_due(db)
    run_worker(db, settings)
    assert len(smtp.received) == 1 and messages(db)[0].status == "sent"


def test_a_550_rejection_fails_the_message_with_the_server_answer(client, account, db, settings, smtp) -> None:  # type: ignore[no-untyped-def]
    configure(db, settings, account, smtp.port)
    smtp.recorder.refuse["nobody@example.ro"] = "550 5.1.1 <nobody@example.ro>: Recipient address rejected"
    issue(client, account)
    send(client, account, to="nobody@example.ro")
    run_worker(db, settings)
    [row] = messages(db)
    assert row.status == "failed" and row.attempts == 1
    assert "550 5.1.1 <nobody@example.ro>: Recipient address rejected" in (row.last_error or "")
    assert row.smtp_response == "nobody@example.ro: 550 5.1.1 <nobody@example.ro>: Recipient address rejected"
    assert [j.status for j in email_jobs(db)] == ["done"]  # not retried
    assert smtp.received == []


def test_one_refused_recipient_among_several_does_not_stop_the_others(client, account, db, settings, smtp) -> None:  # type: ignore[no-untyped-def]
    configure(db, settings, account, smtp.port)
    smtp.recorder.refuse["nobody@example.ro"] = "550 5.1.1 no such user"
    issue(client, account)
    send(client, account, cc="nobody@example.ro")
    run_worker(db, settings)
    [got] = smtp.received
    assert got.rcpt_tos == ["client@example.ro"]
    [row] = messages(db)
    assert row.status == "sent" and "refuzati: nobody@example.ro: 550 5.1.1 no such user" in row.smtp_response


def test_the_smtp_password_is_stored_encrypted(account, db, settings) -> None:  # type: ignore[no-untyped-def]
    configure(db, settings, account, 2525, username="smtp-user", password="s3cret-parola")
    with db.engine.connect() as conn:
        raw = conn.execute(text("SELECT password_encrypted FROM smtp_settings")).scalar_one()
        dump = " ".join(str(v) for v in conn.execute(text("SELECT * FROM smtp_settings")).one())
    assert "s3cret-parola" not in dump and "s3cret" not in raw
    assert SecretBox(settings.resolved_secret_key()).decrypt(raw) == "s3cret-parola"
    with db.session() as session:
        data = [e.data for e in session.scalars(select(Event).where(Event.entity == "smtp_settings"))]
    assert data and "s3cret" not in str(data)


BAD_REQUESTS: list[tuple[dict[str, Any], str]] = [
    ({"subject": "nu e base64!!"}, "Campul subject trebuie sa fie text codat Base64 (UTF-8)."),
    ({"bodyText": b64("ok")[:-2] + "*"}, "Campul bodyText trebuie sa fie text codat Base64 (UTF-8)."),
    ({"bodyText": base64.b64encode(b"\xff\xfe").decode()}, "Campul bodyText trebuie sa fie text codat Base64 (UTF-8)."),
    ({"number": "0009"}, "Factura cu seria si numarul FCT0009 nu a fost gasita!"),
    ({"seriesName": "PRF", "type": "proforma"}, "Proforma cu seria si numarul PRF0001 nu a fost gasita!"),
    ({"type": "chitanta"}, "Tipul documentului (type) trebuie sa fie 'factura' sau 'proforma'."),
    ({"number": ""}, "Numarul documentului trebuie specificat (number)."),
    ({"to": "client@@example"}, "Adresa de e-mail 'client@@example' din campul to nu este valida."),
    ({"cc": "a@b.ro, fara-arond"}, "Adresa de e-mail 'fara-arond' din campul cc nu este valida."),
]


def test_bad_requests_answer_code_1_and_queue_nothing(client, account, db, settings, smtp) -> None:  # type: ignore[no-untyped-def]
    configure(db, settings, account, smtp.port)
    issue(client, account)
    for fields, expected in BAD_REQUESTS:
        r = send(client, account, **fields)
        assert r.status_code == 400, fields
        answer = r.json()
        assert answer["status"] == {"code": 1, "message": expected} and answer["errorText"] == expected
    assert messages(db) == [] and email_jobs(db) == []


def test_without_an_smtp_server_sending_is_refused(client, account, db) -> None:  # type: ignore[no-untyped-def]
    issue(client, account)
    r = send(client, account)
    assert r.status_code == 400 and r.json()["status"] == {
        "code": 1, "message": "Serverul de e-mail (SMTP) nu este configurat pentru aceasta firma. "
                              "Configurati-l cu 'punte smtp set --cif ...'."}
    assert messages(db) == [] and email_jobs(db) == []


def test_another_companys_document_cannot_be_sent(client, account, db, settings, smtp) -> None:  # type: ignore[no-untyped-def]
    configure(db, settings, account, smtp.port)
    issue(client, account)
    r = send(client, account, companyVatCode="RO14399840")
    assert r.status_code == 401 and r.json()["status"]["code"] == 1
    assert messages(db) == []


def test_send_email_at_issue_queues_the_document_in_the_same_transaction(client, account, db, settings, smtp) -> None:  # type: ignore[no-untyped-def]
    configure(db, settings, account, smtp.port)
    r = client.post(API + "/invoice", headers=account.headers,
                    json=invoice_body(sendEmail=True, email={"cc": "sef@example.ro", "bcc": "",
                                                             "subject": b64("Factura ta #serie numar document#")}))
    assert r.status_code == 200 and r.json()["number"] == "0001"
    [row] = messages(db)
    assert row.status == "queued" and row.to_addrs == "client@example.ro" and row.cc_addrs == "sef@example.ro"
    run_worker(db, settings)
    [got] = smtp.received
    assert got.rcpt_tos == ["client@example.ro", "sef@example.ro"]
    assert got.message["Subject"] == "Factura ta FCT0001"
    assert [a.get_filename() for a in got.message.iter_attachments()] == ["Factura_FCT0001.pdf"]

    # email.to replaces the client's address; drafts are not e-mailed.
    client.post(API + "/invoice", headers=account.headers, json=invoice_body(sendEmail=True, email={"to": "alt@example.ro"}))
    client.post(API + "/invoice", headers=account.headers, json=invoice_body(sendEmail=True, isDraft=True))
    assert [m.to_addrs for m in messages(db)] == ["client@example.ro", "alt@example.ro"]


def test_send_email_at_issue_without_smtp_is_refused_and_takes_no_number(client, account, db) -> None:  # type: ignore[no-untyped-def]
    r = client.post(API + "/invoice", headers=account.headers, json=invoice_body(sendEmail=True))
    assert r.status_code == 400 and "server de e-mail (SMTP)" in r.json()["errorText"]
    assert client.post(API + "/invoice", headers=account.headers, json=invoice_body()).json()["number"] == "0001"
    assert messages(db) == [] and email_jobs(db) == []


def test_bad_base64_in_the_email_object_refuses_the_invoice(client, account, db, settings, smtp) -> None:  # type: ignore[no-untyped-def]
    configure(db, settings, account, smtp.port)
    r = client.post(API + "/invoice", headers=account.headers,
                    json=invoice_body(sendEmail=True, email={"bodyText": "%%%"}))
    assert r.status_code == 400 and "email.bodyText trebuie sa fie text codat Base64" in r.json()["errorText"]
    assert client.post(API + "/invoice", headers=account.headers, json=invoice_body()).json()["number"] == "0001"


def test_notify_company_mails_the_company_own_address(account, db, settings, smtp) -> None:  # type: ignore[no-untyped-def]
    with db.session(write=True) as session:
        company = get_company(session, account.cif)
        assert notify_company(session, company, "Problema", "Nu am putut emite factura.") is None  # no SMTP yet
        company.email = "office@firma-test.ro"
    configure(db, settings, account, smtp.port)
    with db.session(write=True) as session:
        company = get_company(session, account.cif)
        queued = notify_company(session, company, "Plata fara factura", "Plata pi_123 nu a putut fi facturata:\n"
                                                                        "judetul clientului lipseste.")
        assert queued is not None and queued.purpose == "notice"
    run_worker(db, settings)
    [got] = smtp.received
    assert got.rcpt_tos == ["office@firma-test.ro"] and got.message["Subject"] == "Plata fara factura"
    text_body, _html, attachments = parts(got.message)
    assert text_body.startswith("Plata pi_123 nu a putut fi facturata:\njudetul clientului lipseste.")
    assert attachments == []


def test_the_punte_smartbill_client_sends_through_punte(client, account, db, settings, smtp) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    import httpx

    from punte.smartbill.aclient import AsyncSmartBill
    from punte.smartbill.client import SendDocumentRequest
    from punte.smartbill.errors import ValidationError

    configure(db, settings, account, smtp.port)
    issue(client, account)

    async def go() -> tuple[Any, str]:
        transport = httpx.ASGITransport(app=client.app)
        async with AsyncSmartBill(account.email, account.token, "http://testserver/SBORO/api", transport=transport) as sb:
            ok = await sb.documents.send(SendDocumentRequest(
                companyVatCode=account.cif, seriesName="FCT", number="0001", type="factura",
                subject=b64("#serie numar document#"), bodyText=b64("Va multumim.")))
            with pytest.raises(ValidationError) as refused:
                await sb.documents.send({"companyVatCode": account.cif, "seriesName": "FCT", "number": "7",
                                         "type": "factura"})
            return ok, str(refused.value)

    ok, refused = asyncio.run(go())
    assert ok.status.code == 0 and "Factura cu seria si numarul FCT7 nu a fost gasita!" in refused
    run_worker(db, settings)
    assert [r.message["Subject"] for r in smtp.received] == ["FCT0001"]


# ---- TLS -----------------------------------------------------------------------------------------------


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_connections_are_verified_and_used(client, account, db, settings, tmp_path, security) -> None:  # type: ignore[no-untyped-def]
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    kw = {"tls_context": server_ctx, "require_starttls": True} if security == "starttls" else {"ssl_context": server_ctx}
    server = SmtpServer(**kw).start()
    try:
        configure(db, settings, account, server.port, security=security)
        issue(client, account)
        send(client, account)
        # Without trusting the server's certificate the connection is refused and the message waits.
        run_worker(db, settings)
        assert server.received == [] and messages(db)[0].status == "queued"
        assert "CERTIFICATE_VERIFY_FAILED" in (messages(db)[0].last_error or "")
        make_due(db)
        run_worker(db, settings, **{SSL_CONTEXT_SERVICE: ssl.create_default_context(cafile=str(cert))})
        assert len(server.received) == 1 and messages(db)[0].status == "sent"
    finally:
        server.stop()


# ---- CLI -----------------------------------------------------------------------------------------------


def test_cli_sets_the_server_sends_a_test_and_lists_the_log(tmp_path, monkeypatch, smtp) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from punte.cli import app
    from punte.config import get_settings

    monkeypatch.setenv("PUNTE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("PUNTE_SECRET_KEY", "cli-test")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        assert runner.invoke(app, ["company", "add", "--cif", "RO18547290", "--name", "Firma SRL"]).exit_code == 0
        r = runner.invoke(app, ["smtp", "test", "--cif", "RO18547290", "--to", "ops@firma.ro"])
        assert r.exit_code == 1 and "nu este configurat" in r.output
        r = runner.invoke(app, ["smtp", "set", "--cif", "RO18547290", "--host", "127.0.0.1", "--port", str(smtp.port),
                                "--security", "none", "--user", "u", "--password-stdin", "--from", SENDER],
                          input="parola-din-stdin\n")
        assert r.exit_code == 0, r.output
        assert f"127.0.0.1:{smtp.port} (none), from {SENDER}, user u, password set" in r.output
        r = runner.invoke(app, ["smtp", "show", "--cif", "RO18547290"])
        assert "set (encrypted)" in r.output and "parola-din-stdin" not in r.output
        # aiosmtpd without an authenticator offers no AUTH: the test reports the server's refusal.
        r = runner.invoke(app, ["smtp", "test", "--cif", "RO18547290", "--to", "ops@firma.ro"])
        assert r.exit_code == 1 and "nu accepta autentificare" in r.output
        assert runner.invoke(app, ["smtp", "set", "--cif", "RO18547290", "--user", ""]).exit_code == 0
        r = runner.invoke(app, ["smtp", "test", "--cif", "RO18547290", "--to", "ops@firma.ro"])
        assert r.exit_code == 0, r.output
        assert "Test message sent to ops@firma.ro: 250 2.0.0 Ok: queued as T3ST" in r.output
        [got] = smtp.received
        assert got.rcpt_tos == ["ops@firma.ro"] and got.message["Subject"] == "Mesaj de test punte (Firma SRL)"
        r = runner.invoke(app, ["email", "list", "--cif", "RO18547290"], env={"COLUMNS": "250"})
        assert r.exit_code == 0
        assert "sent" in r.output and "failed" in r.output and "ops@firma.ro" in r.output
    finally:
        get_settings.cache_clear()
