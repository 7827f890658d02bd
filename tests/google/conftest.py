"""Fixtures for the Google Wallet tests: a local stand-in for Google, and a key it trusts.

One stand-in server runs per session; ``google_standin`` hands each test the running server with
a clean state (no classes, objects, calls, tokens, trusted keys or injected failures).
``service_account_info`` is a service-account key file (as a dict) whose ``token_uri`` is the
stand-in's and whose key the stand-in trusts for this test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.google.standin import GoogleStandIn, service_account_key


@pytest.fixture(scope="session")
def google_standin_server() -> Iterator[GoogleStandIn]:
    with GoogleStandIn() as standin:
        yield standin


@pytest.fixture
def google_standin(google_standin_server: GoogleStandIn) -> Iterator[GoogleStandIn]:
    google_standin_server.reset()
    yield google_standin_server
    google_standin_server.reset()


@pytest.fixture(scope="session")
def google_service_account_key(
    google_standin_server: GoogleStandIn,
) -> tuple[dict[str, str], rsa.RSAPublicKey]:
    # RSA key generation is the slow part; one key serves the whole session.
    return service_account_key(google_standin_server.token_uri)


@pytest.fixture
def service_account_info(
    google_standin: GoogleStandIn,
    google_service_account_key: tuple[dict[str, str], rsa.RSAPublicKey],
) -> dict[str, str]:
    info, public_key = google_service_account_key
    google_standin.trust(info["client_email"], public_key)
    return dict(info)
