"""Google's side of Google Wallet save/delete callbacks, for the tests.

``GooglePassesSigner`` holds what Google holds: a root signing key (P-256) whose public half
it publishes, and an intermediate key signed by the root. It seals callback messages exactly
as Google does for ECv2SigningOnly (the scheme of Tink's ``PaymentMethodTokenRecipient``):

* intermediate key: ``signedKey`` = ``{"keyValue": <base64 DER SPKI>, "keyExpiration":
  "<ms>"}``, signed by the root over ``LV("GooglePayPasses") LV("ECv2SigningOnly")
  LV(signedKey)``;
* message: ``signedMessage`` = ``{"classId", "objectId", "eventType", "expTimeMillis",
  "count", "nonce"}`` as a JSON string, signed by the intermediate key over
  ``LV("GooglePayPasses") LV(<recipient = issuer id>) LV("ECv2SigningOnly")
  LV(signedMessage)``;

``LV(s)`` being UTF-8 ``s`` after its byte length as 4 little-endian bytes, signatures
ECDSA P-256 SHA-256 in DER, all base64. Written here independently of the service's
verifier, so a shared mistake cannot make both agree.

``GoogleKeysStandIn`` serves the published root keys over real HTTP on 127.0.0.1 at
``/gp/m/issuer/keys``, in the shape of ``https://pay.google.com/gp/m/issuer/keys``:
``{"keys": [{"keyValue", "protocolVersion", "keyExpiration"}]}``.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
import uuid
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

import uvicorn
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SENDER = "GooglePayPasses"
PROTOCOL = "ECv2SigningOnly"
KEYS_PATH = "/gp/m/issuer/keys"


def _lv(*chunks: str) -> bytes:
    out = b""
    for chunk in chunks:
        raw = chunk.encode("utf-8")
        out += len(raw).to_bytes(4, byteorder="little") + raw
    return out


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _spki(key: ec.EllipticCurvePrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def _sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> str:
    return base64.b64encode(key.sign(data, ec.ECDSA(hashes.SHA256()))).decode()


class GooglePassesSigner:
    """Google's keys for one test: a published root and an intermediate it signed."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.root = ec.generate_private_key(ec.SECP256R1())
        self.root_expires = now + timedelta(days=365)
        self.intermediate = ec.generate_private_key(ec.SECP256R1())
        self.intermediate_expires = now + timedelta(days=7)

    def keys_document(self, *extra: dict[str, str]) -> dict[str, Any]:
        """What Google publishes: the root key, plus any ``extra`` entries."""
        entry = {
            "keyValue": _spki(self.root),
            "protocolVersion": PROTOCOL,
            "keyExpiration": str(_millis(self.root_expires)),
        }
        return {"keys": [entry, *extra]}

    def message(
        self,
        object_id: str,
        *,
        event_type: str = "save",
        nonce: str | None = None,
        expires: datetime | None = None,
    ) -> str:
        """A ``signedMessage`` as Google writes it."""
        issuer, _, _ = object_id.partition(".")
        return json.dumps(
            {
                "classId": f"{issuer}.program-{uuid.uuid4()}",
                "objectId": object_id,
                "eventType": event_type,
                "expTimeMillis": _millis(expires or self.now + timedelta(hours=1)),
                "count": 1,
                "nonce": nonce or str(uuid.uuid4()),
            },
            separators=(",", ":"),
        )

    def seal(
        self,
        signed_message: str,
        *,
        recipient_id: str,
        intermediate: ec.EllipticCurvePrivateKey | None = None,
        intermediate_expires: datetime | None = None,
        root: ec.EllipticCurvePrivateKey | None = None,
    ) -> dict[str, Any]:
        """The callback body Google posts for ``signed_message`` to ``recipient_id``."""
        intermediate = intermediate or self.intermediate
        expires = intermediate_expires or self.intermediate_expires
        signed_key = json.dumps(
            {"keyValue": _spki(intermediate), "keyExpiration": str(_millis(expires))},
            separators=(",", ":"),
        )
        return {
            "signature": _sign(intermediate, _lv(SENDER, recipient_id, PROTOCOL, signed_message)),
            "intermediateSigningKey": {
                "signedKey": signed_key,
                "signatures": [_sign(root or self.root, _lv(SENDER, PROTOCOL, signed_key))],
            },
            "protocolVersion": PROTOCOL,
            "signedMessage": signed_message,
        }

    def callback(self, object_id: str, *, recipient_id: str, **message: Any) -> dict[str, Any]:
        """A signed callback about ``object_id``; ``message`` as for :meth:`message`."""
        return self.seal(self.message(object_id, **message), recipient_id=recipient_id)


class GoogleKeysStandIn:
    """Serves ``document`` at ``/gp/m/issuer/keys``; counts ``fetches``; ``status`` other
    than 200 makes it answer that error instead."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.status = 200
        self.cache_control = "public, max-age=3600"
        self.fetches = 0
        self.lock = threading.Lock()
        self._base_url: str | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.app = Starlette(routes=[Route(KEYS_PATH, self._keys, methods=["GET"])])

    @property
    def keys_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("GoogleKeysStandIn is not started")
        return self._base_url + KEYS_PATH

    def publish(self, document: dict[str, Any]) -> None:
        with self.lock:
            self.document, self.status, self.fetches = document, 200, 0

    async def _keys(self, request: Request) -> Response:
        with self.lock:
            self.fetches += 1
            if self.status != 200:
                return JSONResponse({"error": "unavailable"}, status_code=self.status)
            return JSONResponse(self.document, headers={"Cache-Control": self.cache_control})

    def start(self, timeout: float = 15.0) -> Self:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(
            uvicorn.Config(self.app, log_level="warning", lifespan="off", access_log=False)
        )
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="google-keys", daemon=True
        )
        self._server, self._thread, self._socket = server, thread, sock
        self._base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the Google keys stand-in did not start")
            time.sleep(0.02)
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
