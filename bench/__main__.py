"""Run every benchmark in turn: ``python -m bench`` (what ``make bench`` runs), or some by
name: ``python -m bench fanout --devices 20000`` (options it does not know go to them).

Each benchmark runs in its own interpreter, so one cannot disturb the next: the pkpass
benchmark pins its process to one CPU, which a load test started from the same process
would inherit. Every benchmark runs even when an earlier one fails; the exit status is the
worst of theirs (0 all targets met, 1 a target missed, 2 or more a benchmark broke).
Options given here (``--no-write``) are passed to every benchmark.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

__all__ = ["BENCHMARKS", "main"]

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS: tuple[tuple[str, str], ...] = (
    ("pkpass", "bench.pkpass_bench"),
    ("scans", "bench.scan_bench"),
    ("history", "bench.history_bench"),
    ("login-flood", "bench.login_flood_bench"),
    ("fanout", "bench.fanout_bench"),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", choices=[name for name, _ in BENCHMARKS], action="append", help="repeatable"
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (all)")
    parser.add_argument("--no-write", action="store_true", help="do not update the docs")
    args, extra = parser.parse_known_args(argv)
    known = [name for name, _ in BENCHMARKS]
    if unknown := [name for name in args.names if name not in known]:
        parser.error(f"unknown benchmark {unknown[0]!r} (choose from {', '.join(known)})")
    chosen = set(args.names) | set(args.only or ())
    worst = 0
    for name, module in BENCHMARKS:
        if chosen and name not in chosen:
            continue
        print(f"== {name} ({module})", flush=True)
        command = [sys.executable, "-m", module, *(["--no-write"] if args.no_write else []), *extra]
        code = subprocess.run(command, cwd=ROOT, check=False).returncode
        print(f"== {name}: exit status {code}\n", flush=True)
        worst = max(worst, code if code >= 0 else 128 - code)  # killed by a signal
    return worst


if __name__ == "__main__":
    raise SystemExit(main())
