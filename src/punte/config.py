"""One typed settings object, read once from ``PUNTE_*`` variables and an optional ``punte.toml``."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource


class Settings(BaseSettings):
    """Installation settings. Company-level settings live in the database, not here."""

    model_config = SettingsConfigDict(env_prefix="PUNTE_", toml_file=os.environ.get("PUNTE_CONFIG", "punte.toml"))

    data_dir: Path = Field(default=Path("var"), description="Where the SQLite database, archive and keys live.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default SQLite file in data_dir. Also read from DATABASE_URL."
    )
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = Field(default="http://127.0.0.1:8000", description="Base URL used in links (documentViewUrl).")
    secret_key: str | None = Field(
        default=None,
        description="Key for encrypting secrets at rest and hashing tokens; generated into data_dir when unset.",
    )
    rate_limit_calls: int = Field(default=1000, description="API calls allowed per user per window.")
    rate_limit_window_seconds: int = 10
    rate_limit_block_seconds: int = Field(default=600, description="How long a user over the limit is blocked (403).")
    sqlite_busy_timeout_ms: int = 30000
    anaf_client_id: str | None = Field(default=None, description="OAuth client id of punte's app registered at ANAF.")
    anaf_client_secret: str | None = Field(default=None, description="OAuth client secret of that app.")
    anaf_redirect_uri: str | None = Field(default=None, description="OAuth callback; default {public_url}/anaf/callback.")
    anaf_oauth_url: str = Field(
        default="https://logincert.anaf.ro/anaf-oauth2/v1", description="ANAF's OAuth server (test and prod)."
    )
    anaf_sandbox_oauth_url: str | None = Field(
        default=None, description="The sandbox's OAuth server; default {public_url}/anaf-sandbox/anaf-oauth2/v1."
    )
    anaf_sandbox_url: str | None = Field(
        default=None, description="The sandbox's e-Factura API; default {public_url}/anaf-sandbox/prod/FCTEL/rest/."
    )
    anaf_test_url: str = "https://api.anaf.ro/test/FCTEL/rest/"
    anaf_prod_url: str = "https://api.anaf.ro/prod/FCTEL/rest/"
    anaf_connect_timeout: float = Field(default=10.0, description="Seconds to connect to ANAF.")
    anaf_read_timeout: float = Field(default=60.0, description="Seconds to wait for ANAF's answer.")
    anaf_refresh_margin_days: float = Field(
        default=14.0, description="The access token is refreshed when it expires within this many days."
    )
    anaf_poll_seconds: float = Field(default=10.0, description="First stareMesaj poll after an upload (then doubling).")
    anaf_poll_max_seconds: float = Field(default=900.0, description="Longest wait between two stareMesaj polls.")
    anaf_unknown_grace_seconds: float = Field(
        default=3600.0,
        description="How long an upload without answer is looked for in the message list before it is sent again.",
    )
    received_sync_minutes: int = Field(
        default=60, description="The worker downloads received e-Factura invoices this often (0: only on demand)."
    )
    bnr_base_url: str = Field(default="https://www.bnr.ro", description="Where BNR's rate files are fetched from.")
    bnr_auto_fetch: bool = Field(
        default=True, description="The worker fetches BNR's daily rates when a publication is due."
    )
    embedded_worker: bool = Field(
        default=True, description="`punte serve` runs a worker too; turn off when `punte worker` runs apart."
    )
    worker_process: bool = Field(
        default=True,
        description="`punte serve`'s worker runs in a child process (its own CPU time and interpreter lock); "
        "false: a thread of the server process.",
    )
    worker_poll_seconds: float = Field(
        default=1.0, description="How often an idle worker looks for due jobs (it is woken at once for new ones)."
    )
    anaf_sandbox_enabled: bool = Field(
        default=True, description="Serve the offline ANAF sandbox under /anaf-sandbox (the embedded default's ANAF)."
    )
    session_idle_minutes: int = Field(default=120, description="Dashboard sessions end after this long unused.")
    session_max_hours: int = Field(default=24 * 7, description="Dashboard sessions end this long after log-in.")
    login_max_failures: int = Field(
        default=5, description="Failed dashboard log-ins per e-mail (and 4x that per IP) before log-in is refused."
    )
    login_window_minutes: int = Field(default=15, description="Window over which failed log-ins are counted.")

    @property
    def secure_cookies(self) -> bool:
        """Cookies carry ``Secure`` when the dashboard is served over HTTPS."""
        return self.public_url.lower().startswith("https://")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    def resolved_database_url(self) -> str:
        url = self.database_url or os.environ.get("DATABASE_URL")
        if url:
            return url
        return f"sqlite:///{(self.data_dir / 'punte.db').resolve()}"

    def as_environment(self) -> dict[str, str]:
        """These settings as ``PUNTE_*`` variables: what a child process (``punte serve``'s worker) needs
        to run with exactly the settings of its parent, whatever file or object they came from."""
        env = {}
        for name, value in self.model_dump(mode="json").items():
            if value is not None:
                env[f"PUNTE_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
        env["PUNTE_DATA_DIR"] = str(self.data_dir.resolve())
        env["PUNTE_DATABASE_URL"] = self.resolved_database_url()
        env["PUNTE_SECRET_KEY"] = self.resolved_secret_key()
        return env

    def resolved_secret_key(self) -> str:
        """The configured key, or one generated once into ``data_dir/secret.key``."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret.key"
        if path.exists():
            return path.read_text().strip()
        import secrets

        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
