"""The real application plus one bare FastAPI route, for benchmarks that need a baseline.

``create_bench_app()`` builds exactly what production serves (``create_app`` with the
settings read from ``WALLET_*`` variables) and adds ``POST /bench/bare``: it parses a JSON
body shaped like a scan with a tiny pydantic model and answers a small JSON document,
touching no database. Served by the same uvicorn process as the scan endpoint, it measures
what the framework, the server and the load generator cost on this machine, so the scan
figures can be read as a fraction of it. ``POST /bench/scan-without-database`` is the
other control: everything ``POST /api/v1/scans`` does except talk to the database (same
body, session dependency, ``Idempotency-Key`` fingerprint, barcode verification, loyalty
rules and answer, on ledgers kept in memory for a fixed caller), i.e. the ceiling any
database design could reach::

    uvicorn bench.bench_app:create_bench_app --factory --workers 1

``python -m bench.bench_app --profile-dir DIR --port N`` serves the same app in-process
under cProfile instead: ``SIGUSR1`` starts profiling the event-loop thread and counting SQL
statements (with their round-trip time), ``SIGUSR2`` stops and writes ``DIR/profile.pstats``
and ``DIR/sql.json``, which :func:`read_profile_output` turns into a report.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import re
import signal
import time
import uuid
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from pathlib import Path
from types import FrameType
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import event
from sqlalchemy.engine import Engine

from wallet_service.accounts.posting import Account, PostingSource, new_context
from wallet_service.app import create_app
from wallet_service.config import Settings
from wallet_service.db.models import Member, MemberStatus, Program
from wallet_service.http.deps import IdempotencyKeyDep, SessionDep
from wallet_service.idempotency.records import IdempotentCall
from wallet_service.loyalty import LoyaltyProgram, MemberLedger
from wallet_service.loyalty.examples import coffee_shop_rules
from wallet_service.loyalty.rules import ProgramRules
from wallet_service.scanning.schemas import ScanCreate
from wallet_service.scanning.service import basket_of, purchase_answer, reward_choices
from wallet_service.scanning.token import verify_token

__all__ = [
    "BARE_PATH",
    "NO_DATABASE_PATH",
    "BareAmount",
    "BareRead",
    "BareScan",
    "ProfileSummary",
    "SqlStatement",
    "create_bench_app",
    "read_profile_output",
    "serve_profiled",
]

BARE_PATH = "/bench/bare"
NO_DATABASE_PATH = "/bench/scan-without-database"


class BareAmount(BaseModel):
    value: Decimal
    currency: str = Field(min_length=3, max_length=3)


class BareScan(BaseModel):
    """The scan payload's shape, without any of its meaning."""

    barcode: str = Field(min_length=1, max_length=512)
    amount: BareAmount


class BareRead(BaseModel):
    ok: bool
    barcode_length: int
    value: Decimal


def create_bench_app(settings: Settings | None = None) -> FastAPI:
    """The production app with ``POST /bench/bare`` added (uvicorn ``--factory`` target)."""
    app = create_app(settings)

    @app.post(BARE_PATH, status_code=status.HTTP_201_CREATED, include_in_schema=False)
    async def bare(data: BareScan) -> BareRead:
        return BareRead(ok=True, barcode_length=len(data.barcode), value=data.amount.value)

    _add_scan_without_database(app)
    return app


def _add_scan_without_database(app: FastAPI) -> None:
    loyalty = LoyaltyProgram(ProgramRules.from_dict(coffee_shop_rules()))
    program = Program(id=uuid.uuid4(), rules=loyalty.rules.to_dict())
    caller = uuid.uuid4()
    source = PostingSource(api_key_id=caller)
    accounts: dict[str, Account] = {}

    def account_of(serial: str) -> Account:
        if serial not in accounts:
            member = Member(
                id=uuid.UUID(serial),
                serial_number=serial,
                given_name="Bench",
                family_name="Member",
                status=MemberStatus.active,
            )
            ledger = MemberLedger(loyalty.rules.currency, ())
            accounts[serial] = Account(member, program, loyalty, ledger)
        return accounts[serial]

    @app.post(NO_DATABASE_PATH, status_code=status.HTTP_201_CREATED, include_in_schema=False)
    async def scan_without_database(
        request: Request,
        data: ScanCreate,
        session: SessionDep,  # opened and closed as for a scan, never connected
        idempotency_key: IdempotencyKeyDep,
    ) -> JSONResponse:
        IdempotentCall.for_caller(
            caller, idempotency_key or "", request.url.path, data.model_dump(mode="json")
        )
        keys = request.app.state.barcode_keys
        serial = verify_token(keys.active, data.barcode, previous_secrets=keys.retired)
        at = request.app.state.clock.now()
        account = account_of(serial)
        expiry = loyalty.expire_due_points(account.ledger, new_context(source, at, "expiry"))
        ledger = account.ledger if expiry is None else expiry.ledger
        outcome = loyalty.record_purchase(ledger, basket_of(data), new_context(source, at))
        account = replace(account, ledger=outcome.posting.ledger)
        accounts[serial] = account
        body = purchase_answer(account, outcome, at, reward_choices(account, at, {}))
        return JSONResponse(body.model_dump(mode="json"), status_code=status.HTTP_201_CREATED)


# ---------------------------------------------------------------------------------------
# Profiled serving


@dataclass
class SqlStatement:
    """One kind of SQL statement: how often it ran and its summed round-trip time."""

    statement: str
    count: int = 0
    seconds: float = 0.0


class _SqlCounter:
    """Counts cursor executions per statement shape while ``active``."""

    def __init__(self) -> None:
        self.active = False
        self.statements: dict[str, SqlStatement] = {}

    @staticmethod
    def shape(statement: str) -> str:
        """``SELECT ... FROM member FOR UPDATE``, ``UPDATE api_key SET last_used_at``, ..."""
        words = re.sub(r"\s+", " ", statement).strip().replace('"', "")
        if words.upper().startswith("SELECT"):
            table = re.search(r" FROM (\w+)", words)
            lock = " FOR UPDATE" if "FOR UPDATE" in words.upper() else ""
            return f"SELECT ... FROM {table.group(1) if table else '?'}{lock}"
        for pattern in (r"^(INSERT INTO \w+)", r"^(UPDATE \w+ SET \w+)", r"^(DELETE FROM \w+)"):
            match = re.match(pattern, words, re.IGNORECASE)
            if match:
                assignments = words.partition(" SET ")[2].partition(" WHERE ")[0]
                return match.group(1) + (", ..." if "," in assignments else "")
        return words[:60]

    def before(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        context = args[-2]
        if self.active and context is not None:
            context._bench_started = time.perf_counter()

    def after(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        context = args[-2]
        started = getattr(context, "_bench_started", None)
        if not self.active or started is None:
            return
        row = self.statements.setdefault(self.shape(statement), SqlStatement(self.shape(statement)))
        row.count += 1
        row.seconds += time.perf_counter() - started


def serve_profiled(profile_dir: Path, port: int) -> None:
    """Serve the bench app on loopback; profile between ``SIGUSR1`` and ``SIGUSR2``."""
    import uvicorn

    profile_dir.mkdir(parents=True, exist_ok=True)
    profiler = cProfile.Profile()
    sql = _SqlCounter()
    event.listen(Engine, "before_cursor_execute", sql.before)
    event.listen(Engine, "after_cursor_execute", sql.after)
    window: dict[str, float] = {}

    def start(_signum: int, _frame: FrameType | None) -> None:
        window["started"] = time.perf_counter()
        sql.active = True
        profiler.enable()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        profiler.disable()
        sql.active = False
        profiler.dump_stats(profile_dir / "profile.pstats")
        seconds = time.perf_counter() - window.get("started", time.perf_counter())
        statements = [asdict(s) for s in sql.statements.values()]
        (profile_dir / "sql.json").write_text(
            json.dumps({"seconds": seconds, "statements": statements})
        )

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    config = uvicorn.Config(
        "bench.bench_app:create_bench_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        access_log=False,
        log_level="warning",
    )
    uvicorn.Server(config).run()


_LAYERS = (
    ("wallet_service/loyalty/", "loyalty domain (pure rules)"),
    ("wallet_service/", "wallet_service (routers, services, accounts)"),
    ("/sqlalchemy/", "SQLAlchemy (ORM, Core, compiler)"),
    ("/psycopg", "psycopg driver"),
    ("/aiosqlite/", "aiosqlite driver"),
    ("/fastapi/", "FastAPI / Starlette"),
    ("/starlette/", "FastAPI / Starlette"),
    ("/pydantic", "pydantic"),
    ("/uvicorn/", "uvicorn / h11"),
    ("/h11/", "uvicorn / h11"),
    ("/asyncio/", "asyncio event loop"),
    ("selectors.py", "asyncio event loop"),
)


def _layer(filename: str, function: str) -> str:
    if function == "<method 'poll' of 'select.epoll' objects>":
        return "idle: event loop waiting on sockets"
    if filename == "~":
        return "C built-ins (json, hmac, uuid, sockets, ...)"
    for fragment, layer in _LAYERS:
        if fragment in filename:
            return layer
    return "other stdlib"


@dataclass(frozen=True)
class ProfileSummary:
    """Where the profiled scans spent their time, normalised per posted scan."""

    seconds: float
    scans: int  # purchases posted inside the window (requests overlap its edges)
    statements: list[SqlStatement]
    layers: list[tuple[str, float]]  # own time of the event-loop thread, seconds
    hottest: str

    def per_scan_ms(self, seconds: float) -> float:
        return seconds * 1000 / max(self.scans, 1)

    @property
    def statements_per_scan(self) -> float:
        return sum(s.count for s in self.statements) / max(self.scans, 1)

    @property
    def sql_ms_per_scan(self) -> float:
        return self.per_scan_ms(sum(s.seconds for s in self.statements))

    def text(self) -> str:
        lines = [
            f"profiled window {self.seconds:.1f} s, {self.scans} scans posted",
            f"SQL statements per scan {self.statements_per_scan:.1f},"
            f" summed round trip {self.sql_ms_per_scan:.2f} ms per scan",
            "  per scan     ms/scan   ms/call  statement",
        ]
        for s in self.statements:
            lines.append(
                f"  {s.count / max(self.scans, 1):8.2f}  {self.per_scan_ms(s.seconds):9.2f}"
                f"  {s.seconds * 1000 / max(s.count, 1):8.2f}  {s.statement}"
            )
        total = sum(seconds for _, seconds in self.layers) or 1.0
        lines += ["", "event-loop thread, own time by layer (cProfile overhead included):"]
        for layer, seconds in self.layers:
            lines.append(
                f"  {seconds / total:6.1%}  {self.per_scan_ms(seconds):7.2f} ms/scan  {layer}"
            )
        return "\n".join([*lines, "", "hottest functions by own time:", self.hottest])

    def markdown(self, top: int = 6) -> str:
        rows = [
            f"{self.scans} scans posted in a {self.seconds:.0f} s profiled window;"
            f" {self.statements_per_scan:.1f} SQL statements per scan, summed round trip"
            f" {self.sql_ms_per_scan:.1f} ms per scan.",
            "",
            "| slowest statements | per scan | ms per call | ms per scan |",
            "|---|---:|---:|---:|",
        ]
        for s in self.statements[:top]:
            rows.append(
                f"| `{s.statement}` | {s.count / max(self.scans, 1):.2f}"
                f" | {s.seconds * 1000 / max(s.count, 1):.2f} | {self.per_scan_ms(s.seconds):.2f} |"
            )
        total = sum(seconds for _, seconds in self.layers) or 1.0
        rows += ["", "| event-loop thread, own time by layer | share | ms per scan |"]
        rows.append("|---|---:|---:|")
        for layer, seconds in self.layers:
            rows.append(f"| {layer} | {seconds / total:.0%} | {self.per_scan_ms(seconds):.2f} |")
        return "\n".join(rows)


def read_profile_output(profile_dir: Path, answered: int) -> ProfileSummary:
    """Summarise what ``serve_profiled`` wrote for a window in which ``answered`` scans ended."""
    data = json.loads((profile_dir / "sql.json").read_text())
    statements = sorted(
        (SqlStatement(**row) for row in data["statements"]), key=lambda s: -s.seconds
    )
    posted = [s.count for s in statements if s.statement.startswith("INSERT INTO ledger_trans")]
    stats = pstats.Stats(str(profile_dir / "profile.pstats"), stream=io.StringIO())
    layers: dict[str, float] = {}
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    for (filename, _, function), (_, _, own, _, _) in raw.items():
        layer = _layer(filename, function)
        layers[layer] = layers.get(layer, 0.0) + own
    buffer = io.StringIO()
    stats.stream = buffer  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(20)
    body = buffer.getvalue()
    return ProfileSummary(
        seconds=data["seconds"],
        scans=posted[0] if posted else answered,
        statements=statements,
        layers=sorted(layers.items(), key=lambda item: -item[1]),
        hottest=body[body.find("   ncalls") :].rstrip(),
    )


def _main() -> None:
    parser = argparse.ArgumentParser(description="Serve the bench app under cProfile.")
    parser.add_argument("--profile-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    serve_profiled(args.profile_dir, args.port)


if __name__ == "__main__":
    _main()
