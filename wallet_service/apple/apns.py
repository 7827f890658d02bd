"""Apple's push service (APNs) for passes: tell a device that one of its passes changed.

HTTP/2 over TLS, authenticated by the pass type certificate itself (not a ``.p8`` token key):
``POST /3/device/<push token>`` with ``apns-topic`` = the pass type identifier and an empty
JSON body; the device then asks our PassKit web service what changed. One connection carries
many concurrent streams. Apple's answers map to what the caller should do next
(:class:`PushOutcome`); nothing here touches the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import quote

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import httpx
from cryptography.hazmat.primitives import serialization

from certificates.store import SigningMaterial

__all__ = ["APNS_PRODUCTION_URL", "ApnsClient", "PushOutcome", "PushResult", "outcome_of"]

APNS_PRODUCTION_URL = "https://api.push.apple.com"
# Streams in flight on the one connection; Apple allows far more (its SETTINGS say how many).
MAX_CONCURRENT_PUSHES = 500
CONNECT_TIMEOUT_SECONDS = 10.0
PUSH_TIMEOUT_SECONDS = 10.0
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
    """Pushes for one pass type identifier, over one multiplexed HTTP/2 connection.

    HTTP/2 is spoken with ``h2`` directly, not through a general HTTP client: a push is a
    few header frames and two body bytes, and a fan-out sends hundreds of thousands of
    them, where a general client's per-request machinery (a task, locks and events per
    request) cost eight times the CPU of the protocol itself (docs/benchmarks.md). The
    connection opens on the first push and again after it is lost; requests wait for a
    stream when Apple's ``SETTINGS_MAX_CONCURRENT_STREAMS`` are all in use.
    """

    def __init__(self, context: ssl.SSLContext, base_url: str, topic: str) -> None:
        url = httpx.URL(base_url)
        self._host = url.host
        self._port = url.port or 443
        self._context = context
        self.topic = topic
        self._connection: _Http2Connection | None = None
        self._opening = asyncio.Lock()

    @classmethod
    def connect(
        cls,
        material: SigningMaterial,
        topic: str,
        *,
        base_url: str = APNS_PRODUCTION_URL,
        ca_file: Path | None = None,
    ) -> ApnsClient:
        return cls(_tls_context(material, ca_file), base_url, topic)

    async def push(self, device_token: str) -> PushResult:
        [result] = await self.push_many([device_token])
        return result

    async def push_many(self, device_tokens: list[str]) -> list[PushResult]:
        """One push per token, as many in flight at once as the connection allows."""
        try:
            connection = await self._connected()
        except (OSError, ssl.SSLError, TimeoutError, h2.exceptions.ProtocolError):
            return [PushResult(token, PushOutcome.retry) for token in device_tokens]
        answers = [await connection.send(self._request(token)) for token in device_tokens]
        results = []
        for token, answer in zip(device_tokens, answers, strict=True):
            try:
                status, body = await asyncio.wait_for(answer, PUSH_TIMEOUT_SECONDS)
            except (ConnectionError, TimeoutError):
                results.append(PushResult(token, PushOutcome.retry))
                continue
            reason = _reason(body) if status != 200 else None
            results.append(PushResult(token, outcome_of(status, reason), status, reason))
        return results

    def _request(self, device_token: str) -> list[tuple[str, str]]:
        return [
            (":method", "POST"),
            (":scheme", "https"),
            (":authority", self._host),
            (":path", f"/3/device/{quote(device_token, safe='')}"),
            ("apns-topic", self.topic),
            ("content-type", "application/json"),
            ("content-length", str(len(_EMPTY_PAYLOAD))),
        ]

    async def _connected(self) -> _Http2Connection:
        async with self._opening:
            if self._connection is None or self._connection.closed:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(
                        self._host, self._port, ssl=self._context, server_hostname=self._host
                    ),
                    CONNECT_TIMEOUT_SECONDS,
                )
                connection = _Http2Connection(reader, writer)
                try:
                    await asyncio.wait_for(connection.ready.wait(), CONNECT_TIMEOUT_SECONDS)
                except TimeoutError:
                    await connection.close()
                    raise
                self._connection = connection
            return self._connection

    async def aclose(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None


def _reason(body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return str(document.get("reason")) if isinstance(document, dict) else None


Answer = asyncio.Future[tuple[int, bytes]]


class _Http2Connection:
    """One HTTP/2 connection: requests are written as they come, answers matched by stream."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        )
        self._h2.initiate_connection()
        self._writer.write(self._h2.data_to_send())
        self._answers: dict[int, Answer] = {}
        self._statuses: dict[int, int] = {}
        self._bodies: dict[int, bytearray] = {}
        # Set when the server's SETTINGS arrived (they say how many streams it takes), and
        # whenever a stream ends (a request waiting for one may go).
        self.ready = asyncio.Event()
        self._stream_freed = asyncio.Event()
        self.closed = False
        self._reading = asyncio.create_task(self._read_forever(), name="apns-reader")

    async def send(self, headers: list[tuple[str, str]]) -> Answer:
        """Write one request; its future holds (status, body) once Apple answered."""
        answer: Answer = asyncio.get_running_loop().create_future()
        while not self.closed and self._h2.open_outbound_streams >= self._stream_limit():
            self._stream_freed.clear()
            await self._stream_freed.wait()
        if self.closed:
            answer.set_exception(ConnectionError("APNs connection closed"))
            return answer
        stream_id = self._h2.get_next_available_stream_id()
        self._h2.send_headers(stream_id, headers)
        self._h2.send_data(stream_id, _EMPTY_PAYLOAD, end_stream=True)
        self._answers[stream_id] = answer
        self._writer.write(self._h2.data_to_send())
        return answer

    def _stream_limit(self) -> int:
        # Apple announces how many streams it takes at once: never ask for more.
        return min(MAX_CONCURRENT_PUSHES, self._h2.remote_settings.max_concurrent_streams)

    async def _read_forever(self) -> None:
        try:
            while data := await self._reader.read(65536):
                for event in self._h2.receive_data(data):
                    self._handle(event)
                if outgoing := self._h2.data_to_send():
                    self._writer.write(outgoing)
        except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
            pass
        finally:
            self._fail_all()

    def _handle(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.ResponseReceived):
            for name, value in event.headers or []:
                if name in (":status", b":status"):
                    self._statuses[event.stream_id] = int(value)
        elif isinstance(event, h2.events.DataReceived):
            self._bodies.setdefault(event.stream_id, bytearray()).extend(event.data or b"")
            self._h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            self._settle(event.stream_id)
        elif isinstance(event, h2.events.StreamReset):
            answer = self._answers.pop(event.stream_id, None)
            if answer is not None and not answer.done():
                answer.set_exception(ConnectionError("APNs reset the stream"))
            self._stream_freed.set()
        elif isinstance(event, h2.events.ConnectionTerminated):
            self._fail_all()  # GOAWAY: the next push opens a new connection
        elif isinstance(event, h2.events.RemoteSettingsChanged):
            self.ready.set()
            self._stream_freed.set()

    def _settle(self, stream_id: int) -> None:
        answer = self._answers.pop(stream_id, None)
        status = self._statuses.pop(stream_id, 0)
        body = bytes(self._bodies.pop(stream_id, b""))
        if answer is not None and not answer.done():
            answer.set_result((status, body))
        self._stream_freed.set()

    def _fail_all(self) -> None:
        self.closed = True
        self.ready.set()
        self._stream_freed.set()
        answers, self._answers = self._answers, {}
        for answer in answers.values():
            if not answer.done():
                answer.set_exception(ConnectionError("APNs connection lost"))

    async def close(self) -> None:
        self._fail_all()
        self._reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reading
        self._writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await self._writer.wait_closed()
