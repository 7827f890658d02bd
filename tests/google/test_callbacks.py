"""Google tells the merchant when a customer saves a card to Google Wallet or deletes it: the
callbacks are verified as Google signs them (ECv2SigningOnly) and recorded once per card.

Google is played by the loopback stand-ins: its root keys are served over HTTP, and its
callbacks are sealed by ``GooglePassesSigner`` exactly as Google seals them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from certificates.google import import_service_account
from tests.factories import AppWith, Tenant, client_at, make_tenant
from tests.google.callback_standin import GoogleKeysStandIn, GooglePassesSigner
from tests.google.discovery import assert_valid
from tests.google.standin import GoogleStandIn
from tests.scanning.test_till import _member
from wallet_service.clock import ManualClock
from wallet_service.config import Settings
from wallet_service.db.models import InstallEvent, Member, PassInstallEvent, PassPlatform
from wallet_service.db.session import session_scope
from wallet_service.google.callbacks import (
    GoogleRootKeys,
    length_value,
    open_callback,
    parse_callback,
    parse_root_keys,
)
from wallet_service.google.objects import ProgramCard, loyalty_class
from wallet_service.google.wallet import GoogleWallet
from wallet_service.installs.service import install_events
from wallet_service.security.principal import MerchantScope

ISSUER = "3388000000011111111"
OTHER_ISSUER = "3388000000022222222"
CALLBACKS = "/wallet/google/callbacks"


@pytest.fixture(scope="session")
def google_keys_server() -> Iterator[GoogleKeysStandIn]:
    with GoogleKeysStandIn() as standin:
        yield standin


@pytest.fixture
def google_signer(google_keys_server: GoogleKeysStandIn, clock: ManualClock) -> GooglePassesSigner:
    """Google's keys for this test, the root published at the stand-in's keys URL."""
    signer = GooglePassesSigner(clock.now())
    google_keys_server.publish(signer.keys_document())
    return signer


@pytest.fixture
async def root_keys(
    app: FastAPI, google_keys_server: GoogleKeysStandIn
) -> AsyncIterator[GoogleRootKeys]:
    """The app's root-key fetcher, pointed at the stand-in instead of pay.google.com."""
    async with httpx.AsyncClient(trust_env=False) as http:
        keys = GoogleRootKeys(google_keys_server.keys_url, http, app.state.clock)
        production = app.state.google_callback_keys
        app.state.google_callback_keys = keys
        try:
            yield keys
        finally:
            app.state.google_callback_keys = production


@pytest.fixture
async def google(
    app: FastAPI, settings: Settings, google_standin: GoogleStandIn
) -> AsyncIterator[GoogleWallet]:
    """The app's Google Wallet side on the walletobjects stand-in (enrolment writes there)."""
    on_standin = settings.model_copy(update={"google_wallet_api_url": google_standin.api_root})
    async with httpx.AsyncClient(trust_env=False) as http:
        wallet = GoogleWallet.from_settings(on_standin, http, app.state.clock)
        production = app.state.google
        app.state.google = wallet
        try:
            yield wallet
        finally:
            app.state.google = production


OnGoogle = Callable[[str, str], Any]


@pytest.fixture
def on_google(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    google: GoogleWallet,
    root_keys: GoogleRootKeys,
    service_account_info: dict[str, str],
    tmp_path: Path,
) -> OnGoogle:
    """``await on_google(name, issuer_id)``: a merchant on that Google issuer account."""

    async def make(name: str, issuer_id: str) -> Tenant:
        tenant = await make_tenant(session_factory, client, name)
        key_file = tmp_path / f"{name}-service-account.json"
        key_file.write_text(json.dumps(service_account_info))
        import_service_account(settings.certificates_dir, tenant.merchant_id, issuer_id, key_file)
        return tenant

    return make


async def _events(
    factory: async_sessionmaker[AsyncSession], tenant: Tenant, member_id: str
) -> list[tuple[PassPlatform, InstallEvent, datetime, str | None]]:
    async with session_scope(factory) as session:
        member = await session.get(Member, uuid.UUID(member_id))
        assert member is not None
        scope = MerchantScope.for_operator(tenant.merchant_id)
        return [
            (event.platform, event.event, event.occurred_at, event.nonce)
            for event in await install_events(session, scope, member)
        ]


async def _all_events(factory: async_sessionmaker[AsyncSession]) -> int:
    async with session_scope(factory) as session:
        return len((await session.scalars(select(PassInstallEvent))).all())


async def _post(client: httpx.AsyncClient, body: dict[str, Any] | bytes) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.post(
        CALLBACKS, content=content, headers={"Content-Type": "application/json"}
    )


async def test_a_save_callback_records_that_the_customer_installed_the_card(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    on_google: OnGoogle,
    google_signer: GooglePassesSigner,
    clock: ManualClock,
) -> None:
    tenant = await on_google("Shop", ISSUER)
    member = await _member(client, tenant)
    nonce = str(uuid.uuid4())
    body = google_signer.callback(
        f"{ISSUER}.{member['serial_number']}", recipient_id=ISSUER, nonce=nonce
    )

    before = clock.now()
    answer = await _post(client, body)
    after = clock.now()

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"outcome": "recorded"}
    [(platform, event, at, recorded_nonce)] = await _events(session_factory, tenant, member["id"])
    assert (platform, event, recorded_nonce) == (PassPlatform.google, InstallEvent.installed, nonce)
    assert before < at < after  # the service's clock, not Google's


async def test_a_delete_callback_records_that_the_customer_removed_the_card(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    on_google: OnGoogle,
    google_signer: GooglePassesSigner,
    clock: ManualClock,
) -> None:
    tenant = await on_google("Shop", ISSUER)
    member = await _member(client, tenant)
    object_id = f"{ISSUER}.{member['serial_number']}"

    saved = await _post(client, google_signer.callback(object_id, recipient_id=ISSUER))
    clock.advance(timedelta(minutes=5))
    deleted = await _post(
        client, google_signer.callback(object_id, recipient_id=ISSUER, event_type="del")
    )

    assert (saved.status_code, deleted.status_code) == (200, 200)
    events = await _events(session_factory, tenant, member["id"])
    assert [(platform, event) for platform, event, _, _ in events] == [
        (PassPlatform.google, InstallEvent.installed),
        (PassPlatform.google, InstallEvent.removed),
    ]
    assert events[1][2] - events[0][2] >= timedelta(minutes=5)


async def test_a_callback_google_delivers_twice_is_recorded_once(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    on_google: OnGoogle,
    google_signer: GooglePassesSigner,
) -> None:
    tenant = await on_google("Shop", ISSUER)
    member = await _member(client, tenant)
    body = google_signer.callback(f"{ISSUER}.{member['serial_number']}", recipient_id=ISSUER)

    first = await _post(client, body)
    again = await _post(client, body)

    assert (first.status_code, again.status_code) == (200, 200)
    assert (first.json(), again.json()) == ({"outcome": "recorded"}, {"outcome": "duplicate"})
    assert len(await _events(session_factory, tenant, member["id"])) == 1


async def test_two_deliveries_of_one_callback_at_the_same_moment_record_it_once(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    on_google: OnGoogle,
    google_signer: GooglePassesSigner,
) -> None:
    tenant = await on_google("Shop", ISSUER)
    member = await _member(client, tenant)
    body = google_signer.callback(f"{ISSUER}.{member['serial_number']}", recipient_id=ISSUER)

    answers = await asyncio.gather(*(_post(client, body) for _ in range(4)))

    assert [answer.status_code for answer in answers] == [200] * 4
    outcomes = sorted(answer.json()["outcome"] for answer in answers)
    assert outcomes == ["duplicate"] * 3 + ["recorded"]
    assert len(await _events(session_factory, tenant, member["id"])) == 1


def _tampered(signer: GooglePassesSigner, object_id: str, now: datetime) -> dict[str, Any]:
    body = signer.callback(object_id, recipient_id=ISSUER, event_type="del")
    body["signedMessage"] = body["signedMessage"].replace('"del"', '"save"')
    return body


def _unknown_root(signer: GooglePassesSigner, object_id: str, now: datetime) -> dict[str, Any]:
    # A well-formed chain, but its root is not one Google publishes.
    impostor = ec.generate_private_key(ec.SECP256R1())
    intermediate = ec.generate_private_key(ec.SECP256R1())
    message = signer.message(object_id)
    return signer.seal(message, recipient_id=ISSUER, intermediate=intermediate, root=impostor)


def _unknown_intermediate(
    signer: GooglePassesSigner, object_id: str, now: datetime
) -> dict[str, Any]:
    # Google's genuine intermediate key, but the message signed by another key.
    message = signer.message(object_id)
    body = signer.seal(message, recipient_id=ISSUER)
    forged = signer.seal(
        message, recipient_id=ISSUER, intermediate=ec.generate_private_key(ec.SECP256R1())
    )
    body["signature"] = forged["signature"]
    return body


def _expired_intermediate(
    signer: GooglePassesSigner, object_id: str, now: datetime
) -> dict[str, Any]:
    message = signer.message(object_id)
    return signer.seal(
        message, recipient_id=ISSUER, intermediate_expires=now - timedelta(seconds=1)
    )


def _expired_message(signer: GooglePassesSigner, object_id: str, now: datetime) -> dict[str, Any]:
    return signer.callback(object_id, recipient_id=ISSUER, expires=now - timedelta(seconds=1))


def _for_another_issuer(
    signer: GooglePassesSigner, object_id: str, now: datetime
) -> dict[str, Any]:
    # Google's genuine callback to another issuer, about that issuer's object.
    serial = object_id.split(".", 1)[1]
    return signer.callback(f"{OTHER_ISSUER}.{serial}", recipient_id=OTHER_ISSUER)


def _signed_for_another_issuer(
    signer: GooglePassesSigner, object_id: str, now: datetime
) -> dict[str, Any]:
    # Signed for another issuer, naming our object: the recipient is part of what is signed.
    return signer.callback(object_id, recipient_id=OTHER_ISSUER)


def _other_protocol(signer: GooglePassesSigner, object_id: str, now: datetime) -> dict[str, Any]:
    body = signer.callback(object_id, recipient_id=ISSUER)
    body["protocolVersion"] = "ECv2"
    return body


def _unknown_event(signer: GooglePassesSigner, object_id: str, now: datetime) -> dict[str, Any]:
    # Google's genuine word, but about an event we do not know.
    return signer.callback(object_id, recipient_id=ISSUER, event_type="update")


def _not_json(signer: GooglePassesSigner, object_id: str, now: datetime) -> bytes:
    return b"save " + object_id.encode()


@pytest.mark.parametrize(
    ("forge", "status", "code"),
    [
        (_tampered, 400, "google_callback_bad_signature"),
        (_unknown_root, 400, "google_callback_bad_signature"),
        (_unknown_intermediate, 400, "google_callback_bad_signature"),
        (_expired_intermediate, 400, "google_callback_key_expired"),
        (_expired_message, 400, "google_callback_expired"),
        (_for_another_issuer, 400, "google_callback_wrong_recipient"),
        (_signed_for_another_issuer, 400, "google_callback_bad_signature"),
        (_other_protocol, 400, "google_callback_protocol"),
        (_not_json, 400, "google_callback_malformed"),
        (_unknown_event, 422, "google_callback_invalid_message"),
    ],
)
async def test_a_callback_that_is_not_googles_genuine_word_is_refused_and_records_nothing(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    on_google: OnGoogle,
    google_signer: GooglePassesSigner,
    clock: ManualClock,
    forge: Callable[[GooglePassesSigner, str, datetime], dict[str, Any] | bytes],
    status: int,
    code: str,
) -> None:
    tenant = await on_google("Shop", ISSUER)
    member = await _member(client, tenant)

    answer = await _post(
        client, forge(google_signer, f"{ISSUER}.{member['serial_number']}", clock.now())
    )

    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == code
    assert await _all_events(session_factory) == 0


async def test_a_callback_for_another_merchants_issuer_cannot_touch_this_merchants_card(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    on_google: OnGoogle,
    google_signer: GooglePassesSigner,
) -> None:
    shop = await on_google("Shop", ISSUER)
    rival = await on_google("Rival", OTHER_ISSUER)
    customer = await _member(client, shop)
    rivals_customer = await _member(client, rival)

    # Google's genuine callbacks to the rival's issuer account, naming the shop's card, and
    # to the shop's naming the rival's card: each reaches only its own merchant's cards.
    cross = [
        google_signer.callback(
            f"{OTHER_ISSUER}.{customer['serial_number']}", recipient_id=OTHER_ISSUER
        ),
        google_signer.callback(f"{ISSUER}.{rivals_customer['serial_number']}", recipient_id=ISSUER),
    ]
    answers = [await _post(client, body) for body in cross]

    assert [(a.status_code, a.json()) for a in answers] == [(200, {"outcome": "unknown_pass"})] * 2
    assert await _events(session_factory, shop, customer["id"]) == []
    assert await _events(session_factory, rival, rivals_customer["id"]) == []


async def test_googles_root_keys_are_fetched_once_and_again_when_they_age(
    client: httpx.AsyncClient,
    on_google: OnGoogle,
    google_signer: GooglePassesSigner,
    google_keys_server: GoogleKeysStandIn,
    root_keys: GoogleRootKeys,
    clock: ManualClock,
) -> None:
    tenant = await on_google("Shop", ISSUER)
    member = await _member(client, tenant)
    object_id = f"{ISSUER}.{member['serial_number']}"

    for _ in range(3):
        answer = await _post(client, google_signer.callback(object_id, recipient_id=ISSUER))
        assert answer.status_code == 200, answer.text
    assert google_keys_server.fetches == 1

    # Google rotates its root key: once the cached keys age, the new one is fetched.
    clock.advance(root_keys.max_age)
    rotated = GooglePassesSigner(clock.now())
    google_keys_server.publish(rotated.keys_document())
    answer = await _post(client, rotated.callback(object_id, recipient_id=ISSUER))
    assert answer.status_code == 200, answer.text
    assert google_keys_server.fetches == 1


async def test_without_googles_keys_a_callback_is_answered_503_for_google_to_retry(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    on_google: OnGoogle,
    google_signer: GooglePassesSigner,
    google_keys_server: GoogleKeysStandIn,
) -> None:
    tenant = await on_google("Shop", ISSUER)
    member = await _member(client, tenant)
    google_keys_server.status = 500

    answer = await _post(
        client, google_signer.callback(f"{ISSUER}.{member['serial_number']}", recipient_id=ISSUER)
    )

    assert answer.status_code == 503, answer.text
    assert answer.json()["code"] == "google_callback_keys_unavailable"
    assert await _all_events(session_factory) == 0


async def test_expired_root_keys_are_not_trusted(
    client: httpx.AsyncClient,
    on_google: OnGoogle,
    google_signer: GooglePassesSigner,
    google_keys_server: GoogleKeysStandIn,
    clock: ManualClock,
) -> None:
    tenant = await on_google("Shop", ISSUER)
    member = await _member(client, tenant)
    google_signer.root_expires = clock.now() - timedelta(seconds=1)
    google_keys_server.publish(google_signer.keys_document())

    answer = await _post(
        client, google_signer.callback(f"{ISSUER}.{member['serial_number']}", recipient_id=ISSUER)
    )

    assert answer.status_code == 503, answer.text


async def test_callbacks_are_rate_limited_per_address(app_with: AppWith) -> None:
    async with (
        app_with(rate_limit_google_callbacks="2/minute") as app,
        client_at(app, "192.0.2.70") as flooder,
        client_at(app, "192.0.2.71") as google,
    ):
        answers = [(await _post(flooder, b"{}")).status_code for _ in range(3)]
        assert answers == [400, 400, 429]
        assert (await _post(google, b"{}")).status_code == 400


def test_the_program_class_asks_google_for_callbacks_at_our_https_url() -> None:
    program = ProgramCard(
        program_id=uuid.uuid4(),
        program_name="Shop rewards",
        issuer_name="Shop",
        logo_url="https://wallet.test/wallet/google/images/coffee/logo.png",
        hero_url=None,
        background_color="#2b1d16",
        home_url="https://wallet.test",
        callback_url="https://wallet.test/wallet/google/callbacks",
    )
    body = loyalty_class(ISSUER, program)
    assert body["callbackOptions"] == {"url": "https://wallet.test/wallet/google/callbacks"}
    assert_valid("LoyaltyClass", body)
    # Google calls HTTPS endpoints only: a development http:// URL is not sent.
    plain = dataclasses.replace(program, callback_url="http://127.0.0.1:8000/callbacks")
    assert "callbackOptions" not in loyalty_class(ISSUER, plain)


def test_signed_bytes_are_each_part_after_its_utf8_byte_length_in_4_little_endian_bytes() -> None:
    # A character count would differ from the byte count for "é": Tink counts bytes.
    assert length_value("ab", "é") == b"\x02\x00\x00\x00ab\x02\x00\x00\x00\xc3\xa9"


def test_only_unexpired_root_keys_for_ecv2_signing_only_are_trusted(clock: ManualClock) -> None:
    now = clock.now()
    signer = GooglePassesSigner(now)
    genuine = signer.keys_document()["keys"][0]
    document = {
        "keys": [
            {**genuine, "protocolVersion": "ECv2"},  # Google Pay's, not the passes'
            {**genuine, "keyExpiration": str(int(now.timestamp() * 1000))},  # expiring now
            {"keyValue": genuine["keyValue"], "protocolVersion": "ECv2SigningOnly"},  # no expiry
            genuine,
        ]
    }
    keys = parse_root_keys(document, now)
    assert [key.expires_at for key in keys] == [signer.root_expires]
    sealed = parse_callback(
        json.dumps(signer.callback(f"{ISSUER}.serial", recipient_id=ISSUER)).encode()
    )
    event = open_callback(sealed, root_keys=keys, recipient_id=ISSUER, now=now)
    assert (event.object_id, event.event_type) == (f"{ISSUER}.serial", "save")
