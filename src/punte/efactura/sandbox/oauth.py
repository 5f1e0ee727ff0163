"""The sandbox's OAuth 2.0 server: ANAF's authorization-code grant, without the USB token.

* ``authorize`` answers ``302`` straight to ``redirect_uri?code=...&state=...``: there is no
  certificate to present. Any ``client_id`` is accepted and recorded; a test can pre-register
  one with :meth:`OAuthServer.register_client` (fixing its secret and, optionally, its allowed
  callbacks). The person signing in is ``sandbox_subject`` (a sandbox-only parameter) or the
  sandbox's default subject.
* ``token`` authenticates the client with HTTP Basic (or ``client_id``/``client_secret`` in the
  form). A client seen only at ``authorize`` has its secret bound by its first token call;
  after that the same id and secret are required (``invalid_client`` otherwise).
  ``authorization_code``: the code is valid once, for ``code_lifetime`` (60 s), for the same
  client and ``redirect_uri``. ``refresh_token``: the refresh token is rotated (a new one is
  issued, the old one stops working).
* Tokens are RS256 JWTs signed with the sandbox key, with ``exp``; lifetimes are 90 days (access)
  and 365 days (refresh) unless the sandbox is told otherwise.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from sqlalchemy import select, update

from punte.store.db import Database
from punte.store.models_sandbox import AnafSandboxOAuthClient, AnafSandboxOAuthCode, AnafSandboxRefreshToken

from . import jwt
from .clock import Clock
from .formats import Answer
from .signing import SandboxKeys


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _oauth_error(error: str, description: str, status: int = 400) -> Answer:
    headers = {"WWW-Authenticate": 'Basic realm="anaf-sandbox"'} if status == 401 else {}
    headers["Cache-Control"] = "no-store"
    return Answer.json({"error": error, "error_description": description}, status, headers)


@dataclass(frozen=True)
class Principal:
    """Who a bearer token speaks for: the certificate holder (``subject``) through ``client_id``."""

    subject: str
    client_id: str
    token_id: str


class OAuthServer:
    def __init__(self, db: Database, clock: Clock, keys: Callable[[], SandboxKeys], issuer: str = "anaf-sandbox",
                 default_subject: str = "SANDBOX") -> None:
        self.db = db
        self.clock = clock
        self._keys = keys
        self.issuer = issuer
        self.default_subject = default_subject
        self.code_lifetime = timedelta(seconds=60)
        self.access_token_lifetime = timedelta(days=90)
        self.refresh_token_lifetime = timedelta(days=365)

    # -- clients ------------------------------------------------------------------------------

    def register_client(self, client_id: str, client_secret: str, redirect_uris: list[str] | None = None) -> None:
        """Register (or re-register) a client with a fixed secret and, optionally, its callbacks."""
        with self.db.session(write=True) as session:
            client = session.get(AnafSandboxOAuthClient, client_id)
            if client is None:
                client = AnafSandboxOAuthClient(client_id=client_id, created_at=self.clock.now())
                session.add(client)
            client.secret_hash = _hash(client_secret)
            client.redirect_uris = list(redirect_uris) if redirect_uris else None

    # -- authorize ----------------------------------------------------------------------------

    def authorize(self, params: Mapping[str, str]) -> Answer:
        client_id = (params.get("client_id") or "").strip()
        redirect_uri = (params.get("redirect_uri") or "").strip()
        if not client_id:
            return _oauth_error("invalid_request", "Parametrul client_id este obligatoriu")
        parts = urlsplit(redirect_uri)
        if not redirect_uri or parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
            return _oauth_error("invalid_request", "Parametrul redirect_uri lipseste sau nu este o adresa absoluta")
        now = self.clock.now()
        with self.db.session(write=True) as session:
            client = session.get(AnafSandboxOAuthClient, client_id)
            if client is None:
                session.add(AnafSandboxOAuthClient(client_id=client_id, created_at=now))
            elif client.redirect_uris and redirect_uri not in client.redirect_uris:
                return _oauth_error("invalid_request", "redirect_uri nu este inregistrat pentru aceasta aplicatie")
            state = params.get("state")
            if params.get("response_type") != "code":
                return self._redirect(redirect_uri, {"error": "unsupported_response_type", "state": state})
            code = secrets.token_urlsafe(32)
            subject = (params.get("sandbox_subject") or "").strip()[:200] or self.default_subject
            session.add(AnafSandboxOAuthCode(code_hash=_hash(code), client_id=client_id, redirect_uri=redirect_uri,
                                             subject=subject, created_at=now))
        return self._redirect(redirect_uri, {"code": code, "state": state})

    @staticmethod
    def _redirect(redirect_uri: str, values: dict[str, str | None]) -> Answer:
        query = urlencode({k: v for k, v in values.items() if v is not None})
        separator = "&" if urlsplit(redirect_uri).query else "?"
        return Answer(b"", 302, "text/plain", {"Location": f"{redirect_uri}{separator}{query}"})

    # -- token --------------------------------------------------------------------------------

    def token(self, form: Mapping[str, str], basic: tuple[str, str] | None) -> Answer:
        client_id, client_secret = basic if basic else (form.get("client_id", ""), form.get("client_secret", ""))
        if not client_id or not client_secret:
            return _oauth_error("invalid_client", "Autentificarea aplicatiei (client_id, client_secret) lipseste", 401)
        with self.db.session(write=True) as session:
            client = session.get(AnafSandboxOAuthClient, client_id)
            if client is None:
                return _oauth_error("invalid_client", "Aplicatie necunoscuta", 401)
            if client.secret_hash is None:
                session.execute(update(AnafSandboxOAuthClient)
                                .where(AnafSandboxOAuthClient.client_id == client_id,
                                       AnafSandboxOAuthClient.secret_hash.is_(None))
                                .values(secret_hash=_hash(client_secret)))
                session.refresh(client)
            if not hmac.compare_digest(client.secret_hash or "", _hash(client_secret)):
                return _oauth_error("invalid_client", "client_id sau client_secret gresit", 401)
            grant = form.get("grant_type", "")
            if grant == "authorization_code":
                return self._exchange_code(session, client_id, form)
            if grant == "refresh_token":
                return self._refresh(session, client_id, form)
            if not grant:
                return _oauth_error("invalid_request", "Parametrul grant_type este obligatoriu")
            return _oauth_error("unsupported_grant_type", f"grant_type '{grant}' nu este suportat")

    def _exchange_code(self, session: Any, client_id: str, form: Mapping[str, str]) -> Answer:
        code = form.get("code", "")
        if not code:
            return _oauth_error("invalid_request", "Parametrul code este obligatoriu")
        now = self.clock.now()
        row = session.get(AnafSandboxOAuthCode, _hash(code))
        if row is None or row.used_at is not None:
            return _oauth_error("invalid_grant", "Codul de autorizare nu este valid sau a fost deja folosit")
        if row.client_id != client_id:
            return _oauth_error("invalid_grant", "Codul de autorizare a fost emis pentru alta aplicatie")
        if now - row.created_at > self.code_lifetime:
            return _oauth_error("invalid_grant", "Codul de autorizare a expirat")
        if form.get("redirect_uri", "") != row.redirect_uri:
            return _oauth_error("invalid_grant", "redirect_uri nu corespunde cu cel din cererea de autorizare")
        used = session.execute(update(AnafSandboxOAuthCode)
                               .where(AnafSandboxOAuthCode.code_hash == row.code_hash,
                                      AnafSandboxOAuthCode.used_at.is_(None))
                               .values(used_at=now))
        if used.rowcount != 1:
            return _oauth_error("invalid_grant", "Codul de autorizare nu este valid sau a fost deja folosit")
        return self._issue(session, client_id, row.subject, now)[0]

    def _refresh(self, session: Any, client_id: str, form: Mapping[str, str]) -> Answer:
        token = form.get("refresh_token", "")
        if not token:
            return _oauth_error("invalid_request", "Parametrul refresh_token este obligatoriu")
        now = self.clock.now()
        try:
            claims = jwt.decode(token, self._keys().private_key.public_key())
        except jwt.TokenError:
            return _oauth_error("invalid_grant", "refresh_token nu este valid")
        if claims.get("token_use") != "refresh" or claims.get("client_id") != client_id:
            return _oauth_error("invalid_grant", "refresh_token nu este valid pentru aceasta aplicatie")
        if int(claims.get("exp", 0)) <= now.timestamp():
            return _oauth_error("invalid_grant", "refresh_token a expirat")
        row = session.get(AnafSandboxRefreshToken, str(claims.get("jti", "")))
        if row is None or row.revoked_at is not None:
            return _oauth_error("invalid_grant", "refresh_token a fost deja folosit sau revocat")
        answer, new_jti = self._issue(session, client_id, row.subject, now)
        rotated = session.execute(update(AnafSandboxRefreshToken)
                                  .where(AnafSandboxRefreshToken.jti == row.jti,
                                         AnafSandboxRefreshToken.revoked_at.is_(None))
                                  .values(revoked_at=now, replaced_by=new_jti))
        if rotated.rowcount != 1:
            session.rollback()
            return _oauth_error("invalid_grant", "refresh_token a fost deja folosit sau revocat")
        return answer

    def _issue(self, session: Any, client_id: str, subject: str, now: datetime) -> tuple[Answer, str]:
        keys = self._keys()
        kid = hashlib.sha256(keys.certificate_pem).hexdigest()[:16]
        issued = int(now.timestamp())
        access_exp = now + self.access_token_lifetime
        refresh_exp = now + self.refresh_token_lifetime
        common = {"iss": self.issuer, "sub": subject, "aud": client_id, "client_id": client_id, "iat": issued}
        access = jwt.encode({**common, "exp": int(access_exp.timestamp()), "jti": uuid.uuid4().hex,
                             "token_use": "access"}, keys.private_key, kid)
        refresh_jti = uuid.uuid4().hex
        refresh = jwt.encode({**common, "exp": int(refresh_exp.timestamp()), "jti": refresh_jti,
                              "token_use": "refresh"}, keys.private_key, kid)
        session.add(AnafSandboxRefreshToken(jti=refresh_jti, client_id=client_id, subject=subject, issued_at=now,
                                            expires_at=refresh_exp))
        answer = Answer.json(
            {"access_token": access, "token_type": "Bearer",
             "expires_in": int(self.access_token_lifetime.total_seconds()), "refresh_token": refresh},
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )
        return answer, refresh_jti

    # -- bearer tokens ------------------------------------------------------------------------

    def principal(self, authorization: str | None) -> Principal | None:
        """The caller of an API request, or None when the bearer token is missing, invalid or expired."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        try:
            claims = jwt.decode(token.strip(), self._keys().private_key.public_key())
        except jwt.TokenError:
            return None
        if claims.get("token_use") != "access" or claims.get("iss") != self.issuer:
            return None
        if int(claims.get("exp", 0)) <= self.clock.now().timestamp():
            return None
        return Principal(str(claims.get("sub", "")), str(claims.get("client_id", "")), str(claims.get("jti", "")))

    def refresh_token_row(self, jti: str) -> AnafSandboxRefreshToken | None:
        with self.db.session() as session:
            return session.get(AnafSandboxRefreshToken, jti)

    def clients(self) -> list[str]:
        with self.db.session() as session:
            return list(session.execute(select(AnafSandboxOAuthClient.client_id)).scalars())
