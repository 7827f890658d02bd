"""Schemathesis against our own OpenAPI: no 500s and no answer outside the schema, for every
operation, as an owner, a cashier and a POS key.

The server is the real app under uvicorn on loopback, seeded by ``wallet-service demo``.
Bounded in ``make test`` (``WALLET_FUZZ_EXAMPLES``, default 8 per operation and caller,
derandomised so CI is repeatable); ``make fuzz`` runs many more, randomly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.live_server import LiveServer, serve

EXAMPLES = int(os.environ.get("WALLET_FUZZ_EXAMPLES", "8"))
# Everything but "valid data must be accepted" and "invalid data must be refused": random
# ids of things that do not exist are valid data that rightly gets 404.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict]]:
    data_dir = tmp_path_factory.mktemp("fuzz")

    def cli(*arguments: str, **settings: str) -> str:
        env = {**os.environ, "WALLET_ENVIRONMENT": "test", "WALLET_DATA_DIR": str(data_dir)}
        env.update({f"WALLET_{name.upper()}": value for name, value in settings.items()})
        command = [sys.executable, "-m", "wallet_service.cli", *arguments]
        done = subprocess.run(command, env=env, cwd=data_dir, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    cli("certs", "dev")  # Apple Wallet on, so its routes do their real work
    # Rate limits off: the fuzzer is one client sending thousands of requests on purpose.
    with serve(data_dir, settings={"WALLET_RATE_LIMITS_ENABLED": "false"}) as server:
        demo = cli(
            "demo",
            "--json",
            database_url=f"sqlite:///{data_dir / 'wallet.db'}",
            public_url=server.url,
            secret_key="live-server-test-secret-0123456789abcdef",
        )
        yield server, json.loads(demo)


@pytest.fixture(scope="module")
def callers(fuzz_server: tuple[LiveServer, dict]) -> dict[str, str]:
    server, demo = fuzz_server

    def token(email: str, password: str) -> str:
        answer = httpx.post(
            f"{server.url}/api/v1/auth/token", data={"username": email, "password": password}
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    return {
        "owner": token(demo["owner_email"], demo["owner_password"]),
        "cashier": token(demo["cashier_email"], demo["cashier_password"]),
        "pos key": demo["pos_api_key"],
    }


def _operations(server: LiveServer) -> list[APIOperation]:
    loaded = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    return [result.ok() for result in loaded.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_operation_answers_500_or_outside_its_schema(
    mode: GenerationMode, callers: dict[str, str], fuzz_server: tuple[LiveServer, dict]
) -> None:
    """Valid requests (positive) and schema-breaking ones (negative), to every operation."""
    server, _ = fuzz_server
    operations = _operations(server)
    assert len(operations) >= 30
    failures: dict[str, str] = {}
    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize="WALLET_FUZZ_EXAMPLES" not in os.environ,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def fuzz(case: schemathesis.Case) -> None:
            # Each request as each kind of caller: what one may do, another is refused,
            # and every answer must be in the schema either way.
            for secret in callers.values():
                headers = {"Authorization": f"Bearer {secret}"}
                case.call_and_validate(base_url=server.url, headers=headers, checks=CHECKS)

        try:
            fuzz()
        except Unsatisfiable:
            continue  # no way to break the schema of an operation without parameters
        # One report for all operations, not the first only; schemathesis raises groups.
        except (Exception, BaseExceptionGroup) as failure:
            failures[f"{operation.method.upper()} {operation.path}"] = str(failure)[:600]
    assert not failures, "\n\n".join(f"{op}:\n{why}" for op, why in failures.items())
