"""Settings from the environment (docs/cli.md "Configuration"). Read once, when asked."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import PrivateAttr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GUARDIAN_", extra="ignore")

    database_url: str = "sqlite:///var/guardian.sqlite"
    secret_key: str | None = None
    timezone: str = "Europe/London"
    smtp_url: str | None = None
    # Notifications (docs/notifications.md): the From of every e-mail; the address replies
    # to thread messages go to (plus a token: guardian+<token>@…; unset: replies are not
    # taken in); the address of the web app, for links in messages; failures before a
    # notification is parked.
    mail_from: str = "Guardian Service <guardian@localhost>"
    mail_reply_to: str | None = None
    base_url: str = "http://127.0.0.1:8000"
    notify_max_attempts: int = 8
    # SMTP connections a dispatcher sends a batch over at once (bench/README.md).
    smtp_connections: int = 4
    var_dir: Path = Path("var")
    # Wait-time standards and check-in schedule overrides (TOML or JSON), read at start-up.
    standards_file: Path | None = None
    # `guardian scheduler`: run every job every N seconds instead of at its cron times.
    scheduler_interval: float | None = None
    # Web requests handled at once per `guardian serve` worker; each holds at most one
    # database connection, and the pool (PostgreSQL) keeps that many, so a request waits
    # for a thread in the event loop, never for a connection. 4 workers x 8 stay well under
    # PostgreSQL's default 100 connections.
    web_threads: int = 8
    # Each `serve` worker compiles its templates and reads the names before its first
    # request (guardian/web/warm.py); the test suite switches it off.
    web_warm_up: bool = True
    # `guardian import-ptl`: seconds a second import waits for the one running into the
    # same database before giving up, having written nothing (docs/deployment.md).
    import_wait_seconds: float = 3600.0
    # Place-lead reports (guardian/web/report_pool.py, docs/deployment.md): computations at
    # once per `serve` worker and per database (all workers, all hosts), seconds a request
    # waits for one before "being prepared, try again", the statement timeout of each query.
    report_workers: int = 2
    report_slots: int = 1
    report_processes: bool = True  # False: on threads of the worker (tests, small sites)
    report_wait_seconds: float = 20.0
    report_timeout_seconds: float = 60.0
    # Days a new API token stays valid (docs/access.md "API tokens").
    token_days: int = 90
    # JSON API requests a minute per bearer token or signed-in user, counted by each
    # `serve` worker process (0: no limit); the largest request body any route accepts;
    # uvicorn's access log from `guardian serve`, each line with its request id
    # (docs/api.md "Rate limit", "Request ids").
    api_rate_per_minute: int = 600
    max_body_bytes: int = 1024 * 1024
    access_log: bool = False
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed: comma-separated
    # addresses or CIDR networks; none by default (docs/access.md "Client addresses").
    trusted_proxies: str = ""
    # How patients sign in at /my (docs/patients.md "NHS login"): "code" (a one-time code),
    # "nhs-login" (OpenID Connect only) or "both"; the provider's issuer URL and this
    # client's registration with it.
    patient_sign_in: str = "code"
    patient_oidc_issuer: str | None = None
    patient_oidc_client_id: str | None = None
    patient_oidc_client_secret: str | None = None
    patient_oidc_scopes: str = "openid profile nhs_number birthdate"
    _standards: Any = PrivateAttr(default=None)
    _check_in_schedule: Any = PrivateAttr(default=None)

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

    @field_validator("smtp_url")
    @classmethod
    def _smtp(cls, value: str | None) -> str | None:
        if value:
            parse_smtp_url(value)  # refuses what is not an SMTP URL, naming it
        return value or None

    @field_validator("smtp_connections")
    @classmethod
    def _connections(cls, value: int) -> int:
        if not 1 <= value <= 32:
            raise ValueError(f"GUARDIAN_SMTP_CONNECTIONS must be 1 to 32, not {value}")
        return value

    @field_validator("notify_max_attempts")
    @classmethod
    def _attempts(cls, value: int) -> int:
        if not 1 <= value <= 100:
            raise ValueError(f"GUARDIAN_NOTIFY_MAX_ATTEMPTS must be 1 to 100, not {value}")
        return value

    @field_validator("token_days")
    @classmethod
    def _positive_days(cls, value: int) -> int:
        if not 1 <= value <= 3650:
            raise ValueError(f"GUARDIAN_TOKEN_DAYS must be 1 to 3650 days, not {value}")
        return value

    @field_validator("api_rate_per_minute", "max_body_bytes")
    @classmethod
    def _not_negative(cls, value: int, info: ValidationInfo) -> int:
        least = 1024 if info.field_name == "max_body_bytes" else 0
        if value < least:
            raise ValueError(f"GUARDIAN_{(info.field_name or '').upper()} must be at least "
                             f"{least}, not {value}")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: str) -> str:
        proxy_networks(value)  # refuses what is not an address or a network, naming it
        return value

    @field_validator("report_workers", "report_slots")
    @classmethod
    def _report_counts(cls, value: int, info: ValidationInfo) -> int:
        # report workers on threads (GUARDIAN_REPORT_PROCESSES=0) take connections from
        # the pool, which keeps 4 beyond GUARDIAN_WEB_THREADS
        most = {"report_workers": 4, "report_slots": 64}[info.field_name or ""]
        if not 1 <= value <= most:
            raise ValueError(f"GUARDIAN_{(info.field_name or '').upper()} must be 1 to {most}, "
                             f"not {value}")
        return value

    @field_validator("patient_sign_in")
    @classmethod
    def _sign_in(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in ("code", "nhs-login", "both"):
            raise ValueError(f"GUARDIAN_PATIENT_SIGN_IN must be code, nhs-login or both, "
                             f"not {value!r}")
        return value

    @field_validator("patient_oidc_issuer")
    @classmethod
    def _issuer(cls, value: str | None) -> str | None:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError(f"GUARDIAN_PATIENT_OIDC_ISSUER {value!r} must be an https:// URL")
        return value.rstrip("/") if value else None

    @model_validator(mode="after")
    def _nhs_login_configured(self) -> Settings:
        if self.patient_sign_in != "code":
            for name in ("patient_oidc_issuer", "patient_oidc_client_id"):
                if not getattr(self, name):
                    raise ValueError(f"GUARDIAN_PATIENT_SIGN_IN={self.patient_sign_in} needs "
                                     f"GUARDIAN_{name.upper()}")
            if "openid" not in self.patient_oidc_scopes.split():
                raise ValueError("GUARDIAN_PATIENT_OIDC_SCOPES must include openid")
        return self

    @property
    def nhs_login(self) -> bool:
        """Whether patients may sign in with NHS login."""
        return self.patient_sign_in != "code"

    @property
    def sign_in_codes(self) -> bool:
        """Whether patients may sign in with a one-time code."""
        return self.patient_sign_in != "nhs-login"

    @model_validator(mode="after")
    def _load_standards(self) -> Settings:
        """A misconfigured standard stops start-up with a clear message (docs/rules.md §2)."""
        from guardian.domain.checkins import load_check_in_schedule
        from guardian.domain.errors import DomainError
        from guardian.domain.standards import load_standards

        overrides = read_standards_file(self.standards_file) if self.standards_file else {}
        schedule = overrides.pop("check-ins", None)
        try:
            self._standards = load_standards(overrides)
            self._check_in_schedule = load_check_in_schedule(schedule)
        except DomainError as e:
            raise ValueError(f"GUARDIAN_STANDARDS_FILE {self.standards_file}: {e.message}"
                             ) from None
        return self

    @property
    def standards(self):
        """The standards table with this deployment's overrides (docs/rules.md §2)."""
        return self._standards

    @property
    def check_in_schedule(self):
        return self._check_in_schedule

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def proxies(self) -> list[str]:
        """GUARDIAN_TRUSTED_PROXIES as a list (empty: no proxy header is believed)."""
        return [str(n) for n in proxy_networks(self.trusted_proxies)]

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


def read_standards_file(path: Path) -> dict[str, Any]:
    """Overrides from a TOML (`.toml`) or JSON file: standard code → {last_day_within,
    at_risk_days}, and `check-ins` → {milestone_days, every_days}. For example:

        [rtt-18]
        at_risk_days = 21
        [check-ins]
        every_days = 84
    """
    import json
    import tomllib

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ValueError(f"GUARDIAN_STANDARDS_FILE {path}: cannot be read ({e.strerror})"
                         ) from None
    try:
        data = tomllib.loads(text) if str(path).endswith(".toml") else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as e:
        raise ValueError(f"GUARDIAN_STANDARDS_FILE {path}: not valid "
                         f"{'TOML' if str(path).endswith('.toml') else 'JSON'}: {e}") from None
    if not isinstance(data, dict):
        raise ValueError(f"GUARDIAN_STANDARDS_FILE {path}: expected a table of standards")
    return {str(k).strip().lower(): v for k, v in data.items()}


def proxy_networks(value: str) -> list[Any]:
    """The networks in a comma-separated list of addresses and CIDRs ("10.0.0.5, 10.1.0.0/16").

    A bare address is a one-address network; anything else is refused with its name."""
    import ipaddress

    networks = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(
                f"GUARDIAN_TRUSTED_PROXIES: {item!r} is not an IP address or network "
                "(like 10.0.0.5 or 10.0.0.0/24)"
            ) from None
    return networks


def parse_smtp_url(url: str) -> dict[str, Any]:
    """The parts of GUARDIAN_SMTP_URL; a URL that is not one raises ValueError naming it."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps", "smtp+starttls") or not parts.hostname:
        raise ValueError(f"GUARDIAN_SMTP_URL {url!r} must look like smtp://host:port "
                         "(or smtps://, smtp+starttls://)")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"GUARDIAN_SMTP_URL {url!r} has a bad port") from None
    return {"scheme": parts.scheme, "host": parts.hostname,
            "port": port or (465 if parts.scheme == "smtps" else 25),
            "user": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password else None}
