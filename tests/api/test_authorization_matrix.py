"""The authorization matrix: every operation x every principal -> the status it must get.

``MATRIX`` below is the one table. Each row is an operation (``"METHOD /path"`` as in
``/openapi.json``, plus the customer's private links); each column a principal:

    anon    no credentials
    cust    the member's own pass: its ApplePass token (on API routes sent as a Bearer token),
            its card and pass links
    peer    another member's pass token and links, presented for this member's pass
    csA     cashier bound to store A        csB   cashier bound to store B
    mgr     manager     mkt   marketer      own   owner
    own2    the owner of another merchant (another merchant's rows must look missing: 404)
    key     a POS key created without scopes (a till)
    keyB    the same, bound to store B
    mR mW mE pR sR   a POS key holding only members:read, members:write, members:erase,
                     programs:read, stores:read

Till calls (scans, redemptions, reversals) are made at store A, so whoever is bound to store B
gets 403 ``store_not_allowed``. Every call is a valid request; a call that changes something
gets a target of its own (a fresh member to erase, a fresh transaction to reverse...), so no
outcome depends on the order of the calls. A new route fails the coverage guard until it has
a row here.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import PASS_TYPE_ID, SUITE_NOW
from tests.factories import PASSWORD, Tenant, client_at, coffee_rules, make_tenant
from wallet_service.clock import ManualClock
from wallet_service.db.base import Base
from wallet_service.security.permissions import Role

PRINCIPALS = (
    "anon", "cust", "peer", "csA", "csB", "mgr", "mkt", "own", "own2",
    "key", "keyB", "mR", "mW", "mE", "pR", "sR",
)  # fmt: skip

DEVICES = "/passkit/v1/devices/{device_library_identifier}/registrations/{pass_type_identifier}"
PASSES = "/passkit/v1/passes/{pass_type_identifier}/{serial_number}"

# fmt: off
MATRIX: dict[str, tuple[int, ...]] = {
    #          anon cust peer csA  csB  mgr  mkt  own  own2 key  keyB mR   mW   mE   pR   sR
    # Sign-in is public: any header is ignored, the form's credentials decide.
    "POST /api/v1/auth/token":
              (200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /api/v1/auth/me":
              (401, 401, 401, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    # Collections without an id answer the caller's own merchant: 200 for another's owner.
    "GET /api/v1/merchant":
              (401, 401, 401, 403, 403, 200, 200, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "PATCH /api/v1/merchant":
              (401, 401, 401, 403, 403, 403, 403, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    #          anon cust peer csA  csB  mgr  mkt  own  own2 key  keyB mR   mW   mE   pR   sR
    "GET /api/v1/programs":
              (401, 401, 401, 403, 403, 200, 200, 200, 200, 403, 403, 403, 403, 403, 200, 403),
    "POST /api/v1/programs":
              (401, 401, 401, 403, 403, 403, 201, 201, 201, 403, 403, 403, 403, 403, 403, 403),
    "GET /api/v1/programs/{program_id}":
              (401, 401, 401, 403, 403, 200, 200, 200, 404, 403, 403, 403, 403, 403, 200, 403),
    "PATCH /api/v1/programs/{program_id}":
              (401, 401, 401, 403, 403, 403, 200, 200, 404, 403, 403, 403, 403, 403, 403, 403),
    #          anon cust peer csA  csB  mgr  mkt  own  own2 key  keyB mR   mW   mE   pR   sR
    "GET /api/v1/stores":
              (401, 401, 401, 403, 403, 200, 200, 200, 200, 403, 403, 403, 403, 403, 403, 200),
    "POST /api/v1/stores":
              (401, 401, 401, 403, 403, 403, 201, 201, 201, 403, 403, 403, 403, 403, 403, 403),
    "GET /api/v1/stores/{store_id}":
              (401, 401, 401, 403, 403, 200, 200, 200, 404, 403, 403, 403, 403, 403, 403, 200),
    "PATCH /api/v1/stores/{store_id}":
              (401, 401, 401, 403, 403, 403, 200, 200, 404, 403, 403, 403, 403, 403, 403, 403),
    #          anon cust peer csA  csB  mgr  mkt  own  own2 key  keyB mR   mW   mE   pR   sR
    "GET /api/v1/staff":
              (401, 401, 401, 403, 403, 403, 403, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "POST /api/v1/staff":
              (401, 401, 401, 403, 403, 403, 403, 201, 201, 403, 403, 403, 403, 403, 403, 403),
    "GET /api/v1/staff/{staff_id}":
              (401, 401, 401, 403, 403, 403, 403, 200, 404, 403, 403, 403, 403, 403, 403, 403),
    "PATCH /api/v1/staff/{staff_id}":
              (401, 401, 401, 403, 403, 403, 403, 200, 404, 403, 403, 403, 403, 403, 403, 403),
    #          anon cust peer csA  csB  mgr  mkt  own  own2 key  keyB mR   mW   mE   pR   sR
    "GET /api/v1/api-keys":
              (401, 401, 401, 403, 403, 403, 403, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "POST /api/v1/api-keys":
              (401, 401, 401, 403, 403, 403, 403, 201, 201, 403, 403, 403, 403, 403, 403, 403),
    "GET /api/v1/api-keys/{key_id}":
              (401, 401, 401, 403, 403, 403, 403, 200, 404, 403, 403, 403, 403, 403, 403, 403),
    "DELETE /api/v1/api-keys/{key_id}":
              (401, 401, 401, 403, 403, 403, 403, 204, 404, 403, 403, 403, 403, 403, 403, 403),
    #          anon cust peer csA  csB  mgr  mkt  own  own2 key  keyB mR   mW   mE   pR   sR
    "POST /api/v1/programs/{program_id}/members":
              (401, 401, 401, 403, 403, 201, 403, 201, 404, 403, 403, 403, 201, 403, 403, 403),
    "GET /api/v1/members":
              (401, 401, 401, 403, 403, 200, 403, 200, 200, 403, 403, 200, 403, 403, 403, 403),
    "GET /api/v1/members/{member_id}":
              (401, 401, 401, 403, 403, 200, 403, 200, 404, 403, 403, 200, 403, 403, 403, 403),
    "POST /api/v1/members/{member_id}/cancellation":
              (401, 401, 401, 403, 403, 200, 403, 200, 404, 403, 403, 403, 200, 403, 403, 403),
    "POST /api/v1/members/{member_id}/erasure":
              (401, 401, 401, 403, 403, 200, 403, 200, 404, 403, 403, 403, 403, 200, 403, 403),
    "POST /api/v1/members/{member_id}/consents":
              (401, 401, 401, 403, 403, 200, 403, 200, 404, 403, 403, 403, 200, 403, 403, 403),
    #          anon cust peer csA  csB  mgr  mkt  own  own2 key  keyB mR   mW   mE   pR   sR
    # The till, at store A.
    "GET /api/v1/scans/lookup":
              (401, 401, 401, 200, 200, 200, 403, 200, 404, 200, 200, 403, 403, 403, 403, 403),
    "POST /api/v1/scans":
              (401, 401, 401, 201, 403, 201, 403, 201, 404, 201, 403, 403, 403, 403, 403, 403),
    "POST /api/v1/redemptions":
              (401, 401, 401, 201, 403, 201, 403, 201, 404, 201, 403, 403, 403, 403, 403, 403),
    "POST /api/v1/transactions/{transaction_id}/reversal":
              (401, 401, 401, 201, 403, 201, 403, 201, 404, 201, 403, 403, 403, 403, 403, 403),
    "GET /api/v1/passkit/logs":
              (401, 401, 401, 403, 403, 200, 200, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    # Dead letters are the owner's: retrying them sends to Apple, Google and webhooks again.
    "GET /api/v1/outbox/dead":
              (401, 401, 401, 403, 403, 403, 403, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "POST /api/v1/outbox/dead/retry":
              (401, 401, 401, 403, 403, 403, 403, 202, 202, 403, 403, 403, 403, 403, 403, 403),
    "POST /api/v1/outbox/dead/{message_id}/retry":
              (401, 401, 401, 403, 403, 403, 403, 404, 404, 403, 403, 403, 403, 403, 403, 403),
    #          anon cust peer csA  csB  mgr  mkt  own  own2 key  keyB mR   mW   mE   pR   sR
    # Webhooks: owners only (webhooks:manage), never a POS key.
    "GET /api/v1/webhook-endpoints":
              (401, 401, 401, 403, 403, 403, 403, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "POST /api/v1/webhook-endpoints":
              (401, 401, 401, 403, 403, 403, 403, 201, 201, 403, 403, 403, 403, 403, 403, 403),
    "GET /api/v1/webhook-endpoints/{endpoint_id}":
              (401, 401, 401, 403, 403, 403, 403, 200, 404, 403, 403, 403, 403, 403, 403, 403),
    "PATCH /api/v1/webhook-endpoints/{endpoint_id}":
              (401, 401, 401, 403, 403, 403, 403, 200, 404, 403, 403, 403, 403, 403, 403, 403),
    "DELETE /api/v1/webhook-endpoints/{endpoint_id}":
              (401, 401, 401, 403, 403, 403, 403, 204, 404, 403, 403, 403, 403, 403, 403, 403),
    "POST /api/v1/webhook-endpoints/{endpoint_id}/secret-rotation":
              (401, 401, 401, 403, 403, 403, 403, 200, 404, 403, 403, 403, 403, 403, 403, 403),
    "GET /api/v1/webhook-deliveries":
              (401, 401, 401, 403, 403, 403, 403, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "GET /api/v1/webhook-deliveries/{delivery_id}":
              (401, 401, 401, 403, 403, 403, 403, 200, 404, 403, 403, 403, 403, 403, 403, 403),
    "POST /api/v1/webhook-deliveries/{delivery_id}/redelivery":
              (401, 401, 401, 403, 403, 403, 403, 202, 404, 403, 403, 403, 403, 403, 403, 403),
    #          anon cust peer csA  csB  mgr  mkt  own  own2 key  keyB mR   mW   mE   pR   sR
    # Apple's PassKit web service: only the pass's own ApplePass token opens it; staff and
    # POS credentials are no ApplePass token. Listing a device's serials and the device
    # log are unauthenticated by Apple's design (the device id is the secret).
    f"POST {DEVICES}/{{serial_number}}":
              (401, 201, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401),
    f"DELETE {DEVICES}/{{serial_number}}":
              (401, 200, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401),
    f"GET {DEVICES}":
              (200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    f"GET {PASSES}":
              (401, 200, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401),
    f"HEAD {PASSES}":
              (401, 200, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401),
    "POST /passkit/v1/log":
              (200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    # The customer's private links: only the link's own token opens them, whatever header
    # comes with it (staff credentials do not open a customer's link either).
    "GET /wallet/apple/{serial_number}/{token}.pkpass":
              (404, 200, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404),
    "GET /card/{serial_number}/{token}":
              (404, 200, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404),
}
# fmt: on

# The PassKit and link rows are the surface whose authorization the matrix pins; the Google
# save hop and its images need Google credentials and are covered in tests/google.
COVERED_PREFIXES = ("/api/v1/", "/passkit/v1/")

RULES = coffee_rules()


@dataclass(frozen=True)
class Caller:
    """What one principal sends: on API routes, on PassKit routes, and in a private link."""

    api: dict[str, str]
    passkit: dict[str, str]
    link_token: str | None  # None: a guess


@dataclass
class World:
    client: httpx.AsyncClient
    tenant: Tenant
    other: Tenant
    member: dict[str, Any]
    device: str
    callers: dict[str, Caller] = field(default_factory=dict)
    # Each principal calls from an address of its own: per-address limits (sign-in, the
    # device log) then count one principal's calls, never the whole matrix's.
    http: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    @property
    def owner(self) -> dict[str, str]:
        return self.tenant.headers(Role.owner)

    @property
    def store_a(self) -> str:
        return str(self.tenant.store_ids[0])

    async def enrol(self, name: str = "Camille") -> dict[str, Any]:
        response = await self.client.post(
            f"/api/v1/programs/{self.tenant.program_id}/members",
            json={"given_name": name, "email": f"{uuid.uuid4().hex[:8]}@example.com"},
            headers=self.owner,
        )
        assert response.status_code == 201, response.text
        member: dict[str, Any] = response.json()
        return member

    async def scan(self, member: dict[str, Any], value: str = "10") -> dict[str, Any]:
        """A purchase at store A, recorded by the owner."""
        response = await self.client.post(
            "/api/v1/scans",
            json={
                "barcode": self.tenant.barcode(member["serial_number"]),
                "amount": {"value": value, "currency": "EUR"},
                "store_id": self.store_a,
            },
            headers=_posting(self.owner),
        )
        assert response.status_code == 201, response.text
        scan: dict[str, Any] = response.json()
        return scan

    async def new_key(self) -> str:
        response = await self.client.post(
            "/api/v1/api-keys", json={"name": "spare"}, headers=self.owner
        )
        assert response.status_code == 201, response.text
        key_id: str = response.json()["id"]
        return key_id


def _posting(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Idempotency-Key": str(uuid.uuid4())}


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


# --- One valid request per operation, as principal ``who`` --------------------------------

Call = Callable[[World, str], Awaitable[httpx.Response]]
OPERATIONS: dict[str, Call] = {}


def operation(key: str) -> Callable[[Call], Call]:
    def register(call: Call) -> Call:
        OPERATIONS[key] = call
        return call

    return register


def _plain(key: str, body: Callable[[], Any] | None) -> Call:
    """A call needing no target of its own: the path's ids are the world's."""
    method, path = key.split(" ", 1)

    async def call(w: World, who: str) -> httpx.Response:
        url = path.format(
            program_id=w.tenant.program_id,
            store_id=w.tenant.store_ids[0],
            member_id=w.member["id"],
            message_id=uuid.uuid4(),  # none dead: the owner's answer is 404 either way
        )
        payload = body() if body else None
        return await w.http[who].request(method, url, json=payload, headers=w.callers[who].api)

    return call


# Operation -> its body (None: none). Renaming and adding change nothing another call needs.
PLAIN: dict[str, Callable[[], Any] | None] = {
    "GET /api/v1/auth/me": None,
    "GET /api/v1/merchant": None,
    "PATCH /api/v1/merchant": lambda: {"name": "Renamed"},
    "GET /api/v1/programs": None,
    "POST /api/v1/programs": lambda: {"name": "Another", "currency": "EUR"},
    "GET /api/v1/programs/{program_id}": None,
    "PATCH /api/v1/programs/{program_id}": lambda: {"name": "Renamed"},
    "GET /api/v1/stores": None,
    "POST /api/v1/stores": lambda: {
        "name": "New",
        "latitude": 48.9,
        "longitude": 2.3,
        "timezone": "Europe/Paris",
    },
    "GET /api/v1/stores/{store_id}": None,
    "GET /api/v1/staff": None,
    "POST /api/v1/staff": lambda: {
        "email": f"{uuid.uuid4().hex[:8]}@example.com",
        "password": PASSWORD,
        "role": "cashier",
    },
    "GET /api/v1/api-keys": None,
    "POST /api/v1/api-keys": lambda: {"name": "Till 9"},
    "POST /api/v1/programs/{program_id}/members": lambda: {"given_name": "Eve"},
    "GET /api/v1/members": None,
    "GET /api/v1/members/{member_id}": None,
    "GET /api/v1/passkit/logs": None,
    "GET /api/v1/outbox/dead": None,
    "POST /api/v1/outbox/dead/retry": None,
    "POST /api/v1/outbox/dead/{message_id}/retry": None,
    "GET /api/v1/webhook-endpoints": None,
    "POST /api/v1/webhook-endpoints": lambda: {"url": "https://hooks.example.com/in"},
    "GET /api/v1/webhook-deliveries": None,
}
for _route, _body in PLAIN.items():
    operation(_route)(_plain(_route, _body))


@operation("POST /api/v1/auth/token")
async def _sign_in(w: World, who: str) -> httpx.Response:
    form = {"username": w.tenant.emails[Role.cashier], "password": PASSWORD}
    return await w.http[who].post(
        "/api/v1/auth/token",
        data={**form, "merchant": w.tenant.slug},
        headers=w.callers[who].api,
    )


@operation("PATCH /api/v1/stores/{store_id}")
async def _patch_store(w: World, who: str) -> httpx.Response:
    created = await w.client.post(
        "/api/v1/stores",
        json={"name": "Fresh", "latitude": 48.9, "longitude": 2.3, "timezone": "Europe/Paris"},
        headers=w.owner,
    )
    assert created.status_code == 201, created.text
    url = f"/api/v1/stores/{created.json()['id']}"
    return await w.http[who].patch(url, json={"name": "Renamed"}, headers=w.callers[who].api)


async def _marketer_id(w: World) -> str:
    listed = await w.client.get("/api/v1/staff", headers=w.owner)
    (marketer,) = [s for s in listed.json()["data"] if s["role"] == "marketer"]
    staff_id: str = marketer["id"]
    return staff_id


@operation("GET /api/v1/staff/{staff_id}")
async def _read_staff(w: World, who: str) -> httpx.Response:
    url = f"/api/v1/staff/{await _marketer_id(w)}"
    return await w.http[who].get(url, headers=w.callers[who].api)


@operation("PATCH /api/v1/staff/{staff_id}")
async def _patch_staff(w: World, who: str) -> httpx.Response:
    # A new name changes nothing anyone else's call depends on.
    url = f"/api/v1/staff/{await _marketer_id(w)}"
    return await w.http[who].patch(url, json={"full_name": "Mo"}, headers=w.callers[who].api)


@operation("GET /api/v1/api-keys/{key_id}")
async def _read_key(w: World, who: str) -> httpx.Response:
    url = f"/api/v1/api-keys/{await w.new_key()}"
    return await w.http[who].get(url, headers=w.callers[who].api)


@operation("DELETE /api/v1/api-keys/{key_id}")
async def _revoke_key(w: World, who: str) -> httpx.Response:
    url = f"/api/v1/api-keys/{await w.new_key()}"
    return await w.http[who].delete(url, headers=w.callers[who].api)


def _on_fresh_member(action: str, body: Any = None) -> Call:
    async def call(w: World, who: str) -> httpx.Response:
        member = await w.enrol()
        url = f"/api/v1/members/{member['id']}/{action}"
        return await w.http[who].post(url, json=body, headers=w.callers[who].api)

    return call


operation("POST /api/v1/members/{member_id}/cancellation")(_on_fresh_member("cancellation"))
operation("POST /api/v1/members/{member_id}/erasure")(_on_fresh_member("erasure"))
operation("POST /api/v1/members/{member_id}/consents")(
    _on_fresh_member("consents", [{"purpose": "marketing", "granted": True}])
)


@operation("GET /api/v1/scans/lookup")
async def _lookup(w: World, who: str) -> httpx.Response:
    barcode = w.tenant.barcode(w.member["serial_number"])
    return await w.http[who].get(
        "/api/v1/scans/lookup", params={"barcode": barcode}, headers=w.callers[who].api
    )


@operation("POST /api/v1/scans")
async def _scan(w: World, who: str) -> httpx.Response:
    body = {
        "barcode": w.tenant.barcode(w.member["serial_number"]),
        "amount": {"value": "12.50", "currency": "EUR"},
        "store_id": w.store_a,
    }
    return await w.http[who].post("/api/v1/scans", json=body, headers=_posting(w.callers[who].api))


@operation("POST /api/v1/redemptions")
async def _redeem(w: World, who: str) -> httpx.Response:
    member = await w.enrol()
    await w.scan(member, "10")  # 100 points: one coffee
    body = {
        "barcode": w.tenant.barcode(member["serial_number"]),
        "reward_code": "coffee",
        "store_id": w.store_a,
    }
    return await w.http[who].post(
        "/api/v1/redemptions", json=body, headers=_posting(w.callers[who].api)
    )


@operation("POST /api/v1/transactions/{transaction_id}/reversal")
async def _reverse(w: World, who: str) -> httpx.Response:
    scan = await w.scan(w.member)
    return await w.http[who].post(
        f"/api/v1/transactions/{scan['transaction_id']}/reversal",
        json={"reason": "wrong card"},
        headers=_posting(w.callers[who].api),
    )


async def _webhook_endpoint(w: World) -> str:
    created = await w.client.post(
        "/api/v1/webhook-endpoints", json={"url": "https://hooks.example.com/in"}, headers=w.owner
    )
    assert created.status_code == 201, created.text
    endpoint_id: str = created.json()["id"]
    return endpoint_id


def _on_fresh_endpoint(method: str, action: str = "", body: Any = None) -> Call:
    async def call(w: World, who: str) -> httpx.Response:
        url = f"/api/v1/webhook-endpoints/{await _webhook_endpoint(w)}{action}"
        return await w.http[who].request(method, url, json=body, headers=w.callers[who].api)

    return call


operation("GET /api/v1/webhook-endpoints/{endpoint_id}")(_on_fresh_endpoint("GET"))
operation("PATCH /api/v1/webhook-endpoints/{endpoint_id}")(
    _on_fresh_endpoint("PATCH", body={"description": "CRM"})
)
operation("DELETE /api/v1/webhook-endpoints/{endpoint_id}")(_on_fresh_endpoint("DELETE"))
operation("POST /api/v1/webhook-endpoints/{endpoint_id}/secret-rotation")(
    _on_fresh_endpoint("POST", "/secret-rotation")
)


def _on_fresh_delivery(method: str, action: str = "") -> Call:
    """A delivery of its own: an endpoint, then a scan that emits events to it."""

    async def call(w: World, who: str) -> httpx.Response:
        endpoint_id = await _webhook_endpoint(w)
        await w.scan(w.member)
        listed = await w.client.get(
            "/api/v1/webhook-deliveries", params={"endpoint_id": endpoint_id}, headers=w.owner
        )
        delivery_id = listed.json()["data"][0]["id"]
        url = f"/api/v1/webhook-deliveries/{delivery_id}{action}"
        return await w.http[who].request(method, url, headers=w.callers[who].api)

    return call


operation("GET /api/v1/webhook-deliveries/{delivery_id}")(_on_fresh_delivery("GET"))
operation("POST /api/v1/webhook-deliveries/{delivery_id}/redelivery")(
    _on_fresh_delivery("POST", "/redelivery")
)


def _registration(w: World, device: str) -> str:
    return f"/passkit/v1/devices/{device}/registrations/{PASS_TYPE_ID}/{w.member['serial_number']}"


@operation(f"POST {DEVICES}/{{serial_number}}")
async def _register(w: World, who: str) -> httpx.Response:
    return await w.http[who].post(
        _registration(w, f"device{uuid.uuid4().hex}"),
        json={"pushToken": "f" * 64},
        headers=w.callers[who].passkit,
    )


@operation(f"DELETE {DEVICES}/{{serial_number}}")
async def _unregister(w: World, who: str) -> httpx.Response:
    device = f"device{uuid.uuid4().hex}"
    registered = await w.client.post(
        _registration(w, device), json={"pushToken": "f" * 64}, headers=w.callers["cust"].passkit
    )
    assert registered.status_code == 201, registered.text
    return await w.http[who].delete(_registration(w, device), headers=w.callers[who].passkit)


@operation(f"GET {DEVICES}")
async def _updated_serials(w: World, who: str) -> httpx.Response:
    url = f"/passkit/v1/devices/{w.device}/registrations/{PASS_TYPE_ID}"
    return await w.http[who].get(url, headers=w.callers[who].passkit)


def _latest_pass(method: str) -> Call:
    async def call(w: World, who: str) -> httpx.Response:
        url = f"/passkit/v1/passes/{PASS_TYPE_ID}/{w.member['serial_number']}"
        return await w.http[who].request(method, url, headers=w.callers[who].passkit)

    return call


operation(f"GET {PASSES}")(_latest_pass("GET"))
operation(f"HEAD {PASSES}")(_latest_pass("HEAD"))


@operation("POST /passkit/v1/log")
async def _device_log(w: World, who: str) -> httpx.Response:
    return await w.http[who].post(
        "/passkit/v1/log", json={"logs": ["could not fetch pass"]}, headers=w.callers[who].passkit
    )


def _private_link(template: str) -> Call:
    async def call(w: World, who: str) -> httpx.Response:
        token = w.callers[who].link_token or "a-guessed-token"
        url = template.format(serial=w.member["serial_number"], token=token)
        return await w.http[who].get(url, headers=w.callers[who].api)

    return call


operation("GET /wallet/apple/{serial_number}/{token}.pkpass")(
    _private_link("/wallet/apple/{serial}/{token}.pkpass")
)
operation("GET /card/{serial_number}/{token}")(_private_link("/card/{serial}/{token}"))


# --- The world: two merchants, their staff, keys and customers -----------------------------


async def _sign_in_new_cashier(client: httpx.AsyncClient, tenant: Tenant, store: uuid.UUID) -> str:
    email = f"cashier-b@{tenant.slug}.example"
    created = await client.post(
        "/api/v1/staff",
        json={"email": email, "password": PASSWORD, "role": "cashier", "store_id": str(store)},
        headers=tenant.headers(Role.owner),
    )
    assert created.status_code == 201, created.text
    token = await client.post(
        "/api/v1/auth/token",
        data={"username": email, "password": PASSWORD, "merchant": tenant.slug},
    )
    assert token.status_code == 200, token.text
    access: str = token.json()["access_token"]
    return access


async def _key(client: httpx.AsyncClient, tenant: Tenant, **fields: Any) -> dict[str, str]:
    created = await client.post(
        "/api/v1/api-keys", json={"name": "matrix", **fields}, headers=tenant.headers(Role.owner)
    )
    assert created.status_code == 201, created.text
    return _bearer(created.json()["key"])


@pytest.fixture(scope="module")
async def world(app: FastAPI, suite_clock: ManualClock) -> AsyncIterator[World]:
    """Built once per backend (two merchants' staff sign in: seconds of Argon2), wiped after.

    The calls never depend on each other (each mutation gets a target of its own), so they
    can share it; the suite's ``client`` would wipe it after every test.
    """
    suite_clock.set(SUITE_NOW)  # the tokens must be valid at the time every test starts at
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(client_at(app, "127.0.0.1"))
        stack.push_async_callback(_wipe, app)
        w = await _build_world(app, client)
        for index, who in enumerate(PRINCIPALS):
            w.http[who] = await stack.enter_async_context(client_at(app, f"198.51.100.{index + 1}"))
        yield w


async def _wipe(app: FastAPI) -> None:
    """What the suite's ``clean_database`` does after a test, once the module is done."""
    await app.state.rate_limiter.counters.clear()
    await app.state.login_lockout.counters.clear()
    async with app.state.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(table.delete())


async def _build_world(app: FastAPI, client: httpx.AsyncClient) -> World:
    factory: async_sessionmaker[AsyncSession] = app.state.session_factory
    await app.state.rate_limiter.counters.clear()
    await app.state.login_lockout.counters.clear()
    tenant = await make_tenant(factory, client, "Shop", rules=RULES)
    other = await make_tenant(factory, client, "Other", rules=RULES)
    w = World(client, tenant, other, member={}, device=f"device{uuid.uuid4().hex}")
    w.member = await w.enrol("Camille")
    stranger = await w.enrol("Dominique")
    apple = app.state.apple
    links = app.state.links
    serial, stranger_serial = w.member["serial_number"], stranger["serial_number"]

    def staff(headers: dict[str, str]) -> Caller:
        return Caller(api=headers, passkit=headers, link_token=None)

    pass_token, wrong_token = (apple.authentication_token(s) for s in (serial, stranger_serial))
    w.callers = {
        "anon": Caller(api={}, passkit={}, link_token=None),
        "cust": Caller(
            api=_bearer(pass_token),
            passkit={"Authorization": f"ApplePass {pass_token}"},
            link_token=links.token(serial),
        ),
        "peer": Caller(
            api=_bearer(wrong_token),
            passkit={"Authorization": f"ApplePass {wrong_token}"},
            link_token=links.token(stranger_serial),
        ),
        "csA": staff(tenant.headers(Role.cashier)),
        "csB": staff(_bearer(await _sign_in_new_cashier(client, tenant, tenant.store_ids[1]))),
        "mgr": staff(tenant.headers(Role.manager)),
        "mkt": staff(tenant.headers(Role.marketer)),
        "own": staff(tenant.headers(Role.owner)),
        "own2": staff(other.headers(Role.owner)),
        "key": staff(await _key(client, tenant)),
        "keyB": staff(await _key(client, tenant, store_id=str(tenant.store_ids[1]))),
        "mR": staff(await _key(client, tenant, scopes=["members:read"])),
        "mW": staff(await _key(client, tenant, scopes=["members:write"])),
        "mE": staff(await _key(client, tenant, scopes=["members:erase"])),
        "pR": staff(await _key(client, tenant, scopes=["programs:read"])),
        "sR": staff(await _key(client, tenant, scopes=["stores:read"])),
    }
    registered = await client.post(
        _registration(w, w.device), json={"pushToken": "f" * 64}, headers=w.callers["cust"].passkit
    )
    assert registered.status_code == 201, registered.text
    return w


@pytest.fixture
async def fresh_limits(app: FastAPI) -> None:
    """Each operation's calls start with empty rate-limit counters, as every test does."""
    await app.state.rate_limiter.counters.clear()
    await app.state.login_lockout.counters.clear()


# --- The guards and the matrix itself ------------------------------------------------------


def test_every_row_has_a_status_for_every_principal() -> None:
    short = {op: len(row) for op, row in MATRIX.items() if len(row) != len(PRINCIPALS)}
    assert not short, f"rows without one status per principal {PRINCIPALS}: {short}"
    assert len(set(PRINCIPALS)) == len(PRINCIPALS)


def test_every_row_has_a_request_and_every_request_a_row() -> None:
    assert set(OPERATIONS) == set(MATRIX)


async def test_the_matrix_covers_every_operation_of_the_api(app: FastAPI) -> None:
    documented = {
        f"{method.upper()} {path}"
        for path, operations in app.openapi()["paths"].items()
        if path.startswith(COVERED_PREFIXES)
        for method in operations
    }
    assert len(documented) >= 35, documented  # never a vacuous pass
    in_matrix = {op for op in MATRIX if op.split(" ", 1)[1].startswith(COVERED_PREFIXES)}
    assert not documented - in_matrix, f"add a MATRIX row for {sorted(documented - in_matrix)}"
    assert not in_matrix - documented, f"stale MATRIX rows: {sorted(in_matrix - documented)}"


# Bound to store B, so refused at store A's till; every other 403 is the role's or scope's.
AT_STORE_A = {"POST /api/v1/scans", "POST /api/v1/redemptions"} | {
    "POST /api/v1/transactions/{transaction_id}/reversal"
}
STORE_B = {"csB", "keyB"}


def _refusal_matches(op: str, who: str, response: httpx.Response) -> bool:
    """A refusal says why with the documented code: an API 403 names the reason, and
    another merchant's row is "not found" like a missing one, never "forbidden"."""
    if not op.split(" ", 1)[1].startswith("/api/v1/") or response.status_code not in (403, 404):
        return True
    code = response.json().get("code", "")
    if response.status_code == 404:
        return bool(code.endswith("_not_found"))
    if op in AT_STORE_A and who in STORE_B:
        return bool(code == "store_not_allowed")
    return bool(code == "permission_denied")


@pytest.mark.parametrize("op", list(MATRIX))
async def test_each_principal_gets_the_status_the_matrix_says(
    world: World, fresh_limits: None, op: str
) -> None:
    mismatches = []
    for who, expected in zip(PRINCIPALS, MATRIX[op], strict=True):
        response = await OPERATIONS[op](world, who)
        if response.status_code != expected or not _refusal_matches(op, who, response):
            detail = response.text[:200] if response.content else ""
            mismatches.append(f"  {who}: expected {expected}, got {response.status_code} {detail}")
    assert not mismatches, f"{op}:\n" + "\n".join(mismatches)
