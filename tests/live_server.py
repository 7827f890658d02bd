"""The real application under uvicorn in its own process, on a loopback socket.

For what only a separate server process shows: its memory, and the log lines uvicorn
writes. The socket is bound here and handed to uvicorn (``--fd``), so no other process can
take the port in between. The database is a fresh, migrated SQLite file in ``data_dir``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from wallet_service.db import migrate

__all__ = ["LiveServer", "serve"]


@dataclass(frozen=True)
class LiveServer:
    url: str
    pid: int


@contextmanager
def serve(
    data_dir: Path,
    *,
    log_level: str = "warning",
    output: IO[bytes] | None = None,
    settings: dict[str, str] | None = None,
) -> Iterator[LiveServer]:
    """Run ``uvicorn wallet_service.app:create_app --factory``; ``output`` gets its logs,
    ``settings`` are extra ``WALLET_*`` variables."""
    database_url = f"sqlite:///{data_dir / 'wallet.db'}"
    migrate.upgrade(database_url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    env = {
        **os.environ,
        "WALLET_ENVIRONMENT": "test",
        "WALLET_DATA_DIR": str(data_dir),
        "WALLET_DATABASE_URL": database_url,
        "WALLET_PUBLIC_URL": url,
        "WALLET_SECRET_KEY": "live-server-test-secret-0123456789abcdef",
        **(settings or {}),
    }
    command = ["-m", "uvicorn", "wallet_service.app:create_app", "--factory", "--no-use-colors"]
    server = subprocess.Popen(
        [sys.executable, *command, f"--log-level={log_level}", "--fd", str(sock.fileno())],
        env=env,
        cwd=data_dir,  # no stray .env is read
        pass_fds=[sock.fileno()],
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, "uvicorn exited"
            assert time.monotonic() < deadline, "uvicorn did not start"
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield LiveServer(url, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=10)
        sock.close()
