"""A company's connection to ANAF: OAuth authorization, encrypted tokens, refresh and rotation.

How a company gets connected
    ``start_authorization`` stores a one-time ``state`` and gives the authorize URL; the person with
    the qualified certificate opens it; ANAF redirects to ``/anaf/callback?code=&state=``, and
    ``complete_authorization`` consumes the state, exchanges the code at once (ANAF allows 60 s)
    and stores both tokens encrypted with the installation secret (:class:`punte.crypto.SecretBox`).

One token per certificate holder
    A token identifies a person, not a company. Tokens are rows of ``anaf_tokens`` keyed by
    (realm, JWT subject); companies point at one (``efactura_settings.token_id``). Authorizing a
    second company with the same person updates the same row, and ``link_company`` lets a company
    use another company's token without a new browser step.

Refresh
    The access token (90 days at ANAF) is refreshed ``anaf_refresh_margin_days`` before it expires
    by a periodic worker task, or at once when a call finds it expired. Each refresh stores the new
    refresh token too (ANAF rotates it). Refreshes of one token are serialized by a lease on its
    row, so two workers never spend the same refresh token. A refused refresh token puts the token,
    and every company using it, in the ``reauthorize needed`` state; a refresh token expiring within
    30 days is warned about (log and event) and shown by :func:`tokens_needing_attention`.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from punte.config import Settings
from punte.crypto import SecretBox
from punte.domain.errors import Conflict, DomainError, NotFound
from punte.efactura.anaf.environments import check_env, environment, realm_of
from punte.efactura.anaf.oauth import (
    OAuthClient,
    OAuthClientError,
    OAuthError,
    OAuthInvalidGrant,
    OAuthTransientError,
    TokenSet,
)
from punte.store.db import Database
from punte.store.models import Company
from punte.store.models_anaf import AnafOAuthState, AnafToken, EfacturaSettings

from . import events

log = logging.getLogger("punte.anaf")

STATE_TTL = timedelta(minutes=10)
REFRESH_LEASE = timedelta(seconds=60)
REFRESH_WARNING = timedelta(days=30)
#: A call refreshes a token that expires within this much even between periodic checks.
REFRESH_AT_USE = timedelta(minutes=5)

NOT_CONNECTED = "not connected"
CONNECTED = "connected"
EXPIRING = "reauthorize soon"
REAUTHORIZE = "reauthorize needed"


class AnafNotConnected(DomainError):
    """The company has no ANAF token."""


class ReauthorizeNeeded(DomainError):
    """The refresh token expired or was refused: the certificate holder must authorize again."""


def now_utc() -> datetime:
    return datetime.now(UTC)


# -- settings rows ----------------------------------------------------------------------------------
def company_settings(session: Session, company: Company) -> EfacturaSettings | None:
    return session.scalar(select(EfacturaSettings).where(EfacturaSettings.company_id == company.id))


def ensure_settings(session: Session, company: Company, *, environment_name: str = "sandbox") -> EfacturaSettings:
    row = company_settings(session, company)
    if row is None:
        row = EfacturaSettings(company_id=company.id, enabled=False, environment=check_env(environment_name),
                               auto_submit=True, token_id=None, updated_at=now_utc())
        session.add(row)
        session.flush()
    return row


def _box(settings: Settings) -> SecretBox:
    return SecretBox(settings.resolved_secret_key())


def oauth_client(settings: Settings, env: str, transport: httpx.BaseTransport | None = None) -> OAuthClient:
    """The OAuth client for ``env``; test and prod need ``PUNTE_ANAF_CLIENT_ID`` and ``..._SECRET``."""
    where = environment(settings, env)
    if not where.client_id or not where.client_secret:
        raise DomainError(
            "Aplicatia punte nu este configurata pentru ANAF: setati PUNTE_ANAF_CLIENT_ID si "
            "PUNTE_ANAF_CLIENT_SECRET (din inregistrarea aplicatiei pe anaf.ro) si PUNTE_ANAF_REDIRECT_URI."
        )
    return OAuthClient(where.oauth_url, where.client_id, where.client_secret, where.redirect_uri,
                       transport=transport, connect_timeout=settings.anaf_connect_timeout,
                       read_timeout=min(settings.anaf_read_timeout, 30.0))


# -- authorization ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Authorization:
    url: str
    state: str
    environment: str


def start_authorization(
    session: Session, settings: Settings, company: Company, *, env: str | None = None, actor: str,
    now: datetime | None = None,
) -> Authorization:
    """A one-time ``state`` (valid 10 minutes) and the authorize URL to open with the certificate."""
    now = now or now_utc()
    row = company_settings(session, company)
    env = check_env(env or (row.environment if row is not None else "sandbox"))
    state = secrets.token_urlsafe(32)
    session.add(AnafOAuthState(state=state, company_id=company.id, environment=env, actor=actor, created_at=now,
                               expires_at=now + STATE_TTL))
    with oauth_client(settings, env) as client:
        url = client.authorize_url(state)
    events.record(session, company_id=company.id, entity="anaf_connection", entity_id=company.id,
                  action="authorization_started", actor=actor, data={"environment": env})
    return Authorization(url=url, state=state, environment=env)


@dataclass(frozen=True)
class Connected:
    company_cif: str
    company_name: str
    token_id: int
    environment: str
    reused_token: bool
    access_expires_at: datetime
    refresh_expires_at: datetime
    other_companies: list[str] = field(default_factory=list)


def _consume_state(db: Database, state: str, now: datetime) -> tuple[int, str, str]:
    with db.session(write=True) as session:
        row = session.scalar(select(AnafOAuthState).where(AnafOAuthState.state == state).with_for_update())
        if row is None:
            raise NotFound("Cererea de autorizare ANAF nu este cunoscuta (state necunoscut). Porniti din nou "
                           "conectarea cu 'punte anaf connect'.")
        if row.used_at is not None:
            raise Conflict("Cererea de autorizare ANAF a fost deja folosita. Porniti din nou conectarea.")
        if row.expires_at < now:
            raise Conflict("Cererea de autorizare ANAF a expirat (10 minute). Porniti din nou conectarea.")
        row.used_at = now
        return row.company_id, row.environment, row.actor


def store_tokens(
    session: Session, settings: Settings, realm: str, tokens: TokenSet, *, token_id: int | None = None,
    now: datetime | None = None,
) -> tuple[AnafToken, bool]:
    """Insert or update the holder's token row (matched by id, else by realm and JWT subject)."""
    now = now or now_utc()
    box = _box(settings)
    row: AnafToken | None = None
    if token_id is not None:
        row = session.get(AnafToken, token_id, with_for_update=True)
    if row is None and tokens.subject:
        row = session.scalar(
            select(AnafToken).where(AnafToken.realm == realm, AnafToken.subject == tokens.subject).with_for_update()
        )
    reused = row is not None
    if row is None:
        row = AnafToken(realm=realm, subject=tokens.subject, created_at=now)
        session.add(row)
    row.access_token_enc = box.encrypt(tokens.access_token)
    row.refresh_token_enc = box.encrypt(tokens.refresh_token)
    row.access_expires_at = tokens.access_expires_at
    row.refresh_expires_at = tokens.refresh_expires_at
    row.status = "active"
    row.status_reason = None
    row.refresh_lock_until = None
    row.refresh_lock_by = None
    row.updated_at = now
    session.flush()
    return row, reused


def complete_authorization(
    db: Database, settings: Settings, *, code: str, state: str, transport: httpx.BaseTransport | None = None,
    now: datetime | None = None,
) -> Connected:
    """The callback: consume ``state``, exchange ``code`` at once, store the tokens, link the company."""
    now = now or now_utc()
    if not code or not state:
        raise DomainError("Raspunsul ANAF nu contine code si state.")
    company_id, env, actor = _consume_state(db, state, now)
    try:
        with oauth_client(settings, env, transport) as client:
            tokens = client.exchange_code(code)
    except OAuthError as exc:
        with db.session(write=True) as session:
            events.record(session, company_id=company_id, entity="anaf_connection", entity_id=company_id,
                          action="authorization_failed", actor=actor, data={"error": exc.text})
        raise DomainError(f"ANAF nu a acceptat autorizarea: {exc.text}. Porniti din nou conectarea.") from exc
    with db.session(write=True) as session:
        company = session.get(Company, company_id)
        if company is None:
            raise NotFound("Firma nu mai exista.")
        token, reused = store_tokens(session, settings, realm_of(env), tokens, now=now)
        row = ensure_settings(session, company, environment_name=env)
        row.token_id = token.id
        row.connected_at = now
        row.updated_at = now
        others = list(session.scalars(
            select(Company.cif).join(EfacturaSettings, EfacturaSettings.company_id == Company.id)
            .where(EfacturaSettings.token_id == token.id, Company.id != company.id)
        ))
        _wake_waiting_work(session, token.id)
        events.record(session, company_id=company.id, entity="anaf_connection", entity_id=company.id,
                      action="connected", actor=actor,
                      data={"environment": env, "token_id": token.id, "reused_token": reused,
                            "access_expires_at": tokens.access_expires_at.isoformat(),
                            "refresh_expires_at": tokens.refresh_expires_at.isoformat()})
        return Connected(company.cif, company.name, token.id, env, reused, tokens.access_expires_at,
                         tokens.refresh_expires_at, others)


def link_company(session: Session, company: Company, source: Company, *, actor: str) -> AnafToken:
    """Let ``company`` use the token ``source`` is connected with (same certificate holder, no browser step)."""
    source_settings = company_settings(session, source)
    if source_settings is None or source_settings.token_id is None:
        raise AnafNotConnected(f"Firma {source.cif} nu este conectata la ANAF.")
    token = session.get(AnafToken, source_settings.token_id)
    assert token is not None
    row = ensure_settings(session, company, environment_name=source_settings.environment)
    if realm_of(row.environment) != token.realm:
        raise DomainError(
            f"Firma {company.cif} foloseste mediul {row.environment}, iar tokenul firmei {source.cif} este pentru "
            f"{'sandbox' if token.realm == 'sandbox' else 'ANAF'}."
        )
    row.token_id = token.id
    row.connected_at = now_utc()
    row.updated_at = now_utc()
    _wake_waiting_work(session, token.id)
    events.record(session, company_id=company.id, entity="anaf_connection", entity_id=company.id,
                  action="connected", actor=actor, data={"token_id": token.id, "reused_token": True,
                                                         "same_holder_as": source.cif})
    return token


def _wake_waiting_work(session: Session, token_id: int) -> None:
    """Submissions that waited for an authorization run now instead of at their next hourly check."""
    from punte.efactura.anaf.submissions import SUBMIT_JOB
    from punte.store.models import Job

    company_ids = _linked_company_ids(session, token_id)
    if company_ids:
        session.execute(update(Job).where(Job.kind == SUBMIT_JOB, Job.company_id.in_(company_ids),
                                          Job.status == "queued").values(run_at=now_utc()))


# -- state ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConnectionStatus:
    company_id: int
    cif: str
    name: str
    state: str
    environment: str | None
    enabled: bool
    auto_submit: bool
    token_id: int | None = None
    access_expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None
    reason: str | None = None


def token_state(token: AnafToken, now: datetime) -> tuple[str, str | None]:
    if token.status != "active":
        return REAUTHORIZE, token.status_reason or "tokenul ANAF nu mai este valid"
    if token.refresh_expires_at <= now:
        return REAUTHORIZE, f"tokenul de reimprospatare a expirat la {token.refresh_expires_at:%Y-%m-%d}"
    if token.refresh_expires_at - now <= REFRESH_WARNING:
        return EXPIRING, f"autorizarea ANAF expira la {token.refresh_expires_at:%Y-%m-%d}; reautorizati inainte"
    return CONNECTED, None


def connection_status(session: Session, company: Company, now: datetime | None = None) -> ConnectionStatus:
    now = now or now_utc()
    row = company_settings(session, company)
    if row is None:
        return ConnectionStatus(company.id, company.cif, company.name, NOT_CONNECTED, None, False, False)
    token = session.get(AnafToken, row.token_id) if row.token_id is not None else None
    if token is None:
        return ConnectionStatus(company.id, company.cif, company.name, NOT_CONNECTED, row.environment, row.enabled,
                                row.auto_submit)
    state, reason = token_state(token, now)
    return ConnectionStatus(company.id, company.cif, company.name, state, row.environment, row.enabled,
                            row.auto_submit, token.id, token.access_expires_at, token.refresh_expires_at, reason)


def all_connections(session: Session, now: datetime | None = None) -> list[ConnectionStatus]:
    companies = session.scalars(select(Company).order_by(Company.cif))
    return [connection_status(session, c, now) for c in companies]


@dataclass(frozen=True)
class TokenAttention:
    token_id: int
    realm: str
    state: str
    reason: str
    refresh_expires_at: datetime
    companies: list[str]


def tokens_needing_attention(session: Session, now: datetime | None = None) -> list[TokenAttention]:
    """Tokens whose holder must act: refresh token expiring within 30 days, expired, or refused.

    This is the query the dashboard shows as a warning banner.
    """
    now = now or now_utc()
    out = []
    for token in session.scalars(select(AnafToken).order_by(AnafToken.id)):
        state, reason = token_state(token, now)
        if state == CONNECTED:
            continue
        cifs = list(session.scalars(
            select(Company.cif).join(EfacturaSettings, EfacturaSettings.company_id == Company.id)
            .where(EfacturaSettings.token_id == token.id).order_by(Company.cif)
        ))
        out.append(TokenAttention(token.id, token.realm, state, reason or "", token.refresh_expires_at, cifs))
    return out


def _linked_company_ids(session: Session, token_id: int) -> list[int]:
    return list(session.scalars(select(EfacturaSettings.company_id).where(EfacturaSettings.token_id == token_id)))


# -- using and refreshing ----------------------------------------------------------------------------
def token_for_company(session: Session, company_id: int) -> tuple[EfacturaSettings, AnafToken]:
    row = session.scalar(select(EfacturaSettings).where(EfacturaSettings.company_id == company_id))
    if row is None or row.token_id is None:
        raise AnafNotConnected(
            "Firma nu este conectata la ANAF: rulati 'punte anaf connect --cif ...' (sau --same-as pentru "
            "a folosi tokenul altei firme a aceleiasi persoane)."
        )
    token = session.get(AnafToken, row.token_id)
    assert token is not None
    return row, token


def access_token(
    db: Database, settings: Settings, token_id: int, *, transport: httpx.BaseTransport | None = None,
    worker_id: str = "punte", now: datetime | None = None,
) -> str:
    """The token's current access token, refreshed first when it expires within a few minutes."""
    now = now or now_utc()
    with db.session() as session:
        token = session.get(AnafToken, token_id)
        if token is None:
            raise AnafNotConnected("Tokenul ANAF nu mai exista.")
        state, reason = token_state(token, now)
        if state == REAUTHORIZE:
            raise ReauthorizeNeeded(f"Autorizarea ANAF trebuie refacuta: {reason}. Rulati 'punte anaf connect'.")
        if token.access_expires_at - now > REFRESH_AT_USE:
            return _box(settings).decrypt(token.access_token_enc)
    outcome = refresh_token(db, settings, token_id, transport=transport, worker_id=worker_id, now=now,
                            margin=REFRESH_AT_USE)
    if outcome == "busy":
        raise OAuthTransientError("tokenul ANAF este reimprospatat chiar acum de alt proces")
    with db.session() as session:
        token = session.get(AnafToken, token_id)
        assert token is not None
        return _box(settings).decrypt(token.access_token_enc)


def refresh_token(
    db: Database, settings: Settings, token_id: int, *, transport: httpx.BaseTransport | None = None,
    worker_id: str = "punte", now: datetime | None = None, margin: timedelta | None = None, force: bool = False,
    actor: str = "worker",
) -> str:
    """Refresh one token if it expires within ``margin`` (or ``force``). Returns ``refreshed``,
    ``fresh`` (nothing to do), ``busy`` (another process holds the lease) or ``reauthorize``.

    Raises :class:`OAuthTransientError` (retry later) and :class:`OAuthClientError` (configuration).
    """
    now = now or now_utc()
    margin = timedelta(days=settings.anaf_refresh_margin_days) if margin is None else margin
    with db.session(write=True) as session:
        token = session.get(AnafToken, token_id, with_for_update=True)
        if token is None:
            raise AnafNotConnected("Tokenul ANAF nu mai exista.")
        if token.status != "active":
            return "reauthorize"
        if not force and token.access_expires_at - now > margin:
            return "fresh"
        if token.refresh_lock_until is not None and token.refresh_lock_until > now_utc():
            return "busy"
        token.refresh_lock_until = now_utc() + REFRESH_LEASE
        token.refresh_lock_by = worker_id
        realm = token.realm
        refresh_value = _box(settings).decrypt(token.refresh_token_enc)
        expired = token.refresh_expires_at <= now
    env = "sandbox" if realm == "sandbox" else "prod"
    if expired:
        return _mark_reauthorize(db, token_id, "tokenul de reimprospatare a expirat", actor=actor)
    try:
        with oauth_client(settings, env, transport) as client:
            tokens = client.refresh(refresh_value)
    except OAuthInvalidGrant as exc:
        return _mark_reauthorize(db, token_id, f"ANAF a refuzat tokenul de reimprospatare ({exc.text})", actor=actor)
    except (OAuthTransientError, OAuthClientError, OAuthError):
        _release(db, token_id, worker_id)
        raise
    with db.session(write=True) as session:
        row, _ = store_tokens(session, settings, realm, tokens, token_id=token_id)
        row.refreshed_at = now_utc()
        events.record(session, company_id=None, entity="anaf_token", entity_id=token_id, action="refreshed",
                      actor=actor, data={"access_expires_at": tokens.access_expires_at.isoformat(),
                                         "refresh_expires_at": tokens.refresh_expires_at.isoformat(),
                                         "companies": _linked_company_ids(session, token_id)})
    log.info("ANAF token %s refreshed; access valid until %s", token_id, tokens.access_expires_at)
    return "refreshed"


def _release(db: Database, token_id: int, worker_id: str) -> None:
    with db.session(write=True) as session:
        session.execute(update(AnafToken).where(AnafToken.id == token_id, AnafToken.refresh_lock_by == worker_id)
                        .values(refresh_lock_until=None, refresh_lock_by=None))


def _mark_reauthorize(db: Database, token_id: int, reason: str, *, actor: str) -> str:
    with db.session(write=True) as session:
        token = session.get(AnafToken, token_id, with_for_update=True)
        assert token is not None
        token.status = "reauthorize"
        token.status_reason = reason
        token.refresh_lock_until = None
        token.refresh_lock_by = None
        token.updated_at = now_utc()
        companies = _linked_company_ids(session, token_id)
        events.record(session, company_id=None, entity="anaf_token", entity_id=token_id, action="reauthorize_needed",
                      actor=actor, data={"reason": reason, "companies": companies})
        for company_id in companies:
            events.record(session, company_id=company_id, entity="anaf_connection", entity_id=company_id,
                          action="reauthorize_needed", actor=actor, data={"reason": reason, "token_id": token_id})
    log.error("ANAF token %s: %s; the certificate holder must run 'punte anaf connect' again", token_id, reason)
    return "reauthorize"


def check_tokens(db: Database, settings: Settings, *, now: datetime | None = None) -> list[int]:
    """The periodic check: warn about refresh tokens expiring within 30 days (once per expiry), mark
    expired ones, and return the ids of tokens whose access token is due for a refresh."""
    now = now or now_utc()
    margin = timedelta(days=settings.anaf_refresh_margin_days)
    due: list[int] = []
    with db.session(write=True) as session:
        for token in session.scalars(select(AnafToken).where(AnafToken.status == "active").with_for_update()):
            if token.refresh_expires_at <= now:
                token.status = "reauthorize"
                token.status_reason = f"tokenul de reimprospatare a expirat la {token.refresh_expires_at:%Y-%m-%d}"
                for company_id in _linked_company_ids(session, token.id):
                    events.record(session, company_id=company_id, entity="anaf_connection", entity_id=company_id,
                                  action="reauthorize_needed", actor="worker",
                                  data={"reason": token.status_reason, "token_id": token.id})
                log.error("ANAF token %s: %s", token.id, token.status_reason)
                continue
            expiring = token.refresh_expires_at - now <= REFRESH_WARNING
            if expiring and token.refresh_warned_for != token.refresh_expires_at:
                token.refresh_warned_for = token.refresh_expires_at
                for company_id in _linked_company_ids(session, token.id):
                    events.record(session, company_id=company_id, entity="anaf_connection", entity_id=company_id,
                                  action="refresh_expiring", actor="worker",
                                  data={"token_id": token.id,
                                        "refresh_expires_at": token.refresh_expires_at.isoformat()})
                log.warning("ANAF token %s: the authorization expires on %s; the certificate holder must "
                            "run 'punte anaf connect' before then", token.id, token.refresh_expires_at.date())
            if token.access_expires_at - now <= margin:
                due.append(token.id)
    return due


__all__ = [
    "CONNECTED",
    "EXPIRING",
    "NOT_CONNECTED",
    "REAUTHORIZE",
    "AnafNotConnected",
    "Authorization",
    "Connected",
    "ConnectionStatus",
    "ReauthorizeNeeded",
    "TokenAttention",
    "access_token",
    "all_connections",
    "check_tokens",
    "company_settings",
    "complete_authorization",
    "connection_status",
    "ensure_settings",
    "link_company",
    "refresh_token",
    "start_authorization",
    "store_tokens",
    "token_for_company",
    "tokens_needing_attention",
]
