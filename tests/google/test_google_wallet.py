"""Android customers get the same card as iPhone customers: saved with one tap, kept in step
with the till, void when the membership ends. Google is the loopback stand-in, reached over
HTTP with a real OAuth token exchange."""

from __future__ import annotations

import json
import os
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from certificates.google import google_credentials_path
from tests.factories import Tenant, make_tenant
from tests.google.conftest import Outbox
from tests.google.discovery import assert_valid
from tests.google.issuer import ISSUER, on_google_wallet
from tests.google.standin import GoogleStandIn, service_account_key
from tests.scanning.test_rotating_barcode import PERIOD, _now_mid_step, _phone_code
from tests.scanning.test_till import SIMPLE_RULES, _member, _scan
from wallet_service.clock import ManualClock
from wallet_service.config import Settings
from wallet_service.db.models import Member, OutboxMessage, Program
from wallet_service.db.session import session_scope
from wallet_service.google.client import GoogleWalletError
from wallet_service.google.objects import text_message
from wallet_service.google.save_link import SAVE_URL_PREFIX
from wallet_service.google.wallet import GoogleWallet
from wallet_service.programs.schemas import ProgramUpdate
from wallet_service.programs.service import update_program
from wallet_service.scanning.short_code import issue_short_code
from wallet_service.security.principal import MerchantScope


def _save_hop(member: dict[str, Any]) -> str:
    """The card page's *Add to Google Wallet* link (same token as the card page's)."""
    token = member["card_url"].rsplit("/", 1)[1]
    return f"/wallet/google/{member['serial_number']}/{token}"


async def _google_member(
    session_factory: async_sessionmaker[AsyncSession], member_id: str
) -> tuple[int, int | None]:
    async with session_scope(session_factory) as session:
        member = await session.get(Member, uuid.UUID(member_id))
        assert member is not None
        return member.pass_version, member.google_pass_version


async def test_a_member_saves_the_card_with_one_tap_and_google_gets_a_valid_class_and_object(
    client: httpx.AsyncClient,
    tenant: Tenant,
    session_factory: async_sessionmaker[AsyncSession],
    google: GoogleWallet,
    google_standin: GoogleStandIn,
    google_service_account_key: tuple[dict[str, str], rsa.RSAPublicKey],
) -> None:
    member = await _member(client, tenant)

    # The merchant's developers get the save link on the member resource ...
    save_link = member["google_save_url"]
    assert save_link.startswith(SAVE_URL_PREFIX)
    claims = jwt.decode(
        save_link.removeprefix(SAVE_URL_PREFIX),
        google_service_account_key[1],
        algorithms=["RS256"],
        audience="google",
    )
    object_id = f"{ISSUER}.{member['serial_number']}"
    class_id = f"{ISSUER}.program-{tenant.program_id}"
    assert claims["payload"] == {"loyaltyObjects": [{"id": object_id, "classId": class_id}]}
    assert claims["origins"] == ["https://wallet.test"]

    # ... and the customer taps the button on the card page, which writes the card to Google
    # and then hands over to Google's save page.
    page = await client.get(member["card_url"])
    assert "Add to Google Wallet" in page.text
    hop = _save_hop(member)
    assert hop in page.text
    answer = await client.get(hop)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(SAVE_URL_PREFIX)

    assert_valid("LoyaltyClass", google_standin.classes[class_id])
    # Google posts saves and deletes of the card back to us (tests/google/test_callbacks.py).
    assert google_standin.classes[class_id]["callbackOptions"] == {
        "url": "https://wallet.test/wallet/google/callbacks"
    }
    stored = google_standin.objects[object_id]
    assert_valid("LoyaltyObject", stored)
    assert stored["state"] == "ACTIVE"
    assert stored["loyaltyPoints"]["balance"] == {"int": member["points_balance"]}
    assert stored["barcode"]["value"].startswith("LW1.")
    assert all(call.bearer in google_standin.issued_tokens for call in google_standin.calls)
    version, sent = await _google_member(session_factory, member["id"])
    assert sent == version


async def test_enrolment_puts_the_card_in_google_at_once_so_the_save_link_works(
    client: httpx.AsyncClient,
    tenant: Tenant,
    session_factory: async_sessionmaker[AsyncSession],
    google: GoogleWallet,
    google_standin: GoogleStandIn,
    outbox: Outbox,
) -> None:
    first = await _member(client, tenant)
    second = await _member(client, tenant, email="second@example.com")
    await outbox()

    for member in (first, second):
        assert f"{ISSUER}.{member['serial_number']}" in google_standin.objects
        version, sent = await _google_member(session_factory, member["id"])
        assert sent == version
    class_writes = [call for call in google_standin.calls if "loyaltyClass" in call.path]
    assert [call.method for call in class_writes] == ["PUT", "POST"]  # new, then left alone
    assert (await outbox()).groups == 0


async def test_balance_changes_and_cancellation_reach_the_card_through_the_outbox(
    client: httpx.AsyncClient,
    tenant: Tenant,
    google_standin: GoogleStandIn,
    outbox: Outbox,
) -> None:
    member = await _member(client, tenant)
    object_id = f"{ISSUER}.{member['serial_number']}"
    await outbox()  # the new card (and the shop's set-up)
    assert object_id in google_standin.objects
    assert (await outbox()).groups == 0  # nothing changed since

    scanned = await _scan(client, tenant, tenant.barcode(member["serial_number"]), "20.00")
    assert scanned.status_code == 201, scanned.text
    assert (await outbox()).delivered == 1
    balance = scanned.json()["member"]["points_balance"]
    assert google_standin.objects[object_id]["loyaltyPoints"]["balance"] == {"int": balance}

    cancelled = await client.post(
        f"/api/v1/members/{member['id']}/cancellation", headers=tenant.headers()
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert (await outbox()).delivered == 1
    assert google_standin.objects[object_id]["state"] == "INACTIVE"
    refused = await _scan(client, tenant, tenant.barcode(member["serial_number"]))
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "card_voided"


async def test_a_card_google_refuses_is_dropped_without_holding_up_the_others(
    client: httpx.AsyncClient,
    tenant: Tenant,
    session_factory: async_sessionmaker[AsyncSession],
    google_standin: GoogleStandIn,
    outbox: Outbox,
) -> None:
    await outbox()  # the shop's set-up
    first = await _member(client, tenant)
    second = await _member(client, tenant, email="other@example.com")
    google_standin.fail_next(400, "invalidResource", "the card is refused")

    report = await outbox()
    again = await outbox()

    assert (report.delivered, report.failed) == (2, 0)  # refused for good: logged, not retried
    assert again.groups == 0
    sent = [await _google_member(session_factory, m["id"]) for m in (first, second)]
    # The two cards go concurrently: whichever Google refused stays unsent, the other landed.
    assert sorted(google is None for _, google in sent) == [False, True]
    assert all(google in (None, version) for version, google in sent)


async def test_a_google_outage_is_retried_later_with_backoff(
    client: httpx.AsyncClient,
    tenant: Tenant,
    clock: ManualClock,
    session_factory: async_sessionmaker[AsyncSession],
    google_standin: GoogleStandIn,
    outbox: Outbox,
) -> None:
    await outbox()  # the shop's set-up
    member = await _member(client, tenant)
    google_standin.fail_next(503, "backendError", "try later")

    first = await outbox()
    at_once = await outbox()
    clock.advance(timedelta(seconds=10))  # past the first backoff (5 s, jittered down to half)
    later = await outbox()

    assert (first.failed, at_once.groups, later.delivered) == (1, 0, 1)
    version, sent = await _google_member(session_factory, member["id"])
    assert sent == version


async def test_a_card_that_cannot_be_built_is_kept_for_a_retry(
    client: httpx.AsyncClient,
    tenant: Tenant,
    session_factory: async_sessionmaker[AsyncSession],
    google_standin: GoogleStandIn,
    outbox: Outbox,
) -> None:
    await outbox()  # the shop's set-up
    member = await _member(client, tenant)
    async with session_scope(session_factory) as session:  # its card design is gone
        program = await session.get(Program, tenant.program_id)
        assert program is not None
        program.template = "withdrawn-design"

    report = await outbox()

    assert (report.delivered, report.failed) == (0, 1)
    _, sent = await _google_member(session_factory, member["id"])
    assert sent is None
    async with session_scope(session_factory) as session:
        [row] = (await session.execute(select(OutboxMessage))).scalars().all()
        assert row.attempts == 1 and "not built" in (row.last_error or "")


async def test_an_erased_members_card_goes_inactive_without_their_name(
    client: httpx.AsyncClient,
    tenant: Tenant,
    google_standin: GoogleStandIn,
    outbox: Outbox,
) -> None:
    member = await _member(client, tenant, family_name="Martin", email="camille@example.com")
    scanned = await _scan(client, tenant, tenant.barcode(member["serial_number"]), "20.00")
    assert scanned.status_code == 201, scanned.text
    await outbox()

    erased = await client.post(f"/api/v1/members/{member['id']}/erasure", headers=tenant.headers())
    synced = await outbox()

    assert erased.status_code == 200, erased.text
    body = erased.json()
    assert body["status"] == "erased"
    assert (body["given_name"], body["family_name"], body["email"]) == ("", "", None)
    assert body["points_balance"] == scanned.json()["member"]["points_balance"]  # totals kept
    assert synced.delivered == 1
    stored = google_standin.objects[f"{ISSUER}.{member['serial_number']}"]
    assert stored["state"] == "INACTIVE"
    assert "Camille" not in json.dumps(stored) and "Martin" not in json.dumps(stored)


async def test_the_client_patches_objects_and_adds_messages_with_a_valid_token(
    client: httpx.AsyncClient,
    tenant: Tenant,
    google: GoogleWallet,
    google_standin: GoogleStandIn,
    outbox: Outbox,
) -> None:
    member = await _member(client, tenant)
    await outbox()  # the enrolment's outbox row inserts the object
    object_id = f"{ISSUER}.{member['serial_number']}"
    wallet_client = google.client_for(tenant.merchant_id)

    await wallet_client.patch_object(object_id, {"state": "INACTIVE"})
    message = text_message("double-points", "Double points", "Today in store", notify=True)
    await wallet_client.add_message(object_id, message)

    stored = google_standin.objects[object_id]
    assert stored["state"] == "INACTIVE"
    assert stored["messages"][-1] == message
    methods = [(call.method, call.path.rsplit("/", 1)[-1]) for call in google_standin.calls[-2:]]
    assert methods == [("PATCH", object_id), ("POST", "addMessage")]
    assert len({call.bearer for call in google_standin.calls}) == 1  # one token, reused
    assert google_standin.calls[-1].bearer in google_standin.issued_tokens


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (429, "google_wallet_rate_limited"),
        (503, "google_wallet_unavailable"),
        (400, "google_wallet_rejected"),
    ],
)
async def test_google_errors_become_problems_with_stable_codes(
    client: httpx.AsyncClient,
    tenant: Tenant,
    google: GoogleWallet,
    google_standin: GoogleStandIn,
    status: int,
    code: str,
) -> None:
    member = await _member(client, tenant)
    google_standin.fail_next(status, "testFailure", "injected by the test")

    answer = await client.get(_save_hop(member))

    assert answer.status_code == 502
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == code
    assert "injected by the test" in answer.json()["detail"]


async def test_a_key_google_does_not_trust_is_reported_as_an_auth_failure(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    google: GoogleWallet,
    google_standin: GoogleStandIn,
    tmp_path: Path,
) -> None:
    untrusted, _ = service_account_key(google_standin.token_uri)
    tenant = await on_google_wallet(session_factory, client, settings, untrusted, tmp_path)
    member = await _member(client, tenant)

    with pytest.raises(GoogleWalletError) as failure:
        await google.client_for(tenant.merchant_id).upsert_object({"id": "x"})
    answer = await client.get(_save_hop(member))

    assert failure.value.code == "google_wallet_auth_failed"
    assert answer.status_code == 502
    assert answer.json()["code"] == "google_wallet_auth_failed"
    assert google_standin.objects == {}


async def test_a_rotating_barcode_from_the_object_scans_within_its_step_only(
    client: httpx.AsyncClient,
    tenant: Tenant,
    session_factory: async_sessionmaker[AsyncSession],
    google: GoogleWallet,
    google_standin: GoogleStandIn,
    clock: ManualClock,
    outbox: Outbox,
) -> None:
    async with session_scope(session_factory) as session:
        scope = MerchantScope.for_operator(tenant.merchant_id)
        await update_program(
            session, scope, tenant.program_id, ProgramUpdate(rotating_barcode=True), clock.now()
        )
    member = await _member(client, tenant)
    await outbox()
    pass_object: dict[str, Any] = google_standin.objects[f"{ISSUER}.{member['serial_number']}"]
    rotating = pass_object["rotatingBarcode"]
    assert "barcode" not in pass_object
    # Nothing on the card that scans forever: no token, no short code to type.
    short_code = issue_short_code(tenant.barcode_key, member["serial_number"])
    assert short_code not in json.dumps(pass_object)
    [parameter] = rotating["totpDetails"]["parameters"]
    assert int(rotating["totpDetails"]["periodMillis"]) == PERIOD * 1000

    def shown_at(at: float) -> str:  # what the phone renders, from the object alone
        return rotating["valuePattern"].replace("{totp_value_0}", _phone_code(parameter["key"], at))

    now = _now_mid_step(clock)
    accepted = await _scan(client, tenant, shown_at(now))
    two_steps_old = await _scan(client, tenant, shown_at(now - 2 * PERIOD))

    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["member"]["id"] == member["id"]
    assert two_steps_old.status_code == 422
    assert two_steps_old.json()["code"] == "invalid_barcode"
    # The secret reaches the phone through the API, never through the save link.
    save_link = member["google_save_url"].removeprefix(SAVE_URL_PREFIX)
    assert parameter["key"] not in json.dumps(
        jwt.decode(save_link, options={"verify_signature": False})
    )


async def test_the_key_is_kept_private_outside_the_database_and_never_shown(
    client: httpx.AsyncClient,
    tenant: Tenant,
    settings: Settings,
    google: GoogleWallet,
    service_account_info: dict[str, str],
) -> None:
    member = await _member(client, tenant)

    stored = google_credentials_path(settings.certificates_dir, tenant.merchant_id)
    assert stored.stat().st_mode & 0o777 == 0o600
    listed = await client.get("/api/v1/members", headers=tenant.headers())
    read = await client.get(f"/api/v1/members/{member['id']}", headers=tenant.headers())
    key_body = service_account_info["private_key"].splitlines()[5]
    for answer in (listed, read):
        assert answer.status_code == 200
        assert "PRIVATE KEY" not in answer.text
        assert key_body not in answer.text.replace("\\n", "\n")
    assert service_account_info["private_key"] not in repr(google.credentials(tenant.merchant_id))


async def test_without_google_credentials_there_is_no_save_link_and_no_button(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    google: GoogleWallet,
) -> None:
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    member = await _member(client, tenant)

    page = await client.get(member["card_url"])
    hop = await client.get(_save_hop(member))

    assert member["google_save_url"] is None
    assert "Add to Google Wallet" not in page.text
    assert hop.status_code == 503
    assert hop.json()["code"] == "google_wallet_not_configured"


async def test_card_images_are_served_for_google_to_fetch(client: httpx.AsyncClient) -> None:
    logo = await client.get("/wallet/google/images/points/logo.png")
    secret = await client.get("/wallet/google/images/points/template.json")
    unknown = await client.get("/wallet/google/images/nope/logo.png")

    assert logo.status_code == 200
    assert logo.headers["content-type"] == "image/png"
    assert logo.content.startswith(b"\x89PNG")
    assert secret.status_code == 404
    assert unknown.status_code == 404


def test_the_cli_imports_a_key_and_refuses_what_is_not_one(tmp_path: Path) -> None:
    from tests.test_cli import _cli

    data_dir = tmp_path / "data"
    assert _cli(data_dir, "db", "upgrade").returncode == 0
    merchant = _cli(data_dir, "merchant", "create", "--name", "Shop", "--slug", "shop")
    merchant_id = merchant.stdout.strip()
    info, _ = service_account_key("https://oauth2.googleapis.com/token")
    key = tmp_path / "key.json"
    key.write_text(json.dumps(info))
    not_a_key = tmp_path / "other.json"
    not_a_key.write_text(json.dumps({"type": "authorized_user"}))

    imported = _cli(
        data_dir, "google", "import", "--merchant", "shop", "--issuer-id", ISSUER, "--key", str(key)
    )
    refused = _cli(
        data_dir, "google", "import", "--merchant", "shop", "--issuer-id", ISSUER,
        "--key", str(not_a_key),
    )  # fmt: skip

    assert imported.returncode == 0, imported.stderr
    assert info["client_email"] in imported.stdout
    assert info["private_key"] not in imported.stdout + imported.stderr
    stored = data_dir / "certs" / "google" / f"{merchant_id}.json"
    assert os.stat(stored).st_mode & 0o777 == 0o600
    assert refused.returncode == 2
    assert "not a service-account key" in refused.stderr
