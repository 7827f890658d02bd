"""The Google stand-in speaks the protocol google-auth and a Wallet API client expect."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jwt
import pytest
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request
from google.oauth2 import service_account
from googleapiclient.discovery_cache import get_static_doc

from tests.google.standin import (
    GOOGLE_TOKEN_URI,
    JWT_BEARER_GRANT,
    WALLET_SCOPE,
    GoogleStandIn,
    service_account_key,
)

ISSUER = "3388000000012345678"
CLASS_ID = f"{ISSUER}.gold"
OBJECT_ID = f"{ISSUER}.member-42"
PRODUCTION_API_ROOT = "https://walletobjects.googleapis.com/walletobjects/v1"


def refreshed_credentials(info: dict[str, str]) -> service_account.Credentials:
    # google-auth's classmethod is untyped; the annotation restores the type.
    from_info = service_account.Credentials.from_service_account_info
    credentials: service_account.Credentials = from_info(  # type: ignore[no-untyped-call]
        info, scopes=[WALLET_SCOPE]
    )
    credentials.refresh(Request())  # type: ignore[no-untyped-call]
    return credentials


@pytest.fixture
def api(
    google_standin: GoogleStandIn, service_account_info: dict[str, str]
) -> Iterator[httpx.Client]:
    token = refreshed_credentials(service_account_info).token
    with httpx.Client(
        base_url=google_standin.api_root,
        headers={"Authorization": f"Bearer {token}"},
        trust_env=False,
    ) as client:
        yield client


def assertion(info: dict[str, str], **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": info["client_email"],
        "aud": info["token_uri"],
        "scope": WALLET_SCOPE,
        "iat": now,
        "exp": now + 3600,
    }
    claims.update(overrides)
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(
        claims, info["private_key"], algorithm="RS256", headers={"kid": info["private_key_id"]}
    )


def grant(standin: GoogleStandIn, jwt_assertion: str) -> httpx.Response:
    return httpx.post(
        standin.token_uri,
        data={"grant_type": JWT_BEARER_GRANT, "assertion": jwt_assertion},
        trust_env=False,
    )


def assert_google_error(response: httpx.Response, code: int, status: str) -> dict[str, Any]:
    assert response.status_code == code
    assert response.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    assert error["status"] == status
    assert error["message"]
    assert error["errors"][0]["reason"]
    assert error["errors"][0]["message"]
    return error


def test_google_auth_refreshes_against_the_standin(
    google_standin: GoogleStandIn, service_account_info: dict[str, str]
) -> None:
    credentials = refreshed_credentials(service_account_info)

    assert credentials.valid
    assert credentials.token in google_standin.issued_tokens
    issued = google_standin.issued_tokens[credentials.token]
    assert issued.client_email == service_account_info["client_email"]
    assert WALLET_SCOPE in issued.scope.split()
    assert credentials.expiry is not None
    response = httpx.get(
        f"{google_standin.api_root}/loyaltyClass/{CLASS_ID}",
        headers={"Authorization": f"Bearer {credentials.token}"},
        trust_env=False,
    )
    assert_google_error(response, 404, "NOT_FOUND")


def test_an_assertion_signed_by_another_key_is_refused(
    google_standin: GoogleStandIn, service_account_info: dict[str, str]
) -> None:
    impostor, _ = service_account_key(google_standin.token_uri)

    with pytest.raises(RefreshError, match="invalid_grant"):
        refreshed_credentials(impostor)

    response = grant(google_standin, assertion(impostor))
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "Invalid JWT Signature.",
    }
    assert not google_standin.issued_tokens


def test_an_unknown_service_account_is_refused(google_standin: GoogleStandIn) -> None:
    stranger, _ = service_account_key(
        google_standin.token_uri, client_email="nobody@other-project.iam.gserviceaccount.com"
    )

    response = grant(google_standin, assertion(stranger))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"aud": "https://example.com/token"}, "invalid_grant"),
        ({"iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}, "invalid_grant"),
        ({"exp": int(time.time()) + 7200}, "invalid_grant"),
        ({"exp": None}, "invalid_grant"),
        ({"scope": None}, "invalid_scope"),
        ({"scope": "https://www.googleapis.com/auth/cloud-platform"}, "invalid_scope"),
    ],
    ids=["audience", "expired", "too-long-lived", "no-exp", "no-scope", "other-scope"],
)
def test_bad_claims_are_refused(
    google_standin: GoogleStandIn,
    service_account_info: dict[str, str],
    overrides: dict[str, Any],
    error: str,
) -> None:
    response = grant(google_standin, assertion(service_account_info, **overrides))

    assert response.status_code == 400
    assert response.json()["error"] == error
    assert response.json()["error_description"]


def test_google_audience_and_the_standin_audience_are_both_accepted(
    google_standin: GoogleStandIn, service_account_info: dict[str, str]
) -> None:
    for audience in (GOOGLE_TOKEN_URI, google_standin.token_uri):
        response = grant(google_standin, assertion(service_account_info, aud=audience))
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 3600
        assert body["access_token"] in google_standin.issued_tokens


def test_only_rs256_is_accepted(
    google_standin: GoogleStandIn, service_account_info: dict[str, str]
) -> None:
    now = int(time.time())
    forged = jwt.encode(
        {
            "iss": service_account_info["client_email"],
            "aud": GOOGLE_TOKEN_URI,
            "scope": WALLET_SCOPE,
            "iat": now,
            "exp": now + 3600,
        },
        "a-shared-secret-that-is-long-enough-for-hs256",
        algorithm="HS256",
    )

    response = grant(google_standin, forged)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_other_grant_types_are_refused(google_standin: GoogleStandIn) -> None:
    response = httpx.post(
        google_standin.token_uri,
        data={"grant_type": "client_credentials"},
        trust_env=False,
    )

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "required"),
        ({"Authorization": "Bearer ya29.not-a-token-we-issued"}, "authError"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "authError"),
    ],
    ids=["no-bearer", "wrong-bearer", "not-bearer"],
)
def test_api_calls_need_an_issued_bearer_token(
    google_standin: GoogleStandIn, headers: dict[str, str], reason: str
) -> None:
    response = httpx.post(
        f"{google_standin.api_root}/loyaltyClass",
        json={"id": CLASS_ID},
        headers=headers,
        trust_env=False,
    )

    error = assert_google_error(response, 401, "UNAUTHENTICATED")
    assert error["errors"][0]["reason"] == reason
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert not google_standin.classes
    assert google_standin.calls[-1].path == "/walletobjects/v1/loyaltyClass"


def test_expired_tokens_are_refused(google_standin: GoogleStandIn, api: httpx.Client) -> None:
    assert api.post("/loyaltyClass", json={"id": CLASS_ID}).status_code == 200

    google_standin.expire_tokens()

    assert_google_error(api.get(f"/loyaltyClass/{CLASS_ID}"), 401, "UNAUTHENTICATED")


def test_insert_twice_conflicts(google_standin: GoogleStandIn, api: httpx.Client) -> None:
    loyalty_class = {"id": CLASS_ID, "issuerName": "Bakery", "programName": "Crumbs"}

    first = api.post("/loyaltyClass", json=loyalty_class)
    second = api.post("/loyaltyClass", json={**loyalty_class, "programName": "Other"})

    assert first.status_code == 200
    assert first.json() == loyalty_class
    error = assert_google_error(second, 409, "ALREADY_EXISTS")
    assert error["errors"][0]["reason"] == "duplicate"
    assert google_standin.classes == {CLASS_ID: loyalty_class}
    token = api.headers["Authorization"].removeprefix("Bearer ")
    assert [(call.method, call.path, call.bearer) for call in google_standin.calls] == [
        ("POST", "/walletobjects/v1/loyaltyClass", token),
        ("POST", "/walletobjects/v1/loyaltyClass", token),
    ]
    assert google_standin.calls[0].json == loyalty_class


def test_get_put_and_patch(google_standin: GoogleStandIn, api: httpx.Client) -> None:
    assert_google_error(api.get(f"/loyaltyClass/{CLASS_ID}"), 404, "NOT_FOUND")
    assert_google_error(
        api.put(f"/loyaltyClass/{CLASS_ID}", json={"id": CLASS_ID}), 404, "NOT_FOUND"
    )
    api.post("/loyaltyClass", json={"id": CLASS_ID, "issuerName": "Bakery"}).raise_for_status()
    api.post(
        "/loyaltyObject",
        json={"id": OBJECT_ID, "classId": CLASS_ID, "state": "ACTIVE", "accountName": "Ada"},
    ).raise_for_status()

    patched = api.patch(
        f"/loyaltyObject/{OBJECT_ID}", json={"loyaltyPoints": {"balance": {"int": 120}}}
    )
    assert patched.status_code == 200
    assert patched.json() == {
        "id": OBJECT_ID,
        "classId": CLASS_ID,
        "state": "ACTIVE",
        "accountName": "Ada",
        "loyaltyPoints": {"balance": {"int": 120}},
    }
    assert api.get(f"/loyaltyObject/{OBJECT_ID}").json() == patched.json()

    replaced = api.put(f"/loyaltyObject/{OBJECT_ID}", json={"classId": CLASS_ID, "state": "ACTIVE"})
    assert replaced.json() == {"id": OBJECT_ID, "classId": CLASS_ID, "state": "ACTIVE"}
    assert google_standin.objects[OBJECT_ID] == replaced.json()

    mismatch = api.patch(f"/loyaltyObject/{OBJECT_ID}", json={"id": f"{ISSUER}.other"})
    assert_google_error(mismatch, 400, "INVALID_ARGUMENT")


def test_an_object_needs_an_existing_class(
    google_standin: GoogleStandIn, api: httpx.Client
) -> None:
    response = api.post("/loyaltyObject", json={"id": OBJECT_ID, "classId": CLASS_ID})

    assert_google_error(response, 400, "INVALID_ARGUMENT")
    assert not google_standin.objects


async def test_add_message_appends(
    google_standin: GoogleStandIn, service_account_info: dict[str, str]
) -> None:
    token = refreshed_credentials(service_account_info).token
    async with httpx.AsyncClient(
        base_url=google_standin.api_root,
        headers={"Authorization": f"Bearer {token}"},
        trust_env=False,
    ) as api:
        (await api.post("/loyaltyClass", json={"id": CLASS_ID})).raise_for_status()
        (
            await api.post("/loyaltyObject", json={"id": OBJECT_ID, "classId": CLASS_ID})
        ).raise_for_status()
        first = {"header": "Welcome", "body": "Thanks for joining", "id": "m1"}
        second = {"header": "Reward", "body": "You earned a coffee", "id": "m2"}

        await api.post(f"/loyaltyObject/{OBJECT_ID}/addMessage", json={"message": first})
        response = await api.post(
            f"/loyaltyObject/{OBJECT_ID}/addMessage", json={"message": second}
        )

        assert response.status_code == 200
        assert response.json() == {
            "resource": {"id": OBJECT_ID, "classId": CLASS_ID, "messages": [first, second]}
        }
        missing = await api.post(
            f"/loyaltyObject/{ISSUER}.nope/addMessage", json={"message": first}
        )
        assert_google_error(missing, 404, "NOT_FOUND")
    assert google_standin.objects[OBJECT_ID]["messages"] == [first, second]


def test_messages_are_kept_by_patch_and_replaced_by_put_as_google_does(
    google_standin: GoogleStandIn, api: httpx.Client
) -> None:
    api.post("/loyaltyClass", json={"id": CLASS_ID}).raise_for_status()
    api.post("/loyaltyObject", json={"id": OBJECT_ID, "classId": CLASS_ID}).raise_for_status()
    message = {"id": "m1", "header": "Offer", "body": "Two for one", "messageType": "TEXT"}
    api.post(f"/loyaltyObject/{OBJECT_ID}/addMessage", json={"message": message})

    patched = api.patch(f"/loyaltyObject/{OBJECT_ID}", json={"state": "ACTIVE"})
    replaced = api.put(f"/loyaltyObject/{OBJECT_ID}", json={"classId": CLASS_ID, "messages": []})

    assert patched.json()["messages"] == [message]
    assert replaced.json()["messages"] == []
    assert google_standin.notifications == []  # nothing asked to notify


def test_notifications_are_logged_and_notify_preference_is_never_stored(
    google_standin: GoogleStandIn, api: httpx.Client
) -> None:
    api.post("/loyaltyClass", json={"id": CLASS_ID}).raise_for_status()
    api.post(
        "/loyaltyObject",
        json={"id": OBJECT_ID, "classId": CLASS_ID, "notifyPreference": "NOTIFY_ON_UPDATE"},
    ).raise_for_status()
    balance = {"loyaltyPoints": {"balance": {"int": 120}}}

    api.patch(
        f"/loyaltyObject/{OBJECT_ID}", json={**balance, "notifyPreference": "NOTIFY_ON_UPDATE"}
    ).raise_for_status()
    api.patch(f"/loyaltyObject/{OBJECT_ID}", json={"state": "ACTIVE"}).raise_for_status()
    for message_type in ("TEXT_AND_NOTIFY", "TEXT"):
        api.post(
            f"/loyaltyObject/{OBJECT_ID}/addMessage",
            json={"message": {"id": message_type, "body": "b", "messageType": message_type}},
        ).raise_for_status()

    assert [(n.resource_id, n.via, n.changed) for n in google_standin.notifications] == [
        (OBJECT_ID, "update", ("loyaltyPoints",)),
        (OBJECT_ID, "message", ()),
    ]
    assert "notifyPreference" not in google_standin.objects[OBJECT_ID]


@pytest.mark.parametrize(
    ("status", "name"),
    [(429, "RESOURCE_EXHAUSTED"), (500, "INTERNAL"), (503, "UNAVAILABLE")],
)
def test_injected_failures_answer_once(
    google_standin: GoogleStandIn, api: httpx.Client, status: int, name: str
) -> None:
    google_standin.fail_next(status, "backendError")

    failed = api.post("/loyaltyClass", json={"id": CLASS_ID})
    retried = api.post("/loyaltyClass", json={"id": CLASS_ID})

    error = assert_google_error(failed, status, name)
    assert error["errors"][0]["reason"] == "backendError"
    assert retried.status_code == 200
    assert len(google_standin.calls) == 2


def test_paths_follow_the_discovery_document(
    google_standin: GoogleStandIn, api: httpx.Client
) -> None:
    document: dict[str, Any] = json.loads(get_static_doc("walletobjects", "v1"))
    root = document["rootUrl"] + document["servicePath"]
    methods = document["resources"]
    bodies = {
        "loyaltyclass": {"id": CLASS_ID},
        "loyaltyobject": {"id": OBJECT_ID, "classId": CLASS_ID},
    }
    ids = {"loyaltyclass": CLASS_ID, "loyaltyobject": OBJECT_ID}
    requests: dict[str, Callable[[str], Any]] = {
        "insert": lambda resource: bodies[resource],
        "get": lambda resource: None,
        "update": lambda resource: bodies[resource],
        "patch": lambda resource: {"version": "2"},
        "addmessage": lambda resource: {"message": {"header": "Hello", "body": "World"}},
    }

    assert root + "walletobjects/v1" == PRODUCTION_API_ROOT
    for resource in ("loyaltyclass", "loyaltyobject"):
        for name, body in requests.items():
            method = methods[resource]["methods"][name]
            path = method["path"].replace("{resourceId}", ids[resource])
            response = api.request(
                method["httpMethod"], f"{google_standin.base_url}/{path}", json=body(resource)
            )
            assert response.status_code == 200, (resource, name, response.text)
    assert google_standin.objects[OBJECT_ID]["messages"] == [{"header": "Hello", "body": "World"}]
