"""The operator CLI: migrations and the idempotent demo merchant."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def _cli(
    data_dir: Path, *args: str, database_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WALLET_DATA_DIR": str(data_dir)}
    env.pop("WALLET_DATABASE_URL", None)
    if database_url:
        env["WALLET_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "wallet_service.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    result = _cli(tmp_path, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    return tmp_path


def test_db_upgrade_creates_the_sqlite_database_in_the_data_dir(data_dir: Path) -> None:
    assert (data_dir / "wallet.db").exists()


def test_demo_is_idempotent_and_prints_working_credentials(data_dir: Path) -> None:
    first = _cli(data_dir, "demo", "--json")
    second = _cli(data_dir, "demo", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == json.loads(second.stdout)
    seed = json.loads(first.stdout)
    assert len(seed["store_ids"]) == 2
    assert seed["pos_api_key"].startswith("wsk_")
    assert (data_dir / "demo-credentials.json").stat().st_mode & 0o077 == 0

    import sqlite3

    with sqlite3.connect(data_dir / "wallet.db") as db:
        counts = {
            table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("merchant", "program", "store", "staff_user", "api_key")
        }
    assert counts == {"merchant": 1, "program": 1, "store": 2, "staff_user": 2, "api_key": 1}
    assert seed["member_barcode"].startswith("LW1.")


def test_merchant_staff_and_apikey_commands(data_dir: Path) -> None:
    assert (
        _cli(data_dir, "merchant", "create", "--name", "Le Fournil", "--slug", "fournil").returncode
        == 0
    )
    duplicate = _cli(data_dir, "merchant", "create", "--name", "Again", "--slug", "fournil")
    assert duplicate.returncode == 1 and "merchant_exists" in duplicate.stderr
    staff = _cli(
        data_dir, "staff", "create", "--merchant", "fournil", "--email", "boss@fournil.example"
    )
    assert staff.returncode == 0, staff.stderr
    assert "password:" in staff.stdout
    key = _cli(data_dir, "apikey", "create", "--merchant", "fournil", "--name", "Till")
    assert key.returncode == 0 and key.stdout.startswith("wsk_")
    unknown = _cli(data_dir, "apikey", "create", "--merchant", "nobody", "--name", "Till")
    assert unknown.returncode == 1 and "merchant_not_found" in unknown.stderr
