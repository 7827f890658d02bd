"""Loading, importing and checking signing material: clear errors, no key material leaked."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from certificates.dev import generate_dev_chain
from certificates.errors import (
    CertificateNotFoundError,
    InvalidCertificateError,
    P12PasswordError,
)
from certificates.layout import DEV_ROOT_CERTIFICATE_FILE, PASS_KEY_FILE
from certificates.store import EXPIRY_WARNING_DAYS, check, import_p12, load_signing_material
from tests.certificates.conftest import P12_PASSWORD, REAL_PASS_TYPE_ID, REAL_TEAM_ID, AppleBundle

PASS_TYPE_ID = "pass.dev.wallet-service.loyalty"
TEAM_ID = "DEVTEAM123"


def test_check_reports_identity_and_days_to_expiry(tmp_path: Path) -> None:
    generate_dev_chain(tmp_path, PASS_TYPE_ID, TEAM_ID)

    report = check(tmp_path)

    assert report.pass_type_id == PASS_TYPE_ID
    assert report.team_id == TEAM_ID
    assert f"Pass Type ID: {PASS_TYPE_ID}" in report.subject
    assert report.development
    assert 363 <= report.days_to_expiry <= 365
    assert report.not_after.tzinfo is not None
    assert not report.expires_soon and not report.expired


def test_check_warns_within_thirty_days_and_after_expiry(tmp_path: Path) -> None:
    generate_dev_chain(tmp_path, PASS_TYPE_ID, TEAM_ID)
    not_after = check(tmp_path).not_after

    soon = check(tmp_path, now=not_after - timedelta(days=EXPIRY_WARNING_DAYS, hours=-1))
    later = check(tmp_path, now=not_after + timedelta(days=2))

    assert soon.days_to_expiry == EXPIRY_WARNING_DAYS - 1
    assert soon.expires_soon and not soon.expired
    assert later.expired and later.expires_soon and later.days_to_expiry < 0


def test_missing_material_is_reported_by_file_name(tmp_path: Path) -> None:
    with pytest.raises(CertificateNotFoundError, match=r"pass-certificate\.pem"):
        load_signing_material(tmp_path)


def test_a_key_that_does_not_match_the_certificate_is_refused(tmp_path: Path) -> None:
    generate_dev_chain(tmp_path, PASS_TYPE_ID, TEAM_ID)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / PASS_KEY_FILE).write_bytes(
        stranger.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )

    with pytest.raises(InvalidCertificateError, match="does not belong"):
        load_signing_material(tmp_path)


def test_signing_material_repr_hides_the_private_key(tmp_path: Path) -> None:
    generate_dev_chain(tmp_path, PASS_TYPE_ID, TEAM_ID)
    material = load_signing_material(tmp_path)
    key_pem = (tmp_path / PASS_KEY_FILE).read_text()
    secret_line = key_pem.splitlines()[5]

    text = repr(material) + str(material)

    assert "Pass Type ID" in text
    assert "PRIVATE" not in text and secret_line not in text and "RSAPrivateKey" not in text


@pytest.mark.parametrize("wwdr", ["wwdr_der", "wwdr_pem"])
def test_import_of_a_password_protected_p12_writes_the_standard_layout(
    tmp_path: Path, apple_bundle: AppleBundle, wwdr: str
) -> None:
    generate_dev_chain(tmp_path, PASS_TYPE_ID, TEAM_ID)  # importing replaces a dev chain

    material = import_p12(apple_bundle.p12, P12_PASSWORD, getattr(apple_bundle, wwdr), tmp_path)

    assert material.pass_type_id == REAL_PASS_TYPE_ID and material.team_id == REAL_TEAM_ID
    assert stat.S_IMODE((tmp_path / PASS_KEY_FILE).stat().st_mode) == 0o600
    assert not (tmp_path / DEV_ROOT_CERTIFICATE_FILE).exists()
    loaded = load_signing_material(tmp_path)
    assert loaded.certificate == apple_bundle.certificate
    report = check(tmp_path)
    assert not report.development
    assert report.pass_type_id == REAL_PASS_TYPE_ID
    assert report.not_after == apple_bundle.certificate.not_valid_after_utc
    assert 198 <= report.days_to_expiry <= 200


def test_wrong_p12_password_gives_a_clear_error_without_the_password(
    tmp_path: Path, apple_bundle: AppleBundle
) -> None:
    with pytest.raises(P12PasswordError, match="wrong password") as caught:
        import_p12(apple_bundle.p12, "not the password", apple_bundle.wwdr_der, tmp_path)

    assert "not the password" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert not (tmp_path / PASS_KEY_FILE).exists()


def test_import_refuses_a_wwdr_that_did_not_issue_the_certificate(
    tmp_path: Path, apple_bundle: AppleBundle
) -> None:
    with pytest.raises(InvalidCertificateError, match="not issued by"):
        import_p12(apple_bundle.p12, P12_PASSWORD, apple_bundle.unrelated_wwdr, tmp_path)

    assert not (tmp_path / PASS_KEY_FILE).exists()


def test_import_refuses_files_that_are_not_p12_or_certificates(
    tmp_path: Path, apple_bundle: AppleBundle
) -> None:
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello")

    with pytest.raises(InvalidCertificateError, match="not a PKCS#12"):
        import_p12(text_file, P12_PASSWORD, apple_bundle.wwdr_der, tmp_path / "out")
    with pytest.raises(InvalidCertificateError, match="not a PEM or DER certificate"):
        import_p12(apple_bundle.p12, P12_PASSWORD, text_file, tmp_path / "out")
    with pytest.raises(CertificateNotFoundError):
        import_p12(tmp_path / "missing.p12", P12_PASSWORD, apple_bundle.wwdr_der, tmp_path)


def test_check_uses_the_current_time_by_default(tmp_path: Path) -> None:
    generate_dev_chain(tmp_path, PASS_TYPE_ID, TEAM_ID)

    report = check(tmp_path)

    expected = (report.not_after - datetime.now(UTC)).days
    assert report.days_to_expiry in (expected - 1, expected)
