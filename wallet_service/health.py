"""Liveness (``/healthz``), readiness (``/readyz``) and metrics (``/metrics``)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from certificates.store import identity_mismatch
from wallet_service.apple.issuer import certificate_report
from wallet_service.config import Settings
from wallet_service.db.session import session_scope
from wallet_service.metrics import OUTBOX_DEAD, OUTBOX_QUEUED, REGISTRY
from wallet_service.push.apns_refusals import certificate_fingerprint, refused_merchants
from wallet_service.push.outbox import backlog

__all__ = ["certificate_status", "router"]

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


def certificate_status(settings: Settings, now: datetime) -> dict[str, Any]:
    """The pass certificate's state for ``/readyz``; logs a warning within 30 days of expiry."""
    report = certificate_report(settings, now)
    if report is None:
        return {"status": "missing"}
    mismatch = identity_mismatch(
        report, pass_type_id=settings.apple_pass_type_id, team_id=settings.apple_team_id
    )
    if mismatch:
        return {"status": "mismatch", "detail": mismatch}
    status = "expired" if report.expired else "expiring" if report.expires_soon else "ok"
    if status != "ok":
        logger.warning(
            "Apple pass certificate %s: %d days to expiry", report.subject, report.days_to_expiry
        )
    return {
        "status": status,
        "pass_type_id": report.pass_type_id,
        "team_id": report.team_id,
        "not_after": report.not_after.isoformat(),
        "days_to_expiry": report.days_to_expiry,
        "development": report.development,
    }


async def apns_status(
    factory: async_sessionmaker[AsyncSession], settings: Settings
) -> dict[str, Any]:
    """Whether Apple refused the installed pass certificate for pushes (for some merchants)."""
    fingerprint = certificate_fingerprint(settings)
    if fingerprint is None:
        return {"status": "missing"}
    try:
        async with session_scope(factory) as session:
            refused = await refused_merchants(session, fingerprint)
    except Exception as exc:  # the database check reports the outage
        logger.warning("readiness: APNs status unknown: %s", type(exc).__name__)
        return {"status": "unknown"}
    if refused:
        return {
            "status": "refused",
            "detail": f"APNs refused the pass certificate for {len(refused)} merchant(s): "
            "their pushes wait for a new certificate (`wallet-service certs import`).",
        }
    return {"status": "ok"}


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
async def metrics(request: Request) -> PlainTextResponse:
    """Prometheus metrics: the outbox's backlog (read now), and this process's counters
    (deliveries, push latency, APNs and Google answers). Keep it internal at the proxy."""
    try:
        async with session_scope(request.app.state.session_factory) as session:
            queued, dead = await backlog(session)
    except Exception as exc:  # the counters still answer; /readyz reports the database
        logger.warning("metrics: outbox backlog unknown: %s", type(exc).__name__)
    else:
        for gauge, counts in ((OUTBOX_QUEUED, queued), (OUTBOX_DEAD, dead)):
            gauge.clear()
            for topic, count in counts.items():
                gauge.labels(topic).set(count)
    return PlainTextResponse(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


class Readiness(BaseModel):
    status: str = Field(description="ok, or unavailable when a check failed")
    checks: dict[str, dict[str, Any]]


@router.get(
    "/readyz",
    response_model=Readiness,
    # Not a problem: orchestrators and operators read the same report whether ready or not.
    responses={503: {"model": Readiness, "description": "Not ready: see checks"}},
)
async def readyz(request: Request) -> JSONResponse:
    """The service can do its job: the database answers."""
    engine: AsyncEngine = request.app.state.engine
    checks: dict[str, Any] = {}
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        checks["database"] = {"status": "ok"}
    except Exception as exc:  # any driver error means "not ready", never a 500
        logger.warning("readiness: database unreachable: %s", type(exc).__name__)
        checks["database"] = {"status": "unavailable"}
    checks["apple_certificates"] = certificate_status(
        request.app.state.settings, request.app.state.clock.now()
    )
    checks["apns"] = await apns_status(
        request.app.state.session_factory, request.app.state.settings
    )
    # A missing or expiring certificate warns without making the service unready (scans and
    # the API still work); settings that contradict the certificate are a broken deployment.
    # So does a certificate APNs refused: cards still work, only pushes wait.
    ready = (
        checks["database"]["status"] == "ok"
        and checks["apple_certificates"]["status"] != "mismatch"
    )
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )
