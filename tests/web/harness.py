"""A live app and a real Chromium for the web page tests.

``start_live_app`` runs the real application under uvicorn in a background thread, on a free
127.0.0.1 port with its own migrated SQLite database, and builds a tenant through the real
services; ``LiveApp`` then enrols members and credits them through the HTTP API exactly as a
till or POS would. The page helpers act like a cashier: ``wedge_scan`` types the way a USB
keyboard-wedge scanner does (very fast, then Enter).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn
from playwright.sync_api import Page, expect

from certificates.dev import generate_dev_chain
from tests.conftest import SUITE_NOW
from tests.factories import PASSWORD, Tenant, make_tenant
from wallet_service.app import create_app
from wallet_service.clock import Clock, ManualClock
from wallet_service.config import Environment, Settings
from wallet_service.db import migrate
from wallet_service.db.session import create_engine_for, create_session_factory
from wallet_service.loyalty.examples import coffee_shop_rules
from wallet_service.scanning.token import issue_token
from wallet_service.security.keys import derive_key
from wallet_service.security.permissions import Role

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "DESKTOP",
    "PHONE",
    "STEP_TIMEOUT_MS",
    "LiveApp",
    "PageFactory",
    "points_shown",
    "sign_in",
    "start_live_app",
    "wait_until_idle",
    "wedge_scan",
]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
STEP_TIMEOUT_MS = 5_000
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}

PageFactory = Callable[..., Page]
T = TypeVar("T")


def _run_async(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    # A private loop in a private thread: pytest-asyncio's session loop stays untouched and
    # Playwright's sync API, which refuses to run inside a running loop, stays usable.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result(timeout=60)


@dataclass(frozen=True)
class LiveApp:
    url: str
    settings: Settings
    tenant: Tenant

    def cashier(self) -> tuple[str, str]:
        return self.tenant.emails[Role.cashier], PASSWORD

    def enrol(self, given_name: str, family_name: str) -> tuple[str, str]:
        """Enrol a member through the API; returns its id and the token on its barcode."""
        response = httpx.post(
            f"{self.url}/api/v1/programs/{self.tenant.program_id}/members",
            json={"given_name": given_name, "family_name": family_name},
            headers=self.tenant.headers(Role.owner),
            timeout=10,
        )
        assert response.status_code == 201, response.text
        member = response.json()
        key = derive_key(self.settings.signing_key(), "barcode-token")
        return member["id"], issue_token(key, member["serial_number"])

    def credit(self, token: str, value: str) -> None:
        """Award points as the POS would, to set up a member who can afford rewards."""
        response = httpx.post(
            f"{self.url}/api/v1/scans",
            json={"barcode": token, "amount": {"value": value, "currency": "EUR"}},
            headers={**self.tenant.headers(None), "Idempotency-Key": str(uuid.uuid4())},
            timeout=10,
        )
        assert response.status_code == 201, response.text

    def points(self, member_id: str) -> int:
        response = httpx.get(
            f"{self.url}/api/v1/members/{member_id}",
            headers=self.tenant.headers(Role.owner),
            timeout=10,
        )
        assert response.status_code == 200, response.text
        balance: int = response.json()["points_balance"]
        return balance


async def _seed(url: str, database_url: str, clock: Clock) -> Tenant:
    engine = create_engine_for(database_url)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            tenant = await make_tenant(create_session_factory(engine, clock), http, name="Cafe")
            # The full example program: tiers, cashback, stamps and a rewards catalog to show.
            response = await http.patch(
                f"/api/v1/programs/{tenant.program_id}",
                json={"rules": coffee_shop_rules()},
                headers=tenant.headers(Role.owner),
            )
            assert response.status_code == 200, response.text
            return tenant
    finally:
        await engine.dispose()


@contextmanager
def start_live_app(data_dir: Path) -> Iterator[LiveApp]:
    """Serve the real app on 127.0.0.1 with a fresh database and one seeded tenant."""
    database_url = f"sqlite:///{data_dir / 'wallet.db'}"
    migrate.upgrade(database_url)
    # Bound before the server starts, so no other process can take the port in between.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings(
        environment=Environment.test,
        database_url=database_url,
        data_dir=data_dir,
        public_url=url,
        secret_key="scanner-page-test-secret-0123456789abcdef",
    )
    generate_dev_chain(settings.certificates_dir, "pass.test.wallet-service.web", "TESTTEAM42")
    clock = ManualClock(SUITE_NOW)  # pinned, like the rest of the suite
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, clock), log_level="warning", lifespan="on", access_log=False
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        tenant = _run_async(lambda: _seed(url, database_url, clock))
        yield LiveApp(url, settings, tenant)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def sign_in(page: Page, live_app: LiveApp) -> None:
    email, password = live_app.cashier()
    page.get_by_label("Shop code").fill(live_app.tenant.slug)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Scan or type the card code")).to_be_visible()


def wedge_scan(page: Page, code: str) -> None:
    """What a USB keyboard-wedge scanner does: type very fast into the focus, then Enter."""
    page.keyboard.type(code, delay=5)
    page.keyboard.press("Enter")


def wait_until_idle(page: Page) -> None:
    """Wait for the page's request in flight (look-up, award, redemption) to be answered."""
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bis-busy\b"))


def points_shown(page: Page) -> int:
    return int(page.locator("#member-points").inner_text().replace(",", ""))
