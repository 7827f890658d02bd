"""Settings, read from ``WALLET_*`` environment variables (and an optional ``.env`` file).

SQLite under the data directory is the embedded default so one command starts a shop;
production points ``WALLET_DATABASE_URL`` at PostgreSQL. Secrets are never defaulted to a
constant: without ``WALLET_SECRET_KEY`` a random key is generated once into the data
directory (mode 0600), which keeps development restarts stable and nothing in the repo.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterable
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from wallet_service.passes.templates import DEFAULT_TEMPLATES_ROOT
from wallet_service.rate_limits.limiter import Rate

MIN_SECRET_KEY_BYTES = 32
# "scheme://user:password@" -> "scheme://user:***@"
_URL_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")

__all__ = ["Environment", "Settings", "get_settings"]


def _rate(value: Any) -> Any:
    return Rate.parse(value) if isinstance(value, str) else value


# NoDecode: a Rate is a dataclass, which pydantic-settings would read from the environment as
# JSON; the variable holds "20/minute", parsed by _rate.
RateSetting = Annotated[Rate, NoDecode, BeforeValidator(_rate)]


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class Settings(BaseSettings):
    """Everything the service reads from its environment."""

    # hide_input_in_errors: a validation error must not echo the secret key or the database
    # password it was given.
    model_config = SettingsConfigDict(
        env_prefix="WALLET_", env_file=".env", extra="ignore", hide_input_in_errors=True
    )

    environment: Environment = Environment.development
    data_dir: Path = Path("data")
    database_url: str = ""
    public_url: str = "http://127.0.0.1:8000"
    secret_key: SecretStr | None = None
    previous_secret_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Retired signing keys still accepted for tokens issued before a rotation.",
    )
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    log_level: str = "INFO"
    templates_dir: Path = DEFAULT_TEMPLATES_ROOT
    apple_pass_type_id: str | None = Field(
        default=None, description="Defaults to the pass type id in the signing certificate."
    )
    apple_team_id: str | None = Field(
        default=None, description="Defaults to the team id in the signing certificate."
    )
    google_wallet_api_url: str = Field(
        default="https://walletobjects.googleapis.com/walletobjects/v1",
        description="Google Wallet REST API root (tests point it at a loopback stand-in).",
    )
    google_callback_keys_url: str = Field(
        default="https://pay.google.com/gp/m/issuer/keys",
        description="Google's root keys for verifying save/delete callbacks (ECv2SigningOnly).",
    )
    google_requests_per_second: float = Field(
        default=20.0,
        gt=0,
        description="Google Wallet API calls per second per issuer, shared by every process "
        "through WALLET_REDIS_URL when set (Google's quota is 20).",
    )
    google_save_origins: list[str] = Field(
        default_factory=list,
        description="Sites allowed to show the Add to Google Wallet button "
        "(default: WALLET_PUBLIC_URL).",
    )
    idempotency_retention_hours: int = Field(default=72, ge=1)
    # Members' ledgers kept in memory per process, in transactions (~1.7 KB each; 0: off).
    ledger_cache_transactions: int = Field(default=20_000, ge=0)
    worker_interval_seconds: float = Field(default=30.0, gt=0)
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest request body accepted (413 past it); PassKit's log route takes 64 KB.",
    )
    apns_url: str = Field(
        default="https://api.push.apple.com",
        description="APNs for pass updates; Apple's sandbox is https://api.sandbox.push.apple.com.",
    )
    apns_ca_file: Path | None = Field(
        default=None,
        description="PEM bundle trusted for the APNs server instead of the system store.",
    )
    dispatch_in_api: bool = Field(
        default=True,
        description="Run the outbox dispatcher inside `serve` (the embedded default). Turn it "
        "off where `wallet-service worker` processes deliver instead.",
    )
    outbox_max_attempts: int = Field(default=12, ge=1)
    outbox_poll_seconds: float = Field(default=0.25, gt=0)
    redis_url: str | None = Field(
        default=None,
        description="Redis shared by every process (rate limits, sign-in lockout). Without "
        "it, each process counts on its own, which is right for the single embedded process.",
    )
    rate_limits_enabled: bool = True
    # Each "N/period" (second, minute, hour, day; "100/5minutes"). What is counted is in README.
    rate_limit_login: RateSetting = Rate.parse("20/minute")
    rate_limit_passkit: RateSetting = Rate.parse("600/minute")
    rate_limit_pass_log: RateSetting = Rate.parse("10/minute")
    rate_limit_google_save: RateSetting = Rate.parse("60/minute")
    # Every callback comes from a few Google addresses, so the count per address is high.
    rate_limit_google_callbacks: RateSetting = Rate.parse("1200/minute")
    rate_limit_scans: RateSetting = Rate.parse("600/minute")

    @field_validator("public_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _production_is_https(self) -> Settings:
        # Apple Wallet only talks to an HTTPS web service: an http:// URL in production would
        # issue passes that never update, silently.
        if self.environment is Environment.production and not self.public_url.startswith(
            "https://"
        ):
            raise ValueError("WALLET_PUBLIC_URL must be https:// in production")
        if (
            self.environment is Environment.production
            and self.secret_key is not None
            and len(self.secret_key.get_secret_value().encode()) < MIN_SECRET_KEY_BYTES
        ):
            # The key signs access tokens, barcodes and pass tokens: a short one can be guessed.
            raise ValueError(
                f"WALLET_SECRET_KEY must be at least {MIN_SECRET_KEY_BYTES} bytes in production "
                "(for example `openssl rand -base64 48`)"
            )
        return self

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        # The database URL may carry a password: never in a repr, a log line or a traceback.
        for name, value in super().__repr_args__():
            yield name, (_hide_password(value) if name == "database_url" else value)

    @property
    def resolved_database_url(self) -> str:
        """The configured URL, or the SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'wallet.db').resolve()}"

    @property
    def save_origins(self) -> list[str]:
        return self.google_save_origins or [self.public_url]

    @property
    def certificates_dir(self) -> Path:
        return self.data_dir / "certs"

    def signing_key(self) -> bytes:
        """The server's secret key, generated into the data directory on first use."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        if self.environment is Environment.production:
            raise RuntimeError("WALLET_SECRET_KEY must be set in production")
        return _load_or_create_key_file(self.data_dir / "secret_key")

    def retired_signing_keys(self) -> list[bytes]:
        return [key.get_secret_value().encode() for key in self.previous_secret_keys]


def _hide_password(url: Any) -> Any:
    return _URL_PASSWORD.sub(r"\1***@", url) if isinstance(url, str) else url


def _load_or_create_key_file(path: Path) -> bytes:
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole to a private temporary file, then linked into place: two processes
    # starting together agree on one key and neither can read a half-written file.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_urlsafe(48).encode())
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass  # another process won the race: use its key
    finally:
        temporary.unlink()
    return path.read_bytes().strip()


# Docker/Kubernetes secrets: a file /run/secrets/wallet_secret_key sets WALLET_SECRET_KEY.
SECRETS_DIR = Path("/run/secrets")


@lru_cache
def get_settings() -> Settings:
    if SECRETS_DIR.is_dir():
        return Settings(_secrets_dir=SECRETS_DIR)
    return Settings()
