"""Benchmark: scan latency at the tills while 32 clients send wrong passwords without pause.

Run from the repository root::

    .venv/bin/python -m bench.login_flood_bench [--seconds 6] [--backend sqlite|postgresql|both]

Argon2 is slow on purpose (a verification is hundreds of milliseconds of CPU on this box). A
sign-in that checked it on the event loop, holding a database connection, stalled every
scan behind the queue of wrong passwords. For each database backend the run:

1. seeds a throw-away database through the services as ``bench.scan_bench`` does
   (merchant, coffee-shop program, store, POS key) plus an owner account, starts one
   uvicorn worker with rate limits and the sign-in lockout turned off
   (``WALLET_RATE_LIMITS_ENABLED=false``: the worst case, an attack spread over more
   addresses and accounts than any limiter stops) and enrols ``--members`` customers;
2. measures scans from ``TILLS`` closed-loop clients (each sends its next scan when the last
   is answered) while nothing else runs: the quiet p50 and p99;
3. starts ``FLOODERS`` clients in a process of their own, each sending a wrong password for
   the owner's email to ``POST /api/v1/auth/token`` and the next as soon as it is answered
   (all 401), waits until every one is queued, and measures the scans again;
4. with ``--limits`` (the default), starts a second server on the same database with the
   default limits and lockout, and measures the scans under the same flood (now mostly
   ``429``);
5. prints a table and rewrites the ``<!-- bench:login-flood -->`` section of
   ``docs/benchmarks.md``.

The target (issue 12): under the flood, with limits off, the scan p50 stays within
``TARGET_RATIO`` times the quiet p50. Exit status 0 when it is met on every backend, 1 when it
is missed, 2 when a backend could not be run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlencode

import httpx

from bench.report import DOC, cpu_model, write_section
from bench.scan_bench import (
    BACKENDS,
    MAX_SECONDS,
    RESULT_MARK,
    ROOT,
    SCAN_PATH,
    Phase,
    Rig,
    Server,
    Tenant,
    _exchange,
    enrol_members,
    fmt,
    percentile,
    process_cpu_seconds,
    seed_tenant,
    throwaway_database,
)
from wallet_service.clock import SystemClock
from wallet_service.db.session import create_engine_for, create_session_factory, session_scope
from wallet_service.security.passwords import HASHING_CONCURRENCY, hash_password
from wallet_service.security.permissions import Role
from wallet_service.security.principal import MerchantScope
from wallet_service.staff.schemas import StaffCreate
from wallet_service.staff.service import create_staff

__all__ = ["main"]

FLOODERS = 32
TILLS = 4
TARGET_RATIO = 2.0
WARMUP_SECONDS = 2.0
LOGIN_PATH = "/api/v1/auth/token"
OWNER_EMAIL = "owner@flood-bench.example"
OWNER_PASSWORD = "a bench-only passphrase, long enough"
WRONG_PASSWORD = "a wrong guess, every time"
READY = "FLOOD-READY"
LIMITS_OFF = {"WALLET_RATE_LIMITS_ENABLED": "false"}


# ---------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Flood:
    """What the flooding clients saw, from their first request to their last answer."""

    seconds: float
    statuses: dict[int, int]
    socket_errors: int
    p50_ms: float
    cpu_seconds: float  # of the flooding process, over the whole flood

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0

    def status_text(self) -> str:
        return ", ".join(f"{n} x {status}" for status, n in sorted(self.statuses.items()))


@dataclass(frozen=True)
class Measured:
    """One scan phase, and the flood that ran meanwhile (None when quiet)."""

    label: str
    scans: Phase
    flood: Flood | None
    flood_cpu: float  # CPU seconds of the flooding process during the scan phase
    wall: float  # seconds the CPU figures span (the scan phase and its client's start)


@dataclass
class FloodRun:
    backend: str
    quiet: Measured | None = None
    limits_off: Measured | None = None
    limits_on: Measured | None = None
    error: str | None = None

    def ratio(self, row: Measured | None) -> float | None:
        if self.quiet is None or row is None or not self.quiet.scans.p50_ms:
            return None
        return row.scans.p50_ms / self.quiet.scans.p50_ms

    @property
    def met(self) -> bool:
        ratio = self.ratio(self.limits_off)
        return ratio is not None and ratio <= TARGET_RATIO

    def rows(self) -> list[Measured]:
        return [row for row in (self.quiet, self.limits_off, self.limits_on) if row is not None]


# ---------------------------------------------------------------------------------------
# The flooding clients (their own process)


async def flood_clients(base_url: str, count: int, email: str, password: str) -> dict[str, Any]:
    """``count`` keep-alive connections sending wrong passwords back to back until stdin
    closes; answers still queued then are abandoned (the server finishes them alone)."""
    address = httpx.URL(base_url)
    assert address.host == "127.0.0.1", "load tests target loopback only"
    body = urlencode({"username": email, "password": password}).encode()
    request = (
        f"POST {LOGIN_PATH} HTTP/1.1\r\nHost: {address.host}:{address.port}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors = 0

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal errors
        while True:
            sent = time.perf_counter()
            try:
                status, _ = await _exchange(reader, writer, request)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                return
            latencies.append(time.perf_counter() - sent)
            statuses[status] += 1

    connections = [await asyncio.open_connection(address.host, address.port) for _ in range(count)]
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    begin = time.perf_counter()
    tasks = [asyncio.create_task(client(*connection)) for connection in connections]
    print(READY, flush=True)
    with suppress(TimeoutError):  # the parent died: never flood forever
        await asyncio.wait_for(stdin.read(), timeout=MAX_SECONDS * 4)  # EOF: stop
    elapsed = time.perf_counter() - begin
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for _, writer in connections:
        writer.close()
    latencies.sort()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "seconds": elapsed,
        "statuses": {str(k): v for k, v in statuses.items()},
        "socket_errors": errors,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
    }


def flood_main(spec_path: Path) -> int:
    spec = json.loads(spec_path.read_text())
    result = asyncio.run(
        flood_clients(spec["base_url"], spec["count"], spec["email"], spec["password"])
    )
    print(RESULT_MARK + json.dumps(result), flush=True)
    return 0


@dataclass
class Flooding:
    """A running flood; ``result`` is filled in when it stops."""

    process: subprocess.Popen[str]
    result: Flood | None = None

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.process.pid)


@contextmanager
def flooding(server: Server, workdir: Path) -> Iterator[Flooding]:
    """Wrong passwords from ``FLOODERS`` connections for as long as the block runs."""
    spec = workdir / "flood.json"
    spec.write_text(
        json.dumps(
            {
                "base_url": server.base_url,
                "count": FLOODERS,
                "email": OWNER_EMAIL,
                "password": WRONG_PASSWORD,
            }
        )
    )
    command = [sys.executable, "-m", "bench.login_flood_bench", "--flood-spec", str(spec)]
    process = subprocess.Popen(
        command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdin is not None and process.stdout is not None
    flood = Flooding(process)
    try:
        if process.stdout.readline().strip() != READY:
            raise RuntimeError("the flooding clients did not start")
        time.sleep(WARMUP_SECONDS)  # every flooder sent its first password and is queued
        yield flood
    finally:
        flood.result = _stop(process, process.stdin, process.stdout)


def _stop(process: subprocess.Popen[str], stdin: IO[str], stdout: IO[str]) -> Flood:
    stdin.close()
    try:
        output = stdout.read()
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise
    for line in output.splitlines():
        if line.startswith(RESULT_MARK):
            raw = json.loads(line[len(RESULT_MARK) :])
            return Flood(
                seconds=raw["seconds"],
                statuses={int(k): v for k, v in raw["statuses"].items()},
                socket_errors=raw["socket_errors"],
                p50_ms=raw["p50_ms"],
                cpu_seconds=raw["cpu_seconds"],
            )
    raise RuntimeError(f"no result line from the flooding clients:\n{output}")


# ---------------------------------------------------------------------------------------
# One backend


async def seed_owner(url: str, tenant: Tenant) -> None:
    """The account the flood guesses at: wrong passwords are checked against a real hash."""
    engine = create_engine_for(url)
    try:
        async with session_scope(create_session_factory(engine, SystemClock())) as session:
            await create_staff(
                session,
                MerchantScope.for_operator(tenant.merchant_id),
                StaffCreate.model_validate(
                    {"email": OWNER_EMAIL, "password": OWNER_PASSWORD, "role": Role.owner}
                ),
            )
    finally:
        await engine.dispose()


def check_owner_signs_in(server: Server) -> None:
    response = httpx.post(
        f"{server.base_url}{LOGIN_PATH}",
        data={"username": OWNER_EMAIL, "password": OWNER_PASSWORD},
        timeout=30,
    )
    if response.status_code != 200:
        raise RuntimeError(f"the owner's sign-in answered {response.status_code}")


def scans(rig: Rig, server: Server, label: str, seconds: float, flood: Flooding | None) -> Measured:
    """One scan phase from ``TILLS`` clients; the flood's CPU is taken out of "others"."""
    flood_before = flood.cpu_seconds() if flood is not None else 0.0
    key_safe = label.replace(",", "").replace(" ", "-")  # it prefixes Idempotency-Keys
    started = time.monotonic()
    phase = rig.phase(server, key_safe, SCAN_PATH, seconds, connections=TILLS)
    wall = time.monotonic() - started
    flood_cpu = flood.cpu_seconds() - flood_before if flood is not None else 0.0
    if phase.cpu is not None:
        phase = replace(phase, cpu=replace(phase.cpu, others=max(phase.cpu.others - flood_cpu, 0)))
    return Measured(label, phase, None, flood_cpu, wall)


def print_row(backend: str, run: FloodRun, row: Measured) -> None:
    ratio = run.ratio(row) if row is not run.quiet else None
    flood = ""
    if row.flood is not None:
        flood = f"  logins {row.flood.rate:6.1f}/s ({row.flood.status_text()})"
    print(
        f"  {backend:<10} {row.label:<18} {row.scans.rate:7.1f} scans/s"
        f"  p50 {row.scans.p50_ms:7.1f} ms  p99 {row.scans.p99_ms:7.1f} ms"
        f"{f'  x{ratio:.2f} quiet p50' if ratio is not None else ''}"
        f"  errors {row.scans.errors}{flood}",
        flush=True,
    )


def flooded(rig: Rig, server: Server, label: str, seconds: float) -> Measured:
    with flooding(server, rig.workdir) as flood:
        row = scans(rig, server, label, seconds, flood)
    assert flood.result is not None
    return replace(row, flood=flood.result)


def bench_backend(backend: str, seconds: float, members: int, limits: bool) -> FloodRun:
    run = FloodRun(backend)
    warm = min(WARMUP_SECONDS, seconds)
    with tempfile.TemporaryDirectory(prefix=f"login-flood-{backend}-") as directory:
        workdir = Path(directory)
        with throwaway_database(backend, workdir) as url:
            tenant = asyncio.run(seed_tenant(url))
            asyncio.run(seed_owner(url, tenant))
            rig = Rig(backend, url, workdir, tenant, "python")
            server = Server.start(url, workdir, settings=LIMITS_OFF)
            try:
                check_owner_signs_in(server)
                rig.barcodes = tuple(asyncio.run(enrol_members(server.base_url, tenant, members)))
                rig.phase(server, "warm", SCAN_PATH, warm, connections=TILLS)
                run.quiet = scans(rig, server, "quiet", seconds, None)
                print_row(backend, run, run.quiet)
                run.limits_off = flooded(rig, server, "flood, limits off", seconds)
                print_row(backend, run, run.limits_off)
            finally:
                server.stop()  # lets the abandoned sign-ins finish first
            if limits:
                server = Server.start(url, workdir)
                try:
                    rig.phase(server, "warm-limits", SCAN_PATH, warm, connections=TILLS)
                    run.limits_on = flooded(rig, server, "flood, limits on", seconds)
                    print_row(backend, run, run.limits_on)
                finally:
                    server.stop()
    return run


# ---------------------------------------------------------------------------------------
# Report


def results_table(runs: list[FloodRun]) -> str:
    rows = [
        "| backend | scans while | scans/s | scan p50 | scan p99 | p50 / quiet p50"
        " | sign-ins answered/s | sign-in answers | sign-in p50 | scan errors |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for run in runs:
        if run.error is not None:
            rows.append(f"| {run.backend} | not run: {run.error} |||||||||")
            continue
        for row in run.rows():
            ratio = run.ratio(row) if row is not run.quiet else None
            flood = row.flood
            rows.append(
                f"| {run.backend} | {row.label} | {row.scans.rate:.0f}"
                f" | {row.scans.p50_ms:.1f} ms | {row.scans.p99_ms:.0f} ms"
                f" | {fmt(ratio, '.2f', 'x') if row is not run.quiet else '—'}"
                f" | {fmt(flood.rate if flood else None, '.1f')}"
                f" | {flood.status_text() if flood else '—'}"
                f" | {fmt(flood.p50_ms / 1000 if flood else None, '.1f', ' s')}"
                f" | {row.scans.errors} |"
            )
    return "\n".join(rows)


def cpu_table(runs: list[FloodRun]) -> str:
    rows = [
        "| backend | scans while | server | database | scanning clients | flooding clients"
        " | machine busy | other processes |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        for row in run.rows():
            cpu, span = row.scans.cpu, row.wall
            if cpu is None or not span:
                continue
            database = f"{cpu.database / span:.2f}" if run.backend != "sqlite" else "in server"
            rows.append(
                f"| {run.backend} | {row.label} | {cpu.server / span:.2f} | {database}"
                f" | {cpu.client / span:.2f} | {row.flood_cpu / span:.2f}"
                f" | {cpu.machine_busy:.0%} | {cpu.others / span:.2f} |"
            )
    return "\n".join(rows)


def targets_table(runs: list[FloodRun]) -> str:
    rows = [f"| backend | flood p50 <= {TARGET_RATIO:g}x quiet p50 (limits off) |", "|---|---|"]
    for run in runs:
        if run.error is None:
            rows.append(f"| {run.backend} | {'met' if run.met else '**missed**'} |")
    return "\n".join(rows)


def argon2_lanes() -> int:
    """The parallelism new hashes get (argon2-cffi's default, through pwdlib)."""
    match = re.search(r",p=(\d+)\$", hash_password("how many lanes?"))
    return int(match[1]) if match else 1


def report_section(
    runs: list[FloodRun], seconds: float, members: int, load: tuple[float, float, float]
) -> str:
    import uvicorn

    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    busy = f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min)"
    lanes = argon2_lanes()
    return f"""
## Scans during a flood of wrong passwords

`bench/login_flood_bench.py` starts one uvicorn worker (`--workers 1`, loopback) with rate
limits and the sign-in lockout **off** (`WALLET_RATE_LIMITS_ENABLED=false`): the worst case,
an attack spread over more addresses and accounts than any limiter stops. {TILLS} tills
scan back to back (closed loop: each sends its next scan when the last is answered, a random
member out of {members}, POS key, fresh `Idempotency-Key`), {seconds:g} s per phase after a
{min(WARMUP_SECONDS, seconds):g} s warm-up: first alone, then while {FLOODERS} clients (a
process of their own, one keep-alive connection each) send a wrong password for an existing
owner's email to `POST {LOGIN_PATH}` and the next as soon as it is answered. The scans under
the flood start {WARMUP_SECONDS:g} s after the flood, once every flooder is queued. The
last row is a second server on the same database with the default limits and lockout, under
the same flood: sign-ins from one address past 20 a minute, or past 5 failures for one
account, get `429` before any hashing. Target (issue 12): with limits off, the scan p50
under the flood stays within {TARGET_RATIO:g}x the quiet p50. Before the fix (Argon2 on the
event loop, database connection held) 4 wrong passwords at a time took the PostgreSQL p50
from 23 ms to 1.3 s, and 32 to 23 s.

| | value |
|---|---|
| date | {date} |
| machine | {cpu_model()}, nproc {os.cpu_count()}, shared by server, database and clients |
| load average before the run | {busy} |
| server | Python {platform.python_version()}, uvicorn {uvicorn.__version__} (`--workers 1`) |
| password checks | Argon2id, pwdlib defaults; {HASHING_CONCURRENCY} at a time, in worker threads |
| clients | Python asyncio streams, {TILLS} scanning connections, {FLOODERS} flooding connections |

{results_table(runs)}

{targets_table(runs)}

Sign-in figures are over the whole flood (its warm-up included); "sign-in p50" is how long
a wrong password waited for its answer (the queue behind the hashing cap). CPU in cores:
CPU seconds per second of each scan phase (its client's start included), from `/proc`.
This machine is shared with other people's test runs: "other processes" is what they used
meanwhile, and figures taken while they used a core or more are disturbed.

{cpu_table(runs)}

How to read it. A wrong password costs one Argon2id verification, and each one runs
{lanes} lanes in {lanes} threads of its own (the hash's `p={lanes}`),
so even one at a time it can occupy every core of a small machine: the hashing cap keeps the
event loop free, not a core. With limits on, nearly every sign-in is refused before any
hashing, so each costs little, and {FLOODERS} connections that never pause send hundreds to
thousands a second; on one worker the scans then wait behind them on the event loop. The
limiter protects the password hashing and the accounts, not the server's capacity: a flood
of cheap requests at any route does the same, and is for the reverse proxy's connection and
request limits (or more workers) to absorb.

Reproduce with `.venv/bin/python -m bench.login_flood_bench [--seconds N]
[--backend sqlite|postgresql|both] [--no-limits]`; `make bench` runs it too.
"""


# ---------------------------------------------------------------------------------------
# Entry point


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="measured seconds per phase")
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="both")
    parser.add_argument("--members", type=int, default=50, help="members enrolled")
    parser.add_argument(
        "--no-limits",
        dest="limits",
        action="store_false",
        help="skip the flood against a server with the default limits",
    )
    parser.add_argument("--no-write", action="store_true", help="do not update the docs")
    parser.add_argument("--flood-spec", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.flood_spec is not None:
        return flood_main(args.flood_spec)
    if not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must be in (0, {MAX_SECONDS:g}]")
    if not 1 <= args.members <= 10_000:
        parser.error("--members must be in [1, 10000]")

    backends = list(BACKENDS) if args.backend == "both" else [args.backend]
    load = os.getloadavg()  # the machine is shared: how busy it was before we started
    runs: list[FloodRun] = []
    for backend in backends:
        print(f"{backend}: seeding, {args.members} members, {args.seconds:g} s per phase ...")
        try:
            runs.append(bench_backend(backend, args.seconds, args.members, args.limits))
        except Exception as exc:  # one backend down must not hide the other's figures
            print(f"  {backend}: not run: {exc!r}", file=sys.stderr)
            runs.append(FloodRun(backend, error=type(exc).__name__))

    print()
    print(results_table(runs))
    print()
    print(targets_table(runs))
    print()
    print(cpu_table(runs))
    if not args.no_write:
        write_section("login-flood", report_section(runs, args.seconds, args.members, load))
        print(f"\nupdated {DOC.relative_to(ROOT)}")
    if any(run.error is not None for run in runs):
        return 2
    return 0 if all(run.met for run in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
