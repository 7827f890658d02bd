"""Load, import and inspect the pass signing material kept in one directory.

Three entry points, all taking the directory explicitly:

* :func:`load_signing_material` reads the leaf certificate, its private key and
  the intermediate, checking that they belong together; the result feeds
  :class:`wallet_service.apple.signing.Pkcs7PassSigner`.
* :func:`import_p12` turns a Pass Type ID ``.p12`` exported from Keychain plus
  Apple's WWDR G4 certificate (PEM or DER) into the layout of
  :mod:`certificates.layout`, replacing a development chain.
* :func:`check` reports who the certificate is for and when it expires, so an
  operator (or a cron job through ``wallet-service certs check``) rotates it in time.

Private key material never appears in a repr, an exception or a log line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from certificates.dev import is_development_certificate
from certificates.errors import (
    CertificateNotFoundError,
    InvalidCertificateError,
    P12PasswordError,
)
from certificates.layout import (
    CertificatePaths,
    SigningKey,
    key_matches_certificate,
    load_certificate_bytes,
    pass_identity,
    read_certificate,
    read_private_key,
    write_private_file,
    write_public_file,
)

__all__ = [
    "EXPIRY_WARNING_DAYS",
    "CertificateReport",
    "PassIdentity",
    "SigningMaterial",
    "check",
    "identity_mismatch",
    "import_p12",
    "load_signing_material",
]

#: ``expires_soon`` turns true this many days (or fewer) before expiry.
EXPIRY_WARNING_DAYS = 30


@dataclass(frozen=True, slots=True, repr=False)
class SigningMaterial:
    """The pass certificate, its private key and the intermediate that issued it."""

    certificate: x509.Certificate
    private_key: SigningKey
    intermediate: x509.Certificate

    @property
    def pass_type_id(self) -> str | None:
        """Pass type identifier the certificate was issued for."""
        return pass_identity(self.certificate)[0]

    @property
    def team_id(self) -> str | None:
        """Apple team identifier the certificate was issued to."""
        return pass_identity(self.certificate)[1]

    def __repr__(self) -> str:
        # Deliberately hand-written: the dataclass repr would include the key object.
        return (
            f"SigningMaterial(subject={self.certificate.subject.rfc4514_string()!r}, "
            f"intermediate={self.intermediate.subject.rfc4514_string()!r})"
        )


@dataclass(frozen=True, slots=True)
class CertificateReport:
    """What ``certs check`` shows: identity and expiry of the signing material.

    ``days_to_expiry`` and ``not_after`` describe the pass certificate (negative
    days once expired). ``expires_soon`` is true when the pass certificate *or*
    its intermediate expires within :data:`EXPIRY_WARNING_DAYS`, because a pass
    signed under an expired intermediate is rejected just the same.
    """

    directory: Path
    subject: str
    pass_type_id: str | None
    team_id: str | None
    not_after: datetime
    days_to_expiry: int
    expires_soon: bool
    expired: bool
    development: bool
    intermediate_subject: str
    intermediate_not_after: datetime
    intermediate_days_to_expiry: int


def load_signing_material(directory: Path) -> SigningMaterial:
    """Read and cross-check the signing material stored in ``directory``.

    Raises :class:`~certificates.errors.CertificateNotFoundError` when a file is
    missing and :class:`~certificates.errors.InvalidCertificateError` when the
    key does not belong to the certificate or the intermediate did not issue it.
    Expiry is not enforced here; :func:`check` reports it.
    """
    paths = CertificatePaths.in_directory(directory)
    certificate = read_certificate(paths.pass_certificate)
    intermediate = read_certificate(paths.intermediate_certificate)
    private_key = read_private_key(paths.pass_key)
    _validate(certificate, private_key, intermediate, source=str(paths.pass_certificate))
    return SigningMaterial(
        certificate=certificate, private_key=private_key, intermediate=intermediate
    )


def import_p12(
    p12_path: Path,
    password: str | bytes | None,
    wwdr_path: Path,
    directory: Path,
) -> SigningMaterial:
    """Import a password-protected Pass Type ID ``.p12`` and Apple's WWDR certificate.

    The bundle's certificate and key and the WWDR intermediate are validated
    together before anything is written, then stored in the layout of
    :mod:`certificates.layout` (the key as unencrypted PKCS#8, mode ``0600``),
    replacing whatever was there, including a development chain.

    Raises :class:`~certificates.errors.P12PasswordError` on a wrong password.
    """
    p12_data = _read_input(p12_path, what="PKCS#12 bundle")
    wwdr = load_certificate_bytes(
        _read_input(wwdr_path, what="WWDR certificate"), source=str(wwdr_path)
    )
    # PKCS#12 is a DER SEQUENCE; anything else is the wrong file, not a wrong password.
    if not p12_data.startswith(b"\x30"):
        raise InvalidCertificateError(f"{p12_path} is not a PKCS#12 (.p12) file")
    secret = password.encode("utf-8") if isinstance(password, str) else password
    try:
        key, certificate, _extra = pkcs12.load_key_and_certificates(p12_data, secret or None)
    except ValueError:
        # cryptography's message is generic; ours says what to do. Chaining is
        # suppressed so no parser internals about the bundle reach logs.
        raise P12PasswordError(
            f"could not decrypt {p12_path}: wrong password (or a damaged .p12 file)"
        ) from None
    if key is None or certificate is None:
        raise InvalidCertificateError(
            f"{p12_path} must contain both the Pass Type ID certificate and its private key"
        )
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise InvalidCertificateError(f"{p12_path} holds a key type that cannot sign passes")
    _validate(certificate, key, wwdr, source=str(p12_path))

    paths = CertificatePaths.in_directory(directory)
    write_private_file(
        paths.pass_key,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    write_public_file(paths.intermediate_certificate, wwdr.public_bytes(serialization.Encoding.PEM))
    write_public_file(paths.pass_certificate, certificate.public_bytes(serialization.Encoding.PEM))
    # A leftover development root would describe a chain that no longer exists.
    paths.dev_root_certificate.unlink(missing_ok=True)
    return SigningMaterial(certificate=certificate, private_key=key, intermediate=wwdr)


def check(directory: Path, *, now: datetime | None = None) -> CertificateReport:
    """Report identity and expiry of the signing material in ``directory``."""
    material = load_signing_material(directory)
    moment = now or datetime.now(UTC)
    leaf_days = _days_until(material.certificate.not_valid_after_utc, moment)
    intermediate_days = _days_until(material.intermediate.not_valid_after_utc, moment)
    pass_type_id, team_id = pass_identity(material.certificate)
    return CertificateReport(
        directory=directory,
        subject=material.certificate.subject.rfc4514_string(),
        pass_type_id=pass_type_id,
        team_id=team_id,
        not_after=material.certificate.not_valid_after_utc,
        days_to_expiry=leaf_days,
        expires_soon=min(leaf_days, intermediate_days) <= EXPIRY_WARNING_DAYS,
        expired=material.certificate.not_valid_after_utc <= moment
        or material.intermediate.not_valid_after_utc <= moment,
        development=is_development_certificate(material.certificate),
        intermediate_subject=material.intermediate.subject.rfc4514_string(),
        intermediate_not_after=material.intermediate.not_valid_after_utc,
        intermediate_days_to_expiry=intermediate_days,
    )


class PassIdentity(Protocol):
    """What a certificate was issued for: :class:`SigningMaterial`, :class:`CertificateReport`."""

    @property
    def pass_type_id(self) -> str | None: ...

    @property
    def team_id(self) -> str | None: ...


def identity_mismatch(
    certificate: PassIdentity, *, pass_type_id: str | None, team_id: str | None
) -> str | None:
    """One line naming what the configured ids and the certificate disagree on, or ``None``.

    ``WALLET_APPLE_PASS_TYPE_ID`` / ``WALLET_APPLE_TEAM_ID`` (``None`` when unset) must be the
    certificate's subject UID and OU: Wallet refuses passes signed for another identity.
    """
    checks = (
        ("WALLET_APPLE_PASS_TYPE_ID", pass_type_id, "pass type id (UID)", certificate.pass_type_id),
        ("WALLET_APPLE_TEAM_ID", team_id, "team id (OU)", certificate.team_id),
    )
    problems = [
        f"{setting}={configured} but the signing certificate's {what} is {actual}"
        for setting, configured, what, actual in checks
        if configured is not None and configured != actual
    ]
    if not problems:
        return None
    return "; ".join(problems) + " (Wallet refuses such passes)"


def _days_until(moment_after: datetime, moment: datetime) -> int:
    # Floor, so "expires in 0 days" means later today and -1 means yesterday.
    return math.floor((moment_after - moment).total_seconds() / 86400)


def _read_input(path: Path, *, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise CertificateNotFoundError(f"{what} not found: {path}") from exc


def _validate(
    certificate: x509.Certificate,
    key: SigningKey,
    intermediate: x509.Certificate,
    *,
    source: str,
) -> None:
    pass_type_id, team_id = pass_identity(certificate)
    if pass_type_id is None or not pass_type_id.startswith("pass."):
        raise InvalidCertificateError(
            f"{source} is not a Pass Type ID certificate (no 'pass.' identifier in its subject)"
        )
    if not team_id:
        raise InvalidCertificateError(f"{source} has no team identifier (subject OU)")
    if not key_matches_certificate(key, certificate):
        raise InvalidCertificateError(f"the private key does not belong to {source}")
    try:
        certificate.verify_directly_issued_by(intermediate)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise InvalidCertificateError(
            f"{source} was not issued by the supplied intermediate "
            f"({intermediate.subject.rfc4514_string()}); Apple pass certificates need WWDR G4"
        ) from exc
