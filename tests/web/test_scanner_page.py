"""The staff scanner page in real headless Chromium, against the real app and API over HTTP.

The app runs under uvicorn with its own SQLite database (see ``harness``); members are
enrolled through the API and their barcode tokens issued with the server's key, so signing in,
a wedge-scanner look-up, earning and redeeming go through exactly the code a till uses, and
the balances the page shows are checked against the API. Screenshots land in
``/tmp/scanner-*.png`` for a human look at the desktop and phone layouts.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Request, Route, expect

from tests.web.harness import PHONE, LiveApp, PageFactory, points_shown, sign_in, wedge_scan

pytestmark = pytest.mark.browser

SCREENSHOTS = Path("/tmp")
UUID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
SCANS_URL = re.compile(r".*/api/v1/scans$")
POINTS_EARNED = re.compile(r"^\+[\d,]+ points?$")


def test_cashier_scans_with_a_wedge_scanner_and_awards_points(
    open_page: PageFactory, live_app: LiveApp
) -> None:
    member_id, token = live_app.enrol("Camille", "Durand")
    page = open_page()
    expect(page).to_have_title(re.compile("Till scanner"))
    sign_in(page, live_app)
    scan_input = page.get_by_label("Scan or type the card code")
    expect(scan_input).to_be_focused()
    assert page.evaluate("sessionStorage.getItem('wallet.scanner.token')")
    # Only offered where the browser can decode barcodes from the camera.
    has_detector = page.evaluate("'BarcodeDetector' in window")
    expect(page.get_by_role("button", name="Scan with camera")).to_be_visible(visible=has_detector)

    wedge_scan(page, token)
    expect(page.locator("#member-name")).to_have_text("Camille Durand")
    before = points_shown(page)
    assert before == live_app.points(member_id)
    expect(page.locator("#member-tier")).to_have_text("Curious")
    expect(page.get_by_role("status")).to_contain_text("Camille Durand")
    expect(scan_input).to_be_focused()
    expect(scan_input).to_have_value("")

    keys: list[str] = []

    def remember_key(request: Request) -> None:
        if SCANS_URL.match(request.url) and request.method == "POST":
            keys.append(request.headers.get("idempotency-key", ""))

    page.on("request", remember_key)
    page.get_by_label("Basket amount").fill("12,50")
    page.get_by_role("button", name="Award points").click()
    expect(page.locator("#result-headline")).to_have_text(POINTS_EARNED)
    earned = int(re.sub(r"\D", "", page.locator("#result-headline").inner_text()))
    # 10 points per euro in the example rules: "12,50" was read as 12.50 EUR, not 1250.
    assert earned == 125
    expect(page.locator("#member-points")).to_have_text(f"{before + earned:,}")
    assert live_app.points(member_id) == before + earned
    assert len(keys) == 1 and UUID_PATTERN.match(keys[0]), keys
    expect(page.get_by_label("Basket amount")).to_have_value("")
    expect(scan_input).to_be_focused()
    page.screenshot(
        path=str(SCREENSHOTS / "scanner-desktop.png"), full_page=True, animations="disabled"
    )


def test_an_answer_lost_on_the_way_back_is_retried_without_crediting_twice(
    open_page: PageFactory, live_app: LiveApp
) -> None:
    member_id, token = live_app.enrol("Jules", "Roux")
    page = open_page()
    sign_in(page, live_app)
    wedge_scan(page, token)
    expect(page.locator("#member-name")).to_have_text("Jules Roux")
    before = live_app.points(member_id)
    keys: list[str] = []

    def lose_the_first_answer(route: Route) -> None:
        keys.append(route.request.headers["idempotency-key"])
        if len(keys) == 1:
            route.fetch()  # the server credits the purchase...
            route.abort("connectionreset")  # ...but the till never hears back
            return
        route.continue_()

    page.route(SCANS_URL, lose_the_first_answer)
    page.get_by_label("Basket amount").fill("10.00")
    page.get_by_role("button", name="Award points").click()
    expect(page.locator("#scan-error")).to_contain_text("No answer from the server")
    assert live_app.points(member_id) == before + 100
    page.get_by_role("button", name="Retry award").click()
    expect(page.locator("#result-headline")).to_have_text("+100 points")
    expect(page.locator("#member-points")).to_have_text(f"{before + 100:,}")
    assert live_app.points(member_id) == before + 100
    assert len(keys) == 2 and keys[0] == keys[1]


def test_phone_layout_keeps_the_scan_field_and_award_button_in_reach(
    open_page: PageFactory, live_app: LiveApp
) -> None:
    _, token = live_app.enrol("Léa", "Martin")
    page = open_page(PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    assert page.evaluate("document.querySelector('meta[name=viewport]') !== null")
    page.screenshot(path=str(SCREENSHOTS / "scanner-phone-signin.png"), animations="disabled")
    sign_in(page, live_app)
    scan_input = page.get_by_label("Scan or type the card code")
    scan_input.tap()
    wedge_scan(page, token)
    expect(page.locator("#member-name")).to_have_text("Léa Martin")
    # On a touch screen the on-screen keyboard is closed so the customer is in view.
    assert page.evaluate("matchMedia('(hover: none) and (pointer: coarse)').matches")
    expect(scan_input).not_to_be_focused()

    award = page.get_by_role("button", name="Award points")
    amount = page.get_by_label("Basket amount")
    # The customer is scrolled into view with the amount and the button, no swiping needed.
    expect(amount).to_be_in_viewport()
    expect(award).to_be_in_viewport()
    for element in (scan_input, amount, award):
        expect(element).to_be_visible()
        box = element.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        assert box["height"] >= 44, f"touch target too small: {box}"
    # Nothing may force sideways scrolling on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # What the cashier sees on screen (a full-page shot would misplace the sticky top bar).
    page.screenshot(path=str(SCREENSHOTS / "scanner-phone.png"), animations="disabled")

    amount.fill("4.20")
    award.tap()
    expect(page.locator("#result-headline")).to_have_text(POINTS_EARNED)
    page.screenshot(path=str(SCREENSHOTS / "scanner-phone-awarded.png"), animations="disabled")


def test_an_unknown_code_says_so_clearly(open_page: PageFactory, live_app: LiveApp) -> None:
    page = open_page()
    sign_in(page, live_app)
    wedge_scan(page, "LW1.NOTOURCARD.0000000000000000")
    alert = page.locator("#scan-error")
    expect(alert).to_be_visible()
    expect(alert).to_have_attribute("role", "alert")
    expect(page.locator("#scan-error-title")).to_have_text("This code is not one of our cards")
    expect(page.locator("#member-panel")).to_be_hidden()
    expect(page.get_by_label("Scan or type the card code")).to_be_focused()
    assert "Traceback" not in page.content()
    page.screenshot(path=str(SCREENSHOTS / "scanner-invalid.png"), animations="disabled")


def test_cashier_redeems_a_reward(open_page: PageFactory, live_app: LiveApp) -> None:
    member_id, token = live_app.enrol("Hugo", "Bernard")
    live_app.credit(token, "80.00")
    page = open_page()
    sign_in(page, live_app)
    wedge_scan(page, token)
    expect(page.locator("#member-name")).to_have_text("Hugo Bernard")
    before = points_shown(page)

    page.get_by_role("button", name="Redeem Free espresso").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Redeem Free espresso?")
    dialog.get_by_role("button", name="Redeem").click()
    expect(page.locator("#result-headline")).to_have_text("Give the customer: Free espresso")
    expect(page.locator("#member-points")).to_have_text(f"{before - 150:,}")
    assert live_app.points(member_id) == before - 150
    expect(page.get_by_label("Scan or type the card code")).to_be_focused()


def test_a_minimum_basket_reward_is_redeemed_against_the_basket_typed(
    open_page: PageFactory, live_app: LiveApp
) -> None:
    member_id, token = live_app.enrol("Inès", "Moreau")
    live_app.credit(token, "20.00")
    page = open_page()
    sign_in(page, live_app)
    wedge_scan(page, token)
    expect(page.locator("#member-name")).to_have_text("Inès Moreau")
    before = points_shown(page)
    expect(page.locator(".reward", has_text="€2 off")).to_contain_text("basket ≥ €5.00")
    redeem = page.get_by_role("button", name="Redeem €2 off")
    error = page.locator("#scan-error-title")

    redeem.click()  # nothing typed: the page asks before troubling the customer
    expect(error).to_have_text(re.compile(r"^Enter the basket amount \(at least €5\.00\)"))
    expect(page.get_by_label("Basket amount")).to_be_focused()

    page.get_by_label("Basket amount").fill("4,00")
    redeem.click()
    page.get_by_role("dialog").get_by_role("button", name="Redeem").click()
    expect(error).to_have_text("The basket is below the minimum for this")
    assert live_app.points(member_id) == before

    page.get_by_label("Basket amount").fill("8,00")
    redeem.click()
    page.get_by_role("dialog").get_by_role("button", name="Redeem").click()
    expect(page.locator("#result-headline")).to_have_text("Take €2.00 off the bill")
    assert live_app.points(member_id) == before - 200
    # The basket stays typed, ready to award the purchase's points next.
    expect(page.get_by_label("Basket amount")).to_have_value("8,00")


def test_signing_in_with_a_wrong_password_shows_the_reason(
    open_page: PageFactory, live_app: LiveApp
) -> None:
    page = open_page()
    page.get_by_label("Shop code").fill(live_app.tenant.slug)
    page.get_by_label("Email").fill(live_app.cashier()[0])
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    error = page.locator("#signin-error")
    expect(error).to_be_visible()
    expect(error).not_to_be_empty()
    expect(page.locator("#scanner-view")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('wallet.scanner.token')") is None


def test_a_reload_keeps_the_session_and_sign_out_forgets_it(
    open_page: PageFactory, live_app: LiveApp
) -> None:
    _, token = live_app.enrol("Nora", "Petit")
    page = open_page()
    sign_in(page, live_app)
    page.reload()
    # Still signed in (sessionStorage survives a reload), and ready for the wedge at once.
    scan_input = page.get_by_label("Scan or type the card code")
    expect(scan_input).to_be_focused()
    wedge_scan(page, token)
    expect(page.locator("#member-name")).to_have_text("Nora Petit")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Email")).to_be_focused()
    expect(page.locator("#scanner-view")).to_be_hidden()
    # A shared till: nothing about the last customer stays in the page.
    expect(page.locator("#member-name")).to_have_text("")
    expect(page.locator("#announcer")).not_to_contain_text("Nora")
    assert page.evaluate("sessionStorage.getItem('wallet.scanner.token')") is None
    page.reload()
    expect(page.get_by_label("Email")).to_be_visible()


def test_sign_in_names_the_shop_which_a_bookmark_carries_and_the_till_remembers(
    open_page: PageFactory, live_app: LiveApp
) -> None:
    email, password = live_app.cashier()
    page = open_page()
    # Staff emails are unique per shop: the right email and password at another shop fail.
    page.get_by_label("Shop code").fill("another-shop")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signin-error")).to_be_visible()
    expect(page.locator("#scanner-view")).to_be_hidden()

    page.goto(f"/scanner?merchant={live_app.tenant.slug}")
    expect(page.get_by_label("Shop code")).to_have_value(live_app.tenant.slug)
    expect(page.get_by_label("Email")).to_be_focused()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Scan or type the card code")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    page.goto("/scanner")
    expect(page.get_by_label("Shop code")).to_have_value(live_app.tenant.slug)
