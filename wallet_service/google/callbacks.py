"""Google Wallet's save and delete callbacks: parse the POST Google sends and verify it.

Google signs each callback with *ECv2SigningOnly*, the signing half of Google Pay's
``PaymentMethodToken`` ECv2 scheme (Tink's ``PaymentMethodTokenRecipient`` is Google's own
verifier). The body is ``{protocolVersion, signature, intermediateSigningKey: {signedKey,
signatures}, signedMessage}``:

1. one of ``signatures`` verifies, under one of Google's *root* keys (published at
   ``https://pay.google.com/gp/m/issuer/keys`` for the protocol, each with its
   ``keyExpiration``), the bytes ``LV(sender) LV(protocolVersion) LV(signedKey)``;
2. ``signedKey`` is ``{keyValue, keyExpiration}``: the *intermediate* key, not yet expired;
3. ``signature`` verifies, under the intermediate key, ``LV(sender) LV(recipient)
   LV(protocolVersion) LV(signedMessage)``;

where ``LV(s)`` is the UTF-8 bytes of ``s`` after their length as 4 little-endian bytes, the
sender is ``GooglePayPasses``, the recipient is the issuer id, keys are base64 DER
SubjectPublicKeyInfo (P-256) and signatures base64 DER ECDSA with SHA-256. Then
``signedMessage``, a JSON string, says ``{classId, objectId, eventType: "save"|"del",
expTimeMillis, count, nonce}``; an expired message is refused too.

Pure verification here, no database: every refusal is an :class:`InvalidCallback` (400) with
a stable code, or :class:`InvalidCallbackMessage` (422) for a verified message we cannot
read. :class:`GoogleRootKeys` fetches and caches the root keys.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from wallet_service.clock import Clock
from wallet_service.errors import BadRequest, InvalidRequest, ServiceUnavailable

__all__ = [
    "DEFAULT_KEYS_URL",
    "PROTOCOL_VERSION",
    "SENDER_ID",
    "CallbackEvent",
    "CallbackKeysUnavailable",
    "GoogleRootKeys",
    "InvalidCallback",
    "InvalidCallbackMessage",
    "RootKey",
    "SealedCallback",
    "length_value",
    "open_callback",
    "parse_callback",
    "parse_root_keys",
]

logger = logging.getLogger(__name__)

SENDER_ID = "GooglePayPasses"
PROTOCOL_VERSION = "ECv2SigningOnly"
DEFAULT_KEYS_URL = "https://pay.google.com/gp/m/issuer/keys"
MAX_NONCE_CHARS = 255
RETRY_AFTER_FAILURE = timedelta(minutes=1)
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_MAX_AGE = re.compile(r"max-age=(\d+)")

EventType = Literal["save", "del"]


class InvalidCallback(BadRequest):
    """A callback body we cannot trust; ``code`` says why.

    ``google_callback_malformed``, ``google_callback_protocol``,
    ``google_callback_bad_signature``, ``google_callback_key_expired``,
    ``google_callback_expired``, ``google_callback_wrong_recipient``.
    """

    default_code = "google_callback_malformed"
    title = "Invalid Google Wallet callback"


class InvalidCallbackMessage(InvalidRequest):
    """A genuine, well-formed callback whose message we cannot read (no nonce, an unknown
    ``eventType``, ...): 422, as for any well-formed but unacceptable request."""

    default_code = "google_callback_invalid_message"
    title = "Unreadable Google Wallet callback"


class CallbackKeysUnavailable(ServiceUnavailable):
    """Google's root keys could not be had: Google retries the callback later."""

    default_code = "google_callback_keys_unavailable"
    title = "Google's signing keys are unavailable"


@dataclass(frozen=True, slots=True)
class RootKey:
    public_key: ec.EllipticCurvePublicKey
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SealedCallback:
    """A callback body, well formed but not verified yet."""

    protocol_version: str
    signature: bytes
    signed_key: str
    key_signatures: tuple[bytes, ...]
    signed_message: str
    claimed: dict[str, Any] = field(repr=False)  # the message as it says, unverified

    @property
    def claimed_issuer_id(self) -> str:
        """The issuer the (unverified) message names: which merchants it may be for."""
        object_id = self.claimed.get("objectId")
        if not isinstance(object_id, str) or "." not in object_id:
            raise InvalidCallback("The callback names no object.")
        return object_id.split(".", 1)[0]


@dataclass(frozen=True, slots=True)
class CallbackEvent:
    """A verified save or delete of one object by its holder."""

    class_id: str
    object_id: str
    event_type: EventType
    expires_at: datetime
    nonce: str


def length_value(*chunks: str) -> bytes:
    """The bytes Google signs: each chunk's UTF-8 length (4 bytes, little-endian), then it."""
    out = bytearray()
    for chunk in chunks:
        data = chunk.encode()
        out += len(data).to_bytes(4, "little")
        out += data
    return bytes(out)


def parse_callback(body: bytes) -> SealedCallback:
    """The callback's parts; its exact shape is checked, as Tink does, before any crypto."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidCallback("The callback body is not JSON.") from exc
    expected = {"protocolVersion", "signature", "intermediateSigningKey", "signedMessage"}
    if not isinstance(document, dict) or set(document) != expected:
        raise InvalidCallback(
            "A callback holds exactly protocolVersion, signature, intermediateSigningKey "
            "and signedMessage."
        )
    intermediate = document["intermediateSigningKey"]
    if not isinstance(intermediate, dict) or set(intermediate) != {"signedKey", "signatures"}:
        raise InvalidCallback("intermediateSigningKey holds exactly signedKey and signatures.")
    signatures = intermediate["signatures"]
    if (
        not isinstance(signatures, list)
        or not signatures
        or not all(isinstance(s, str) for s in signatures)
    ):
        raise InvalidCallback("intermediateSigningKey.signatures must be a list of strings.")
    protocol = _string(document, "protocolVersion")
    signed_message = _string(document, "signedMessage")
    try:
        claimed = json.loads(signed_message)
    except ValueError as exc:
        raise InvalidCallback("signedMessage is not JSON.") from exc
    if not isinstance(claimed, dict):
        raise InvalidCallback("signedMessage is not a JSON object.")
    return SealedCallback(
        protocol_version=protocol,
        signature=_base64(_string(document, "signature")),
        signed_key=_string(intermediate, "signedKey"),
        key_signatures=tuple(_base64(s) for s in signatures),
        signed_message=signed_message,
        claimed=claimed,
    )


def open_callback(
    sealed: SealedCallback,
    *,
    root_keys: Sequence[RootKey],
    recipient_id: str,
    now: datetime,
) -> CallbackEvent:
    """Verify ``sealed`` as sent by Google to ``recipient_id`` (the issuer id) and read it.

    The checks run in Tink's order: protocol, intermediate key under a root key, its
    expiry, the message under the intermediate key; then the message's own expiry and that
    it is about the recipient's objects.
    """
    if sealed.protocol_version != PROTOCOL_VERSION:
        raise InvalidCallback(
            f"Only {PROTOCOL_VERSION} callbacks are accepted.", code="google_callback_protocol"
        )
    key_bytes = length_value(SENDER_ID, PROTOCOL_VERSION, sealed.signed_key)
    live_roots = [root.public_key for root in root_keys if root.expires_at > now]
    if not any(
        _verifies(root, signature, key_bytes)
        for root in live_roots
        for signature in sealed.key_signatures
    ):
        raise InvalidCallback(
            "The intermediate signing key is not signed by Google.",
            code="google_callback_bad_signature",
        )
    intermediate, key_expires = _signed_key(sealed.signed_key)
    if key_expires <= now:
        raise InvalidCallback(
            "The intermediate signing key has expired.", code="google_callback_key_expired"
        )
    message_bytes = length_value(SENDER_ID, recipient_id, PROTOCOL_VERSION, sealed.signed_message)
    if not _verifies(intermediate, sealed.signature, message_bytes):
        raise InvalidCallback(
            "The callback's signature does not verify.", code="google_callback_bad_signature"
        )
    event = _event(sealed.claimed)
    if event.expires_at <= now:
        raise InvalidCallback("The callback has expired.", code="google_callback_expired")
    prefix = f"{recipient_id}."
    if not (event.object_id.startswith(prefix) and event.class_id.startswith(prefix)):
        raise InvalidCallback(
            "The callback is about another issuer's pass.", code="google_callback_wrong_recipient"
        )
    return event


def parse_root_keys(document: Any, now: datetime) -> list[RootKey]:
    """Google's root keys for ECv2SigningOnly that have not expired.

    Like Tink, a key for another protocol is skipped, and so is one without
    ``keyExpiration`` (which only ECv1 keys may lack).
    """
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("the keys document has no keys list")
    keys = []
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("protocolVersion") != PROTOCOL_VERSION:
            continue
        try:
            expires_at = _millis(entry["keyExpiration"])
            public_key = _public_key(entry["keyValue"])
        except (KeyError, ValueError, TypeError):
            logger.warning("A Google root signing key was unreadable and is ignored.")
            continue
        if expires_at > now:
            keys.append(RootKey(public_key, expires_at))
    return keys


@dataclass
class GoogleRootKeys:
    """Google's root signing keys, fetched from ``url`` and kept for at most ``max_age``
    (less when the response's ``Cache-Control: max-age`` or a key's expiry says so).

    When a refresh fails, the keys in hand are used while they last; with none left, the
    callback is answered 503 and Google retries it.
    """

    url: str
    http: httpx.AsyncClient
    clock: Clock
    max_age: timedelta = timedelta(hours=1)
    _keys: list[RootKey] = field(default_factory=list)
    _fresh_until: datetime | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def current(self) -> list[RootKey]:
        now = self.clock.now()
        if self._fresh_until is None or now >= self._fresh_until:
            async with self._lock:  # one fetch for a burst of callbacks
                if self._fresh_until is None or self.clock.now() >= self._fresh_until:
                    await self._refresh()
            now = self.clock.now()
        live = [key for key in self._keys if key.expires_at > now]
        if not live:
            raise CallbackKeysUnavailable("Google's callback signing keys are unavailable.")
        return live

    async def _refresh(self) -> None:
        try:
            response = await self.http.get(self.url)
            response.raise_for_status()
            keys = parse_root_keys(response.json(), self.clock.now())
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning("Google's callback signing keys could not be fetched: %s", exc)
            # Not again for every callback of a burst while Google's page is down.
            self._fresh_until = self.clock.now() + RETRY_AFTER_FAILURE
            return
        now = self.clock.now()
        age = self.max_age
        if found := _MAX_AGE.search(response.headers.get("cache-control", "")):
            age = min(age, timedelta(seconds=int(found.group(1))))
        fresh_until = now + age
        if keys:
            fresh_until = min(fresh_until, min(key.expires_at for key in keys))
        self._keys, self._fresh_until = keys, fresh_until


def _string(document: dict[str, Any], name: str) -> str:
    value = document[name]
    if not isinstance(value, str) or not value:
        raise InvalidCallback(f"{name} must be a non-empty string.")
    return value


def _base64(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCallback("A signature is not base64.") from exc


def _millis(value: Any) -> datetime:
    # Google writes millisecond instants as strings ("1754778096000") or numbers.
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("not a millisecond timestamp")
    millis = int(value)
    if not 0 <= millis < 10**14:
        raise ValueError("timestamp out of range")
    return datetime.fromtimestamp(millis / 1000, UTC)


def _public_key(value: Any) -> ec.EllipticCurvePublicKey:
    if not isinstance(value, str):
        raise ValueError("keyValue is not a string")
    key = load_der_public_key(base64.b64decode(value, validate=True))
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("not a P-256 key")
    return key


def _verifies(key: ec.EllipticCurvePublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data, _ECDSA_SHA256)
    except (InvalidSignature, ValueError):
        return False
    return True


def _signed_key(signed_key: str) -> tuple[ec.EllipticCurvePublicKey, datetime]:
    try:
        document = json.loads(signed_key)
        return _public_key(document["keyValue"]), _millis(document["keyExpiration"])
    except (ValueError, KeyError, TypeError) as exc:
        # Signed by Google yet unreadable: nothing to trust in it.
        raise InvalidCallback("signedKey must hold a P-256 keyValue and a keyExpiration.") from exc


def _event(message: dict[str, Any]) -> CallbackEvent:
    class_id, object_id, nonce = (message.get(k) for k in ("classId", "objectId", "nonce"))
    event_type = message.get("eventType")
    if not (isinstance(class_id, str) and isinstance(object_id, str)):
        raise InvalidCallbackMessage("The callback must name its classId and objectId.")
    if not isinstance(nonce, str) or not 0 < len(nonce) <= MAX_NONCE_CHARS:
        raise InvalidCallbackMessage("The callback's nonce is missing or too long.")
    # Google's documentation and its deliveries write "save" and "del" in lower case.
    kind = event_type.lower() if isinstance(event_type, str) else None
    if kind not in ("save", "del"):
        raise InvalidCallbackMessage("eventType must be save or del.")
    try:
        expires_at = _millis(message.get("expTimeMillis"))
    except ValueError as exc:
        raise InvalidCallbackMessage("expTimeMillis must be a time in milliseconds.") from exc
    return CallbackEvent(
        class_id=class_id,
        object_id=object_id,
        event_type="save" if kind == "save" else "del",
        expires_at=expires_at,
        nonce=nonce,
    )
