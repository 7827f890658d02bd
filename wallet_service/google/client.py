"""Google Wallet REST client (walletobjects v1) for one merchant's issuer account.

Authenticates with the merchant's service account through google-auth (scope
``wallet_object.issuer``; the token is refreshed in a worker thread, as google-auth's
transport is synchronous) and calls the API with httpx. ``api_url`` is a setting so tests
point it at a loopback stand-in. Google's errors become :class:`GoogleWalletError` with a
stable code; the message Google gave is kept, never the token or the key.

Every API request first takes a token from the issuer's :class:`Throttle` (Google allows an
issuer 20 requests per second, all our processes together), waiting when the bucket says so.
"""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import httpx
from google.auth.exceptions import GoogleAuthError, RefreshError
from google.auth.transport.requests import Request as GoogleAuthRequest
from google.oauth2 import service_account

from certificates.google import GoogleCredentials
from wallet_service.errors import UpstreamError
from wallet_service.rate_limits.bucket import Throttle

__all__ = ["GOOGLE_TIMEOUT", "WALLET_SCOPE", "GoogleWalletClient", "GoogleWalletError"]

WALLET_SCOPE = "https://www.googleapis.com/auth/wallet_object.issuer"
# A customer waits on the *Add to Google Wallet* hop: fail fast rather than hang.
GOOGLE_TIMEOUT = httpx.Timeout(10.0, connect=5.0)

_CODE_BY_STATUS = {
    400: "google_wallet_rejected",
    401: "google_wallet_auth_failed",
    403: "google_wallet_auth_failed",
    404: "google_wallet_not_found",
    409: "google_wallet_conflict",
    429: "google_wallet_rate_limited",
}


class GoogleWalletError(UpstreamError):
    default_code = "google_wallet_unavailable"
    title = "Google Wallet refused or failed the request"


class GoogleWalletClient:
    """Insert-or-update classes and objects, patch objects, add messages."""

    def __init__(
        self,
        credentials: GoogleCredentials,
        http: httpx.AsyncClient,
        api_url: str,
        throttle: Throttle | None = None,
    ) -> None:
        self._credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
            credentials.service_account, scopes=[WALLET_SCOPE]
        )
        self._http = http
        self._api_url = api_url.rstrip("/")
        self._refreshing = asyncio.Lock()
        self._throttle = throttle
        self._throttle_key = f"google:{credentials.issuer_id}"  # Google's quota is per issuer

    async def upsert_class(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._upsert("loyaltyClass", body)

    async def upsert_object(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._upsert("loyaltyObject", body)

    async def insert_object(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._call("POST", "loyaltyObject", body)

    async def get_object(self, object_id: str) -> dict[str, Any]:
        return await self._call("GET", f"loyaltyObject/{object_id}")

    async def patch_object(self, object_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        return await self._call("PATCH", f"loyaltyObject/{object_id}", fields)

    async def add_message(self, object_id: str, message: dict[str, Any]) -> dict[str, Any]:
        return await self._call(
            "POST", f"loyaltyObject/{object_id}/addMessage", {"message": message}
        )

    async def _upsert(self, collection: str, body: dict[str, Any]) -> dict[str, Any]:
        # Update first: most writes are to a card Google already has (one call, not two).
        try:
            return await self._call("PUT", f"{collection}/{body['id']}", body)
        except GoogleWalletError as exc:
            if exc.code != "google_wallet_not_found":
                raise
        return await self._call("POST", collection, body)

    async def _call(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {await self._token()}"}
        if self._throttle is not None:
            await self._throttle.acquire(self._throttle_key)
        try:
            response = await self._http.request(
                method, f"{self._api_url}/{path}", json=body, headers=headers
            )
        except httpx.HTTPError as exc:
            raise GoogleWalletError(f"Google Wallet did not answer: {type(exc).__name__}") from None
        if response.is_success:
            try:
                answer: dict[str, Any] = response.json() if response.content else {}
            except ValueError:
                raise GoogleWalletError("Google Wallet answered with something not JSON.") from None
            return answer
        raise GoogleWalletError(
            f"Google Wallet answered {response.status_code}: {_google_message(response)}",
            code=_CODE_BY_STATUS.get(response.status_code, GoogleWalletError.default_code),
            google_status=response.status_code,
        )

    async def _token(self) -> str:
        async with self._refreshing:  # one refresh at a time, the others reuse its token
            if not self._credentials.valid:
                try:
                    await anyio.to_thread.run_sync(self._credentials.refresh, _token_transport)
                except RefreshError as exc:
                    raise GoogleWalletError(
                        "Google refused the service account's credentials.",
                        code="google_wallet_auth_failed",
                    ) from exc
                except GoogleAuthError as exc:
                    raise GoogleWalletError("Google's token endpoint did not answer.") from exc
        token: str = self._credentials.token
        return token


def _token_transport(*args: Any, **kwargs: Any) -> Any:
    """google-auth's transport with our timeout (its own default is two minutes)."""
    kwargs["timeout"] = GOOGLE_TIMEOUT.read
    return _GOOGLE_AUTH_REQUEST(*args, **kwargs)


_GOOGLE_AUTH_REQUEST = GoogleAuthRequest()


def _google_message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error", {})
    except ValueError:
        return response.reason_phrase
    message = error.get("message") if isinstance(error, dict) else None
    return str(message or response.reason_phrase)[:300]
