"""Benchmark: scans per second and p50/p99 latency at 64 connections, against a bare endpoint.

Run from the repository root::

    .venv/bin/python -m bench.scan_bench [--seconds 10] [--backend sqlite|postgresql|both]

For each database backend the run:

1. creates a throw-away database (a SQLite file in a temporary directory, or a PostgreSQL
   database dropped afterwards), migrates it, and seeds one tenant through the services
   (merchant, the coffee-shop program, a store, a POS API key bound to it);
2. starts one uvicorn worker on a free loopback port serving ``bench.bench_app`` (the
   production app plus ``POST /bench/bare``) and enrols ``--members`` customers through
   ``POST /api/v1/programs/{id}/members``;
3. drives 64 concurrent keep-alive connections, first at the bare endpoint, then at
   ``POST /api/v1/scans`` (a random member per request, a fresh ``Idempotency-Key`` each
   time), then at ``POST /bench/scan-without-database`` (the scan's work minus the
   database: the ceiling of any database design), each phase after a warm-up and bounded
   by ``--seconds`` and a request cap;
4. retries, with their own ``Idempotency-Key``, the scans that committed while the load
   generator was closing its sockets at a deadline (each must answer its first
   transaction), stops the server and checks the ledger: every 201 the client saw is one
   purchase transaction and every purchase was answered, no purchase exists without its
   idempotency record, keys are unique, each member's cached balance equals the sum of
   its ledger entries;
5. prints a table and rewrites the ``<!-- bench:scans -->`` section of
   ``docs/benchmarks.md``.

The load generator is ``wrk`` (Debian package ``wrk``) when it is on ``PATH``: its C client
leaves the two cores to the server and the database. Without it a Python client stands in
(plain asyncio streams, 64 keep-alive connections, its own process; it stops starting
requests at the deadline, so nothing is cut off) and the report says so: it takes more CPU
from the server than wrk, so its bare rate is a little lower.

When a target is missed (or with ``--profile always``) the scan phase is run once more on
the same database against a server under cProfile, and the report says which SQL
statements and which layers the time went to. The exit status is 0 when every target is
met, 1 when one is missed, 2 when a backend could not be run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from bench.bench_app import BARE_PATH, NO_DATABASE_PATH, ProfileSummary, read_profile_output
from bench.report import DOC, cpu_model, write_section
from wallet_service.api_keys.schemas import ApiKeyCreate
from wallet_service.api_keys.service import create_api_key
from wallet_service.clock import SystemClock
from wallet_service.db import migrate
from wallet_service.db.models import IdempotencyRecord, LedgerEntry, LedgerTransaction, Member
from wallet_service.db.session import create_engine_for, create_session_factory, session_scope
from wallet_service.db.session import sync_url as sync_database_url
from wallet_service.loyalty.examples import coffee_shop_rules
from wallet_service.merchants.schemas import MerchantCreate
from wallet_service.merchants.service import create_merchant
from wallet_service.programs.schemas import ProgramCreate
from wallet_service.programs.service import create_program
from wallet_service.scanning.token import issue_token
from wallet_service.security.keys import derive_key
from wallet_service.security.permissions import DEFAULT_API_KEY_PERMISSIONS, Permission
from wallet_service.security.principal import MerchantScope
from wallet_service.stores.schemas import StoreCreate
from wallet_service.stores.service import create_store

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]
CONNECTIONS = 64
TARGET_RATIO = 0.40
TARGET_P99_MS = 50.0
MAX_SECONDS = 120.0  # per phase: a load test here is always bounded in time...
MAX_REQUESTS = 200_000  # ...and in count
WARMUP_SECONDS = 3.0
PROFILE_SECONDS = 5.0
SCAN_PATH = "/api/v1/scans"
SCAN_AMOUNT = {"value": "12.50", "currency": "EUR"}
SECRET_KEY = "benchmark-only-secret-key-0123456789abcdef"
POSTGRES_ADMIN_URL = os.environ.get(
    "WALLET_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
RESULT_MARK = "BENCH-RESULT "
# The barcode key the bench server derives from SECRET_KEY, exactly as production does.
BARCODE_KEY = derive_key(SECRET_KEY.encode(), "barcode-token")
BACKENDS = ("sqlite", "postgresql")


# ---------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class CpuUsage:
    """CPU seconds spent during a phase, by party, and the machine's busy share."""

    server: float
    client: float
    database: float
    machine_busy: float  # 0..1 of all cores
    others: float  # CPU seconds of every other process (this machine is shared)


@dataclass(frozen=True)
class Phase:
    """What the load generator saw in one timed phase."""

    label: str
    expected_status: int
    seconds: float
    statuses: dict[int, int]
    socket_errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    transaction_ids: tuple[str, ...]
    capped: bool
    cpu: CpuUsage | None = None

    @property
    def ok(self) -> int:
        return self.statuses.get(self.expected_status, 0)

    @property
    def errors(self) -> int:
        return sum(self.statuses.values()) - self.ok + self.socket_errors

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def cpu_ms_per_request(self, party: str) -> float | None:
        if self.cpu is None or not self.ok:
            return None
        return float(getattr(self.cpu, party)) * 1000 / self.ok


@dataclass(frozen=True)
class LedgerCheck:
    """Client-side 201s against what the database holds after the run."""

    acknowledged: int
    purchases: int
    lost: int  # a 201 the client saw with no purchase behind it
    doubled: int  # purchases beyond one per idempotency key, or without their record
    duplicate_keys: int
    orphan_records: int
    retried: int  # committed while the client closed its sockets at a deadline, then retried
    unacknowledged: int  # committed, yet no answer for it even after the retry
    balance_mismatches: int
    length_mismatches: int
    members: int

    @property
    def passed(self) -> bool:
        return (
            self.lost == 0
            and self.doubled == 0
            and self.duplicate_keys == 0
            and self.orphan_records == 0
            and self.balance_mismatches == 0
            and self.length_mismatches == 0
            and self.unacknowledged == 0
        )

    def summary(self) -> str:
        verdict = "OK" if self.passed else "FAILED"
        return (
            f"{verdict}: {self.purchases} purchases, {self.acknowledged} 201s"
            f" ({self.retried} of them cut off at a deadline, same transaction on retry);"
            f" lost {self.lost}, doubled {self.doubled}, unanswered {self.unacknowledged},"
            f" balance mismatches {self.balance_mismatches}/{self.members}"
        )


@dataclass
class BackendRun:
    backend: str
    bare: Phase | None = None
    without_database: Phase | None = None  # the ceiling: a scan's work minus its database
    scans: Phase | None = None
    ledger: LedgerCheck | None = None
    history: float = 0.0  # mean ledger transactions per member at the end
    profile: ProfileSummary | None = None
    error: str | None = None

    def share_of_bare(self, phase: Phase | None) -> float | None:
        if self.bare is None or phase is None or not self.bare.rate:
            return None
        return phase.rate / self.bare.rate

    @property
    def ratio(self) -> float | None:
        return self.share_of_bare(self.scans)

    def verdicts(self) -> dict[str, bool]:
        ratio = self.ratio
        return {
            "throughput": ratio is not None and ratio >= TARGET_RATIO,
            "p99": self.scans is not None and self.scans.p99_ms < TARGET_P99_MS,
            "ledger": self.ledger is not None and self.ledger.passed,
        }


# ---------------------------------------------------------------------------------------
# Database and tenant


@contextmanager
def throwaway_database(backend: str, workdir: Path) -> Iterator[str]:
    """A migrated, empty database of ``backend``, removed afterwards; yields its URL."""
    if backend == "sqlite":
        url = f"sqlite:///{(workdir / 'bench.db').resolve()}"
        migrate.upgrade(url)
        yield url
        return
    name = f"wallet_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(sync_database_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        try:
            migrate.upgrade(url)
            yield url
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@dataclass(frozen=True)
class Tenant:
    merchant_id: uuid.UUID
    program_id: uuid.UUID
    pos_key: str


async def seed_tenant(url: str) -> Tenant:
    """Merchant, coffee-shop program, one store and a POS key bound to it (as the tests do)."""
    engine = create_engine_for(url)
    try:
        clock = SystemClock()
        async with session_scope(create_session_factory(engine, clock)) as session:
            slug = f"bench-{uuid.uuid4().hex[:8]}"
            merchant = await create_merchant(session, MerchantCreate(name="Bench", slug=slug))
            scope = MerchantScope.for_operator(merchant.id)
            program = await create_program(
                session,
                scope,
                ProgramCreate(name="Bench rewards", currency="EUR", rules=coffee_shop_rules()),
            )
            store = await create_store(
                session,
                scope,
                StoreCreate(
                    name="Bench store", latitude=48.85, longitude=2.35, timezone="Europe/Paris"
                ),
                clock.now(),
            )
            # A till that also enrols (an e-commerce-style key): the seeding enrols with it.
            scopes = sorted(DEFAULT_API_KEY_PERMISSIONS | {Permission.members_write})
            _, key = await create_api_key(
                session, scope, ApiKeyCreate(name="till", store_id=store.id, scopes=scopes)
            )
        return Tenant(merchant_id=merchant.id, program_id=program.id, pos_key=key.clear)
    finally:
        await engine.dispose()


async def enrol_members(base_url: str, tenant: Tenant, count: int) -> list[str]:
    """Enrol ``count`` customers through the API; return their barcodes."""
    headers = {"Authorization": f"Bearer {tenant.pos_key}"}
    path = f"/api/v1/programs/{tenant.program_id}/members"
    limit = asyncio.Semaphore(8)

    async def enrol(http: httpx.AsyncClient, index: int) -> str:
        body = {
            "given_name": "Bench",
            "family_name": f"Member {index}",
            "email": f"member{index}@bench.example",
        }
        async with limit:
            response = await http.post(path, json=body, headers=headers)
        if response.status_code != 201:
            raise RuntimeError(f"enrolment answered {response.status_code}: {response.text}")
        return issue_token(BARCODE_KEY, response.json()["serial_number"])

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        return list(await asyncio.gather(*(enrol(http, i) for i in range(count))))


def check_ledger(
    url: str, acknowledged: list[str], retried: int, replay_mismatches: int
) -> tuple[LedgerCheck, float]:
    """Compare the client's 201s with the database; also return mean history length."""
    engine = create_engine(sync_database_url(url))
    try:
        with engine.connect() as connection:
            purchases = {
                str(row_id)
                for row_id in connection.scalars(
                    select(LedgerTransaction.id).where(LedgerTransaction.kind == "purchase")
                )
            }
            records = connection.execute(
                select(IdempotencyRecord.key, IdempotencyRecord.response_body)
            ).all()
            sums = (
                select(LedgerEntry.member_id, func.sum(LedgerEntry.points).label("points"))
                .group_by(LedgerEntry.member_id)
                .subquery()
            )
            balances = connection.execute(
                select(Member.points_balance, func.coalesce(sums.c.points, 0)).outerjoin(
                    sums, sums.c.member_id == Member.id
                )
            ).all()
            counts = (
                select(LedgerTransaction.member_id, func.count().label("n"))
                .group_by(LedgerTransaction.member_id)
                .subquery()
            )
            lengths = connection.execute(
                select(Member.ledger_length, func.coalesce(counts.c.n, 0)).outerjoin(
                    counts, counts.c.member_id == Member.id
                )
            ).all()
    finally:
        engine.dispose()
    recorded = Counter(str(body.get("transaction_id")) for _, body in records)
    seen = Counter(acknowledged)
    doubled = replay_mismatches  # a retry that got a new transaction instead of the first
    doubled += sum(n - 1 for n in seen.values() if n > 1)  # one answer seen twice
    doubled += sum(n - 1 for n in recorded.values() if n > 1)  # one purchase under two keys
    doubled += len(purchases - set(recorded))  # a purchase no retry would find
    check = LedgerCheck(
        acknowledged=len(acknowledged),
        purchases=len(purchases),
        lost=len(set(seen) - purchases),
        doubled=doubled,
        duplicate_keys=len(records) - len({key for key, _ in records}),
        orphan_records=len(set(recorded) - purchases),
        retried=retried,
        unacknowledged=len(purchases - set(seen)),
        balance_mismatches=sum(1 for cached, summed in balances if cached != summed),
        length_mismatches=sum(1 for cached, counted in lengths if cached != counted),
        members=len(balances),
    )
    history = sum(counted for _, counted in lengths) / max(len(lengths), 1)
    return check, history


def settle(url: str, timeout: float = 60.0) -> None:
    """Wait until no scan commits any more (the server finishes requests the client dropped)."""
    engine = create_engine(sync_database_url(url))
    try:
        last, stable_since = -1, time.monotonic()
        deadline = stable_since + timeout
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                count = connection.scalar(select(func.count()).select_from(IdempotencyRecord))
            if count != last:
                last, stable_since = count or 0, time.monotonic()
            elif time.monotonic() - stable_since >= 1.0:
                return
            time.sleep(0.2)
    finally:
        engine.dispose()


async def retry_cut_off(
    base_url: str, url: str, tenant: Tenant, acknowledged: list[str]
) -> tuple[list[str], int]:
    """Retry, as a till would, every committed scan whose 201 the client never read.

    Returns the transactions the retries answered with (each must be the first one) and
    how many retries got a different transaction, i.e. credited twice.
    """
    engine = create_engine(sync_database_url(url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(IdempotencyRecord.key, IdempotencyRecord.response_body)
            ).all()
    finally:
        engine.dispose()
    seen = set(acknowledged)
    # Stored keys are scoped to their caller ("<api key id>:<key>"); the till resends its own.
    pending = [
        (key.split(":", 1)[1], body) for key, body in rows if body.get("transaction_id") not in seen
    ]
    answered: list[str] = []
    mismatches = 0
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        for key, body in pending:
            barcode = issue_token(BARCODE_KEY, body["member"]["serial_number"])
            response = await http.post(
                SCAN_PATH,
                json={"barcode": barcode, "amount": SCAN_AMOUNT},
                headers={"Authorization": f"Bearer {tenant.pos_key}", "Idempotency-Key": key},
            )
            if response.status_code != 201:
                raise RuntimeError(f"retry answered {response.status_code}: {response.text}")
            transaction = response.json()["transaction_id"]
            answered.append(transaction)
            mismatches += transaction != body["transaction_id"]
    return answered, mismatches


# ---------------------------------------------------------------------------------------
# Server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    """One uvicorn worker serving the bench app on loopback."""

    process: subprocess.Popen[bytes]
    base_url: str
    log: Path
    database: str | None = None  # PostgreSQL database name, to find its backends' CPU

    @classmethod
    def start(
        cls,
        url: str,
        data_dir: Path,
        *,
        profile_dir: Path | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> Server:
        """``settings``: more ``WALLET_*`` variables for this server."""
        port = free_port()
        env = {
            **os.environ,
            "WALLET_DATABASE_URL": url,
            "WALLET_DATA_DIR": str(data_dir),
            "WALLET_SECRET_KEY": SECRET_KEY,
            "WALLET_PUBLIC_URL": f"http://127.0.0.1:{port}",
            # One key drives the whole load: the limiter is counted, never hit.
            "WALLET_RATE_LIMIT_SCANS": "1000000000/minute",
            **(settings or {}),
        }
        if profile_dir is None:
            command = [sys.executable, "-m", "uvicorn", "bench.bench_app:create_bench_app"]
            command += ["--factory", "--workers", "1", "--no-access-log", "--log-level"]
            command += ["warning", "--host", "127.0.0.1", "--port", str(port)]
        else:
            command = [sys.executable, "-m", "bench.bench_app", "--profile-dir"]
            command += [str(profile_dir), "--port", str(port)]
        log = data_dir / "server.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink, stderr=sink)
        parsed = make_url(url)
        database = parsed.database if parsed.get_backend_name() == "postgresql" else None
        server = cls(process, f"http://127.0.0.1:{port}", log, database)
        server.wait_ready()
        return server

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("server did not become ready")

    def send(self, number: int) -> None:
        self.process.send_signal(number)

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        """Graceful stop: uvicorn lets in-flight requests finish before it exits."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


TICK = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process (all its threads), from ``/proc``."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def postgres_cpu_seconds(database: str | None) -> float:
    """CPU of the PostgreSQL backends serving ``database`` (their title names it)."""
    total = 0.0
    if database is None:
        return total
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                if title.startswith("postgres:") and f" {database} " in title:
                    total += process_cpu_seconds(int(entry.name))
            except (OSError, UnicodeDecodeError):
                continue
    return total


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs."""
    line = Path("/proc/stat").read_text().splitlines()[0].split()
    values = [int(v) for v in line[1:9]]  # user nice system idle iowait irq softirq steal
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------------------------------
# Load generators


@dataclass(frozen=True)
class Load:
    """One phase's request stream."""

    label: str
    path: str
    seconds: float
    barcodes: tuple[str, ...]
    pos_key: str
    key_prefix: str  # Idempotency-Keys must not repeat across phases
    cap: int = MAX_REQUESTS
    connections: int = CONNECTIONS

    @property
    def is_scan(self) -> bool:
        return self.path == SCAN_PATH


WRK_SCRIPT = r"""
local threads = {}
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end
function init(args)
  path, prefix, key, cap = args[1], args[2], args[3], tonumber(args[5])
  bodies = {}
  for line in io.lines(args[4]) do
    bodies[#bodies + 1] = '{"barcode":"' .. line .. '","amount":AMOUNT}'
  end
  math.randomseed(os.time() * 1000 + id)
  seq, got, statuses, ids = 0, 0, {}, {}
end
function request()
  seq = seq + 1
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. key,
    ["Idempotency-Key"] = prefix .. "-" .. id .. "-" .. seq,
  }
  return wrk.format("POST", path, headers, bodies[math.random(#bodies)])
end
function response(status, headers, body)
  got = got + 1
  statuses[status] = (statuses[status] or 0) + 1
  if status == 201 then
    local txn = string.match(body, '"transaction_id":"([%x%-]+)"')
    if txn then ids[#ids + 1] = '"' .. txn .. '"' end
  end
  if got >= cap then wrk.thread:stop() end
end
function done(summary, latency, requests)
  local statuses, ids = {}, {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      statuses[status] = (statuses[status] or 0) + n
    end
    for _, txn in ipairs(thread:get("ids")) do ids[#ids + 1] = txn end
  end
  local parts = {}
  for status, n in pairs(statuses) do parts[#parts + 1] = '"' .. status .. '":' .. n end
  local e = summary.errors
  io.write("MARK", string.format(
    '{"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"socket_errors":%d,'
      .. '"statuses":{%s},"transaction_ids":[%s]}',
    summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout, table.concat(parts, ","), table.concat(ids, ",")
  ), "\n")
end
"""


def run_wrk(base_url: str, load: Load, workdir: Path) -> dict[str, Any]:
    """One wrk thread, 64 connections (by default): C does the client work, the cores stay
    with the server."""
    script = workdir / "scan.lua"
    amount = json.dumps(SCAN_AMOUNT, separators=(",", ":"))
    script.write_text(WRK_SCRIPT.replace("AMOUNT", amount).replace("MARK", RESULT_MARK))
    barcodes = workdir / "barcodes.txt"
    barcodes.write_text("\n".join(load.barcodes) + "\n")
    command = ["wrk", "-t1", f"-c{load.connections}", f"-d{load.seconds:g}s", "--timeout", "10s"]
    command += ["-s", str(script), base_url, "--", load.path, load.key_prefix, load.pos_key]
    command += [str(barcodes), str(load.cap)]
    output = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=load.seconds + 60
    ).stdout
    for line in output.splitlines():
        if line.startswith(RESULT_MARK):
            result: dict[str, Any] = json.loads(line[len(RESULT_MARK) :])
            return {
                "seconds": result["duration_us"] / 1e6,
                "statuses": result["statuses"],
                "socket_errors": result["socket_errors"],
                "p50_ms": result["p50_us"] / 1000,
                "p99_ms": result["p99_us"] / 1000,
                "max_ms": result["max_us"] / 1000,
                "transaction_ids": result["transaction_ids"],
            }
    raise RuntimeError(f"no result line in wrk output:\n{output}")


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return 0.0
    rank = max(1, int(fraction * len(sorted_values) + 0.999999))
    return sorted_values[min(rank, len(sorted_values)) - 1]


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    """Send one HTTP/1.1 request on a kept-alive connection; return (status, body)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def python_client(base_url: str, load: Load) -> dict[str, Any]:
    """A task per connection (64 by default), each on its own keep-alive connection; none
    starts a request after the deadline.

    Plain asyncio streams rather than httpx: on this box httpx's pool tops out near 150
    requests/s at 64 connections, which would make the bare baseline the client's speed.
    """
    address = httpx.URL(base_url)
    assert address.host == "127.0.0.1", "load tests target loopback only"
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    ids: list[str] = []
    errors = 0
    started = 0
    begin = time.perf_counter()
    deadline = begin + load.seconds

    def request(number: int, barcode: str) -> bytes:
        body = json.dumps({"barcode": barcode, "amount": SCAN_AMOUNT}).encode()
        head = (
            f"POST {load.path} HTTP/1.1\r\nHost: {address.host}:{address.port}\r\n"
            f"Authorization: Bearer {load.pos_key}\r\nContent-Type: application/json\r\n"
            f"Idempotency-Key: {load.key_prefix}-{number}-{started}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    async def worker(number: int) -> None:
        nonlocal errors, started
        rng = random.Random(number)  # choosing members, not secrets
        reader, writer = await asyncio.open_connection(address.host, address.port)
        try:
            while time.perf_counter() < deadline and started < load.cap:
                started += 1
                sent = time.perf_counter()
                try:
                    status, body = await _exchange(
                        reader, writer, request(number, rng.choice(load.barcodes))
                    )
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    errors += 1
                    break
                latencies.append(time.perf_counter() - sent)
                statuses[status] += 1
                if status == 201 and load.is_scan:
                    ids.append(json.loads(body)["transaction_id"])
        finally:
            writer.close()

    await asyncio.gather(*(worker(n) for n in range(load.connections)))
    elapsed = time.perf_counter() - begin
    latencies.sort()
    return {
        "seconds": elapsed,
        "statuses": {str(k): v for k, v in statuses.items()},
        "socket_errors": errors,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "max_ms": (latencies[-1] if latencies else 0.0) * 1000,
        "transaction_ids": ids,
    }


def run_python_client(base_url: str, load: Load, workdir: Path) -> dict[str, Any]:
    """The Python client in its own process, so it does not share the server's interpreter."""
    spec = workdir / "load.json"
    spec.write_text(json.dumps({"base_url": base_url, "load": asdict(load)}))
    command = [sys.executable, "-m", "bench.scan_bench", "--client-spec", str(spec)]
    output = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, check=True, timeout=load.seconds + 60
    ).stdout
    for line in output.splitlines():
        if line.startswith(RESULT_MARK):
            result: dict[str, Any] = json.loads(line[len(RESULT_MARK) :])
            return result
    raise RuntimeError(f"no result line in client output:\n{output}")


def client_main(spec_path: Path) -> int:
    spec = json.loads(spec_path.read_text())
    load = spec["load"]
    load["barcodes"] = tuple(load["barcodes"])
    result = asyncio.run(python_client(spec["base_url"], Load(**load)))
    print(RESULT_MARK + json.dumps(result))
    return 0


def run_phase(server: Server, load: Load, client: str, workdir: Path) -> Phase:
    """Drive one phase and account for the CPU every party spent in it."""
    server_cpu, client_cpu = server.cpu_seconds(), children_cpu_seconds()
    database_cpu, (busy, total) = postgres_cpu_seconds(server.database), machine_ticks()
    if client == "wrk":
        raw = run_wrk(server.base_url, load, workdir)
    else:
        raw = run_python_client(server.base_url, load, workdir)
    busy_after, total_after = machine_ticks()
    server_cpu = server.cpu_seconds() - server_cpu
    client_cpu = children_cpu_seconds() - client_cpu
    database_cpu = postgres_cpu_seconds(server.database) - database_cpu
    machine_cpu = (busy_after - busy) / TICK
    cpu = CpuUsage(
        server=server_cpu,
        client=client_cpu,
        database=database_cpu,
        machine_busy=(busy_after - busy) / max(total_after - total, 1),
        others=max(machine_cpu - server_cpu - client_cpu - database_cpu, 0.0),
    )
    statuses = {int(status): n for status, n in raw["statuses"].items()}
    return Phase(
        label=load.label,
        expected_status=201,
        seconds=raw["seconds"],
        statuses=statuses,
        socket_errors=raw["socket_errors"],
        p50_ms=raw["p50_ms"],
        p99_ms=raw["p99_ms"],
        max_ms=raw["max_ms"],
        transaction_ids=tuple(raw["transaction_ids"]),
        capped=sum(statuses.values()) >= load.cap,
        cpu=cpu,
    )


# ---------------------------------------------------------------------------------------
# One backend


def print_phase(backend: str, phase: Phase) -> None:
    cpu = phase.cpu_ms_per_request("server")
    cpu_text = f", server CPU {cpu:.2f} ms/req" if cpu is not None else ""
    print(
        f"  {backend:<10} {phase.label:<14} {phase.rate:8.1f} req/s  p50 {phase.p50_ms:7.1f} ms"
        f"  p99 {phase.p99_ms:7.1f} ms  max {phase.max_ms:7.1f} ms  ok {phase.ok}"
        f"  errors {phase.errors}{cpu_text}{' (request cap reached)' if phase.capped else ''}",
        flush=True,
    )


@dataclass
class Rig:
    """One seeded database and the requests it has answered so far."""

    backend: str
    url: str
    workdir: Path
    tenant: Tenant
    client: str
    barcodes: tuple[str, ...] = ()
    acknowledged: list[str] = field(default_factory=list)
    retried: int = 0
    mismatches: int = 0
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def phase(
        self,
        server: Server,
        label: str,
        path: str,
        seconds: float,
        *,
        connections: int = CONNECTIONS,
    ) -> Phase:
        prefix = f"bench-{self.tag}-{label}"  # Idempotency-Keys never repeat across phases
        load = Load(
            label,
            path,
            seconds,
            self.barcodes,
            self.tenant.pos_key,
            prefix,
            connections=connections,
        )
        result = run_phase(server, load, self.client, self.workdir)
        if load.is_scan:  # the other routes write nothing to check
            self.acknowledged += result.transaction_ids
        return result

    def answer_cut_off(self, server: Server) -> None:
        """Let dropped requests commit, then retry them as a till would."""
        settle(self.url)
        answered, mismatches = asyncio.run(
            retry_cut_off(server.base_url, self.url, self.tenant, self.acknowledged)
        )
        self.acknowledged += answered
        self.retried += len(answered)
        self.mismatches += mismatches


def measure(rig: Rig, run: BackendRun, seconds: float, members: int) -> None:
    """Bare endpoint, scans, then scans without database, each after a warm-up, on one
    server process."""
    server = Server.start(rig.url, rig.workdir)
    try:
        rig.barcodes = tuple(asyncio.run(enrol_members(server.base_url, rig.tenant, members)))
        warm = min(WARMUP_SECONDS, seconds)
        rig.phase(server, "warm-bare", BARE_PATH, warm)
        run.bare = rig.phase(server, "bare", BARE_PATH, seconds)
        print_phase(rig.backend, run.bare)
        rig.phase(server, "warm-scans", SCAN_PATH, warm)
        run.scans = rig.phase(server, "scans", SCAN_PATH, seconds)
        print_phase(rig.backend, run.scans)
        # After the scans: its in-memory ledgers must not weigh on them.
        rig.phase(server, "warm-no-db", NO_DATABASE_PATH, warm)
        run.without_database = rig.phase(server, "scans, no DB", NO_DATABASE_PATH, seconds)
        print_phase(rig.backend, run.without_database)
        rig.answer_cut_off(server)
    finally:
        server.stop()


def profile_scans(rig: Rig, seconds: float) -> ProfileSummary:
    """The scan phase again, on the same database, against a server under cProfile."""
    profile_dir = rig.workdir / "profile"
    server = Server.start(rig.url, rig.workdir, profile_dir=profile_dir)
    try:
        rig.phase(server, "warm-profile", SCAN_PATH, min(WARMUP_SECONDS, seconds))
        server.send(signal.SIGUSR1)
        profiled = rig.phase(server, "profiled", SCAN_PATH, min(PROFILE_SECONDS, seconds))
        server.send(signal.SIGUSR2)
        print_phase(rig.backend, profiled)
        rig.answer_cut_off(server)
    finally:
        server.stop()
    return read_profile_output(profile_dir, profiled.ok)


def bench_backend(
    backend: str, seconds: float, members: int, client: str, profile: str
) -> BackendRun:
    """Seed, serve, load, (profile) and check one backend in a throw-away database."""
    run = BackendRun(backend)
    with tempfile.TemporaryDirectory(prefix=f"scan-bench-{backend}-") as directory:
        workdir = Path(directory)
        with throwaway_database(backend, workdir) as url:
            rig = Rig(backend, url, workdir, asyncio.run(seed_tenant(url)), client)
            measure(rig, run, seconds, members)
            missed = not (run.verdicts()["throughput"] and run.verdicts()["p99"])
            if profile == "always" or (profile == "auto" and missed):
                run.profile = profile_scans(rig, seconds)
            run.ledger, run.history = check_ledger(
                url, rig.acknowledged, rig.retried, rig.mismatches
            )
            print(f"  {backend:<10} ledger check   {run.ledger.summary()}", flush=True)
    return run


# ---------------------------------------------------------------------------------------
# Report


def client_description(client: str) -> str:
    if client == "wrk":
        version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
        return f"{version.split(' [')[0].strip()}, 1 thread, {CONNECTIONS} connections"
    return f"Python asyncio streams, own process, {CONNECTIONS} connections"


def fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "—" if value is None else f"{value:{spec}}{suffix}"


def figure(phase: Phase | None, name: str) -> float | None:
    return None if phase is None else float(getattr(phase, name))


def results_table(runs: list[BackendRun]) -> str:
    rows = [
        "| backend | bare req/s | scans/s | ratio | scan p50 | scan p99 | bare p50 / p99"
        " | scans without database/s (ratio, p99) | errors | ledger check |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        if run.error is not None:
            rows.append(f"| {run.backend} | not run: {run.error} ||||||||")
            continue
        bare, scans, ceiling = run.bare, run.scans, run.without_database
        errors = sum(phase.errors for phase in (bare, scans, ceiling) if phase is not None)
        ledger = "—" if run.ledger is None else "OK" if run.ledger.passed else "**FAILED**"
        rows.append(
            f"| {run.backend} | {fmt(figure(bare, 'rate'), '.0f')}"
            f" | {fmt(figure(scans, 'rate'), '.1f')} | {fmt(run.ratio, '.1%')}"
            f" | {fmt(figure(scans, 'p50_ms'), '.0f', ' ms')}"
            f" | {fmt(figure(scans, 'p99_ms'), '.0f', ' ms')}"
            f" | {fmt(figure(bare, 'p50_ms'), '.1f')}"
            f" / {fmt(figure(bare, 'p99_ms'), '.1f', ' ms')}"
            f" | {fmt(figure(ceiling, 'rate'), '.0f')} ({fmt(run.share_of_bare(ceiling), '.0%')},"
            f" {fmt(figure(ceiling, 'p99_ms'), '.0f', ' ms')}) | {errors} | {ledger} |"
        )
    return "\n".join(rows)


def ledger_table(runs: list[BackendRun]) -> str:
    rows = [
        "| backend | purchases in the database | 201s received | of which cut off, then"
        " answered on retry | lost | doubled | unanswered | cached balance != ledger sum |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        check = run.ledger
        if check is None:
            continue
        rows.append(
            f"| {run.backend} | {check.purchases} | {check.acknowledged} | {check.retried}"
            f" | {check.lost} | {check.doubled} | {check.unacknowledged}"
            f" | {check.balance_mismatches} of {check.members} members |"
        )
    return "\n".join(rows)


def cpu_table(runs: list[BackendRun]) -> str:
    rows = [
        "| backend | endpoint | server CPU ms/req | database CPU ms/req | load generator"
        " CPU ms/req | machine busy | other processes |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        for phase in (run.bare, run.without_database, run.scans):
            if phase is None or phase.cpu is None:
                continue
            database = phase.cpu_ms_per_request("database") if run.backend != "sqlite" else None
            rows.append(
                f"| {run.backend} | {phase.label}"
                f" | {fmt(phase.cpu_ms_per_request('server'), '.2f')}"
                f" | {fmt(database, '.2f') if database is not None else 'in server'}"
                f" | {fmt(phase.cpu_ms_per_request('client'), '.2f')}"
                f" | {phase.cpu.machine_busy:.0%}"
                f" | {phase.cpu.others / phase.seconds:.2f} cores |"
            )
    return "\n".join(rows)


def targets_table(runs: list[BackendRun]) -> str:
    rows = ["| backend | scans >= 40% of bare | p99 < 50 ms | zero lost/doubled |"]
    rows.append("|---|---|---|---|")
    for run in runs:
        if run.error is not None:
            continue
        verdicts = run.verdicts()
        cells = ["met" if verdicts[k] else "**missed**" for k in ("throughput", "p99", "ledger")]
        rows.append(f"| {run.backend} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def profile_section(runs: list[BackendRun]) -> str:
    parts = []
    for run in runs:
        if run.profile is not None:
            parts.append(f"**{run.backend}**\n\n{run.profile.markdown()}")
    if not parts:
        return ""
    return (
        "### Where a scan's time goes\n\n"
        "A target was missed, so the scan phase ran again on the same database against\n"
        "the server under cProfile (`python -m bench.bench_app --profile-dir`). SQL\n"
        "statements are timed from cursor execute to result, lock waits included; the\n"
        "event-loop thread's own time is grouped by layer (profiler overhead inflates the\n"
        "layers that make many small calls).\n\n" + "\n\n".join(parts) + "\n"
    )


def ceiling_text(runs: list[BackendRun]) -> str:
    parts = []
    for run in runs:
        ceiling = run.share_of_bare(run.without_database)
        if ceiling is not None and run.without_database is not None:
            parts.append(
                f"{run.backend}: {ceiling:.0%} of the bare rate,"
                f" p99 {run.without_database.p99_ms:.0f} ms"
            )
    if not parts:
        return " not measured in this run."
    return " " + "; ".join(parts) + "."


def report_section(runs: list[BackendRun], seconds: float, members: int, client: str) -> str:
    import uvicorn

    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    histories = ", ".join(f"{r.backend} {r.history:.0f}" for r in runs if r.error is None)
    floor = CONNECTIONS / (TARGET_P99_MS / 1000)
    caveat = ""
    if client != "wrk":
        caveat = (
            "\n\n**The load generator was the Python fallback** (`wrk` not installed): it"
            " takes more CPU from the server than wrk, so both rates are a little lower than"
            " with wrk. Install `wrk` for figures comparable with earlier runs.\n"
        )
    return f"""
## Scans per second at {CONNECTIONS} connections, against a bare endpoint

`bench/scan_bench.py` starts one uvicorn worker (`--workers 1`, loopback) serving the
production app plus one bare route, `POST /bench/bare` (`bench/bench_app.py`: parses a
scan-shaped JSON body with a tiny pydantic model, answers a small JSON, no database). In the
same run and server process it drives {CONNECTIONS} concurrent keep-alive connections at
the bare route, then at `POST /api/v1/scans` (POS API key bound to a store, a random member
out of {members} per request, a fresh `Idempotency-Key` each), {seconds:g} s per phase after
a {min(WARMUP_SECONDS, seconds):g} s warm-up, capped at {MAX_REQUESTS:,} requests per phase.
Scans still in flight when the load generator closed its sockets at a deadline are
committed without the client reading their 201: once the database is quiet each is retried
as a till would (same `Idempotency-Key`, same body) and must answer the same transaction.
Then, server stopped, the ledger is checked: every 201 is exactly one purchase transaction
and every purchase was answered; each purchase has its idempotency record and keys are
unique; every member's cached balance equals the sum of its ledger entries, and its cached
ledger length its transaction count. Targets: scans/s >= {TARGET_RATIO:.0%} of the bare rate,
scan p99 < {TARGET_P99_MS:g} ms, no lost or doubled ledger entry.{caveat}

| | value |
|---|---|
| date | {date} |
| machine | {cpu_model()}, nproc {os.cpu_count()}, shared by server, database, load generator |
| server | Python {platform.python_version()}, uvicorn {uvicorn.__version__} (`--workers 1`) |
| load generator | {client_description(client)} |
| program | `coffee_shop_rules()`: points, tiers, cashback, stamps, rewards, expiry |
| ledger transactions per member at the end | {histories} |

{results_table(runs)}

{targets_table(runs)}

The column "scans without database" is a second control served by the same process:
`POST /bench/scan-without-database` does everything a scan does except talk to the
database (same request body and validation, session dependency, `Idempotency-Key`
fingerprint, barcode verification, the program's expiry, earn, tier and reward rules on the
member's growing ledger, the same answer), for a fixed caller with ledgers kept in memory.
It is the ceiling of any database design, even one that cost nothing:{ceiling_text(runs)}

{ledger_table(runs)}

With {CONNECTIONS} connections each waiting for its answer, mean latency is
{CONNECTIONS} / throughput (Little's law): a p99 under {TARGET_P99_MS:g} ms needs well over
{floor:,.0f} answers per second, so both targets ask for a scan that costs about as much as
the bare route. CPU per successful request, per party, over the measured phase (from
`/proc`; the last column is what other processes on this shared machine used meanwhile):

{cpu_table(runs)}

{profile_section(runs)}
Reproduce with `.venv/bin/python -m bench.scan_bench [--seconds N]
[--backend sqlite|postgresql|both]`; `make bench` runs it after the pkpass benchmark.
"""


# ---------------------------------------------------------------------------------------
# Entry point


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per phase")
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="both")
    parser.add_argument("--members", type=int, default=200, help="members enrolled")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--no-write", action="store_true", help="do not update the docs")
    parser.add_argument(
        "--profile",
        choices=["auto", "always", "never"],
        default="auto",
        help="profile the scan path after the run (auto: when a target is missed)",
    )
    parser.add_argument("--client-spec", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client_spec is not None:
        return client_main(args.client_spec)
    if not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must be in (0, {MAX_SECONDS:g}]")
    if not 1 <= args.members <= 10_000:
        parser.error("--members must be in [1, 10000]")
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
        if client == "python":
            print("wrk not found (apt-get install wrk): using the Python load generator")
    elif client == "wrk" and shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install wrk)")

    backends = list(BACKENDS) if args.backend == "both" else [args.backend]
    runs: list[BackendRun] = []
    for backend in backends:
        print(f"{backend}: seeding, {args.members} members, {args.seconds:g} s per phase ...")
        try:
            run = bench_backend(backend, args.seconds, args.members, client, args.profile)
        except Exception as exc:  # one backend down must not hide the other's figures
            print(f"  {backend}: not run: {exc!r}", file=sys.stderr)
            runs.append(BackendRun(backend, error=type(exc).__name__))
            continue
        runs.append(run)
        if run.profile is not None:
            print(f"\n{backend} profile:\n{run.profile.text()}\n")

    print()
    print(results_table(runs))
    print()
    print(targets_table(runs))
    print()
    print(ledger_table(runs))
    print()
    print(cpu_table(runs))
    if not args.no_write:
        write_section("scans", report_section(runs, args.seconds, args.members, client))
        print(f"\nupdated {DOC.relative_to(ROOT)}")
    if any(run.error is not None for run in runs):
        return 2
    return 0 if all(all(run.verdicts().values()) for run in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
