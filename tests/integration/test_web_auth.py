"""Dashboard log-in, sessions, CSRF, log-out (here and everywhere), language and company switch."""

from __future__ import annotations

import re

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from punte.config import Settings
from punte.domain.errors import DomainError
from punte.store.models import Event
from punte.store.models_web import WebLoginAttempt, WebSession, WebUser
from punte.web import accounts
from punte.web.security import safe_next
from tests.conftest import OTHER_CIF, make_account
from tests.integration.web_support import PASSWORD, add_web_user, form_csrf, logged_in, login, page_csrf

OWNER = "ana@firma.ro"


@pytest.fixture
def owner(db, account) -> str:  # type: ignore[no-untyped-def]
    add_web_user(db, account.cif, OWNER, "owner")
    return OWNER


def test_pages_need_a_session_and_send_to_the_log_in_page(client) -> None:  # type: ignore[no-untyped-def]
    for path in ("/", "/documents", "/documents/new/invoice", "/settings", "/settings/users", "/account"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/login")
    assert client.get("/documents?client=x", follow_redirects=False).headers["location"] == (
        "/login?next=/documents%3Fclient%3Dx"
    )


def test_log_in_sets_an_httponly_samesite_session_cookie_and_opens_the_overview(client, owner) -> None:  # type: ignore[no-untyped-def]
    r = login(client, owner)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "punte_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # the test server is plain http
    page = client.get("/")
    assert page.status_code == 200 and "Facturat luna aceasta" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


def test_session_cookie_is_secure_when_the_public_url_is_https(db, account, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from punte.api.app import create_app

    add_web_user(db, account.cif, OWNER, "owner")
    settings = Settings(data_dir=tmp_path / "d", secret_key="test-secret-key", public_url="https://punte.example.ro",
                        bnr_auto_fetch=False)
    with TestClient(create_app(settings, db=db, migrate=False), base_url="https://testserver") as c:
        r = login(c, OWNER)
    assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]


def test_wrong_password_and_unknown_e_mail_get_the_same_answer(client, owner) -> None:  # type: ignore[no-untyped-def]
    bad = login(client, owner, "parola-gresita-123")
    unknown = login(client, "nimeni@firma.ro", PASSWORD)
    assert bad.status_code == unknown.status_code == 401
    assert "E-mailul sau parola nu sunt corecte." in bad.text and "E-mailul sau parola nu sunt corecte." in unknown.text
    assert "punte_session" not in bad.headers.get("set-cookie", "")


def test_log_in_is_refused_after_too_many_failures_even_with_the_right_password(client, owner, db) -> None:  # type: ignore[no-untyped-def]
    for _ in range(5):
        assert login(client, owner, "parola-gresita-123").status_code == 401
    r = login(client, owner)
    assert r.status_code == 429 and "Prea multe încercări eșuate" in r.text
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(WebSession)) == 0


def test_failures_count_per_e_mail_inside_the_window_and_a_success_resets_them(db, account, settings) -> None:  # type: ignore[no-untyped-def]
    add_web_user(db, account.cif, OWNER, "owner")
    start = accounts.now_utc()

    def attempt(password: str, minutes: float, ip: str = "10.0.0.1") -> accounts.LoginResult:
        with db.session(write=True) as s:
            return accounts.log_in(s, OWNER, password, ip=ip, user_agent="t", settings=settings,
                                   secret_key="k", now=start + timedelta(minutes=minutes))

    for i in range(4):
        assert attempt("gresit-gresit", i).refusal == "bad_credentials"
    assert attempt(PASSWORD, 4).token is not None  # 4 failures: still allowed, and the success resets them
    for i in range(5):
        assert attempt("gresit-gresit", 5 + i).refusal == "bad_credentials"
    assert attempt(PASSWORD, 10).refusal == "throttled"
    assert attempt(PASSWORD, 10, ip="10.0.0.2").refusal == "throttled"  # per e-mail, whatever the IP
    assert attempt(PASSWORD, 5 + 4 + settings.login_window_minutes + 1).token is not None  # the window passed
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(WebLoginAttempt).where(WebLoginAttempt.succeeded)) == 2


def test_many_failures_from_one_ip_block_it_for_every_e_mail(db, account, settings) -> None:  # type: ignore[no-untyped-def]
    add_web_user(db, account.cif, OWNER, "owner")
    settings = settings.model_copy(update={"login_max_failures": 2})
    now = accounts.now_utc()
    for i in range(4 * settings.login_max_failures):
        with db.session(write=True) as s:
            accounts.log_in(s, f"x{i}@firma.ro", "gresit-gresit", ip="10.9.9.9", user_agent=None,
                            settings=settings, secret_key="k", now=now)
    with db.session(write=True) as s:
        blocked = accounts.log_in(s, OWNER, PASSWORD, ip="10.9.9.9", user_agent=None, settings=settings,
                                  secret_key="k", now=now)
        allowed = accounts.log_in(s, OWNER, PASSWORD, ip="10.9.9.8", user_agent=None, settings=settings,
                                  secret_key="k", now=now)
    assert blocked.refusal == "throttled" and allowed.token is not None


def test_log_in_form_needs_its_csrf_token(client, owner) -> None:  # type: ignore[no-untyped-def]
    client.get("/login")
    r = client.post("/login", data={"email": owner, "password": PASSWORD, "csrf_token": "0" * 64},
                    follow_redirects=False)
    assert r.status_code == 403 and "punte_session" not in r.headers.get("set-cookie", "")


def test_only_local_paths_are_followed_after_log_in(client, owner) -> None:  # type: ignore[no-untyped-def]
    assert login(client, owner, next="//evil.example/x").headers["location"] == "/"
    assert safe_next("/documents?client=a") == "/documents?client=a"
    for bad in ("https://evil.example", "//evil.example", "/\\evil.example", "javascript:alert(1)", ""):
        assert safe_next(bad) == "/"


def test_every_dashboard_post_refuses_a_missing_or_foreign_csrf_token(client, owner, db) -> None:  # type: ignore[no-untyped-def]
    logged_in(client, owner)
    from punte.web.routes import MODULES

    posts = [r.path for m in MODULES for r in m.router.routes if "POST" in getattr(r, "methods", ())
             and r.path != "/login"]
    assert len(posts) >= 12
    with db.session() as s:
        events_before = s.scalar(select(func.count()).select_from(Event))
    for path in posts:
        concrete = path.replace("{action}", "cancel").replace("{kind}", "invoice").replace("{provider}", "stripe")
        concrete = re.sub(r"\{\w+:int\}", "1", concrete)
        assert "{" not in concrete, concrete  # a new kind of path parameter: give it a value here
        for token in (None, "f" * 64):
            data = {"csrf_token": token} if token else {}
            r = client.post(concrete, data=data, follow_redirects=False)
            assert r.status_code == 403, (concrete, r.status_code)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == events_before
    assert client.get("/").status_code == 200  # still logged in: nothing was done


def test_log_out_ends_the_session_on_the_server(client, owner, db) -> None:  # type: ignore[no-untyped-def]
    csrf = logged_in(client, owner)
    token = client.cookies.get("punte_session")
    r = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    client.cookies.set("punte_session", token)  # a copied cookie is worth nothing now
    assert client.get("/", follow_redirects=False).status_code == 303


def test_log_out_everywhere_ends_the_sessions_of_every_browser(client, owner, db) -> None:  # type: ignore[no-untyped-def]
    with TestClient(client.app) as other:
        logged_in(other, owner)
        csrf = logged_in(client, owner)
        assert other.get("/").status_code == 200
        r = client.post("/account/logout-all", data={"csrf_token": csrf}, follow_redirects=False)
        assert r.status_code == 303
        assert other.get("/", follow_redirects=False).status_code == 303
        assert client.get("/", follow_redirects=False).status_code == 303
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(WebSession)) == 0
        assert s.scalar(select(Event).where(Event.action == "logged_out_everywhere")) is not None


def test_changing_the_password_ends_the_other_sessions_and_keeps_this_one(client, owner) -> None:  # type: ignore[no-untyped-def]
    with TestClient(client.app) as other:
        logged_in(other, owner)
        csrf = logged_in(client, owner)
        new = "o-parola-noua-si-lunga"
        r = client.post("/account/password", data={
            "csrf_token": csrf, "current_password": PASSWORD, "new_password": new, "new_password_again": new,
        })
        assert "Parola a fost schimbată" in r.text
        assert other.get("/", follow_redirects=False).status_code == 303
        assert client.get("/").status_code == 200
    with TestClient(client.app) as third:
        assert login(third, owner).status_code == 401
        assert login(third, owner, new).status_code == 303


def test_wrong_current_password_changes_nothing(client, owner) -> None:  # type: ignore[no-untyped-def]
    csrf = logged_in(client, owner)
    r = client.post("/account/password", data={
        "csrf_token": csrf, "current_password": "nu-e-asta-parola", "new_password": "x" * 12,
        "new_password_again": "x" * 12,
    })
    assert "Parola actuala nu este corecta." in r.text
    with TestClient(client.app) as other:
        assert login(other, owner).status_code == 303


def test_an_idle_or_old_session_is_no_longer_accepted(db, account, settings) -> None:  # type: ignore[no-untyped-def]
    add_web_user(db, account.cif, OWNER, "owner")
    now = accounts.now_utc()
    with db.session(write=True) as s:
        token = accounts.log_in(s, OWNER, PASSWORD, ip="1", user_agent=None, settings=settings, secret_key="k",
                                now=now).token
    assert token

    def alive(at) -> bool:  # type: ignore[no-untyped-def]
        with db.session() as s:
            return accounts.resolve_session(s, token, settings=settings, secret_key="k", now=at) is not None

    assert alive(now + timedelta(minutes=settings.session_idle_minutes - 1))
    assert not alive(now + timedelta(minutes=settings.session_idle_minutes + 1))
    with db.session(write=True) as s:  # activity keeps it alive, up to its absolute end
        sid = accounts.resolve_session(s, token, settings=settings, secret_key="k", now=now)
        assert sid is not None
    with db.session(write=True) as s:
        accounts.touch_session(s, sid.id, now + timedelta(hours=settings.session_max_hours - 1))
    assert alive(now + timedelta(hours=settings.session_max_hours - 1, minutes=30))
    assert not alive(now + timedelta(hours=settings.session_max_hours, minutes=1))


def test_passwords_are_stored_as_argon2id_hashes(db, account) -> None:  # type: ignore[no-untyped-def]
    add_web_user(db, account.cif, OWNER, "owner")
    with db.session() as s:
        user = s.scalar(select(WebUser))
        assert user is not None and user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
        sessions = s.scalars(select(WebSession)).all()
    assert sessions == []


def test_short_passwords_and_bad_roles_are_refused(db, account) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DomainError, match="cel putin 10"):
        add_web_user(db, account.cif, "a@firma.ro", "owner", password="scurta")
    with pytest.raises(DomainError, match="owner, accountant sau viewer"):
        add_web_user(db, account.cif, "a@firma.ro", "admin")
    with pytest.raises(DomainError, match="e-mail"):
        add_web_user(db, account.cif, "fara-arond", "owner")


def test_language_is_stored_per_user(client, owner) -> None:  # type: ignore[no-untyped-def]
    csrf = logged_in(client, owner)
    r = client.post("/account/language", data={"csrf_token": csrf, "language": "en", "next": "/documents"})
    assert r.url.path == "/documents" and "<h1>Documents</h1>" in r.text and 'lang="en"' in r.text
    with TestClient(client.app) as other:  # a new session of the same user
        logged_in(other, owner)
        assert "Invoiced this month" in other.get("/").text


def test_log_in_page_language_can_be_chosen_before_log_in(client) -> None:  # type: ignore[no-untyped-def]
    assert "<h1>Log in</h1>" in client.get("/login?lang=en").text
    assert "<h1>Log in</h1>" in client.get("/login").text  # remembered in a cookie
    assert "<h1>Autentificare</h1>" in client.get("/login?lang=ro").text


def test_company_switcher_changes_the_current_company(client, owner, db, settings) -> None:  # type: ignore[no-untyped-def]
    make_account(db, settings, OTHER_CIF, "api@alta.ro", name="Alta Firma SRL")
    add_web_user(db, OTHER_CIF, owner, "viewer", password=None)
    csrf = logged_in(client, owner)
    assert 'selected>Alta Firma SRL' not in client.get("/").text
    with db.session() as s:
        from punte.services.companies import get_company

        other_id = get_company(s, OTHER_CIF).id
    r = client.post("/company", data={"csrf_token": csrf, "company_id": str(other_id), "next": "/settings"})
    assert r.url.path == "/settings" and "14399840" in r.text and "Vizualizare" in r.text
    assert client.get("/documents/new/invoice").status_code == 403  # a viewer there


def test_switching_to_a_company_without_a_role_is_refused(client, owner, db, settings) -> None:  # type: ignore[no-untyped-def]
    make_account(db, settings, OTHER_CIF, "api@alta.ro", name="Alta Firma SRL")
    csrf = logged_in(client, owner)
    with db.session() as s:
        from punte.services.companies import get_company

        other_id = get_company(s, OTHER_CIF).id
    r = client.post("/company", data={"csrf_token": csrf, "company_id": str(other_id)})
    assert "Nu aveți acces la această firmă." in r.text or "Nu aveti acces" in r.text
    assert "Firma Test SRL" in client.get("/").text


def test_a_user_without_any_company_sees_why(client, db, account) -> None:  # type: ignore[no-untyped-def]
    add_web_user(db, account.cif, OWNER, "owner")
    add_web_user(db, account.cif, "ion@firma.ro", "viewer")
    with db.session(write=True) as s:
        from punte.services.companies import get_company

        company = get_company(s, account.cif)
        ion = accounts.find_user(s, "ion@firma.ro")
        assert ion is not None
        accounts.remove_member(s, company, ion.id, actor="test")
    logged_in(client, "ion@firma.ro")
    r = client.get("/")
    assert r.status_code == 403 and "Nu aveți acces la nicio firmă" in r.text
    assert client.get("/documents").status_code == 403


def test_csrf_token_differs_per_session(client, owner) -> None:  # type: ignore[no-untyped-def]
    first = logged_in(client, owner)
    with TestClient(client.app) as other:
        second = logged_in(other, owner)
    assert first != second and len(first) == 64
    assert form_csrf(client.get("/account").text) == page_csrf(client.get("/account").text) == first
