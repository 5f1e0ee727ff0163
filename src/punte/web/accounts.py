"""Dashboard users, their roles on companies, sessions and log-in throttling (service layer).

Used by the dashboard routes and by ``punte user ...``; every change of a user or a role writes an
event in the same transaction. Roles: a ``viewer`` reads, an ``accountant`` also issues and changes
documents, an ``owner`` also edits settings and users. A company always keeps at least one owner.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from punte.config import Settings
from punte.domain.errors import DomainError, NotFound
from punte.services import events
from punte.store.models import Company
from punte.store.models_web import ROLES, WebLoginAttempt, WebMembership, WebSession, WebUser

from .passwords import MAX_LENGTH, MIN_LENGTH, hash_password, needs_rehash, verify_password

ROLE_LEVEL = {"viewer": 1, "accountant": 2, "owner": 3}
LANGUAGES = ("ro", "en")
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often per session


@dataclass(frozen=True)
class Membership:
    company_id: int
    cif: str
    name: str
    role: str


@dataclass(frozen=True)
class Member:
    user_id: int
    email: str
    role: str
    created_at: datetime


def now_utc() -> datetime:
    return datetime.now(UTC)


def normalize_email(email: str) -> str:
    value = (email or "").strip().lower()
    local, at, domain = value.partition("@")
    if not at or not local or "." not in domain or len(value) > 200 or any(c.isspace() for c in value):
        raise DomainError("Adresa de e-mail a utilizatorului nu este valida.")
    return value


def check_role(role: str) -> str:
    value = (role or "").strip().lower()
    if value not in ROLES:
        raise DomainError("Rolul trebuie sa fie owner, accountant sau viewer.")
    return value


def check_password(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise DomainError(f"Parola trebuie sa aiba cel putin {MIN_LENGTH} caractere.")
    if len(password) > MAX_LENGTH:
        raise DomainError(f"Parola poate avea cel mult {MAX_LENGTH} de caractere.")


def find_user(session: Session, email: str) -> WebUser | None:
    return session.scalar(select(WebUser).where(WebUser.email == email.strip().lower()))


def add_user(
    session: Session, company: Company, email: str, password: str | None, role: str, *, actor: str
) -> WebUser:
    """Give ``email`` the ``role`` on ``company``; a new user needs a password, an existing one keeps his."""
    email = normalize_email(email)
    role = check_role(role)
    user = find_user(session, email)
    if user is None:
        if password is None:
            raise DomainError(f"Utilizatorul {email} nu exista; dati-i o parola.")
        check_password(password)
        user = WebUser(email=email, password_hash=hash_password(password), language="ro")
        try:
            with session.begin_nested():
                session.add(user)
                session.flush()
        except IntegrityError as exc:
            raise DomainError(f"Utilizatorul {email} exista deja.") from exc
        events.record(session, company_id=company.id, entity="web_user", entity_id=user.id, action="created",
                      actor=actor, data={"email": email})
    elif password is not None:
        raise DomainError(f"Utilizatorul {email} exista deja; parola lui nu se schimba de aici.")
    membership = WebMembership(user_id=user.id, company_id=company.id, role=role)
    try:
        with session.begin_nested():
            session.add(membership)
            session.flush()
    except IntegrityError as exc:
        raise DomainError(f"Utilizatorul {email} are deja acces la firma {company.name}.") from exc
    events.record(session, company_id=company.id, entity="web_user", entity_id=user.id, action="role_granted",
                  actor=actor, data={"email": email, "role": role})
    return user


def memberships_of(session: Session, user_id: int) -> list[Membership]:
    rows = session.execute(
        select(Company.id, Company.cif, Company.name, WebMembership.role)
        .join(WebMembership, WebMembership.company_id == Company.id)
        .where(WebMembership.user_id == user_id)
        .order_by(Company.name, Company.id)
    ).all()
    return [Membership(company_id=r[0], cif=r[1], name=r[2], role=r[3]) for r in rows]


def members_of(session: Session, company: Company) -> list[Member]:
    rows = session.execute(
        select(WebUser.id, WebUser.email, WebMembership.role, WebMembership.created_at)
        .join(WebMembership, WebMembership.user_id == WebUser.id)
        .where(WebMembership.company_id == company.id)
        .order_by(WebUser.email)
    ).all()
    return [Member(user_id=r[0], email=r[1], role=r[2], created_at=r[3]) for r in rows]


def all_users(session: Session) -> list[tuple[WebUser, list[Membership]]]:
    users = session.scalars(select(WebUser).order_by(WebUser.email)).all()
    return [(u, memberships_of(session, u.id)) for u in users]


def _membership(session: Session, company: Company, user_id: int, *, lock: bool = False) -> WebMembership:
    stmt = select(WebMembership).where(WebMembership.company_id == company.id, WebMembership.user_id == user_id)
    row = session.scalar(stmt.with_for_update() if lock else stmt)
    if row is None:
        raise NotFound("Utilizatorul nu are acces la aceasta firma.")
    return row


def _keep_an_owner(session: Session, company: Company, leaving: WebMembership) -> None:
    if leaving.role != "owner":
        return
    owners = session.scalars(
        select(WebMembership)
        .where(WebMembership.company_id == company.id, WebMembership.role == "owner")
        .with_for_update()
    ).all()
    if len(owners) <= 1:
        raise DomainError("Firma trebuie sa pastreze cel putin un proprietar (owner).")


def set_role(session: Session, company: Company, user_id: int, role: str, *, actor: str) -> None:
    role = check_role(role)
    membership = _membership(session, company, user_id, lock=True)
    if membership.role == role:
        return
    if role != "owner":
        _keep_an_owner(session, company, membership)
    before = membership.role
    membership.role = role
    events.record(session, company_id=company.id, entity="web_user", entity_id=user_id, action="role_changed",
                  actor=actor, data={"from": before, "to": role})


def remove_member(session: Session, company: Company, user_id: int, *, actor: str) -> None:
    membership = _membership(session, company, user_id, lock=True)
    _keep_an_owner(session, company, membership)
    session.delete(membership)
    session.execute(
        WebSession.__table__.update()
        .where(WebSession.user_id == user_id, WebSession.company_id == company.id)
        .values(company_id=None)
    )
    events.record(session, company_id=company.id, entity="web_user", entity_id=user_id, action="role_revoked",
                  actor=actor, data={"role": membership.role})


def set_language(session: Session, user_id: int, language: str) -> None:
    value = (language or "").strip().lower()
    if value not in LANGUAGES:
        raise DomainError("Limba nu a fost gasita pe server!")
    user = session.get(WebUser, user_id)
    if user is None:
        raise NotFound("Utilizatorul nu exista.")
    user.language = value


def change_password(
    session: Session, user_id: int, current: str, new: str, *, keep_session_id: int | None, actor: str
) -> None:
    """Change the password after checking the current one; every other session of the user ends."""
    user = session.get(WebUser, user_id, with_for_update=True)
    if user is None:
        raise NotFound("Utilizatorul nu exista.")
    if not verify_password(user.password_hash, current):
        raise DomainError("Parola actuala nu este corecta.")
    check_password(new)
    user.password_hash = hash_password(new)
    user.password_changed_at = now_utc()
    stmt = delete(WebSession).where(WebSession.user_id == user.id)
    if keep_session_id is not None:
        stmt = stmt.where(WebSession.id != keep_session_id)
    session.execute(stmt)
    events.record(session, company_id=None, entity="web_user", entity_id=user.id, action="password_changed",
                  actor=actor, data={})


def reset_password(session: Session, email: str, new: str, *, actor: str) -> None:
    """Operator's reset (CLI): sets the password and ends every session of the user."""
    user = find_user(session, normalize_email(email))
    if user is None:
        raise NotFound(f"Utilizatorul {email.strip().lower()} nu exista.")
    check_password(new)
    user.password_hash = hash_password(new)
    user.password_changed_at = now_utc()
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    events.record(session, company_id=None, entity="web_user", entity_id=user.id, action="password_reset",
                  actor=actor, data={})


# --- sessions -----------------------------------------------------------------------------------------


def token_hash(token: str, secret_key: str) -> str:
    key = hmac.new(secret_key.encode(), b"punte-web-sessions-v1", hashlib.sha256).digest()
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class LoginResult:
    """``token`` is set on success; otherwise ``refusal`` is ``bad_credentials`` or ``throttled``."""

    token: str | None = None
    user_id: int | None = None
    refusal: str | None = None


def _throttled(session: Session, email: str, ip: str, settings: Settings, now: datetime) -> bool:
    since = now - timedelta(minutes=settings.login_window_minutes)
    last_ok = session.scalar(
        select(func.max(WebLoginAttempt.at)).where(
            WebLoginAttempt.email == email, WebLoginAttempt.succeeded.is_(True), WebLoginAttempt.at >= since
        )
    )
    by_email = session.scalar(
        select(func.count()).select_from(WebLoginAttempt).where(
            WebLoginAttempt.email == email,
            WebLoginAttempt.succeeded.is_(False),
            WebLoginAttempt.at >= max(since, last_ok) if last_ok else WebLoginAttempt.at >= since,
        )
    )
    by_ip = session.scalar(
        select(func.count()).select_from(WebLoginAttempt).where(
            WebLoginAttempt.ip == ip, WebLoginAttempt.succeeded.is_(False), WebLoginAttempt.at >= since
        )
    )
    return (by_email or 0) >= settings.login_max_failures or (by_ip or 0) >= 4 * settings.login_max_failures


def log_in(
    session: Session,
    email: str,
    password: str,
    *,
    ip: str,
    user_agent: str | None,
    settings: Settings,
    secret_key: str,
    now: datetime | None = None,
) -> LoginResult:
    """Check the credentials (unless this e-mail or IP failed too often lately) and open a session.

    Failures are recorded in the caller's transaction, which must be committed even on refusal.
    """
    now = now or now_utc()
    email = (email or "").strip().lower()[:200]
    ip = (ip or "-")[:64]
    session.execute(delete(WebLoginAttempt).where(WebLoginAttempt.at < now - timedelta(days=1)))
    if _throttled(session, email, ip, settings, now):
        verify_password(None, password)
        return LoginResult(refusal="throttled")
    user = find_user(session, email) if email else None
    ok = verify_password(user.password_hash if user else None, password)
    session.add(WebLoginAttempt(email=email, ip=ip, at=now, succeeded=ok))
    if not ok or user is None:
        return LoginResult(refusal="bad_credentials")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    session.execute(delete(WebSession).where(WebSession.user_id == user.id, WebSession.expires_at < now))
    first_company = session.scalar(  # the company the user was given first opens by default
        select(WebMembership.company_id).where(WebMembership.user_id == user.id).order_by(WebMembership.id).limit(1)
    )
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=token_hash(token, secret_key),
            user_id=user.id,
            company_id=first_company,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=settings.session_max_hours),
            ip=ip,
            user_agent=(user_agent or "")[:300] or None,
        )
    )
    session.flush()
    return LoginResult(token=token, user_id=user.id)


@dataclass(frozen=True)
class ActiveSession:
    id: int
    user_id: int
    email: str
    language: str
    company_id: int | None
    needs_touch: bool


def resolve_session(
    session: Session, token: str, *, settings: Settings, secret_key: str, now: datetime | None = None
) -> ActiveSession | None:
    """The live session behind a cookie token, or None when unknown, idle too long or past its end."""
    if not token or len(token) > 100:
        return None
    now = now or now_utc()
    row = session.execute(
        select(WebSession, WebUser)
        .join(WebUser, WebUser.id == WebSession.user_id)
        .where(WebSession.token_hash == token_hash(token, secret_key))
    ).first()
    if row is None:
        return None
    ws, user = row
    if ws.expires_at <= now or now - ws.last_seen_at > timedelta(minutes=settings.session_idle_minutes):
        return None
    return ActiveSession(
        id=ws.id, user_id=user.id, email=user.email, language=user.language, company_id=ws.company_id,
        needs_touch=now - ws.last_seen_at > TOUCH_EVERY,
    )


def touch_session(session: Session, session_id: int, now: datetime | None = None) -> None:
    session.execute(
        WebSession.__table__.update().where(WebSession.id == session_id).values(last_seen_at=now or now_utc())
    )


def select_company(session: Session, session_id: int, user_id: int, company_id: int) -> Membership:
    """Make ``company_id`` the session's current company (the user must have a role on it)."""
    found = next((m for m in memberships_of(session, user_id) if m.company_id == company_id), None)
    if found is None:
        raise NotFound("Nu aveti acces la aceasta firma.")
    session.execute(
        WebSession.__table__.update().where(WebSession.id == session_id).values(company_id=company_id)
    )
    return found


def log_out(session: Session, token: str, *, secret_key: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == token_hash(token, secret_key)))


def log_out_everywhere(session: Session, user_id: int, *, actor: str) -> int:
    """End every session of the user (this browser's too); returns how many ended."""
    ended = session.execute(delete(WebSession).where(WebSession.user_id == user_id)).rowcount or 0
    events.record(session, company_id=None, entity="web_user", entity_id=user_id, action="logged_out_everywhere",
                  actor=actor, data={"sessions": ended})
    return ended


def sessions_of(session: Session, user_id: int) -> list[WebSession]:
    return list(
        session.scalars(
            select(WebSession).where(WebSession.user_id == user_id).order_by(WebSession.last_seen_at.desc())
        )
    )
