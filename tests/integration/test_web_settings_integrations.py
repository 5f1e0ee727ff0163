"""Settings tabs "E-mail (SMTP)" and "Conexiune ANAF": the owner's, through the real forms.

The SMTP server is aiosmtpd on a free local port; the ANAF side is punte's own sandbox mounted in the
same app (``/anaf-sandbox``), reached by the TestClient as a browser would follow the redirects.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import select

from punte.crypto import SecretBox
from punte.services.companies import get_company
from punte.store.db import Database
from punte.store.models import Event
from punte.store.models_anaf import AnafToken, EfacturaSettings
from punte.store.models_email import EmailMessage, SmtpSettings
from punte.web import i18n
from punte.web.pages import BUCHAREST
from punte.web.routes import settings_integrations
from tests.integration.web_support import add_web_user, logged_in

OWNER, ACCOUNTANT, VIEWER = "ana@firma.ro", "dan@firma.ro", "ion@firma.ro"
SENDER = "facturi@firma-test.ro"
PASSWORD = "s3cret-parola-smtp"


@pytest.fixture
def users(db, account) -> None:  # type: ignore[no-untyped-def]
    add_web_user(db, account.cif, OWNER, "owner")
    add_web_user(db, account.cif, ACCOUNTANT, "accountant")
    add_web_user(db, account.cif, VIEWER, "viewer")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    """aiosmtpd handler keeping what it accepts."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 Ok: queued as WEB1"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def smtp_form(csrf: str, port: int | str, **changes: str) -> dict[str, str]:
    form = {"csrf_token": csrf, "host": "127.0.0.1", "port": str(port), "security": "none", "username": "",
            "password": "", "from_address": SENDER, "from_name": "Firma Test SRL", "reply_to": "", "default_cc": "",
            "default_bcc": "contabil@firma-test.ro", "timeout_seconds": "5"}
    form.update(changes)
    return form


def smtp_row(db: Database) -> SmtpSettings:
    with db.session() as s:
        row = s.scalar(select(SmtpSettings))
        assert row is not None
        return row


# ---- e-mail (SMTP) --------------------------------------------------------------------------------------


def test_owner_saves_the_smtp_server_and_the_password_is_stored_encrypted_never_shown(  # type: ignore[no-untyped-def]
    client, db, settings, users
) -> None:
    csrf = logged_in(client, OWNER)
    assert "nu este configurat" in client.get("/settings/email").text
    r = client.post("/settings/email", data=smtp_form(csrf, 2525, username="smtp-user", password=PASSWORD))
    assert "Serverul de e-mail a fost salvat: 127.0.0.1:2525." in r.text
    assert PASSWORD not in r.text and "salvată (criptată)" in r.text and "contabil@firma-test.ro" in r.text
    row = smtp_row(db)
    assert row.password_encrypted and PASSWORD not in row.password_encrypted
    assert SecretBox(settings.resolved_secret_key()).decrypt(row.password_encrypted) == PASSWORD
    assert (row.host, row.port, row.security, row.username, row.from_address) == (
        "127.0.0.1", 2525, "none", "smtp-user", SENDER)

    r = client.post("/settings/email", data=smtp_form(csrf, 2526, username="smtp-user"))  # password left empty
    assert "127.0.0.1:2526" in r.text and PASSWORD not in r.text
    row = smtp_row(db)
    assert row.port == 2526 and SecretBox(settings.resolved_secret_key()).decrypt(row.password_encrypted) == PASSWORD
    with db.session() as s:
        saved = list(s.scalars(select(Event).where(Event.entity == "smtp_settings").order_by(Event.id)))
    assert [(e.action, e.actor, e.data["password_changed"]) for e in saved] == [
        ("configured", OWNER, True), ("updated", OWNER, False)]
    assert all(PASSWORD not in str(e.data) for e in saved)

    client.post("/settings/email", data=smtp_form(csrf, 2526, clear_password="1"))
    assert smtp_row(db).password_encrypted is None


def test_an_empty_port_takes_the_usual_port_of_the_security_chosen(client, db, users) -> None:  # type: ignore[no-untyped-def]
    csrf = logged_in(client, OWNER)
    client.post("/settings/email", data=smtp_form(csrf, "", security="ssl"))
    assert (smtp_row(db).security, smtp_row(db).port) == ("ssl", 465)


@pytest.mark.parametrize("changes, error", [
    ({"port": "abc"}, "Portul SMTP trebuie sa fie intre 1 si 65535."),
    ({"port": "70000"}, "Portul SMTP trebuie sa fie intre 1 si 65535."),
    ({"from_address": "nu-e-adresa"}, "Adresa de e-mail &#39;nu-e-adresa&#39; din campul from nu este valida."),
    ({"security": "tls13"}, "Securitatea conexiunii SMTP poate fi: none, starttls sau ssl."),
    ({"host": "smtp firma.ro"}, "Serverul SMTP (host) nu este valid."),
])
def test_bad_input_gives_the_services_error_and_changes_nothing(  # type: ignore[no-untyped-def]
    client, db, users, changes, error
) -> None:
    csrf = logged_in(client, OWNER)
    client.post("/settings/email", data=smtp_form(csrf, 2525, host="smtp.firma-test.ro"))
    before = smtp_row(db)
    r = client.post("/settings/email", data={**smtp_form(csrf, 2525, host="smtp.alt.ro"), **changes})
    assert error in r.text and 'class="flash error"' in r.text
    after = smtp_row(db)
    assert (after.host, after.port, after.security, after.from_address, after.updated_at) == (
        before.host, before.port, before.security, before.from_address, before.updated_at)
    with db.session() as s:
        assert len(list(s.scalars(select(Event).where(Event.entity == "smtp_settings")))) == 1


def test_the_tabs_are_the_owners(client, db, users) -> None:  # type: ignore[no-untyped-def]
    for who in (VIEWER, ACCOUNTANT):
        with TestClient(client.app) as browser:
            csrf = logged_in(browser, who)
            assert "E-mail (SMTP)" not in browser.get("/settings").text
            for path in ("/settings/email", "/settings/anaf"):
                r = browser.get(path)
                assert r.status_code == 403 and "Rolul dumneavoastră nu permite această acțiune." in r.text
            for path in ("/settings/email", "/settings/email/test", "/settings/anaf", "/settings/anaf/connect",
                         "/settings/anaf/disable"):
                assert browser.post(path, data=smtp_form(csrf, 2525, to="x@firma.ro")).status_code == 403
    with db.session() as s:
        assert s.scalar(select(SmtpSettings)) is None and s.scalar(select(EfacturaSettings)) is None


def test_a_post_without_the_csrf_token_is_refused(client, db, users) -> None:  # type: ignore[no-untyped-def]
    logged_in(client, OWNER)
    form = smtp_form("", 2525)
    del form["csrf_token"]
    for path in ("/settings/email", "/settings/anaf", "/settings/anaf/connect"):
        r = client.post(path, data={**form, "environment": "test"})
        assert r.status_code == 403 and "Formularul a expirat" in r.text
    r = client.post("/settings/email", data=smtp_form("0" * 64, 2525))
    assert r.status_code == 403
    with db.session() as s:
        assert s.scalar(select(SmtpSettings)) is None and s.scalar(select(EfacturaSettings)) is None


def test_the_test_email_reaches_the_smtp_server_and_the_log_shows_it(client, db, users, smtp) -> None:  # type: ignore[no-untyped-def]
    port, inbox = smtp
    csrf = logged_in(client, OWNER)
    client.post("/settings/email", data=smtp_form(csrf, port))
    r = client.post("/settings/email/test", data={"csrf_token": csrf, "to": "ops@firma.ro"})
    assert "Mesajul de test a fost trimis la ops@firma.ro. Serverul a răspuns: 250 2.0.0 Ok: queued as WEB1" in r.text
    [(mail_from, rcpt, data)] = inbox.received
    assert mail_from == SENDER and rcpt == ["ops@firma.ro"]  # a test goes to the address given only
    assert b"Mesaj de test punte (Firma Test SRL)" in data
    log = r.text.split('id="messages"')[1]
    assert "Trimis" in log and "ops@firma.ro" in log and "Test" in log and "queued as WEB1" in log


def test_a_refused_connection_shows_the_smtp_error_and_the_failed_message(client, db, users) -> None:  # type: ignore[no-untyped-def]
    csrf = logged_in(client, OWNER)
    client.post("/settings/email", data=smtp_form(csrf, free_port()))  # nobody listens there
    r = client.post("/settings/email/test", data={"csrf_token": csrf, "to": "ops@firma.ro"})
    assert 'class="flash error"' in r.text and "Mesajul de test nu a fost trimis: " in r.text
    with db.session() as s:
        message = s.scalar(select(EmailMessage))
        assert message is not None and message.status == "failed" and message.last_error
    assert message.last_error.split(":")[0] in r.text
    log = r.text.split('id="messages"')[1]
    assert "Eșuat" in log and "mail-failed" in log
    r = client.post("/settings/email/test", data={"csrf_token": csrf, "to": "nu-e-adresa"})
    assert "Adresa de e-mail &#39;nu-e-adresa&#39; din campul to nu este valida." in r.text


def test_the_test_email_without_a_server_says_so(client, users) -> None:  # type: ignore[no-untyped-def]
    csrf = logged_in(client, OWNER)
    r = client.post("/settings/email/test", data={"csrf_token": csrf, "to": "ops@firma.ro"})
    assert "Serverul de e-mail (SMTP) nu este configurat pentru aceasta firma." in r.text


# ---- ANAF connection ------------------------------------------------------------------------------------


def test_the_anaf_tab_of_a_company_never_connected(client, users) -> None:  # type: ignore[no-untyped-def]
    logged_in(client, OWNER)
    page = client.get("/settings/anaf").text
    status = page.split('id="anaf-status"')[1].split("</dl>")[0]
    assert "Neconectată" in status and "Sandbox punte (offline)" in status and "http://testserver/anaf/callback" in status
    assert "Conectează la ANAF" in page and "Salvează și activează e-Factura" in page


def test_connecting_through_the_sandbox_stores_the_tokens_and_shows_their_expiry(  # type: ignore[no-untyped-def]
    client, db, settings, users, account
) -> None:
    client.app.state.anaf_oauth_transport = client._transport  # the code exchange stays in this process
    csrf = logged_in(client, OWNER)
    r = client.post("/settings/anaf/connect", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    authorize = r.headers["location"]
    assert authorize.startswith("http://testserver/anaf-sandbox/anaf-oauth2/v1/authorize?")
    r = client.get(authorize, follow_redirects=False)  # the sandbox asks for no certificate
    assert r.status_code == 302 and urlsplit(r.headers["location"]).path == "/anaf/callback"
    r = client.get(r.headers["location"], follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/settings/anaf"
    page = client.get("/settings/anaf").text
    assert "Firma Test SRL (CIF 18547290) este conectată la ANAF; autorizarea este valabilă până la" in page
    with db.session() as s:
        row = s.scalar(select(EfacturaSettings))
        assert row is not None and row.token_id is not None
        token = s.get(AnafToken, row.token_id)
        assert token is not None and token.realm == "sandbox" and token.status == "active"
        box = SecretBox(settings.resolved_secret_key())
        assert box.decrypt(token.access_token_enc) and token.access_token_enc != box.decrypt(token.access_token_enc)
        actions = [(e.action, e.actor) for e in s.scalars(
            select(Event).where(Event.entity == "anaf_connection").order_by(Event.id))]
    assert actions == [("authorization_started", OWNER), ("connected", OWNER)]
    status = page.split('id="anaf-status"')[1].split("</dl>")[0]
    assert "Conectată" in status and "Reautorizează la ANAF" in page
    for moment in (token.access_expires_at, token.refresh_expires_at):
        assert moment.astimezone(BUCHAREST).strftime("%d.%m.%Y %H:%M") in status


def test_the_callback_without_a_dashboard_session_keeps_its_own_page(client, db, settings, users) -> None:  # type: ignore[no-untyped-def]
    client.app.state.anaf_oauth_transport = client._transport
    csrf = logged_in(client, OWNER)
    authorize = client.post("/settings/anaf/connect", data={"csrf_token": csrf}, follow_redirects=False)
    callback = client.get(authorize.headers["location"], follow_redirects=False).headers["location"]
    with TestClient(client.app) as certificate_holder:  # another browser, not logged in to the dashboard
        r = certificate_holder.get(callback, follow_redirects=False)
        assert r.status_code == 200 and "Conectat la ANAF" in r.text and "este conectata la e-Factura" in r.text
        r = certificate_holder.get("/anaf/callback?code=x&state=necunoscut", follow_redirects=False)
        assert r.status_code == 400 and "state necunoscut" in r.text


def test_a_failed_callback_returns_to_the_tab_with_the_error(client, users) -> None:  # type: ignore[no-untyped-def]
    logged_in(client, OWNER)
    r = client.get("/anaf/callback?code=x&state=necunoscut", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/settings/anaf"
    page = client.get("/settings/anaf").text
    assert "Conectarea la ANAF a eșuat: Cererea de autorizare ANAF nu este cunoscuta" in page
    r = client.get("/anaf/callback?error=access_denied&error_description=refuzat", follow_redirects=True)
    assert "Conectarea la ANAF a eșuat: ANAF a refuzat autorizarea: access_denied (refuzat)" in r.text


def test_environment_and_automatic_sending_are_saved_and_evented(client, db, users) -> None:  # type: ignore[no-untyped-def]
    csrf = logged_in(client, OWNER)
    r = client.post("/settings/anaf", data={"csrf_token": csrf, "environment": "test"})
    assert "e-Factura este activat: mediul ANAF test, trimitere doar la cerere." in r.text
    with db.session() as s:
        row = s.scalar(select(EfacturaSettings))
        assert row is not None and (row.enabled, row.environment, row.auto_submit) == (True, "test", False)
    # ANAF's own OAuth server is another site: the page lets its "connect" form be redirected there
    assert "form-action 'self' https://logincert.anaf.ro" in r.headers["content-security-policy"]
    r = client.post("/settings/anaf", data={"csrf_token": csrf, "environment": "productie", "auto_submit": "1"})
    assert "mediul e-Factura trebuie sa fie unul din sandbox, test, prod" in r.text
    r = client.post("/settings/anaf/connect", data={"csrf_token": csrf})  # no ANAF client id configured
    assert "Aplicatia punte nu este configurata pentru ANAF" in r.text
    r = client.post("/settings/anaf", data={"csrf_token": csrf, "environment": "sandbox", "auto_submit": "1"})
    assert "mediul Sandbox punte (offline), trimitere automat." in r.text
    assert "form-action 'self';" in r.headers["content-security-policy"]
    r = client.post("/settings/anaf/disable", data={"csrf_token": csrf})
    assert "e-Factura este dezactivat" in r.text and "Salvează și activează e-Factura" in r.text
    r = client.post("/settings/anaf/disable", data={"csrf_token": csrf})
    assert "e-Factura nu este activat pentru firma" in r.text
    with db.session() as s:
        row = s.scalar(select(EfacturaSettings))
        assert row is not None and (row.enabled, row.environment, row.auto_submit) == (False, "sandbox", True)
        done = [(e.action, e.actor, e.data) for e in s.scalars(
            select(Event).where(Event.entity == "efactura_settings").order_by(Event.id))]
    assert done == [
        ("enabled", OWNER, {"environment": "test", "auto_submit": False}),
        ("enabled", OWNER, {"environment": "sandbox", "auto_submit": True}),
        ("disabled", OWNER, {}),
    ]


def test_an_expiring_authorization_is_warned_about_on_the_tab(client, db, settings, users, account) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from punte.efactura.anaf.oauth import TokenSet
    from punte.services import anaf_connection

    now = anaf_connection.now_utc()
    tokens = TokenSet(access_token="a", refresh_token="r", access_expires_at=now + timedelta(days=5),
                      refresh_expires_at=now + timedelta(days=10), subject="holder")
    with db.session(write=True) as s:
        token, _ = anaf_connection.store_tokens(s, settings, "sandbox", tokens)
        anaf_connection.ensure_settings(s, get_company(s, account.cif)).token_id = token.id
    logged_in(client, OWNER)
    page = client.get("/settings/anaf").text
    assert "anaf-warning" in page and "Reautorizare necesară în curând" in page
    assert f"autorizarea ANAF expira la {tokens.refresh_expires_at:%Y-%m-%d}" in page


def test_the_labels_of_stored_codes_have_english() -> None:
    labels = [*settings_integrations.EMAIL_STATES.values(), *settings_integrations.EMAIL_PURPOSES.values(),
              *settings_integrations.ANAF_STATES.values(), *settings_integrations.ENVIRONMENT_NAMES.values()]
    assert [t for t in labels if t not in i18n.EN] == []
