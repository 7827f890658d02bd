"""Apple's push service (APNs) for passes: tell a device that one of its passes changed.

HTTP/2 over TLS, authenticated by the pass type certificate itself (not a ``.p8`` token key):
``POST /3/device/<push token>`` with ``apns-topic`` = the pass type identifier and an empty
JSON body; the device then asks our PassKit web service what changed. One connection carries
many concurrent streams. Apple's answers map to what the caller should do next
(:class:`PushOutcome`); nothing here touches the database.
"""

from __future__ import annotations

import asyncio
import ssl
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import quote

import httpx
from cryptography.hazmat.primitives import serialization

from certificates.store import SigningMaterial

__all__ = ["APNS_PRODUCTION_URL", "ApnsClient", "PushOutcome", "PushResult", "outcome_of"]

APNS_PRODUCTION_URL = "https://api.push.apple.com"
# Streams in flight on the one connection; Apple allows far more (its SETTINGS say how many).
MAX_CONCURRENT_PUSHES = 500
_EMPTY_PAYLOAD = b"{}"
# Reasons Apple gives with a 400 that mean the token is no good for this topic (forget it).
_DEAD_TOKEN_REASONS = frozenset({"BadDeviceToken", "DeviceTokenNotForTopic"})


class PushOutcome(StrEnum):
    delivered = "delivered"
    # 410 Unregistered, or a token Apple says is bad for this pass type: delete the registration.
    unregistered = "unregistered"
    # 429, 5xx, or the connection failed: try again later.
    retry = "retry"
    # 403: Apple refused our certificate; every push of this pass type will fail the same way.
    certificate_refused = "certificate_refused"
    # Any other 4xx: the request itself is wrong; retrying cannot help.
    rejected = "rejected"


@dataclass(frozen=True, slots=True)
class PushResult:
    device_token: str
    outcome: PushOutcome
    status: int | None = None
    reason: str | None = None


def outcome_of(status: int, reason: str | None) -> PushOutcome:
    """What Apple's answer means for the registration (Apple's "Handling notification
    responses from APNs")."""
    if status == 200:
        return PushOutcome.delivered
    if status == 410 or (status == 400 and reason in _DEAD_TOKEN_REASONS):
        return PushOutcome.unregistered
    if status == 403:
        return PushOutcome.certificate_refused
    if status == 429 or status >= 500:
        return PushOutcome.retry
    return PushOutcome.rejected


def _tls_context(material: SigningMaterial, ca_file: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.set_alpn_protocols(["h2"])
    pem = serialization.Encoding.PEM
    # ssl reads the client chain and key from files only: a private directory that lives
    # just long enough for it to read them.
    with tempfile.TemporaryDirectory(prefix="apns-") as directory:
        chain = Path(directory) / "chain.pem"
        key = Path(directory) / "key.pem"
        chain.write_bytes(
            material.certificate.public_bytes(pem) + material.intermediate.public_bytes(pem)
        )
        key.touch(mode=0o600)
        key.write_bytes(
            material.private_key.private_bytes(
                pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        context.load_cert_chain(chain, key)
    return context


class ApnsClient:
    """Pushes for one pass type identifier, over one multiplexed HTTP/2 connection."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, topic: str) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self.topic = topic

    @classmethod
    def connect(
        cls,
        material: SigningMaterial,
        topic: str,
        *,
        base_url: str = APNS_PRODUCTION_URL,
        ca_file: Path | None = None,
    ) -> ApnsClient:
        http = httpx.AsyncClient(
            http2=True,
            verify=_tls_context(material, ca_file),
            timeout=httpx.Timeout(10.0),
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )
        return cls(http, base_url, topic)

    async def push(self, device_token: str) -> PushResult:
        url = f"{self._base_url}/3/device/{quote(device_token, safe='')}"
        try:
            answer = await self._http.post(
                url, content=_EMPTY_PAYLOAD, headers={"apns-topic": self.topic}
            )
        except httpx.TransportError:
            return PushResult(device_token, PushOutcome.retry)
        reason = None
        if answer.status_code != 200:
            try:
                reason = str(answer.json().get("reason"))
            except ValueError:
                reason = None
        return PushResult(
            device_token, outcome_of(answer.status_code, reason), answer.status_code, reason
        )

    async def push_many(self, device_tokens: list[str]) -> list[PushResult]:
        """One push per token, many in flight at once on the one connection."""
        slots = asyncio.Semaphore(MAX_CONCURRENT_PUSHES)

        async def one(token: str) -> PushResult:
            async with slots:
                return await self.push(token)

        return list(await asyncio.gather(*(one(token) for token in device_tokens)))

    async def aclose(self) -> None:
        await self._http.aclose()
