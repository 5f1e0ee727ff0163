"""Where each e-Factura environment lives: API base URL and OAuth server.

* ``sandbox``: punte's offline ANAF, mounted in punte's own app under ``/anaf-sandbox``
  (API ``{public_url}/anaf-sandbox/prod/FCTEL/rest/``, OAuth ``{public_url}/anaf-sandbox/anaf-oauth2/v1``).
* ``test``: ANAF's test API (``https://api.anaf.ro/test/FCTEL/rest/``), real OAuth.
* ``prod``: ANAF's production API (``https://api.anaf.ro/prod/FCTEL/rest/``), real OAuth.

ANAF's test and production share one OAuth server, so a token obtained once serves both: tokens
are stored per *realm* (``sandbox`` or ``anaf``), companies choose an environment.
"""

from __future__ import annotations

from dataclasses import dataclass

from punte.config import Settings

ENVIRONMENTS = ("sandbox", "test", "prod")
SANDBOX_CLIENT_ID = "punte-sandbox"
SANDBOX_CLIENT_SECRET = "punte-sandbox-secret"


@dataclass(frozen=True)
class Environment:
    name: str
    api_url: str
    oauth_url: str  # ends without a slash; /authorize and /token are appended
    client_id: str | None
    client_secret: str | None
    redirect_uri: str

    @property
    def realm(self) -> str:
        return realm_of(self.name)

    @property
    def authorize_url(self) -> str:
        return f"{self.oauth_url}/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.oauth_url}/token"

    @property
    def is_sandbox(self) -> bool:
        return self.name == "sandbox"


def realm_of(env: str) -> str:
    """``sandbox`` tokens come from the sandbox; ``test`` and ``prod`` share ANAF's OAuth server."""
    return "sandbox" if env == "sandbox" else "anaf"


def check_env(env: str) -> str:
    value = (env or "").strip().lower()
    if value not in ENVIRONMENTS:
        raise ValueError(f"mediul e-Factura trebuie sa fie unul din {', '.join(ENVIRONMENTS)}, nu {env!r}")
    return value


def _base(settings: Settings) -> str:
    return settings.public_url.rstrip("/")


def redirect_uri(settings: Settings) -> str:
    return settings.anaf_redirect_uri or f"{_base(settings)}/anaf/callback"


def environment(settings: Settings, env: str) -> Environment:
    """The URLs and OAuth client of ``env`` under these settings."""
    env = check_env(env)
    if env == "sandbox":
        return Environment(
            name=env,
            api_url=settings.anaf_sandbox_url or f"{_base(settings)}/anaf-sandbox/prod/FCTEL/rest/",
            oauth_url=(settings.anaf_sandbox_oauth_url or f"{_base(settings)}/anaf-sandbox/anaf-oauth2/v1").rstrip("/"),
            client_id=settings.anaf_client_id or SANDBOX_CLIENT_ID,
            client_secret=settings.anaf_client_secret or SANDBOX_CLIENT_SECRET,
            redirect_uri=redirect_uri(settings),
        )
    return Environment(
        name=env,
        api_url=settings.anaf_test_url if env == "test" else settings.anaf_prod_url,
        oauth_url=settings.anaf_oauth_url.rstrip("/"),
        client_id=settings.anaf_client_id,
        client_secret=settings.anaf_client_secret,
        redirect_uri=redirect_uri(settings),
    )


__all__ = ["ENVIRONMENTS", "Environment", "check_env", "environment", "realm_of", "redirect_uri"]
