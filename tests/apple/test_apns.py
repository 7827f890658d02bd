"""Pushing pass updates to APNs: HTTP/2, the pass certificate as TLS client certificate,
Apple's answers turned into what to do with the registration. Against the loopback stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from certificates.dev import generate_dev_chain
from certificates.store import load_signing_material
from tests.apple.apns_standin import ApnsStandIn
from wallet_service.apple.apns import ApnsClient, PushOutcome, outcome_of

PASS_TYPE_ID = "pass.test.wallet-service.loyalty"


@pytest.fixture
async def standin(tmp_path: Path) -> AsyncIterator[tuple[ApnsStandIn, ApnsClient]]:
    chain = generate_dev_chain(tmp_path / "certs", PASS_TYPE_ID, "TESTTEAM42")
    server = ApnsStandIn(tmp_path, client_ca_file=chain.root_certificate)
    await server.start()
    client = ApnsClient.connect(
        load_signing_material(tmp_path / "certs"),
        PASS_TYPE_ID,
        base_url=server.url,
        ca_file=server.ca_file,
    )
    try:
        yield server, client
    finally:
        await client.aclose()
        await server.stop()


async def test_a_pass_update_push_carries_the_pass_type_as_topic_and_an_empty_body(
    standin: tuple[ApnsStandIn, ApnsClient],
) -> None:
    server, client = standin
    result = await client.push("a1b2c3d4")
    assert result.outcome is PushOutcome.delivered and result.status == 200
    [push] = server.pushes
    assert (push.device_token, push.topic, push.body) == ("a1b2c3d4", PASS_TYPE_ID, b"{}")


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (410, PushOutcome.unregistered),
        (400, PushOutcome.unregistered),  # BadDeviceToken
        (403, PushOutcome.certificate_refused),
        (429, PushOutcome.retry),
        (500, PushOutcome.retry),
        (503, PushOutcome.retry),
    ],
)
async def test_apples_answers_say_what_to_do_with_the_registration(
    standin: tuple[ApnsStandIn, ApnsClient], status: int, outcome: PushOutcome
) -> None:
    server, client = standin
    server.answers["cafe"] = status
    result = await client.push("cafe")
    assert (result.outcome, result.status) == (outcome, status)
    assert result.reason


def test_a_bad_request_for_another_reason_is_not_retried() -> None:
    assert outcome_of(400, "PayloadEmpty") is PushOutcome.rejected
    assert outcome_of(400, "DeviceTokenNotForTopic") is PushOutcome.unregistered
    assert outcome_of(413, "PayloadTooLarge") is PushOutcome.rejected


async def test_an_unreachable_apns_is_a_retry_not_an_error(tmp_path: Path) -> None:
    chain = generate_dev_chain(tmp_path / "certs", PASS_TYPE_ID, "TESTTEAM42")
    client = ApnsClient.connect(
        load_signing_material(tmp_path / "certs"),
        PASS_TYPE_ID,
        base_url="https://127.0.0.1:9",  # discard port: nothing listens
        ca_file=chain.root_certificate,
    )
    try:
        assert (await client.push("feed")).outcome is PushOutcome.retry
    finally:
        await client.aclose()


async def test_many_pushes_share_one_http2_connection(
    standin: tuple[ApnsStandIn, ApnsClient],
) -> None:
    server, client = standin
    server.answers["0042"] = 410
    tokens = [f"{i:04d}" for i in range(200)]
    results = await client.push_many(tokens)
    assert [r.device_token for r in results] == tokens
    assert sum(r.outcome is PushOutcome.delivered for r in results) == 199
    assert {r.device_token for r in results if r.outcome is PushOutcome.unregistered} == {"0042"}
    assert len(server.pushes) == 200
    assert server.connections == 1
