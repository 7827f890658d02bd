"""Cards added to and removed from a wallet become pass.installed and pass.removed."""

from __future__ import annotations

from fastapi import FastAPI

from tests.conftest import PASS_TYPE_ID
from tests.webhooks.conftest import Outbox, Shop
from tests.webhooks.receiver import WebhookReceiver
from wallet_service.webhooks.signing import verify


async def test_an_apple_registration_and_its_removal_are_pass_installed_and_pass_removed(
    app: FastAPI, shop: Shop, receiver: WebhookReceiver, outbox: Outbox
) -> None:
    member = await shop.enrol()
    await outbox()
    receiver.reset()  # what enrolment sent, if anything
    serial = member["serial_number"]
    auth = {"Authorization": f"ApplePass {app.state.apple.authentication_token(serial)}"}
    registration = f"/passkit/v1/devices/device0123456789/registrations/{PASS_TYPE_ID}/{serial}"
    added = await shop.client.post(registration, json={"pushToken": "f" * 64}, headers=auth)
    assert added.status_code == 201, added.text
    removed = await shop.client.delete(registration, headers=auth)
    assert removed.status_code == 200, removed.text
    await outbox()

    events = {e["type"]: e for e in receiver.events()}
    assert set(events) == {"pass.installed", "pass.removed"}
    for event in events.values():
        assert event["data"] == {
            "member_id": member["id"],
            "serial_number": serial,
            "platform": "apple",
        }
    for received in receiver.received:
        verify(
            shop.secret, received.headers["wallet-signature"], received.body, app.state.clock.now()
        )
