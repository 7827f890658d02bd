"""Request bodies over the documented size get 413 before they are parsed or authenticated.

The limit is 1 MB (``WALLET_MAX_BODY_BYTES``) and 64 KB for the anonymous PassKit log route.
A declared ``Content-Length`` over the limit is refused without reading a byte; a chunked or
under-declared body is counted as it arrives and reading stops at the limit.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.test_problems import assert_problem
from tests.live_server import LiveServer, serve

MB = 1024 * 1024
LOG_LIMIT = 64 * 1024


async def _chunks(total: int, counter: list[int], size: int = 64 * 1024) -> AsyncIterator[bytes]:
    chunk = b" " * size
    sent = 0
    while sent < total:
        piece = chunk[: min(size, total - sent)]
        counter.append(len(piece))
        sent += len(piece)
        yield piece


async def test_a_declared_body_over_1_mb_is_refused_unread_and_before_authentication(
    client: httpx.AsyncClient,
) -> None:
    pulled: list[int] = []
    response = await client.post(
        "/api/v1/scans",
        content=_chunks(5 * MB, pulled),
        headers={"Content-Type": "application/json", "Content-Length": str(5 * MB)},
    )
    problem = assert_problem(response, 413, "payload_too_large")
    assert str(MB) in str(problem["detail"])
    assert pulled == []  # not one byte of the body was read


async def test_a_chunked_body_over_1_mb_is_refused_and_read_no_further_than_the_limit(
    client: httpx.AsyncClient,
) -> None:
    pulled: list[int] = []
    response = await client.post("/api/v1/scans", content=_chunks(50 * MB, pulled))
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "payload_too_large")
    assert MB < sum(pulled) <= MB + 64 * 1024


async def test_a_body_of_exactly_1_mb_goes_through_to_the_route(
    client: httpx.AsyncClient,
) -> None:
    body = b"{}" + b" " * (MB - 2)  # valid JSON, exactly at the limit
    response = await client.post(
        "/api/v1/scans", content=body, headers={"Content-Type": "application/json"}
    )
    # Past the size check: the route's own answer, here to a caller without credentials.
    assert_problem(response, 401, "authentication_required")


async def test_the_anonymous_device_log_route_takes_at_most_64_kb(
    client: httpx.AsyncClient,
) -> None:
    message = "x" * 1_000
    fits = {"logs": [message] * 60}  # about 60 KB of JSON
    too_big = {"logs": [message] * 66}  # about 66 KB: under 1 MB, over the route's limit
    assert (await client.post("/passkit/v1/log", json=fits)).status_code == 200
    assert_problem(await client.post("/passkit/v1/log", json=too_big), 413, "payload_too_large")
    pulled: list[int] = []
    chunked = await client.post("/passkit/v1/log", content=_chunks(MB, pulled))
    assert_problem(chunked, 413, "payload_too_large")
    assert sum(pulled) <= LOG_LIMIT + 64 * 1024


@pytest.mark.parametrize(
    "logs",
    [["x" * 2_001], ["short"] * 101],
    ids=["a message over 2000 characters", "over 100 messages"],
)
async def test_device_log_messages_are_capped_in_length_and_number(
    client: httpx.AsyncClient, logs: list[str]
) -> None:
    response = await client.post("/passkit/v1/log", json={"logs": logs})
    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"]


# A real server: the memory a 200 MB upload costs is the server process's, not the test's.


def _vm_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for process {pid}")


def _stream(total: int) -> Iterator[bytes]:
    chunk = b"x" * (256 * 1024)  # one buffer, sent 800 times: the test itself stays small
    for _ in range(total // len(chunk)):
        yield chunk


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    with serve(tmp_path) as server:
        yield server


def test_a_200_mb_unauthenticated_upload_gets_413_and_leaves_the_server_memory_flat(
    live_server: LiveServer,
) -> None:
    url, pid = live_server.url, live_server.pid
    size = 200 * MB
    # Reset the peak resident size (VmHWM) to the current one: start-up's peak is not ours.
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    before = _vm_kb(pid, "VmHWM")
    started = time.monotonic()
    for headers in ({"Content-Length": str(size)}, {}):
        with httpx.Client(timeout=60) as http:
            response = http.post(
                f"{url}/api/v1/scans",
                content=_stream(size),
                headers={"Content-Type": "application/json", **headers},
            )
        assert response.status_code == 413, response.text
        assert response.json()["code"] == "payload_too_large"
    assert time.monotonic() - started < 30
    # The peak during the uploads, not just what is left after them.
    grown_mb = (_vm_kb(pid, "VmHWM") - before) / 1024
    assert grown_mb < 50, f"the server grew by {grown_mb:.0f} MB"
