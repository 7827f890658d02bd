"""The PassKit web service, driven the way Wallet on an iPhone drives it."""

from __future__ import annotations

import email.utils
import io
import json
import subprocess
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import PASS_TYPE_ID
from tests.factories import Tenant, make_tenant
from wallet_service.accounts.posting import touch_pass
from wallet_service.clock import ManualClock
from wallet_service.config import Settings
from wallet_service.db.session import bound_clock, session_scope
from wallet_service.loyalty.examples import coffee_shop_rules
from wallet_service.members.service import get_member
from wallet_service.scanning.short_code import issue_short_code
from wallet_service.security.permissions import Role
from wallet_service.security.principal import MerchantScope

DEVICE = "a1b2c3d4e5f6device"
PUSH_TOKEN = "f" * 64


async def _enrol(
    client: httpx.AsyncClient, tenant: Tenant, email_address: str = "camille@example.com"
) -> dict[str, str]:
    response = await client.post(
        f"/api/v1/programs/{tenant.program_id}/members",
        json={"given_name": "Camille", "family_name": "Martin", "email": email_address},
        headers=tenant.headers(),
    )
    assert response.status_code == 201, response.text
    member: dict[str, str] = response.json()
    return member


async def _download(client: httpx.AsyncClient, member: dict[str, str]) -> httpx.Response:
    response = await client.get(member["apple_pass_url"].removeprefix("https://wallet.test"))
    assert response.status_code == 200, response.text
    return response


def _pass_json(pkpass: bytes) -> dict[str, object]:
    with zipfile.ZipFile(io.BytesIO(pkpass)) as archive:
        document: dict[str, object] = json.loads(archive.read("pass.json"))
        return document


async def _change_balance(
    factory: async_sessionmaker[AsyncSession], tenant: Tenant, member_id: str, points: int
) -> None:
    async with session_scope(factory) as session:
        member = await get_member(
            session, MerchantScope.for_operator(tenant.merchant_id), uuid.UUID(member_id)
        )
        member.points_balance = points
        touch_pass(session, member, bound_clock(factory).now())


def _a_second_later(clock: ManualClock) -> None:
    """HTTP dates (Last-Modified) have whole seconds: let the next change show in them."""
    clock.advance(timedelta(seconds=1))


def _verify_with_openssl(pkpass: bytes, workdir: Path, settings: Settings) -> None:
    with zipfile.ZipFile(io.BytesIO(pkpass)) as archive:
        archive.extractall(workdir)
    certs = settings.certificates_dir
    result = subprocess.run(
        [
            "openssl", "smime", "-verify", "-binary", "-inform", "DER",
            "-in", str(workdir / "signature"), "-content", str(workdir / "manifest.json"),
            "-CAfile", str(certs / "dev-root-ca.pem"), "-certfile", str(certs / "wwdr.pem"),
            "-purpose", "any", "-out", "/dev/null",
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


async def test_device_registers_learns_of_a_change_and_fetches_the_new_pass(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    tmp_path: Path,
    clock: ManualClock,
) -> None:
    tenant = await make_tenant(session_factory, client)
    member = await _enrol(client, tenant)
    downloaded = await _download(client, member)
    assert downloaded.headers["content-type"] == "application/vnd.apple.pkpass"
    assert "filename=" in downloaded.headers["content-disposition"]
    assert downloaded.headers["cache-control"] == "private, no-cache"
    document = _pass_json(downloaded.content)
    token = str(document["authenticationToken"])
    serial = member["serial_number"]
    assert document["serialNumber"] == serial
    assert document["webServiceURL"] == "https://wallet.test/passkit"
    assert len(token) >= 16
    _verify_with_openssl(downloaded.content, tmp_path, settings)

    auth = {"Authorization": f"ApplePass {token}"}
    registration = f"/passkit/v1/devices/{DEVICE}/registrations/{PASS_TYPE_ID}/{serial}"
    first = await client.post(registration, json={"pushToken": PUSH_TOKEN}, headers=auth)
    again = await client.post(registration, json={"pushToken": PUSH_TOKEN}, headers=auth)
    assert (first.status_code, again.status_code) == (201, 200)

    listing = f"/passkit/v1/devices/{DEVICE}/registrations/{PASS_TYPE_ID}"
    _a_second_later(clock)
    initial = await client.get(listing)
    assert initial.status_code == 200
    assert initial.json()["serialNumbers"] == [serial]
    tag = initial.json()["lastUpdated"]
    assert isinstance(tag, str)
    assert (await client.get(listing, params={"passesUpdatedSince": tag})).status_code == 204

    pass_url = f"/passkit/v1/passes/{PASS_TYPE_ID}/{serial}"
    current = await client.get(pass_url, headers=auth)
    assert current.status_code == 200
    last_modified = current.headers["last-modified"]
    unchanged = await client.get(pass_url, headers={**auth, "If-Modified-Since": last_modified})
    assert unchanged.status_code == 304

    await _change_balance(session_factory, tenant, member["id"], 120)
    changed = await client.get(listing, params={"passesUpdatedSince": tag})
    assert changed.status_code == 200
    assert changed.json()["serialNumbers"] == [serial]
    assert changed.json()["lastUpdated"] != tag
    fresh = await client.get(pass_url, headers={**auth, "If-Modified-Since": last_modified})
    assert fresh.status_code == 200
    assert email.utils.parsedate_to_datetime(fresh.headers["last-modified"]) > (
        email.utils.parsedate_to_datetime(last_modified)
    )
    assert _pass_json(fresh.content)["authenticationToken"] == token
    _verify_with_openssl(fresh.content, tmp_path / "fresh", settings)
    head = await client.head(pass_url, headers=auth)
    assert head.status_code == 200 and head.headers["last-modified"]

    gone = await client.delete(registration, headers=auth)
    assert gone.status_code == 200
    assert (await client.get(listing)).status_code == 204


async def test_only_passes_that_really_changed_are_listed(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
) -> None:
    tenant = await make_tenant(session_factory, client)
    members = []
    for email_address in ("a@example.com", "b@example.com"):
        response = await client.post(
            f"/api/v1/programs/{tenant.program_id}/members",
            json={"email": email_address},
            headers=tenant.headers(),
        )
        members.append(response.json())
    for member in members:
        token = _pass_json((await _download(client, member)).content)["authenticationToken"]
        await client.post(
            f"/passkit/v1/devices/{DEVICE}/registrations/{PASS_TYPE_ID}/{member['serial_number']}",
            json={"pushToken": PUSH_TOKEN},
            headers={"Authorization": f"ApplePass {token}"},
        )
    listing = f"/passkit/v1/devices/{DEVICE}/registrations/{PASS_TYPE_ID}"
    _a_second_later(clock)
    tag = (await client.get(listing)).json()["lastUpdated"]
    await _change_balance(session_factory, tenant, members[1]["id"], 5)
    changed = await client.get(listing, params={"passesUpdatedSince": tag})
    assert changed.json()["serialNumbers"] == [members[1]["serial_number"]]


@pytest.mark.parametrize(
    "authorization",
    [None, "ApplePass wrong-token-wrong-token", "Bearer something", "ApplePass "],
)
async def test_wrong_or_missing_apple_pass_token_is_401(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    authorization: str | None,
) -> None:
    tenant = await make_tenant(session_factory, client)
    member = await _enrol(client, tenant)
    serial = member["serial_number"]
    headers = {"Authorization": authorization} if authorization else {}
    registration = f"/passkit/v1/devices/{DEVICE}/registrations/{PASS_TYPE_ID}/{serial}"
    for method, url, body in (
        ("POST", registration, {"pushToken": "t"}),
        ("DELETE", registration, None),
        ("GET", f"/passkit/v1/passes/{PASS_TYPE_ID}/{serial}", None),
    ):
        response = await client.request(method, url, json=body, headers=headers)
        assert response.status_code == 401, (method, url)
        assert response.json()["code"] == "invalid_pass_token"
        assert response.headers["www-authenticate"] == "ApplePass"


async def test_a_token_for_one_pass_does_not_open_another(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    mine = await _enrol(client, tenant)
    other = (
        await client.post(
            f"/api/v1/programs/{tenant.program_id}/members", json={}, headers=tenant.headers()
        )
    ).json()
    token = _pass_json((await _download(client, mine)).content)["authenticationToken"]
    response = await client.get(
        f"/passkit/v1/passes/{PASS_TYPE_ID}/{other['serial_number']}",
        headers={"Authorization": f"ApplePass {token}"},
    )
    assert response.status_code == 401


async def test_unknown_pass_type_is_404(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    member = await _enrol(client, tenant)
    token = _pass_json((await _download(client, member)).content)["authenticationToken"]
    auth = {"Authorization": f"ApplePass {token}"}
    serial = member["serial_number"]
    for method, url in (
        ("GET", f"/passkit/v1/passes/pass.other.type/{serial}"),
        ("GET", f"/passkit/v1/devices/{DEVICE}/registrations/pass.other.type"),
        ("POST", f"/passkit/v1/devices/{DEVICE}/registrations/pass.other.type/{serial}"),
    ):
        response = await client.request(method, url, json={"pushToken": "t"}, headers=auth)
        assert response.status_code == 404, (method, url)
        assert response.json()["code"] == "unknown_pass_type"


async def test_garbage_update_tag_is_a_clear_error(client: httpx.AsyncClient) -> None:
    response = await client.get(
        f"/passkit/v1/devices/{DEVICE}/registrations/{PASS_TYPE_ID}",
        params={"passesUpdatedSince": "yesterday"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_update_tag"


async def test_download_link_with_a_wrong_token_is_404(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    member = await _enrol(client, tenant)
    url = member["apple_pass_url"].removeprefix("https://wallet.test")
    forged = url.rsplit("/", 1)[0] + "/" + "a" * 32 + ".pkpass"
    response = await client.get(forged)
    assert response.status_code == 404 and response.json()["code"] == "pass_not_found"


async def test_a_private_link_with_a_non_ascii_token_is_404_not_500(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    serial = (await _enrol(client, tenant))["serial_number"]
    for url, code in (
        (f"/card/{serial}/%C3%A9", "card_not_found"),
        (f"/wallet/apple/{serial}/%C3%A9t%C3%A9.pkpass", "pass_not_found"),
        (f"/wallet/google/{serial}/%C3%A9", "pass_not_found"),
    ):
        response = await client.get(url)
        assert response.status_code == 404, (url, response.text)
        assert response.json()["code"] == code


async def test_device_logs_are_stored_and_shown_to_the_merchant_that_owns_the_pass(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, "Owner")
    other = await make_tenant(session_factory, client, "Other")
    member = await _enrol(client, tenant)
    message = f"[2026-11-25] Web service error for {PASS_TYPE_ID} {member['serial_number']}: 500"
    posted = await client.post("/passkit/v1/log", json={"logs": [message, "unrelated noise"]})
    assert posted.status_code == 200
    mine = await client.get("/api/v1/passkit/logs", headers=tenant.headers(Role.owner))
    theirs = await client.get("/api/v1/passkit/logs", headers=other.headers(Role.owner))
    assert [log["message"] for log in mine.json()["data"]] == [message]
    assert theirs.json()["count"] == 0


async def test_fields_apple_may_add_to_its_bodies_are_tolerated(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    # Our own API refuses unknown fields; Apple's bodies do not, or a future iOS that sends
    # one more key would stop every registration and log.
    tenant = await make_tenant(session_factory, client)
    member = await _enrol(client, tenant)
    token = _pass_json((await _download(client, member)).content)["authenticationToken"]
    registered = await client.post(
        f"/passkit/v1/devices/{DEVICE}/registrations/{PASS_TYPE_ID}/{member['serial_number']}",
        json={"pushToken": PUSH_TOKEN, "deviceModel": "iPhone99,1"},
        headers={"Authorization": f"ApplePass {token}"},
    )
    assert registered.status_code == 201, registered.text
    logged = await client.post("/passkit/v1/log", json={"logs": ["x"], "osVersion": "99.0"})
    assert logged.status_code == 200, logged.text


async def test_member_resource_carries_the_apple_pass_link(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    member = await _enrol(client, tenant)
    fetched = await client.get(f"/api/v1/members/{member['id']}", headers=tenant.headers())
    url = fetched.json()["apple_pass_url"]
    assert url.startswith("https://wallet.test/wallet/apple/") and url.endswith(".pkpass")
    assert url == member["apple_pass_url"]


def _field(document: dict[str, object], key: str) -> dict[str, object]:
    card = document["storeCard"]
    assert isinstance(card, dict)
    for group in card.values():
        for field in group:
            if field["key"] == key:
                return dict(field)
    raise AssertionError(f"no field {key}")


async def test_the_pass_shows_balance_tier_and_progress_after_a_scan(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=coffee_shop_rules())
    member = await _enrol(client, tenant)
    await client.post(
        "/api/v1/scans",
        json={
            "barcode": tenant.barcode(member["serial_number"]),
            "amount": {"value": "12.50", "currency": "EUR"},
        },
        headers={**tenant.headers(), "Idempotency-Key": "first-coffee"},
    )
    document = _pass_json((await _download(client, member)).content)
    balance = _field(document, "balance")
    assert balance["value"] == 175 or balance["value"] == "175"
    assert "%@" in str(balance["changeMessage"])
    assert _field(document, "tier")["value"] == "Curious"
    assert "to Regular" in str(_field(document, "progress")["value"])
    assert str(_field(document, "card_page")["value"]).startswith("https://wallet.test/card/")
    assert len(document["locations"]) == 2  # type: ignore[arg-type]
    barcode = document["barcodes"][0]  # type: ignore[index]
    assert barcode["message"] == tenant.barcode(member["serial_number"])
    assert barcode["altText"] == issue_short_code(tenant.barcode_key, member["serial_number"])


async def test_a_stamp_card_draws_the_member_s_stamps(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    rules = {
        **coffee_shop_rules(),
        "stamps": {"stamps_per_card": 8, "stamps_per_visit": 1, "reward_label": "Free croissant"},
    }
    tenant = await make_tenant(session_factory, client, rules=rules)
    await client.patch(
        f"/api/v1/programs/{tenant.program_id}",
        json={"template": "stamps"},
        headers=tenant.headers(Role.owner),
    )
    member = await _enrol(client, tenant)
    before = (await _download(client, member)).content
    for visit in range(3):
        await client.post(
            "/api/v1/scans",
            json={
                "barcode": tenant.barcode(member["serial_number"]),
                "amount": {"value": "4", "currency": "EUR"},
            },
            headers={**tenant.headers(), "Idempotency-Key": f"visit-{visit}"},
        )
    after = (await _download(client, member)).content
    with zipfile.ZipFile(io.BytesIO(before)) as old, zipfile.ZipFile(io.BytesIO(after)) as new:
        assert old.read("strip.png") != new.read("strip.png")
        assert _field(json.loads(new.read("pass.json")), "stamps_to_go")["value"] in (5, "5")


async def test_a_burst_of_changes_on_one_pass_does_not_hide_the_next_change_of_another(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
) -> None:
    tenant = await make_tenant(session_factory, client)
    members = []
    for email_address in ("burst@example.com", "quiet@example.com"):
        member = await _enrol(client, tenant, email_address)
        token = _pass_json((await _download(client, member)).content)["authenticationToken"]
        await client.post(
            f"/passkit/v1/devices/{DEVICE}/registrations/{PASS_TYPE_ID}/{member['serial_number']}",
            json={"pushToken": PUSH_TOKEN},
            headers={"Authorization": f"ApplePass {token}"},
        )
        members.append(member)
    for points in (10, 20, 30):  # each version is stamped a second after the previous one
        await _change_balance(session_factory, tenant, members[0]["id"], points)
    listing = f"/passkit/v1/devices/{DEVICE}/registrations/{PASS_TYPE_ID}"
    tag = (await client.get(listing)).json()["lastUpdated"]
    await _change_balance(session_factory, tenant, members[1]["id"], 5)
    changed = await client.get(listing, params={"passesUpdatedSince": tag})
    assert changed.status_code == 200
    assert members[1]["serial_number"] in changed.json()["serialNumbers"]
    pass_url = f"/passkit/v1/passes/{PASS_TYPE_ID}/{members[0]['serial_number']}"
    token = _pass_json((await _download(client, members[0])).content)["authenticationToken"]
    fetched = await client.get(pass_url, headers={"Authorization": f"ApplePass {token}"})
    last_modified = email.utils.parsedate_to_datetime(fetched.headers["last-modified"])
    assert last_modified <= clock.now()  # never in the future


async def test_renaming_the_program_or_adding_a_store_updates_every_card(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
) -> None:
    tenant = await make_tenant(session_factory, client)
    member = await _enrol(client, tenant)
    token = _pass_json((await _download(client, member)).content)["authenticationToken"]
    await client.post(
        f"/passkit/v1/devices/{DEVICE}/registrations/{PASS_TYPE_ID}/{member['serial_number']}",
        json={"pushToken": PUSH_TOKEN},
        headers={"Authorization": f"ApplePass {token}"},
    )
    listing = f"/passkit/v1/devices/{DEVICE}/registrations/{PASS_TYPE_ID}"
    _a_second_later(clock)
    tag = (await client.get(listing)).json()["lastUpdated"]
    renamed = await client.patch(
        f"/api/v1/programs/{tenant.program_id}",
        json={"name": "Club Caféine"},
        headers=tenant.headers(Role.owner),
    )
    assert renamed.status_code == 200
    changed = await client.get(listing, params={"passesUpdatedSince": tag})
    assert changed.json()["serialNumbers"] == [member["serial_number"]]
    assert "Club Caféine" in json.dumps(
        _pass_json((await _download(client, member)).content), ensure_ascii=False
    )

    _a_second_later(clock)
    tag = changed.json()["lastUpdated"]
    await client.post(
        "/api/v1/stores",
        json={"name": "Gare de Lyon", "latitude": 48.844, "longitude": 2.374},
        headers=tenant.headers(Role.owner),
    )
    moved = await client.get(listing, params={"passesUpdatedSince": tag})
    assert moved.json()["serialNumbers"] == [member["serial_number"]]
    assert len(_pass_json((await _download(client, member)).content)["locations"]) == 3  # type: ignore[arg-type]
