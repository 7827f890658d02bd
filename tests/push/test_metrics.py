"""``/metrics``: what an operator graphs about live cards, in Prometheus' text format."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from tests.apple.apns_standin import ApnsStandIn
from tests.factories import Tenant
from tests.push.conftest import Outbox, phone_with_pass
from tests.scanning.test_till import _scan


async def _samples(
    client: httpx.AsyncClient,
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = await client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


async def test_metrics_count_the_backlog_deliveries_and_apples_answers(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, apns: ApnsStandIn, outbox: Outbox
) -> None:
    _, phone = await phone_with_pass(app, client, tenant)
    await outbox.deliver()
    before = await _samples(client)
    assert (await _scan(client, tenant, tenant.barcode(phone.serial))).status_code == 201

    queued = await _samples(client)
    await outbox.deliver()
    after = await _samples(client)

    assert queued[("wallet_outbox_queued", (("topic", "card"),))] == 1
    assert ("wallet_outbox_queued", (("topic", "card"),)) not in after
    delivered = ("wallet_outbox_delivered_total", (("topic", "card"),))
    assert after[delivered] == before.get(delivered, 0) + 1
    apple_ok = ("wallet_apns_answers_total", (("status", "200"),))
    assert after[apple_ok] == before.get(apple_ok, 0) + 1
    latency = ("wallet_push_latency_seconds_count", ())
    assert after[latency] == before.get(latency, 0) + 1
