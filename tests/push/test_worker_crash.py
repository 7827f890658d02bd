"""A worker killed in the middle of a batch loses nothing: its rows go out after a restart.

The worker is a real ``wallet-service worker`` process, killed with SIGKILL while APNs (the
stand-in) holds its pushes unanswered. Its lease on those rows then has to run out before
another worker may take them; the restarted worker runs under ``faketime`` ten minutes
ahead, so the lease has run out for it without the test waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI

from tests.apple.apns_standin import ApnsStandIn
from tests.factories import Tenant
from tests.push.conftest import Outbox, phone_with_pass
from tests.scanning.test_till import _scan
from wallet_service.config import Settings

CARDS = 12
# Waits for something the worker does (start, connect, push), not for time to pass.
WORKER_DEADLINE_SECONDS = 60

pytestmark = pytest.mark.skipif(
    shutil.which("faketime") is None, reason="needs faketime (make system-deps installs it)"
)


def _worker_environment(settings: Settings, apns: ApnsStandIn) -> dict[str, str]:
    return {
        **os.environ,
        "WALLET_ENVIRONMENT": settings.environment.value,
        "WALLET_DATA_DIR": str(settings.data_dir),
        "WALLET_DATABASE_URL": settings.resolved_database_url,
        "WALLET_PUBLIC_URL": settings.public_url,
        "WALLET_SECRET_KEY": settings.secret_key.get_secret_value(),
        "WALLET_APNS_URL": apns.url,
        "WALLET_APNS_CA_FILE": str(apns.ca_file),
        "WALLET_OUTBOX_POLL_SECONDS": "0.05",
    }


async def _start_worker(environment: dict[str, str], *prefix: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *prefix,
        sys.executable,
        "-m",
        "wallet_service.cli",
        "worker",
        env=environment,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        # A group of its own: a signal reaches the worker, not just a wrapper (faketime).
        start_new_session=True,
    )


async def _stop(worker: asyncio.subprocess.Process, how: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, how)
    await worker.wait()


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WORKER_DEADLINE_SECONDS):
        # The stand-in's protocol callbacks change what is polled; there is no event to await.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_a_worker_killed_mid_batch_loses_no_push(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant: Tenant,
    settings: Settings,
    apns: ApnsStandIn,
    outbox: Outbox,
) -> None:
    await outbox.deliver()  # the shop's set-up
    phones = [(await phone_with_pass(app, client, tenant))[1] for _ in range(CARDS)]
    for phone in phones:
        assert (await _scan(client, tenant, tenant.barcode(phone.serial))).status_code == 201
    tokens = {phone.push_token for phone in phones}
    environment = _worker_environment(settings, apns)

    apns.stall = True
    first = await _start_worker(environment)
    try:
        await _until(lambda: len(apns.stalled) > 0)  # pushes in flight, none answered
    finally:
        await _stop(first, signal.SIGKILL)
    assert apns.delivered == []

    apns.stall = False
    restarted = await _start_worker(environment, "faketime", "-f", "+10m")
    try:
        await _until(lambda: tokens <= set(apns.delivered))
    finally:
        await _stop(restarted, signal.SIGTERM)

    assert tokens <= set(apns.delivered)  # every queued push went out at least once
