"""An Apple-shaped signing bundle made at test time: a WWDR stand-in and a password-protected .p12.

Nothing here is committed: keys exist only under pytest's temporary directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

P12_PASSWORD = "correct horse battery staple"
REAL_PASS_TYPE_ID = "pass.com.maisoncafeine.loyalty"
REAL_TEAM_ID = "MC4FE1NE42"


@dataclass(frozen=True)
class AppleBundle:
    p12: Path
    wwdr_der: Path
    wwdr_pem: Path
    unrelated_wwdr: Path
    certificate: x509.Certificate


def _name(common_name: str, organization: str, unit: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if unit:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def _ca(name: x509.Name, key: rsa.RSAPrivateKey, now: datetime) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=2000))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )


@pytest.fixture(scope="session")
def apple_bundle(tmp_path_factory: pytest.TempPathFactory) -> AppleBundle:
    directory = tmp_path_factory.mktemp("apple-bundle")
    now = datetime.now(UTC)
    wwdr_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    wwdr = _ca(
        _name("Apple WWDR CA G4 (test stand-in)", "Test", "G4"),
        wwdr_key,
        now,
    )
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = _ca(_name("Some Other CA", "Elsewhere"), other_key, now)
    pass_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.USER_ID, REAL_PASS_TYPE_ID),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Pass Type ID: {REAL_PASS_TYPE_ID}"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, REAL_TEAM_ID),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Maison Caféine SAS"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(wwdr.subject)
        .public_key(pass_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=200))
        .sign(wwdr_key, hashes.SHA256())
    )
    p12 = directory / "pass.p12"
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"Maison Caffeine pass",
            pass_key,
            certificate,
            None,
            serialization.BestAvailableEncryption(P12_PASSWORD.encode()),
        )
    )
    wwdr_der = directory / "AppleWWDRCAG4.cer"
    wwdr_der.write_bytes(wwdr.public_bytes(serialization.Encoding.DER))
    wwdr_pem = directory / "AppleWWDRCAG4.pem"
    wwdr_pem.write_bytes(wwdr.public_bytes(serialization.Encoding.PEM))
    unrelated = directory / "other.pem"
    unrelated.write_bytes(other.public_bytes(serialization.Encoding.PEM))
    return AppleBundle(p12, wwdr_der, wwdr_pem, unrelated, certificate)
