"""Probes an orchestrator relies on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from certificates.dev import generate_dev_chain
from wallet_service.app import create_app
from wallet_service.config import Settings
from wallet_service.db import migrate


async def test_healthz_and_readyz_answer_when_the_database_is_up(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"]["status"] == "ok"
    certificates = ready.json()["checks"]["apple_certificates"]
    assert certificates["status"] == "ok" and certificates["development"] is True
    assert certificates["days_to_expiry"] > 30
    assert "key" not in str(certificates).lower()


async def test_openapi_documents_problem_responses(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert "/api/v1/auth/token" in schema["paths"]
    responses = schema["paths"]["/api/v1/stores/{store_id}"]["get"]["responses"]
    assert "application/problem+json" in responses["404"]["content"]
    assert (await client.get("/docs")).status_code == 200


async def test_readyz_says_unavailable_when_the_database_is_down(tmp_path: Path) -> None:
    settings = Settings(
        database_url="postgresql://nobody@127.0.0.1:1/none",
        data_dir=tmp_path,
        secret_key="unused-secret-key-unused-secret-key",  # type: ignore[arg-type]
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as http:
            ready = await http.get("/readyz")
            live = await http.get("/healthz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"]["status"] == "unavailable"
    assert live.status_code == 200


async def test_readyz_warns_when_the_pass_certificate_expires_within_30_days(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    generate_dev_chain(
        tmp_path / "certs",
        "pass.test.expiring",
        "TEAM",
        now=datetime.now(UTC) - timedelta(days=365 - 10),  # dev pass certificates last a year
    )
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'wallet.db'}",
        data_dir=tmp_path,
        secret_key="unused-secret-key-unused-secret-key",  # type: ignore[arg-type]
    )
    migrate.upgrade(settings.resolved_database_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as http:
            ready = await http.get("/readyz")
    assert ready.status_code == 200  # still serving: scans do not need the certificate
    certificates = ready.json()["checks"]["apple_certificates"]
    assert certificates["status"] == "expiring"
    assert 0 < certificates["days_to_expiry"] <= 30
    warnings = [r for r in caplog.records if "Apple pass certificate" in r.getMessage()]
    assert warnings and all(r.levelname == "WARNING" for r in warnings)


@pytest.mark.parametrize(
    ("setting", "configured", "variable"),
    [
        ("apple_pass_type_id", "pass.test.someone-else", "WALLET_APPLE_PASS_TYPE_ID"),
        ("apple_team_id", "OTHERTEAM9", "WALLET_APPLE_TEAM_ID"),
    ],
)
async def test_settings_naming_another_pass_identity_than_the_certificate_make_the_service_unready(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    setting: str,
    configured: str,
    variable: str,
) -> None:
    generate_dev_chain(tmp_path / "certs", "pass.test.issued-for", "ISSUEDTEAM")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'wallet.db'}",
        data_dir=tmp_path,
        secret_key="unused-secret-key-unused-secret-key",  # type: ignore[arg-type]
        **{setting: configured},
    )
    migrate.upgrade(settings.resolved_database_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as http:
            ready = await http.get("/readyz")
    # No pass signed for an identity Wallet would refuse: Apple Wallet is off, and says why.
    assert app.state.apple is None
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and variable in errors[0] and configured in errors[0]
    assert "pass.test.issued-for" in errors[0] or "ISSUEDTEAM" in errors[0]
    assert ready.status_code == 503
    certificates = ready.json()["checks"]["apple_certificates"]
    assert certificates["status"] == "mismatch" and configured in certificates["detail"]
