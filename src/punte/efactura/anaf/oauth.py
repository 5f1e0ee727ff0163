"""OAuth 2.0 with ANAF's identity provider (or the sandbox's): authorization code and refresh.

ANAF's flow: the person with the qualified certificate opens ``authorize`` in a browser, ANAF
redirects to punte's callback with ``code`` and ``state``, and punte exchanges the code within 60
seconds at ``token`` (form body, client authenticated with HTTP Basic). Refreshing uses the same
``token`` URL with ``grant_type=refresh_token``; the answer carries a new access token *and* a new
refresh token, and both must be stored. Lifetimes (90 and 365 days at ANAF) are read from the
JWTs' ``exp`` claim rather than assumed. The JWT is ANAF's token given to us over TLS, so it is
decoded without verifying its signature: punte only reads its expiry and subject.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from punte import __version__

from .answers import describe, sniff

DEFAULT_ACCESS_LIFETIME = timedelta(days=90)
DEFAULT_REFRESH_LIFETIME = timedelta(days=365)


class OAuthError(Exception):
    """An OAuth call failed; ``text`` says why in readable form."""

    def __init__(self, text: str, *, status: int | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.status = status


class OAuthTransientError(OAuthError):
    """Try again later (network, timeout, 5xx, 429, an HTML page)."""


class OAuthInvalidGrant(OAuthError):
    """The code or refresh token is expired, used or revoked: the person must authorize again."""


class OAuthClientError(OAuthError):
    """punte's client id/secret or redirect URI are not accepted (configuration)."""


def jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified; ``{}`` when the token is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        data = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _expiry(token: str, fallback: datetime) -> datetime:
    exp = jwt_claims(token).get("exp")
    if isinstance(exp, (int, float)) and exp > 0:
        return datetime.fromtimestamp(exp, UTC)
    return fallback


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime
    subject: str | None
    scope: str | None = None


def token_set(data: dict[str, Any], *, now: datetime | None = None, previous_refresh: str | None = None) -> TokenSet:
    """A token answer as a :class:`TokenSet`, expiries from the JWTs (``expires_in`` as a fallback)."""
    now = now or datetime.now(UTC)
    access = str(data.get("access_token") or "")
    if not access:
        raise OAuthError("raspunsul ANAF nu contine access_token")
    refresh = str(data.get("refresh_token") or previous_refresh or "")
    if not refresh:
        raise OAuthError("raspunsul ANAF nu contine refresh_token")
    expires_in = data.get("expires_in")
    access_fallback = now + (timedelta(seconds=float(expires_in)) if isinstance(expires_in, (int, float, str))
                             and str(expires_in).replace(".", "", 1).isdigit() else DEFAULT_ACCESS_LIFETIME)
    refresh_in = data.get("refresh_token_expires_in")
    refresh_fallback = now + (timedelta(seconds=float(refresh_in)) if isinstance(refresh_in, (int, float))
                              else DEFAULT_REFRESH_LIFETIME)
    claims = jwt_claims(access)
    subject = claims.get("sub") or claims.get("subject") or jwt_claims(refresh).get("sub")
    return TokenSet(
        access_token=access,
        refresh_token=refresh,
        access_expires_at=_expiry(access, access_fallback),
        refresh_expires_at=_expiry(refresh, refresh_fallback),
        subject=str(subject) if subject else None,
        scope=data.get("scope"),
    )


class OAuthClient:
    """ANAF's (or the sandbox's) OAuth server at ``oauth_url`` (``.../anaf-oauth2/v1``)."""

    def __init__(
        self,
        oauth_url: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        *,
        transport: httpx.BaseTransport | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
    ) -> None:
        self.oauth_url = oauth_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self._http = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            headers={"User-Agent": f"punte/{__version__}"},
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OAuthClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def authorize_url(self, state: str) -> str:
        query = urlencode({
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "token_content_type": "jwt",
            "state": state,
        })
        return f"{self.oauth_url}/authorize?{query}"

    def exchange_code(self, code: str) -> TokenSet:
        """Trade an authorization code for tokens (ANAF allows 60 seconds for this)."""
        return token_set(self._token({
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "token_content_type": "jwt",
        }))

    def refresh(self, refresh_token: str) -> TokenSet:
        """A new access token and a new refresh token (store both: the old refresh token may stop working)."""
        return token_set(
            self._token({"grant_type": "refresh_token", "refresh_token": refresh_token, "token_content_type": "jwt"}),
            previous_refresh=None,
        )

    def _token(self, form: dict[str, str]) -> dict[str, Any]:
        try:
            response = self._http.post(
                f"{self.oauth_url}/token", data=form, auth=(self.client_id, self.client_secret),
            )
        except httpx.HTTPError as exc:
            raise OAuthTransientError(f"serverul OAuth ANAF nu raspunde: {exc!r}") from exc
        status = response.status_code
        body = response.content
        if status == 429 or status >= 500:
            raise OAuthTransientError(f"serverul OAuth ANAF: HTTP {status}: {describe(body)}", status=status)
        if sniff(body) != "json":
            raise OAuthTransientError(
                f"serverul OAuth ANAF a raspuns cu {sniff(body)} (HTTP {status}): {describe(body)}", status=status)
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise OAuthTransientError(f"serverul OAuth ANAF: JSON de neinteles: {exc}", status=status) from exc
        if not isinstance(data, dict):
            raise OAuthTransientError(f"serverul OAuth ANAF: raspuns neasteptat: {describe(body)}", status=status)
        if status >= 400 or data.get("error"):
            error = str(data.get("error") or f"HTTP {status}")
            text = f"{error}: {data.get('error_description') or describe(body)}"
            if error == "invalid_grant":
                raise OAuthInvalidGrant(text, status=status)
            if error in ("invalid_client", "unauthorized_client", "invalid_request") or status == 401:
                raise OAuthClientError(text, status=status)
            raise OAuthError(text, status=status)
        return data


__all__ = [
    "OAuthClient",
    "OAuthClientError",
    "OAuthError",
    "OAuthInvalidGrant",
    "OAuthTransientError",
    "TokenSet",
    "jwt_claims",
    "token_set",
]
