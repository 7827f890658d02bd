"""The APNs stand-in accepts our development pass certificate as Apple accepts a real one."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from certificates.dev import generate_dev_chain
from tests.apple.apns_standin import ApnsStandIn

PASS_TYPE_ID = "pass.test.wallet-service.loyalty"


@pytest.fixture
async def apns(tmp_path: Path) -> AsyncIterator[tuple[ApnsStandIn, ssl.SSLContext]]:
    chain = generate_dev_chain(tmp_path / "certs", PASS_TYPE_ID, "TESTTEAM42")
    standin = ApnsStandIn(tmp_path, client_ca_file=chain.root_certificate)
    await standin.start()
    # The client sends its pass certificate with the intermediate, as Apple's chain is sent.
    presented = tmp_path / "client-chain.pem"
    presented.write_bytes(
        chain.pass_certificate.read_bytes() + chain.intermediate_certificate.read_bytes()
    )
    client = ssl.create_default_context(cafile=standin.ca_file)
    client.load_cert_chain(presented, chain.pass_key)
    try:
        yield standin, client
    finally:
        await standin.stop()


async def test_a_push_with_the_dev_pass_certificate_over_http2_is_accepted(
    apns: tuple[ApnsStandIn, ssl.SSLContext],
) -> None:
    standin, tls = apns
    async with httpx.AsyncClient(http2=True, verify=tls) as http:
        answer = await http.post(
            f"{standin.url}/3/device/abc123",
            headers={"apns-topic": PASS_TYPE_ID},
            content=b"{}",
        )
    assert answer.http_version == "HTTP/2"
    assert answer.status_code == 200 and answer.headers["apns-id"]
    [push] = standin.pushes
    assert (push.device_token, push.topic, push.body) == ("abc123", PASS_TYPE_ID, b"{}")


async def test_an_unregistered_device_gets_410_with_apples_reason(
    apns: tuple[ApnsStandIn, ssl.SSLContext],
) -> None:
    standin, tls = apns
    standin.answers["gone"] = 410
    async with httpx.AsyncClient(http2=True, verify=tls) as http:
        answer = await http.post(
            f"{standin.url}/3/device/gone", headers={"apns-topic": PASS_TYPE_ID}, content=b"{}"
        )
    assert answer.status_code == 410
    assert answer.json()["reason"] == "Unregistered" and "timestamp" in answer.json()


async def test_a_client_without_a_certificate_is_refused_at_the_handshake(
    apns: tuple[ApnsStandIn, ssl.SSLContext],
) -> None:
    standin, _ = apns
    anonymous = ssl.create_default_context(cafile=standin.ca_file)
    async with httpx.AsyncClient(http2=True, verify=anonymous) as http:
        with pytest.raises(httpx.TransportError):
            await http.post(
                f"{standin.url}/3/device/abc", headers={"apns-topic": PASS_TYPE_ID}, content=b"{}"
            )
    assert standin.pushes == []
