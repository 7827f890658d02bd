"""What the scanner page alone decides, with the till's API answered from inside the browser.

Signing in is real (the live app of ``harness``); ``/api/v1/scans*`` and ``/redemptions``
are answered by Playwright routes in the shape of the API contract, so each test can stage
what is hard to get from a real server: a dropped connection before the answer (the retry must
reuse the Idempotency-Key), a proxy's HTML error page, an expired session, a camera.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from tests.web.harness import (
    STEP_TIMEOUT_MS,
    LiveApp,
    PageFactory,
    sign_in,
    wait_until_idle,
    wedge_scan,
)
from wallet_service.scanning.schemas import LookupRead, RedemptionRead, ScanRead

pytestmark = pytest.mark.browser

SCREENSHOTS = Path("/tmp")
UUID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
LOOKUP_URL = re.compile(r".*/api/v1/scans/lookup\?.*")
SCANS_URL = re.compile(r".*/api/v1/scans$")
REDEMPTIONS_URL = re.compile(r".*/api/v1/redemptions$")
CARD = "LW1.FAKECARDFORTHEPAGE.AAAAAAAAAAAAAAAA"


def _summary(points: int, **changes: Any) -> dict[str, Any]:
    member = {
        "id": str(uuid.uuid4()),
        "serial_number": str(uuid.uuid4()),
        "name": "Ines Moreau",
        "status": "active",
        "points_balance": points,
        "cashback_balance": "1.20",
        "currency": "EUR",
        "stamps": 3,
        "stamps_per_card": 10,
        "tier": {"code": "curious", "name": "Curious"},
        "progress_text": "116 points to Regular",
        "points_expiring_soon": 0,
    }
    member.update(changes)
    return member


def _rewards(points: int) -> list[dict[str, Any]]:
    usable = points >= 150
    return [
        {
            "code": "free-espresso",
            "name": "Free espresso",
            "kind": "free_product",
            "cost_points": 150,
            "usable": usable,
            "reasons": [] if usable else ["insufficient_points"],
        },
        {
            "code": "ten-percent-off",
            "name": "10 % off your order",
            "kind": "percent_discount",
            "cost_points": 300,
            "usable": False,
            "reasons": ["reward_not_allowed_for_tier"],
        },
    ]


# Staged answers are checked against the API's own response models as they are built, so
# they cannot drift from what the real endpoints send.
def _lookup_answer(points: int) -> dict[str, Any]:
    body = {"member": _summary(points), "rewards": _rewards(points)}
    LookupRead.model_validate(body)
    return body


def _scan_answer(points: int, earned: int, **member: Any) -> dict[str, Any]:
    body = {
        "transaction_id": str(uuid.uuid4()),
        "member": _summary(points, **member),
        "points_earned": earned,
        "cashback_earned": "0.25",
        "stamps_earned": 1,
        "tier_changed": "tier" in member,
        "rewards": _rewards(points),
    }
    ScanRead.model_validate(body)
    return body


def _redemption_answer(points: int) -> dict[str, Any]:
    body = {
        "transaction_id": str(uuid.uuid4()),
        "member": _summary(points),
        "reward": {"code": "free-espresso", "name": "Free espresso", "kind": "free_product"},
        "rewards": _rewards(points),
    }
    RedemptionRead.model_validate(body)
    return body


def _fulfil(route: Route, status: int, body: dict[str, Any]) -> None:
    content_type = "application/json" if status < 400 else "application/problem+json"
    route.fulfill(status=status, content_type=content_type, body=json.dumps(body))


def _json_body(route: Route) -> dict[str, Any]:
    body = route.request.post_data_json
    assert isinstance(body, dict)
    return body


def _fake_lookup(page: Page, points: int) -> None:
    answer = _lookup_answer(points)
    page.route(LOOKUP_URL, lambda route: _fulfil(route, 200, answer))


def test_a_retry_after_a_network_error_reuses_the_idempotency_key(
    open_page: PageFactory, live_app: LiveApp
) -> None:
    page = open_page()
    sign_in(page, live_app)
    _fake_lookup(page, 40)
    seen: list[tuple[str, dict[str, Any]]] = []
    answer = _scan_answer(165, 125, tier={"code": "regular", "name": "Regular"})

    def scans(route: Route) -> None:
        seen.append((route.request.headers["idempotency-key"], _json_body(route)))
        if len(seen) <= 2:
            route.abort("internetdisconnected")
            return
        _fulfil(route, 201, answer)

    page.route(SCANS_URL, scans)
    wedge_scan(page, CARD)
    expect(page.locator("#member-name")).to_have_text("Ines Moreau")
    expect(page.locator("#member-stamps")).to_have_text("3 / 10")
    expect(page.locator("#member-cashback")).to_have_text("€1.20")
    expect(page.locator("#member-progress")).to_have_text("116 points to Regular")
    expect(page.get_by_role("button", name="Redeem Free espresso")).to_have_count(0)
    expect(page.locator(".reward").first).to_contain_text("Needs 110 more points")

    page.get_by_label("Basket amount").fill("12.5")
    page.get_by_role("button", name="Award points").click()
    error = page.locator("#scan-error")
    expect(error).to_contain_text("No answer from the server")
    expect(error).to_contain_text("will not be credited twice")
    page.get_by_role("button", name="Retry award").click()
    expect(page.get_by_role("button", name="Retry award")).to_be_enabled()
    assert len(seen) == 2
    # Still failing, the cashier rescans the card and confirms the same amount again.
    wedge_scan(page, CARD)
    wait_until_idle(page)
    expect(error).to_be_hidden()
    page.get_by_label("Basket amount").fill("12.50")
    page.get_by_role("button", name="Award points").click()
    expect(page.locator("#result-headline")).to_have_text("+125 points")
    expect(page.locator("#result")).to_contain_text("Now Regular!")
    expect(page.locator("#result")).to_contain_text("+€0.25 cashback")
    expect(page.locator("#member-points")).to_have_text("165")
    expect(error).to_be_hidden()

    assert len(seen) == 3
    assert seen[0][0] == seen[1][0] == seen[2][0] and UUID_PATTERN.match(seen[0][0])
    assert (
        seen[0][1]
        == seen[2][1]
        == {
            "barcode": CARD,
            "amount": {"value": "12.50", "currency": "EUR"},
        }
    )
    # The next confirm is a new action: a new key, or the server would replay the first one.
    page.get_by_label("Basket amount").fill("12.50")
    page.get_by_role("button", name="Award points").click()
    expect(page.locator("#result-headline")).to_have_text("+125 points")
    assert len(seen) == 4 and seen[3][0] != seen[0][0]


def test_redeeming_asks_for_confirmation_and_shows_what_to_hand_over(
    open_page: PageFactory, live_app: LiveApp
) -> None:
    page = open_page()
    sign_in(page, live_app)
    _fake_lookup(page, 400)
    bodies: list[dict[str, Any]] = []
    keys: list[str] = []
    answer = _redemption_answer(250)

    def redemptions(route: Route) -> None:
        keys.append(route.request.headers["idempotency-key"])
        bodies.append(_json_body(route))
        _fulfil(route, 201, answer)

    page.route(REDEMPTIONS_URL, redemptions)
    wedge_scan(page, CARD)
    redeem = page.get_by_role("button", name="Redeem Free espresso")

    redeem.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Redeem Free espresso?")
    # The scanner's Enter must not press the dialog's focused "Redeem" button.
    wedge_scan(page, "LW1.ANOTHERCARD.BBBBBBBBBBBBBBBB")
    page.wait_for_timeout(300)
    expect(dialog).to_be_visible()
    assert bodies == []
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert bodies == []

    redeem.click()
    page.screenshot(path=str(SCREENSHOTS / "scanner-redeem-dialog.png"), animations="disabled")
    dialog.get_by_role("button", name="Redeem").click()
    expect(page.locator("#result-headline")).to_have_text("Give the customer: Free espresso")
    expect(page.locator("#member-points")).to_have_text("250")
    assert bodies == [{"barcode": CARD, "reward_code": "free-espresso"}]
    assert len(keys) == 1 and UUID_PATTERN.match(keys[0])
    expect(page.get_by_label("Scan or type the card code")).to_be_focused()
    page.screenshot(
        path=str(SCREENSHOTS / "scanner-redeemed.png"), full_page=True, animations="disabled"
    )


def test_problem_details_are_shown_and_an_expired_session_asks_to_sign_in(
    open_page: PageFactory, live_app: LiveApp
) -> None:
    page = open_page()
    sign_in(page, live_app)
    _fake_lookup(page, 40)
    answers = iter(
        [
            (409, "reward_out_of_stock", "The reward free-espresso has no stock left."),
            (502, None, None),
            (401, "authentication_required", "The access token has expired."),
        ]
    )

    def scans(route: Route) -> None:
        status, code, detail = next(answers)
        if code is None:
            route.fulfill(status=status, content_type="text/html", body="<h1>Bad gateway</h1>")
            return
        _fulfil(
            route,
            status,
            {
                "type": "about:blank",
                "status": status,
                "code": code,
                "title": "Problem",
                "detail": detail,
            },
        )

    page.route(SCANS_URL, scans)
    wedge_scan(page, CARD)
    expect(page.locator("#member-name")).to_have_text("Ines Moreau")
    amount = page.get_by_label("Basket amount")
    award = page.get_by_role("button", name="Award points")

    amount.fill("abc")
    award.click()
    expect(page.locator("#scan-error-title")).to_have_text(
        "Enter the basket amount, for example 12.50"
    )
    amount.fill("3.00")
    award.click()
    expect(page.locator("#scan-error-title")).to_have_text("This reward is out of stock")
    expect(page.locator("#scan-error-detail")).to_have_text(
        "The reward free-espresso has no stock left."
    )
    award.click()
    expect(page.locator("#scan-error-title")).to_contain_text("HTTP 502")
    assert "Bad gateway" not in page.locator("#scan-error").inner_text()
    page.get_by_role("button", name="Retry award").click()
    expect(page.locator("#signin-error")).to_have_text(
        "Your session has ended. Please sign in again."
    )
    expect(page.get_by_label("Email")).to_be_focused()
    assert page.evaluate("sessionStorage.getItem('wallet.scanner.token')") is None


def test_a_scan_landing_outside_the_scan_field_is_still_looked_up(
    open_page: PageFactory, live_app: LiveApp
) -> None:
    page = open_page()
    sign_in(page, live_app)
    codes: list[str] = []
    answer = _lookup_answer(40)

    def lookup(route: Route) -> None:
        codes.append(re.sub(r".*barcode=", "", route.request.url))
        _fulfil(route, 200, answer)

    def scanned(count: int) -> None:
        deadline = time.monotonic() + STEP_TIMEOUT_MS / 1000
        while len(codes) < count and time.monotonic() < deadline:
            page.wait_for_timeout(20)
        wait_until_idle(page)

    page.route(LOOKUP_URL, lookup)
    wedge_scan(page, "LW1.FIRSTCARD.AAAAAAAAAAAAAAAA")
    scanned(1)
    amount = page.get_by_label("Basket amount")
    # The cashier started typing an amount, then the next customer's card was scanned.
    amount.fill("7")
    amount.focus()
    wedge_scan(page, "LW1.SECONDCARD.BBBBBBBBBBBBBBBB")
    scanned(2)
    # A rotating all-digit code scanned into the amount field is a card, not an amount.
    amount.focus()
    wedge_scan(page, "48213377")
    scanned(3)
    # After a click elsewhere the next scan still reaches the scan field.
    page.locator("#member-name").click()
    wedge_scan(page, "LW1.THIRDCARD.CCCCCCCCCCCCCCCC")
    scanned(4)
    assert codes == [
        "LW1.FIRSTCARD.AAAAAAAAAAAAAAAA",
        "LW1.SECONDCARD.BBBBBBBBBBBBBBBB",
        "48213377",
        "LW1.THIRDCARD.CCCCCCCCCCCCCCCC",
    ]
    expect(amount).to_have_value("")
    # A person typing an amount (slower than a scanner) is not mistaken for a scan.
    earned = _scan_answer(165, 125)
    page.route(SCANS_URL, lambda route: _fulfil(route, 201, earned))
    amount.focus()
    page.keyboard.type("123456", delay=120)
    page.keyboard.press("Enter")
    expect(page.locator("#result-headline")).to_have_text("+125 points")
    assert len(codes) == 4


def test_an_amount_typed_while_the_card_is_looked_up_is_kept(
    open_page: PageFactory, live_app: LiveApp
) -> None:
    page = open_page()
    sign_in(page, live_app)
    answer = _lookup_answer(40)
    calls: list[Route] = []

    def lookup(route: Route) -> None:
        calls.append(route)
        if len(calls) == 1:
            _fulfil(route, 200, answer)
        # The second look-up is answered later, when the test says so.

    page.route(LOOKUP_URL, lookup)
    wedge_scan(page, CARD)
    wait_until_idle(page)
    wedge_scan(page, CARD)
    amount = page.get_by_label("Basket amount")
    amount.click()
    page.keyboard.type("8.40", delay=80)
    assert len(calls) == 2
    _fulfil(calls[1], 200, answer)
    wait_until_idle(page)
    expect(amount).to_have_value("8.40")
    expect(amount).to_be_focused()


# A camera that "sees" one card: getUserMedia answers a canvas stream and BarcodeDetector
# decodes it as the code below, so the page's camera path runs end to end without hardware.
FAKE_CAMERA = """
(() => {
  const code = "LW1.CAMERACARD.DDDDDDDDDDDDDDDD";
  window.__cameraStopped = false;
  class FakeBarcodeDetector {
    static async getSupportedFormats() {
      return ["qr_code", "pdf417", "aztec", "code_128", "ean_13"];
    }
    constructor(options) { window.__detectorFormats = options.formats; this.calls = 0; }
    async detect() {
      this.calls += 1;  // a few empty frames first, as a real camera gives
      return this.calls < 3 ? [] : [{ rawValue: code, format: "qr_code" }];
    }
  }
  window.BarcodeDetector = FakeBarcodeDetector;
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    window.__cameraConstraints = constraints;
    const canvas = document.createElement("canvas");
    canvas.width = 320; canvas.height = 240;
    const context = canvas.getContext("2d");
    const stream = canvas.captureStream(10);
    const paint = () => { context.fillStyle = "#333"; context.fillRect(0, 0, 320, 240); };
    paint(); setInterval(paint, 100);
    for (const track of stream.getTracks()) {
      const stop = track.stop.bind(track);
      track.stop = () => { window.__cameraStopped = true; stop(); };
    }
    return stream;
  };
})();
"""


def test_the_camera_feeds_the_same_lookup(open_page: PageFactory, live_app: LiveApp) -> None:
    page = open_page(init_script=FAKE_CAMERA)
    sign_in(page, live_app)
    codes: list[str] = []
    answer = _lookup_answer(40)

    def lookup(route: Route) -> None:
        codes.append(re.sub(r".*barcode=", "", route.request.url))
        _fulfil(route, 200, answer)

    page.route(LOOKUP_URL, lookup)
    camera = page.get_by_role("button", name="Scan with camera")
    expect(camera).to_be_visible()
    camera.click()
    expect(page.locator("#member-name")).to_have_text("Ines Moreau")
    assert codes == ["LW1.CAMERACARD.DDDDDDDDDDDDDDDD"]
    expect(page.locator("#camera-panel")).to_be_hidden()
    assert page.evaluate("window.__cameraStopped") is True
    assert page.evaluate("window.__detectorFormats") == ["qr_code", "pdf417", "aztec", "code_128"]
    assert page.evaluate("window.__cameraConstraints.video.facingMode.ideal") == "environment"
