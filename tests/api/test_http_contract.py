"""What HTTP itself promises clients: 405 answers say what is allowed."""

from __future__ import annotations

import httpx
import pytest

from tests.api.test_problems import assert_problem


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/v1/stores", "GET, POST"),
        ("PUT", "/api/v1/stores/3fa85f64-5717-4562-b3fc-2c963f66afa6", "GET, PATCH"),
        ("PATCH", "/api/v1/api-keys/3fa85f64-5717-4562-b3fc-2c963f66afa6", "GET, DELETE"),
        ("GET", "/api/v1/scans", "POST"),
        ("PUT", "/healthz", "GET"),
        ("DELETE", "/static/web.css", "GET, HEAD"),  # the static files' own answer, kept
        (
            "GET",
            "/passkit/v1/devices/d/registrations/pass.x/serial",
            "POST, DELETE",
        ),
    ],
)
async def test_a_wrong_method_is_a_405_problem_whose_allow_header_lists_every_method(
    client: httpx.AsyncClient, method: str, path: str, allowed: str
) -> None:
    response = await client.request(method, path)
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == allowed
