"""Settings from the environment (CONTRACT.md "Configuration"). Read once, when asked."""

from __future__ import annotations

import secrets
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GUARDIAN_", extra="ignore")

    database_url: str = "sqlite:///var/guardian.sqlite"
    secret_key: str | None = None
    timezone: str = "Europe/London"
    smtp_url: str | None = None
    var_dir: Path = Path("var")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"GUARDIAN_TIMEZONE {value!r} is not a known time zone") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_url(cls, value: str) -> str:
        if not (value.startswith("sqlite:") or value.startswith("postgresql")):
            raise ValueError(
                "GUARDIAN_DATABASE_URL must be an SQLite (sqlite:///path) or PostgreSQL "
                f"(postgresql+psycopg2://…) URL, not {value!r}"
            )
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def session_secret(self) -> str:
        """GUARDIAN_SECRET_KEY, or a key generated into var/ on first use."""
        if self.secret_key:
            return self.secret_key
        path = self.var_dir / "secret-key"
        if path.exists():
            return path.read_text().strip()
        self.var_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key
