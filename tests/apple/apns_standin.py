"""A local stand-in for Apple's push service (APNs), speaking its real protocol on loopback.

HTTP/2 over TLS (ALPN ``h2``), with the client certificate required and verified against the
development root, as Apple verifies a pass type certificate: OpenSSL's server side checks the
certificate's purpose, so one without TLS client authentication fails the handshake, as it
would at Apple. ``POST /3/device/<token>`` with ``apns-topic`` and a JSON body is recorded in
``pushes`` and answered as Apple does: 200 with an ``apns-id``, or a status with
``{"reason": ...}`` chosen per token through ``answers`` (``410`` adds ``timestamp``).
A subclass may override :meth:`ApnsStandIn.record` to count pushes instead of keeping them
(``bench/fanout_bench.py`` runs one in a process of its own for 100,000 pushes).

The stand-in's own server certificate (for 127.0.0.1) is written to ``ca_file``: point the
client's trust (``WALLET_APNS_CA_FILE``) at it.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

import h2.config
import h2.connection
import h2.events
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["ApnsPush", "ApnsStandIn"]

# What Apple answers, by status (https://developer.apple.com/documentation/usernotifications
# "Handling notification responses from APNs").
_REASONS = {
    400: "BadDeviceToken",
    403: "BadCertificate",
    410: "Unregistered",
    429: "TooManyRequests",
    500: "InternalServerError",
    503: "ServiceUnavailable",
}


@dataclass(frozen=True)
class ApnsPush:
    device_token: str
    topic: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ApnsStandIn:
    directory: Path
    client_ca_file: Path
    answers: dict[str, int] = field(default_factory=dict)
    pushes: list[ApnsPush] = field(default_factory=list)
    # Tokens answered 200: what Apple took (``pushes`` is everything that arrived).
    delivered: list[str] = field(default_factory=list)
    # While set, requests are received (and recorded in ``stalled``) but never answered,
    # as when the client dies before Apple's answer reaches it.
    stall: bool = False
    stalled: list[str] = field(default_factory=list)
    connections: int = 0
    url: str = ""
    _server: asyncio.Server | None = None

    @property
    def ca_file(self) -> Path:
        return self.directory / "apns-standin-ca.pem"

    async def start(self) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*self._server_certificate())
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=self.client_ca_file)
        context.set_alpn_protocols(["h2"])
        self._server = await asyncio.get_running_loop().create_server(
            lambda: _Http2Connection(self), "127.0.0.1", 0, ssl=context
        )
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"https://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def answer(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        path = headers.get(":path", "")
        token = path.removeprefix("/3/device/")
        if headers.get(":method") != "POST" or not path.startswith("/3/device/") or not token:
            return 405 if headers.get(":method") != "POST" else 404, {}, b""
        topic = headers.get("apns-topic", "")
        self.record(ApnsPush(token, topic, headers, body))
        status = self.answers.get(token, 200)
        if not topic:
            status = 400
        try:
            json.loads(body)
        except ValueError:
            status = 400
        apns_id = headers.get("apns-id") or str(uuid.uuid4()).upper()
        if status == 200:
            self.delivered.append(token)
            return 200, {"apns-id": apns_id}, b""
        reason: dict[str, object] = {"reason": _REASONS.get(status, "InternalServerError")}
        if not topic:
            reason["reason"] = "MissingTopic"
        if status == 410:
            reason["timestamp"] = int(datetime.now(UTC).timestamp() * 1000)
        return (
            status,
            {"apns-id": apns_id, "content-type": "application/json"},
            (json.dumps(reason).encode()),
        )

    def record(self, push: ApnsPush) -> None:
        """Every request to ``/3/device/...`` is recorded here, before it is answered."""
        self.pushes.append(push)

    def _server_certificate(self) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "APNs stand-in")])
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(IPv4Address("127.0.0.1")), x509.DNSName("localhost")]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256())
        )
        self.ca_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_file = self.directory / "apns-standin-key.pem"
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return self.ca_file, key_file


class _Http2Connection(asyncio.Protocol):
    def __init__(self, standin: ApnsStandIn) -> None:
        self._standin = standin
        config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        self._h2 = h2.connection.H2Connection(config=config)
        self._requests: dict[int, tuple[dict[str, str], bytearray]] = {}
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._standin.connections += 1
        self._h2.initiate_connection()
        transport.write(self._h2.data_to_send())

    def data_received(self, data: bytes) -> None:
        assert self._transport is not None
        try:
            events = self._h2.receive_data(data)
        except h2.exceptions.ProtocolError:
            self._transport.close()
            return
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                headers = {str(k): str(v) for k, v in event.headers}
                self._requests[event.stream_id] = (headers, bytearray())
            elif isinstance(event, h2.events.DataReceived):
                self._requests[event.stream_id][1].extend(event.data)
                self._h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                headers, body = self._requests.pop(event.stream_id)
                if self._standin.stall:
                    self._standin.stalled.append(headers.get(":path", "").rsplit("/", 1)[-1])
                    continue
                status, extra, payload = self._standin.answer(headers, bytes(body))
                response = [(":status", str(status)), *extra.items()]
                self._h2.send_headers(event.stream_id, response, end_stream=not payload)
                if payload:
                    self._h2.send_data(event.stream_id, payload, end_stream=True)
        self._transport.write(self._h2.data_to_send())
