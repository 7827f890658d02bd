"""Settings refuse configurations that would fail silently in production."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from wallet_service.config import Environment, Settings


def test_production_requires_an_https_public_url(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="https"):
        Settings(environment=Environment.production, public_url="http://shop.example")
    ok = Settings(environment=Environment.production, public_url="https://shop.example/")
    assert ok.public_url == "https://shop.example"


def test_production_requires_a_secret_key(tmp_path: Path) -> None:
    settings = Settings(
        environment=Environment.production, public_url="https://shop.example", data_dir=tmp_path
    )
    with pytest.raises(RuntimeError, match="WALLET_SECRET_KEY"):
        settings.signing_key()


def test_development_generates_one_private_key_file_and_keeps_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first, second = settings.signing_key(), Settings(data_dir=tmp_path).signing_key()
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_production_refuses_a_secret_key_shorter_than_32_bytes_without_echoing_it() -> None:
    with pytest.raises(ValidationError, match="at least 32 bytes") as refused:
        Settings(
            environment=Environment.production,
            public_url="https://shop.example",
            secret_key="guessable-secret",  # type: ignore[arg-type]
        )
    assert "guessable-secret" not in str(refused.value)
    Settings(
        environment=Environment.production,
        public_url="https://shop.example",
        secret_key="x7Kq" * 8,  # type: ignore[arg-type]
    )


def test_the_database_password_never_shows_in_the_settings_repr() -> None:
    settings = Settings(database_url="postgresql://wallet:s3cr3t-pw@db:5432/wallet")
    assert "s3cr3t-pw" not in repr(settings)
    assert "postgresql://wallet:***@db:5432/wallet" in repr(settings)
    assert settings.resolved_database_url.endswith(":s3cr3t-pw@db:5432/wallet")


def test_rate_limits_are_read_from_the_environment_as_written_in_the_readme(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WALLET_RATE_LIMIT_LOGIN", "3/minute")
    monkeypatch.setenv("WALLET_RATE_LIMIT_SCANS", "100/5minutes")

    settings = Settings()

    assert (settings.rate_limit_login.limit, settings.rate_limit_login.period_seconds) == (3, 60)
    assert (settings.rate_limit_scans.limit, settings.rate_limit_scans.period_seconds) == (100, 300)
