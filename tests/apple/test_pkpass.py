"""Signed .pkpass archives: what Wallet checks, verified with the real openssl binary."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certificates.dev import DevChain, generate_dev_chain
from tests.apple.conftest import PASS_TYPE_ID, TEAM_ID
from tests.passes.samples import sample_card
from wallet_service.apple.auth import derive_authentication_token
from wallet_service.apple.pkpass import MAX_LOCATIONS, build_pass_json, build_pkpass
from wallet_service.apple.signing import Pkcs7PassSigner
from wallet_service.passes.model import CardState, Money, PassLocation
from wallet_service.passes.stamp_strip import render_stamp_strip
from wallet_service.passes.templates import PassTemplate, load_template

WEB_SERVICE_URL = "https://wallet.example.com/passkit"
TOKEN = derive_authentication_token(b"test-server-key-0123456789abcdef", "any-serial")

# Keys Apple defines for pass.json (developer.apple.com/documentation/walletpasses/pass,
# PassFields, PassFieldContent, Pass.Barcodes, Pass.Locations). Anything else is a bug.
APPLE_TOP_LEVEL_KEYS = frozenset(
    {
        "accessibilityURL", "addOnURL", "appLaunchURL", "associatedStoreIdentifiers",
        "auxiliaryStoreIdentifiers", "authenticationToken", "backgroundColor", "bagPolicyURL",
        "barcode", "barcodes", "beacons", "boardingPass", "contactVenueEmail",
        "contactVenuePhoneNumber", "contactVenueWebsite", "coupon", "description",
        "eventLogoText", "eventTicket", "expirationDate", "footerBackgroundColor",
        "foregroundColor", "formatVersion", "generic", "groupingIdentifier", "labelColor",
        "locations", "logoText", "maxDistance", "merchandiseURL", "nfc", "orderFoodURL",
        "organizationName", "parkingInformationURL", "passTypeIdentifier",
        "preferredStyleSchemes", "purchaseParkingURL", "relevantDate", "relevantDates",
        "semantics", "sellURL", "serialNumber", "sharingProhibited", "storeCard",
        "suppressHeaderDarkening", "suppressStripShine", "teamIdentifier", "transferURL",
        "transitInformationURL", "useAutomaticColors", "userInfo", "voided", "webServiceURL",
    }
)  # fmt: skip
REQUIRED_TOP_LEVEL_KEYS = frozenset(
    {
        "formatVersion", "passTypeIdentifier", "serialNumber", "teamIdentifier",
        "organizationName", "description",
    }
)  # fmt: skip
APPLE_FIELD_GROUPS = frozenset(
    {
        "headerFields", "primaryFields", "secondaryFields", "auxiliaryFields", "backFields",
        "additionalInfoFields",
    }
)  # fmt: skip
APPLE_FIELD_KEYS = frozenset(
    {
        "attributedValue", "changeMessage", "currencyCode", "dataDetectorTypes", "dateStyle",
        "ignoresTimeZone", "isRelative", "key", "label", "numberStyle", "semantics",
        "textAlignment", "timeStyle", "value", "row",
    }
)  # fmt: skip
APPLE_BARCODE_KEYS = frozenset({"altText", "format", "message", "messageEncoding"})
APPLE_LOCATION_KEYS = frozenset({"altitude", "latitude", "longitude", "relevantText"})
BARCODE_FORMATS = frozenset(
    {"PKBarcodeFormatQR", "PKBarcodeFormatPDF417", "PKBarcodeFormatAztec", "PKBarcodeFormatCode128"}
)


def issue(template: PassTemplate, card: CardState, signer: Pkcs7PassSigner) -> bytes:
    return build_pkpass(
        template,
        card,
        pass_type_id=PASS_TYPE_ID,
        team_id=TEAM_ID,
        web_service_url=WEB_SERVICE_URL,
        authentication_token=TOKEN,
        signer=signer,
    )


def unpack(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def openssl_verify(files: dict[str, bytes], chain: DevChain, workdir: Path) -> int:
    """Run Wallet's signature check with the openssl binary; return its exit status."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "signature").write_bytes(files["signature"])
    (workdir / "manifest.json").write_bytes(files["manifest.json"])
    command = [
        "openssl", "smime", "-verify", "-binary", "-inform", "DER",
        "-in", str(workdir / "signature"), "-content", str(workdir / "manifest.json"),
        "-CAfile", str(chain.root_certificate), "-certfile", str(chain.intermediate_certificate),
        "-purpose", "any", "-out", str(workdir / "verified"),
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, check=False).returncode


def manifest_mismatches(files: dict[str, bytes]) -> list[str]:
    """Names whose SHA-1 differs from manifest.json, plus files missing on either side."""
    manifest: dict[str, str] = json.loads(files["manifest.json"])
    listed = set(manifest)
    shipped = set(files) - {"manifest.json", "signature"}
    wrong = [
        name
        for name in listed & shipped
        if hashlib.sha1(files[name], usedforsecurity=False).hexdigest() != manifest[name]
    ]
    return sorted(wrong + list(listed ^ shipped))


@pytest.fixture(params=["points", "stamps"])
def template(request: pytest.FixtureRequest) -> PassTemplate:
    return load_template(request.param)


def test_every_issued_pass_verifies_with_openssl(
    template: PassTemplate, signer: Pkcs7PassSigner, dev_chain: DevChain, tmp_path: Path
) -> None:
    files = unpack(issue(template, sample_card(), signer))

    assert openssl_verify(files, dev_chain, tmp_path) == 0
    assert (tmp_path / "verified").read_bytes() == files["manifest.json"]


def test_every_file_is_in_the_manifest_with_its_sha1(
    template: PassTemplate, signer: Pkcs7PassSigner
) -> None:
    files = unpack(issue(template, sample_card(), signer))

    assert manifest_mismatches(files) == []
    assert {"pass.json", "icon.png", "icon@2x.png", "icon@3x.png", "logo.png", "strip.png"} <= set(
        json.loads(files["manifest.json"])
    )


def test_localizations_are_shipped_and_listed_in_the_manifest(
    template: PassTemplate, signer: Pkcs7PassSigner
) -> None:
    files = unpack(issue(template, sample_card(), signer))
    manifest = json.loads(files["manifest.json"])

    for language in ("en", "fr"):
        assert f"{language}.lproj/pass.strings" in files
        assert f"{language}.lproj/pass.strings" in manifest


def test_archive_entries_are_stored_without_compression(
    template: PassTemplate, signer: Pkcs7PassSigner
) -> None:
    with zipfile.ZipFile(io.BytesIO(issue(template, sample_card(), signer))) as archive:
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_STORED}
        assert len(archive.namelist()) == len(set(archive.namelist()))


def test_tampered_pass_json_no_longer_matches_the_manifest(
    signer: Pkcs7PassSigner, dev_chain: DevChain, tmp_path: Path
) -> None:
    files = unpack(issue(load_template("points"), sample_card(), signer))
    files["pass.json"] = files["pass.json"].replace(b'"value":1250', b'"value":99999')

    assert manifest_mismatches(files) == ["pass.json"]
    # The signature still covers the untouched manifest: the hash check is what catches it.
    assert openssl_verify(files, dev_chain, tmp_path) == 0


def test_tampered_manifest_fails_openssl_verification(
    signer: Pkcs7PassSigner, dev_chain: DevChain, tmp_path: Path
) -> None:
    files = unpack(issue(load_template("points"), sample_card(), signer))
    pass_json = files["pass.json"].replace(b'"value":1250', b'"value":99999')
    manifest = json.loads(files["manifest.json"])
    manifest["pass.json"] = hashlib.sha1(pass_json, usedforsecurity=False).hexdigest()
    files["pass.json"], files["manifest.json"] = pass_json, json.dumps(manifest).encode()

    assert manifest_mismatches(files) == []
    assert openssl_verify(files, dev_chain, tmp_path) != 0


def test_a_pass_signed_by_another_chain_fails_verification(
    signer: Pkcs7PassSigner, tmp_path: Path
) -> None:
    stranger = generate_dev_chain(tmp_path / "other", PASS_TYPE_ID, TEAM_ID)
    files = unpack(issue(load_template("points"), sample_card(), signer))

    assert openssl_verify(files, stranger, tmp_path / "check") != 0


def _pass_json(template: PassTemplate, card: CardState) -> dict[str, Any]:
    return build_pass_json(
        template,
        card,
        pass_type_id=PASS_TYPE_ID,
        team_id=TEAM_ID,
        web_service_url=WEB_SERVICE_URL,
        authentication_token=TOKEN,
    )


def test_pass_json_has_every_required_key_and_only_keys_apple_defines(
    template: PassTemplate,
) -> None:
    document = _pass_json(
        template, sample_card(expiration_date=datetime(2027, 12, 31, tzinfo=UTC), voided=True)
    )

    assert set(document) >= REQUIRED_TOP_LEVEL_KEYS
    assert set(document) <= APPLE_TOP_LEVEL_KEYS
    assert document["formatVersion"] == 1
    assert set(document["storeCard"]) <= APPLE_FIELD_GROUPS
    keys = [field["key"] for group in document["storeCard"].values() for field in group]
    assert len(keys) == len(set(keys)), "field keys must be unique across the pass"
    for group in document["storeCard"].values():
        for field in group:
            assert set(field) <= APPLE_FIELD_KEYS
            assert {"key", "value"} <= set(field)
    for barcode in document["barcodes"]:
        assert set(barcode) <= APPLE_BARCODE_KEYS
        assert barcode["format"] in BARCODE_FORMATS
    for location in document["locations"]:
        assert set(location) <= APPLE_LOCATION_KEYS


def test_pass_json_carries_identity_web_service_and_colours() -> None:
    document = _pass_json(load_template("points"), sample_card())

    assert document["passTypeIdentifier"] == PASS_TYPE_ID
    assert document["teamIdentifier"] == TEAM_ID
    assert document["serialNumber"] == sample_card().serial_number
    assert document["organizationName"] == "Maison Caféine"
    assert document["description"] == "Le Club Caféine"
    assert document["webServiceURL"] == WEB_SERVICE_URL
    assert document["authenticationToken"] == TOKEN
    for colour in ("backgroundColor", "foregroundColor", "labelColor"):
        assert document[colour].startswith("rgb(")


def test_balance_field_announces_changes_on_the_lock_screen() -> None:
    store_card = _pass_json(load_template("points"), sample_card())["storeCard"]
    balance = store_card["primaryFields"][0]

    assert balance["key"] == "balance"
    assert balance["value"] == 1250
    assert "%@" in balance["changeMessage"]


def test_points_card_shows_tier_progress_member_and_back_links() -> None:
    store_card = _pass_json(load_template("points"), sample_card())["storeCard"]
    values = {field["key"]: field["value"] for group in store_card.values() for field in group}

    assert values["tier"] == "Gold"
    assert values["next_tier"] == "Platinum"
    assert values["progress"] == "750 points to Platinum"
    assert values["member"] == "Camille Martin"
    assert values["cashback"] == 12.5
    assert values["card_page"] == "https://loyalty.example/c/0b7c5a5e"
    assert values["terms"] == "Points expire after 12 months without a purchase."
    back_keys = [field["key"] for field in store_card["backFields"]]
    assert "terms" in back_keys and "card_page" in back_keys


def test_top_tier_member_has_no_next_tier_fields() -> None:
    card = sample_card(next_tier_name=None, points_to_next_tier=None, cashback=None)
    store_card = _pass_json(load_template("points"), card)["storeCard"]
    keys = {field["key"] for group in store_card.values() for field in group}

    assert not keys & {"next_tier", "points_to_next_tier", "cashback"}


def test_barcode_carries_the_token_in_latin1_with_alt_text() -> None:
    document = _pass_json(load_template("points"), sample_card())

    assert document["barcodes"] == [
        {
            "format": "PKBarcodeFormatQR",
            "message": sample_card().barcode_message,
            "messageEncoding": "iso-8859-1",
            "altText": "0B7C 5A5E",
        }
    ]


def test_locations_are_capped_at_ten_and_keep_relevant_text() -> None:
    stores = [PassLocation(48.0 + i / 100, 2.0 + i / 100, f"Store {i} nearby") for i in range(14)]
    document = _pass_json(load_template("points"), sample_card(locations=stores))

    assert len(document["locations"]) == MAX_LOCATIONS == 10
    assert document["locations"][0] == {
        "latitude": 48.0,
        "longitude": 2.0,
        "relevantText": "Store 0 nearby",
    }


def test_expiration_and_voided_appear_only_when_set() -> None:
    expires = datetime(2027, 6, 30, 23, 59, tzinfo=UTC) + timedelta(hours=2)
    plain = _pass_json(load_template("points"), sample_card())
    cancelled = _pass_json(
        load_template("points"), sample_card(voided=True, expiration_date=expires)
    )

    assert "voided" not in plain and "expirationDate" not in plain
    assert cancelled["voided"] is True
    assert cancelled["expirationDate"] == "2027-07-01T01:59:00+00:00"
    assert datetime.fromisoformat(cancelled["expirationDate"]) == expires


def test_stamp_card_strip_is_rendered_for_the_member(signer: Pkcs7PassSigner) -> None:
    template = load_template("stamps")
    four = unpack(issue(template, sample_card(stamps_filled=4), signer))
    seven = unpack(issue(template, sample_card(stamps_filled=7), signer))

    assert four["strip@2x.png"] == render_stamp_strip(4, 10, 2, style=template.stamp_strip)
    assert four["strip@3x.png"] != seven["strip@3x.png"]
    assert manifest_mismatches(seven) == []


def test_fast_serializer_agrees_with_the_template_renderer(template: PassTemplate) -> None:
    card = sample_card()

    assert _pass_json(template, card)["storeCard"] == template.render_fields(card)


member_names = st.text(
    st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40
)  # quotes, backslashes, braces, emoji, control characters


@settings(max_examples=60)
@given(
    name=member_names,
    balance=st.integers(min_value=0, max_value=10**9),
    cashback=st.none() | st.decimals(min_value=0, max_value=10**6, places=2),
)
def test_any_member_values_round_trip_through_pass_json(
    name: str, balance: int, cashback: Any
) -> None:
    template = load_template("points")
    card = sample_card(
        member_name=name,
        balance_points=balance,
        cashback=Money(cashback, "EUR") if cashback is not None else None,
    )
    document = _pass_json(template, card)
    values = {
        field["key"]: field["value"] for group in document["storeCard"].values() for field in group
    }

    assert values["member"] == name
    assert values["balance"] == balance
    assert document["storeCard"] == template.render_fields(card)


def test_malformed_inputs_are_rejected_before_signing(signer: Pkcs7PassSigner) -> None:
    template = load_template("points")
    with pytest.raises(ValueError, match="16"):
        build_pkpass(
            template,
            sample_card(),
            pass_type_id=PASS_TYPE_ID,
            team_id=TEAM_ID,
            web_service_url=WEB_SERVICE_URL,
            authentication_token="short",
            signer=signer,
        )
    with pytest.raises(ValueError, match="ISO-8859-1"):
        _pass_json(template, sample_card(barcode_message="LW1.☕"))
    with pytest.raises(ValueError, match=r"pass\."):
        build_pass_json(
            template,
            sample_card(),
            pass_type_id="com.example",
            team_id=TEAM_ID,
            web_service_url=WEB_SERVICE_URL,
            authentication_token=TOKEN,
        )
