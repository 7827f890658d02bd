"""The development chain looks like Apple's, verifies, and is reused while still valid."""

from __future__ import annotations

import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certificates.dev import DEV_RENEW_WITHIN, generate_dev_chain
from certificates.errors import RefusingToOverwriteError
from certificates.layout import DEV_ORGANIZATION, PASS_TYPE_ID_EXTENSION_OID
from certificates.store import import_p12
from tests.certificates.conftest import P12_PASSWORD, AppleBundle

PASS_TYPE_ID = "pass.dev.wallet-service.loyalty"
TEAM_ID = "DEVTEAM123"


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_dev_chain_writes_pem_files_and_keeps_the_key_private(tmp_path: Path) -> None:
    chain = generate_dev_chain(tmp_path / "certs", PASS_TYPE_ID, TEAM_ID)

    assert chain.generated
    for path in (chain.root_certificate, chain.intermediate_certificate, chain.pass_certificate):
        assert path.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert chain.pass_key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE(chain.pass_key.stat().st_mode) == 0o600


def test_pass_certificate_is_shaped_like_apples(tmp_path: Path) -> None:
    chain = generate_dev_chain(tmp_path, PASS_TYPE_ID, TEAM_ID)
    certificate = _load(chain.pass_certificate)
    subject = certificate.subject

    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        f"Pass Type ID: {PASS_TYPE_ID}"
    )
    assert subject.get_attributes_for_oid(NameOID.USER_ID)[0].value == PASS_TYPE_ID
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == TEAM_ID
    organization = subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    assert organization == DEV_ORGANIZATION
    assert "DEVELOPMENT ONLY" in organization and "not valid on iPhone" in organization
    public_key = certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size == 2048
    marker = certificate.extensions.get_extension_for_oid(PASS_TYPE_ID_EXTENSION_OID)
    assert not marker.critical
    assert isinstance(marker.value, x509.UnrecognizedExtension)
    assert marker.value.value == b"\x0c" + bytes([len(PASS_TYPE_ID)]) + PASS_TYPE_ID.encode()
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    extended = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CODE_SIGNING in extended


def test_the_dev_pass_certificate_can_authenticate_a_tls_client_as_apns_requires(
    tmp_path: Path,
) -> None:
    """APNs authenticates pass pushes with the pass certificate as the TLS client
    certificate; a server that checks the purpose refuses a code-signing-only one."""
    chain = generate_dev_chain(tmp_path, PASS_TYPE_ID, TEAM_ID)
    result = subprocess.run(
        [
            "openssl",
            "verify",
            "-purpose",
            "sslclient",
            "-CAfile",
            str(chain.root_certificate),
            "-untrusted",
            str(chain.intermediate_certificate),
            str(chain.pass_certificate),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_chain_made_for_code_signing_only_is_regenerated(tmp_path: Path) -> None:
    chain = generate_dev_chain(tmp_path, PASS_TYPE_ID, TEAM_ID)
    # Re-issue the same chain the way earlier versions did: the leaf for code signing only.
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = _load(chain.pass_certificate)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Old dev CA")])
    now = datetime.now(UTC)

    def issue(subject: x509.Name, public_key: rsa.RSAPublicKey, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            code_signing = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING])
            builder = builder.add_extension(code_signing, critical=False)
        return builder.sign(ca_key, hashes.SHA256())

    old_ca = issue(ca_name, ca_key.public_key(), ca=True)
    pass_key = leaf.public_key()
    assert isinstance(pass_key, rsa.RSAPublicKey)
    old_leaf = issue(leaf.subject, pass_key, ca=False)
    for path, certificate in (
        (chain.root_certificate, old_ca),
        (chain.intermediate_certificate, old_ca),
        (chain.pass_certificate, old_leaf),
    ):
        path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))

    renewed = generate_dev_chain(tmp_path, PASS_TYPE_ID, TEAM_ID)

    assert renewed.generated
    extended = _load(renewed.pass_certificate).extensions.get_extension_for_class(
        x509.ExtendedKeyUsage
    )
    assert ExtendedKeyUsageOID.CLIENT_AUTH in extended.value


def test_dev_chain_verifies_with_openssl(tmp_path: Path) -> None:
    chain = generate_dev_chain(tmp_path, PASS_TYPE_ID, TEAM_ID)
    result = subprocess.run(
        [
            "openssl",
            "verify",
            "-CAfile",
            str(chain.root_certificate),
            "-untrusted",
            str(chain.intermediate_certificate),
            str(chain.pass_certificate),
        ],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    intermediate = _load(chain.intermediate_certificate)
    assert intermediate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_a_valid_chain_is_reused_untouched(tmp_path: Path) -> None:
    first = generate_dev_chain(tmp_path, PASS_TYPE_ID, TEAM_ID)
    before = first.pass_certificate.read_bytes(), first.pass_key.read_bytes()

    second = generate_dev_chain(tmp_path, PASS_TYPE_ID, TEAM_ID)

    assert not second.generated
    assert (second.pass_certificate.read_bytes(), second.pass_key.read_bytes()) == before


def test_chain_is_regenerated_for_another_pass_type_or_team(tmp_path: Path) -> None:
    generate_dev_chain(tmp_path, PASS_TYPE_ID, TEAM_ID)

    assert generate_dev_chain(tmp_path, "pass.dev.other", TEAM_ID).generated
    assert generate_dev_chain(tmp_path, "pass.dev.other", "OTHERTEAM1").generated


def test_chain_close_to_expiry_is_regenerated(tmp_path: Path) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=365) + DEV_RENEW_WITHIN - timedelta(days=1)
    generate_dev_chain(tmp_path, PASS_TYPE_ID, TEAM_ID, now=long_ago)

    renewed = generate_dev_chain(tmp_path, PASS_TYPE_ID, TEAM_ID)

    assert renewed.generated
    assert _load(renewed.pass_certificate).not_valid_after_utc > datetime.now(UTC) + timedelta(300)


def test_chain_with_a_damaged_key_is_regenerated(tmp_path: Path) -> None:
    chain = generate_dev_chain(tmp_path, PASS_TYPE_ID, TEAM_ID)
    chain.pass_key.write_text("garbage")

    assert generate_dev_chain(tmp_path, PASS_TYPE_ID, TEAM_ID).generated


def test_imported_material_is_never_replaced_by_a_dev_chain(
    tmp_path: Path, apple_bundle: AppleBundle
) -> None:
    import_p12(apple_bundle.p12, P12_PASSWORD, apple_bundle.wwdr_der, tmp_path)

    with pytest.raises(RefusingToOverwriteError, match="not a development certificate"):
        generate_dev_chain(tmp_path, PASS_TYPE_ID, TEAM_ID)


@pytest.mark.parametrize(
    ("pass_type_id", "team_id"),
    [
        ("com.example.loyalty", TEAM_ID),
        (PASS_TYPE_ID, "bad team"),
        ("pass." + "x" * 46, TEAM_ID),  # the CN "Pass Type ID: ..." would pass 64 characters
    ],
)
def test_malformed_identifiers_are_refused(tmp_path: Path, pass_type_id: str, team_id: str) -> None:
    with pytest.raises(ValueError):
        generate_dev_chain(tmp_path, pass_type_id, team_id)
