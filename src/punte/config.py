"""One typed settings object, read once from ``PUNTE_*`` variables and an optional ``punte.toml``."""

from __future__ import annotations

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
    embedded_worker: bool = Field(
        default=True, description="`punte serve` runs a worker thread; turn off when `punte worker` runs apart."
    )

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
