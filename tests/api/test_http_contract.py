"""What HTTP itself promises clients: 405 answers say what is allowed."""

from __future__ import annotations

from typing import Any

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


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    ]


async def test_every_operation_documents_its_errors_as_problem_json(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/openapi.json")).json()
    schemas = schema["components"]["schemas"]
    assert "HTTPValidationError" not in schemas  # FastAPI's default 422, not what we send
    for method, path, operation in _operations(schema):
        if path == "/readyz":
            continue  # its 503 is the readiness report itself, documented as JSON
        errors = {
            status: answer
            for status, answer in operation["responses"].items()
            if status.startswith(("4", "5"))
        }
        for status, answer in errors.items():
            where = f"{method} {path} {status}"
            assert list(answer["content"]) == ["application/problem+json"], where
            reference = answer["content"]["application/problem+json"]["schema"]["$ref"]
            expected = "ValidationProblem" if status == "422" else "Problem"
            assert reference == f"#/components/schemas/{expected}", where
        takes_parameters = operation.get("parameters") or "requestBody" in operation
        if takes_parameters:
            assert "422" in errors, f"{method} {path}"
        if "application/json" in operation.get("requestBody", {}).get("content", {}):
            assert "400" in errors, f"{method} {path}: malformed JSON is a 400"
    assert {"errors"} <= schemas["ValidationProblem"]["properties"].keys()
    assert {"type", "title", "status", "detail", "code"} <= set(schemas["Problem"]["required"])


async def test_routes_that_answer_400_document_it(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for method, path in [
        ("post", "/api/v1/scans"),
        ("post", "/api/v1/stores"),
        (
            "get",
            "/passkit/v1/devices/{device_library_identifier}/registrations/{pass_type_identifier}",
        ),
    ]:
        assert "400" in paths[path][method]["responses"], f"{method} {path}"


async def test_the_readiness_report_documents_its_503(client: httpx.AsyncClient) -> None:
    responses = (await client.get("/openapi.json")).json()["paths"]["/readyz"]["get"]["responses"]
    assert "application/json" in responses["503"]["content"]
