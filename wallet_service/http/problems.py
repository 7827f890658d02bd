"""RFC 9457 problem responses: the one place where errors become HTTP.

Every error body is ``application/problem+json`` with ``type``, ``title``, ``status``,
``detail`` and a stable ``code`` that clients can switch on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from wallet_service import errors
from wallet_service.http.access_log import redact
from wallet_service.loyalty.errors import DomainError

__all__ = [
    "PROBLEM_CONTENT_TYPE",
    "Problem",
    "ValidationIssue",
    "ValidationProblem",
    "install_problem_handlers",
    "problem_response",
    "responses",
]

PROBLEM_CONTENT_TYPE = "application/problem+json"
logger = logging.getLogger(__name__)

_STATUS_BY_ERROR: dict[type[errors.WalletError], int] = {
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.AuthenticationRequired: 401,
    errors.PermissionDenied: 403,
    errors.InvalidRequest: 422,
    errors.BadRequest: 400,
    errors.TooManyRequests: 429,
    errors.ServiceUnavailable: 503,
    errors.UpstreamError: 502,
}

# The loyalty domain's errors carry a code and no HTTP; their status is decided here.
_STATUS_BY_DOMAIN_CODE = {
    "insufficient_points": 409,
    "insufficient_cashback": 409,
    "insufficient_stamps": 409,
    "reward_out_of_stock": 409,
    "already_reversed": 409,
    "not_reversible": 409,
    "duplicate_transaction": 409,
    "bonus_already_awarded": 409,
    "reward_not_found": 404,
    "unknown_transaction": 404,
    "ledger_integrity_violation": 500,
}

_CODE_BY_STATUS = {
    400: "bad_request",
    401: "authentication_required",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
}


class Problem(BaseModel):
    """RFC 9457 problem details, as documented in OpenAPI."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None


class ValidationIssue(BaseModel):
    """One refused field of a 422: where, why, and pydantic's error type."""

    loc: list[str]
    msg: str
    type: str


class ValidationProblem(Problem):
    """A 422 problem. ``validation_error`` lists the refused fields in ``errors``; the rules'
    refusals (``invalid_amount``, ``invalid_program_rules``, ...) carry none."""

    errors: list[ValidationIssue] | None = None


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the problem statuses a route can answer."""
    return {
        status: {
            "model": ValidationProblem if status == 422 else Problem,
            "description": HTTPStatus(status).phrase,
            # Marks the answer as a problem: the OpenAPI hook below moves its schema here.
            "content": {PROBLEM_CONTENT_TYPE: {}},
        }
        for status in statuses
    }


_COMPONENTS = "#/components/schemas/"


def _problem_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` document problems as ``application/problem+json``.

    FastAPI files every ``responses=`` model under ``application/json`` and adds its own
    ``HTTPValidationError`` 422; neither is what clients receive. Every operation taking a
    JSON body also answers 400 ``malformed_json``, so it is documented here once.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _document_problems(generate())
        return generate()

    app.openapi = openapi  # type: ignore[method-assign]


def _document_problems(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    model_schema = ValidationProblem.model_json_schema(ref_template=_COMPONENTS + "{model}")
    components.update(model_schema.pop("$defs", {}))
    components[ValidationProblem.__name__] = model_schema
    components[Problem.__name__] = Problem.model_json_schema(ref_template=_COMPONENTS + "{model}")
    problem = {"$ref": _COMPONENTS + Problem.__name__}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            answers = operation.setdefault("responses", {})
            for status, answer in answers.items():
                content = answer.get("content", {})
                json_schema = content.get("application/json", {}).get("schema", {})
                default_422 = json_schema.get("$ref") == _COMPONENTS + "HTTPValidationError"
                if PROBLEM_CONTENT_TYPE in content or default_422:
                    model = ValidationProblem if status == "422" else Problem
                    answer["content"] = {
                        PROBLEM_CONTENT_TYPE: {"schema": {"$ref": _COMPONENTS + model.__name__}}
                    }
            if "application/json" in operation.get("requestBody", {}).get("content", {}):
                answers.setdefault(
                    "400",
                    {
                        "description": "Bad Request: the body is not valid JSON",
                        "content": {PROBLEM_CONTENT_TYPE: {"schema": problem}},
                    },
                )
            operation["responses"] = dict(sorted(answers.items()))
    components.pop("HTTPValidationError", None)
    if f'"{_COMPONENTS}ValidationError"' not in json.dumps(schema):
        components.pop("ValidationError", None)  # only FastAPI's default 422 used it


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:wallet-service:problem:{code}",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    # Extension members never override the standard ones.
    body.update({k: v for k, v in (extensions or {}).items() if k not in body})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_CONTENT_TYPE, headers=headers)


def _status_for(error: errors.WalletError) -> int:
    for cls in type(error).__mro__:
        if cls in _STATUS_BY_ERROR:
            return _STATUS_BY_ERROR[cls]
    return 400


async def _wallet_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.WalletError)
    status = _status_for(exc)
    scheme = exc.scheme if isinstance(exc, errors.AuthenticationRequired) else "Bearer"
    headers = {"WWW-Authenticate": scheme} if status == 401 else None
    if isinstance(exc, errors.TooManyRequests):
        headers = {"Retry-After": str(exc.retry_after)}
    return problem_response(
        status,
        exc.code,
        exc.detail,
        title=exc.title,
        instance=request.url.path,
        headers=headers,
        extensions=exc.extra,
    )


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    status = _STATUS_BY_DOMAIN_CODE.get(exc.code, 422)
    if status >= 500:
        logger.error("domain invariant broken on %s: %s", redact(request.url.path), exc.message)
    return problem_response(
        status, exc.code, exc.message, instance=request.url.path, extensions=exc.details
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = exc.errors()
    if any(p.get("type") == "json_invalid" for p in problems):
        return problem_response(
            400, "malformed_json", "The request body is not valid JSON.", instance=request.url.path
        )
    # "input" is left out on purpose: it may echo passwords or personal data back.
    details = [
        {
            "loc": [str(part) for part in p.get("loc", ())],
            "msg": p.get("msg", ""),
            "type": p.get("type", ""),
        }
        for p in problems
    ]
    unknown = [
        _field_path(p.get("loc", ())) for p in problems if p.get("type") == "extra_forbidden"
    ]
    detail = "The request is not valid: see errors."
    if unknown:  # named in the detail too: the usual cause is a misspelt field
        detail = f"Unknown field(s) {', '.join(unknown)}: the request is not valid, see errors."
    return problem_response(
        422, "validation_error", detail, instance=request.url.path, extensions={"errors": details}
    )


def _field_path(loc: Sequence[object]) -> str:
    """``("body", "amount", "cents")`` -> ``amount.cents``; list items as ``[0]``."""
    parts = list(loc[1:] if loc and loc[0] == "body" else loc)
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _CODE_BY_STATUS.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        allowed = _allowed_methods(request)
        if allowed:  # a mounted app (static files) keeps the header it set itself
            headers["Allow"] = ", ".join(allowed)
    return problem_response(
        exc.status_code, code, detail, instance=request.url.path, headers=headers or None
    )


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path.

    Starlette's 405 names only the methods of the first route matching the path, while
    FastAPI declares one route per method: ``DELETE /stores`` would say ``Allow: GET``.
    """
    routes = [r for r in request.app.router.routes if not isinstance(r, Mount)]
    path, root_path = request.scope["path"], request.scope.get("root_path", "")
    allowed = []
    for method in _METHODS:
        scope = {"type": "http", "path": path, "root_path": root_path, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in routes):
            allowed.append(method)
    return allowed


async def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    # Two requests raced to create the same thing; the loser gets a clean, retryable 409.
    logger.info("conflicting concurrent write on %s", redact(request.url.path))
    return problem_response(
        409,
        "conflict",
        "The request conflicts with a change made at the same moment; retry it.",
        instance=request.url.path,
    )


async def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
    logger.info("value out of range on %s: %s", redact(request.url.path), type(exc).__name__)
    return problem_response(
        422,
        "value_out_of_range",
        "A value in the request is too large to be stored.",
        instance=request.url.path,
    )


# SQLite's words for "another writer holds the lock"; other operational errors are faults.
_BUSY_MARKERS = ("database is locked", "database is busy", "database table is locked")


def _database_unreachable(exc: OperationalError) -> bool:
    # PostgreSQL refused or dropped the connection (down, restarting, failing over): the
    # driver's OperationalError, or a connection SQLAlchemy found dead mid-request.
    return exc.connection_invalidated or type(exc.orig).__module__.startswith("psycopg")


async def _database_busy(request: Request, exc: Exception) -> JSONResponse:
    # Overload, not a fault: no connection came free, or SQLite's write lock stayed taken,
    # within the wait. Nothing was written, so retrying (same Idempotency-Key) is safe.
    if isinstance(exc, OperationalError) and _database_unreachable(exc):
        logger.warning("database unreachable on %s: %s", redact(request.url.path), type(exc.orig))
        return problem_response(
            503,
            "database_unavailable",
            "The database cannot be reached; nothing was changed. Retry with the same request.",
            instance=request.url.path,
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, OperationalError) and not any(m in str(exc) for m in _BUSY_MARKERS):
        return await _unexpected_error(request, exc)
    logger.warning("database busy on %s: %s", redact(request.url.path), type(exc).__name__)
    return problem_response(
        503,
        "database_busy",
        "The service is busy; nothing was changed. Retry in a moment with the same request.",
        instance=request.url.path,
        headers={"Retry-After": "1"},
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, redact(request.url.path))
    return problem_response(
        500, "internal_error", "Something went wrong on our side.", instance=request.url.path
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error as a problem, and document them so in ``/openapi.json``."""
    _problem_openapi(app)
    app.add_exception_handler(errors.WalletError, _wallet_error)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DataError, _out_of_range)
    app.add_exception_handler(OverflowError, _out_of_range)
    app.add_exception_handler(PoolTimeout, _database_busy)
    app.add_exception_handler(OperationalError, _database_busy)
    app.add_exception_handler(Exception, _unexpected_error)
