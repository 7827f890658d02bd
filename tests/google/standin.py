"""A local stand-in for Google's OAuth2 token endpoint and the Google Wallet REST API.

``GoogleStandIn`` serves, over real HTTP on 127.0.0.1, the two halves of Google that a
Google Wallet issuer talks to:

* ``POST /token``: the OAuth2 token endpoint for the JWT-bearer grant (RFC 7523) that
  ``google.oauth2.service_account.Credentials`` performs. The assertion must be RS256, signed by
  a key registered with ``trust()`` for its ``iss``, carry ``aud`` (the stand-in's token URI or
  Google's ``https://oauth2.googleapis.com/token``, which google-auth always sends), a
  short-lived ``iat``/``exp`` and the wallet issuer scope. Errors are OAuth2-shaped:
  400 ``{"error": "invalid_grant", "error_description": ...}``.
* ``/walletobjects/v1/...``: ``loyaltyClass`` and ``loyaltyObject`` insert, get, update (PUT),
  patch and ``addMessage``, on the paths of Google's discovery document ``walletobjects.v1.json``.
  Every call needs ``Authorization: Bearer <token issued by /token>``. Errors use Google's JSON
  error shape ``{"error": {"code", "message", "status", "errors": [{"reason", ...}]}}``.

Objects keep their ``messages`` as Google does: ``addMessage`` appends one, a PATCH that
leaves ``messages`` out keeps them, a PUT (update) replaces the whole object, messages
included. ``notifyPreference`` is ephemeral, as Google documents it: never stored, but each
update that carried ``NOTIFY_ON_UPDATE``, and each ``TEXT_AND_NOTIFY`` message, is logged in
``notifications``.

The state (``classes``, ``objects``, ``calls``, ``notifications``) is plain Python data the
tests can read and seed.
"""

from __future__ import annotations

import copy
import json
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import jwt
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

JsonObject = dict[str, Any]

WALLET_SCOPE = "https://www.googleapis.com/auth/wallet_object.issuer"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# google-auth puts Google's token URI in ``aud`` whatever ``token_uri`` the key names.
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
DEFAULT_CLIENT_EMAIL = "wallet@test-project.iam.gserviceaccount.com"
TOKEN_LIFETIME_SECONDS = 3600
CLOCK_SKEW_SECONDS = 60
API_PREFIX = "/walletobjects/v1"

# google.rpc.Code names for the HTTP statuses Google maps them to.
STATUS_NAMES: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

_MISSING_CREDENTIALS = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, "
    "login cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
_INVALID_CREDENTIALS = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, "
    "login cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
_BAD_TIMEFRAME = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
    "Check your iat and exp values in the JWT claim."
)


def service_account_key(
    token_uri: str, client_email: str = DEFAULT_CLIENT_EMAIL
) -> tuple[dict[str, str], rsa.RSAPublicKey]:
    """A fresh RSA-2048 key as Google's service-account JSON key file, plus its public key."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    project_id = client_email.partition("@")[2].split(".", 1)[0] or "test-project"
    info = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": client_email,
        "client_id": str(secrets.randbelow(9 * 10**20) + 10**20),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": (
            "https://www.googleapis.com/robot/v1/metadata/x509/" + client_email.replace("@", "%40")
        ),
        "universe_domain": "googleapis.com",
    }
    return info, private_key.public_key()


@dataclass(frozen=True)
class Call:
    """One request to the Wallet API (the token endpoint is not recorded here)."""

    method: str
    path: str
    json: Any
    bearer: str | None
    query: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Notification:
    """A notification Google would have shown the pass's holders."""

    resource_id: str
    via: str  # "update" (notifyPreference on PUT/PATCH) or "message" (TEXT_AND_NOTIFY)
    changed: tuple[str, ...] = ()  # for an update: the top-level fields whose value changed


@dataclass(frozen=True)
class IssuedToken:
    client_email: str
    scope: str
    expires_at: float  # time.time()


class GoogleError(Exception):
    """Raised inside handlers; rendered in Google's JSON error shape."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message


class OAuthError(Exception):
    """Raised inside the token endpoint; rendered as an OAuth2 error response."""

    def __init__(self, error: str, description: str, code: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.code = code


def google_error_body(code: int, reason: str, message: str) -> JsonObject:
    """The JSON body Google APIs answer an error with."""
    return {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": reason}],
            "status": STATUS_NAMES.get(code, "UNKNOWN"),
        }
    }


def _google_error_response(error: GoogleError) -> JSONResponse:
    headers = {}
    if error.code == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="https://accounts.google.com/"'
    return JSONResponse(
        google_error_body(error.code, error.reason, error.message),
        status_code=error.code,
        headers=headers,
    )


class GoogleStandIn:
    """The stand-in app plus the uvicorn server that runs it in a background thread.

    Use as a context manager (or ``start()``/``stop()``). ``base_url``, ``token_uri`` and
    ``api_root`` are known once started. Handlers and tests share the state below; handlers hold
    ``lock`` while they touch it.
    """

    def __init__(self) -> None:
        self.classes: dict[str, JsonObject] = {}
        self.objects: dict[str, JsonObject] = {}
        self.calls: list[Call] = []
        self.notifications: list[Notification] = []
        self.issued_tokens: dict[str, IssuedToken] = {}
        self.trusted_keys: dict[str, rsa.RSAPublicKey] = {}
        self.lock = threading.Lock()
        self._failures: deque[tuple[int, str, str]] = deque()
        self._base_url: str | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.app = Starlette(
            routes=[
                Route("/token", self._token, methods=["POST"]),
                Route(API_PREFIX + "/{collection}", self._insert, methods=["POST"]),
                Route(
                    API_PREFIX + "/{collection}/{resource_id}",
                    self._resource,
                    methods=["GET", "PUT", "PATCH"],
                ),
                Route(
                    API_PREFIX + "/{collection}/{resource_id}/addMessage",
                    self._add_message,
                    methods=["POST"],
                ),
            ],
            exception_handlers={HTTPException: self._http_exception},
        )

    # -- addresses ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("GoogleStandIn is not started")
        return self._base_url

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    @property
    def api_root(self) -> str:
        return f"{self.base_url}{API_PREFIX}"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 15.0) -> Self:
        if self._server is not None:
            raise RuntimeError("GoogleStandIn is already started")
        # Bound before the server starts, so no other process can take the port in between.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                log_level="warning",
                lifespan="off",
                access_log=False,
                timeout_graceful_shutdown=2,
            )
        )
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="google-standin", daemon=True
        )
        self._server, self._thread, self._socket = server, thread, sock
        self._base_url = f"http://127.0.0.1:{port}"
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the Google stand-in did not start")
            time.sleep(0.02)
        # Started means listening; make sure a connection is really accepted.
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            pass
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None
        self._base_url = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- test controls -----------------------------------------------------------------------

    def trust(self, client_email: str, public_key: rsa.RSAPublicKey) -> None:
        """Accept JWT-bearer assertions from ``client_email`` signed by ``public_key``."""
        with self.lock:
            self.trusted_keys[client_email] = public_key

    def fail_next(self, status: int, reason: str, message: str | None = None) -> None:
        """Make the next (authenticated) API call answer this Google-style error.

        Calls queue up: ``fail_next`` twice fails the next two calls, in order.
        """
        with self.lock:
            self._failures.append((status, reason, message or f"Injected failure: {reason}"))

    def expire_tokens(self) -> None:
        """Forget every issued access token, as if they had all expired."""
        with self.lock:
            self.issued_tokens.clear()

    def reset(self) -> None:
        """Back to a clean state: no resources, calls, tokens, trusted keys or failures."""
        with self.lock:
            self.classes.clear()
            self.objects.clear()
            self.calls.clear()
            self.notifications.clear()
            self.issued_tokens.clear()
            self.trusted_keys.clear()
            self._failures.clear()

    # -- token endpoint ----------------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        form = await request.form()
        grant_type = form.get("grant_type")
        assertion = form.get("assertion")
        try:
            if grant_type != JWT_BEARER_GRANT:
                raise OAuthError("unsupported_grant_type", f"Invalid grant_type: {grant_type}")
            if not isinstance(assertion, str) or not assertion:
                raise OAuthError("invalid_request", "Missing required parameter: assertion")
            token = self._grant(assertion)
        except OAuthError as error:
            return JSONResponse(
                {"error": error.error, "error_description": error.description},
                status_code=error.code,
                headers={"Cache-Control": "no-store"},
            )
        return JSONResponse(
            {"access_token": token, "expires_in": TOKEN_LIFETIME_SECONDS, "token_type": "Bearer"},
            headers={"Cache-Control": "no-store"},
        )

    def _grant(self, assertion: str) -> str:
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError as error:
            raise OAuthError("invalid_grant", f"Invalid JWT: {error}") from error
        if header.get("alg") != "RS256":
            raise OAuthError("invalid_grant", "Invalid JWT Signature.")
        issuer = unverified.get("iss")
        if not isinstance(issuer, str):
            raise OAuthError("invalid_grant", "Invalid JWT: the iss claim is missing.")
        with self.lock:
            public_key = self.trusted_keys.get(issuer)
        if public_key is None:
            raise OAuthError("invalid_grant", "Invalid grant: account not found")
        try:
            claims = jwt.decode(
                assertion,
                public_key,
                algorithms=["RS256"],
                audience=[self.token_uri, GOOGLE_TOKEN_URI],
                options={"require": ["iss", "aud", "iat", "exp"]},
                leeway=CLOCK_SKEW_SECONDS,
            )
        except jwt.InvalidSignatureError as error:
            raise OAuthError("invalid_grant", "Invalid JWT Signature.") from error
        except (
            jwt.ExpiredSignatureError,
            jwt.ImmatureSignatureError,
            jwt.InvalidIssuedAtError,
        ) as error:
            raise OAuthError("invalid_grant", _BAD_TIMEFRAME) from error
        except jwt.InvalidAudienceError as error:
            raise OAuthError(
                "invalid_grant", f"Invalid JWT: Failed audience check. {error}"
            ) from error
        except jwt.PyJWTError as error:
            raise OAuthError("invalid_grant", f"Invalid JWT: {error}") from error
        lifetime = int(claims["exp"]) - int(claims["iat"])
        if not 0 < lifetime <= TOKEN_LIFETIME_SECONDS:
            raise OAuthError("invalid_grant", _BAD_TIMEFRAME)
        scope = claims.get("scope")
        if not isinstance(scope, str) or not scope.strip():
            raise OAuthError("invalid_scope", "Empty or missing scope not allowed.")
        if WALLET_SCOPE not in scope.split():
            raise OAuthError("invalid_scope", f"Scope {WALLET_SCOPE} was not requested.")
        token = "ya29.standin-" + secrets.token_urlsafe(32)
        with self.lock:
            self.issued_tokens[token] = IssuedToken(
                client_email=issuer,
                scope=scope,
                expires_at=time.time() + TOKEN_LIFETIME_SECONDS,
            )
        return token

    # -- Wallet API --------------------------------------------------------------------------

    async def _http_exception(self, request: Request, exc: Exception) -> Response:
        code = exc.status_code if isinstance(exc, HTTPException) else 500
        if request.url.path.startswith(API_PREFIX):
            await self._record(request)
        reason = "notFound" if code == 404 else "badRequest"
        return _google_error_response(
            GoogleError(code, reason, f"{request.method} {request.url.path}: {exc}")
        )

    async def _record(self, request: Request) -> tuple[Call, Any, bool]:
        """Log the call; return it with its parsed JSON body and whether that body was JSON."""
        raw = await request.body()
        body: Any = None
        is_json = True
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                is_json = False
        authorization = request.headers.get("authorization", "")
        scheme, _, credentials = authorization.partition(" ")
        bearer = credentials.strip() if scheme.lower() == "bearer" else None
        call = Call(
            method=request.method,
            path=request.url.path,
            json=body,
            bearer=bearer,
            query=dict(request.query_params),
        )
        with self.lock:
            self.calls.append(call)
        return call, body, is_json

    def _authenticate(self, request: Request, call: Call) -> None:
        if "authorization" not in request.headers:
            raise GoogleError(401, "required", _MISSING_CREDENTIALS)
        with self.lock:
            issued = self.issued_tokens.get(call.bearer) if call.bearer else None
        if issued is None or issued.expires_at <= time.time():
            raise GoogleError(401, "authError", _INVALID_CREDENTIALS)

    def _collection(self, request: Request) -> dict[str, JsonObject]:
        name = request.path_params["collection"]
        if name == "loyaltyClass":
            return self.classes
        if name == "loyaltyObject":
            return self.objects
        raise GoogleError(404, "notFound", f"The stand-in does not serve {name}.")

    async def _api(
        self,
        request: Request,
        handler: Callable[[Request, Any], JsonObject],
    ) -> Response:
        call, body, is_json = await self._record(request)
        try:
            self._authenticate(request, call)
            with self.lock:
                failure = self._failures.popleft() if self._failures else None
            if failure is not None:
                raise GoogleError(*failure)
            if not is_json:
                raise GoogleError(400, "parseError", "Invalid JSON payload received.")
            result = handler(request, body)
        except GoogleError as error:
            return _google_error_response(error)
        return JSONResponse(result)

    def _require_object(self, body: Any) -> JsonObject:
        if not isinstance(body, dict):
            raise GoogleError(400, "invalid", "The request body must be a JSON object.")
        return body

    def _check_id(self, resource: JsonObject, resource_id: str | None = None) -> str:
        given = resource.get("id")
        if resource_id is None:
            if not isinstance(given, str) or not given:
                raise GoogleError(400, "required", "Required field id is missing.")
            return given
        if given is not None and given != resource_id:
            raise GoogleError(
                400,
                "invalidResource",
                f"Resource id {given!r} does not match the id in the URL {resource_id!r}.",
            )
        return resource_id

    def _check_class(self, collection: dict[str, JsonObject], resource: JsonObject) -> None:
        if collection is not self.objects:
            return
        class_id = resource.get("classId")
        if not isinstance(class_id, str) or not class_id:
            raise GoogleError(400, "required", "Required field classId is missing.")
        if class_id not in self.classes:
            raise GoogleError(
                400,
                "invalidResource",
                f"The class {class_id} referenced by classId does not exist.",
            )

    def _existing(self, collection: dict[str, JsonObject], resource_id: str) -> JsonObject:
        stored = collection.get(resource_id)
        if stored is None:
            raise GoogleError(404, "resourceNotFound", f"Resource not found: {resource_id}.")
        return stored

    async def _insert(self, request: Request) -> Response:
        def insert(request: Request, body: Any) -> JsonObject:
            collection = self._collection(request)
            resource = self._require_object(body)
            resource_id = self._check_id(resource)
            with self.lock:
                self._check_class(collection, resource)
                if resource_id in collection:
                    raise GoogleError(409, "duplicate", f"Resource already exists: {resource_id}.")
                stored = copy.deepcopy(resource)
                stored.pop("notifyPreference", None)  # nobody holds a new pass: nothing to notify
                collection[resource_id] = stored
                return copy.deepcopy(stored)

        return await self._api(request, insert)

    async def _resource(self, request: Request) -> Response:
        def handle(request: Request, body: Any) -> JsonObject:
            collection = self._collection(request)
            resource_id: str = request.path_params["resource_id"]
            with self.lock:
                stored = self._existing(collection, resource_id)
                if request.method == "GET":
                    return copy.deepcopy(stored)
                resource = copy.deepcopy(self._require_object(body))
                self._check_id(resource, resource_id)
                preference = resource.pop("notifyPreference", None)  # ephemeral: never stored
                if request.method == "PUT":  # update replaces the object, messages included
                    updated = {**resource, "id": resource_id}
                else:  # PATCH merges top-level fields: what it leaves out is kept.
                    updated = {**copy.deepcopy(stored), **resource}
                self._check_class(collection, updated)
                collection[resource_id] = updated
                if preference == "NOTIFY_ON_UPDATE":
                    changed = tuple(
                        sorted(
                            key
                            for key in set(stored) | set(updated)
                            if stored.get(key) != updated.get(key)
                        )
                    )
                    self.notifications.append(Notification(resource_id, "update", changed))
                return copy.deepcopy(updated)

        return await self._api(request, handle)

    async def _add_message(self, request: Request) -> Response:
        def add_message(request: Request, body: Any) -> JsonObject:
            collection = self._collection(request)
            resource_id: str = request.path_params["resource_id"]
            request_body = self._require_object(body)
            message = request_body.get("message")
            if not isinstance(message, dict):
                raise GoogleError(400, "required", "Required field message is missing.")
            with self.lock:
                stored = self._existing(collection, resource_id)
                messages = stored.setdefault("messages", [])
                if not isinstance(messages, list):
                    raise GoogleError(500, "backendError", "Stored messages is not a list.")
                messages.append(copy.deepcopy(message))
                if message.get("messageType") == "TEXT_AND_NOTIFY":
                    self.notifications.append(Notification(resource_id, "message"))
                return {"resource": copy.deepcopy(stored)}

        return await self._api(request, add_message)
