"""The on-disk layout of pass signing material and the helpers that read and write it.

Both the development generator and the import of a real Apple ``.p12`` write the
same three files into one directory, so everything downstream (the signer, the
expiry check, the operator's backups) deals with a single layout:

``pass-certificate.pem``
    the Pass Type ID certificate (leaf);
``pass-key.pem``
    its private key, unencrypted PKCS#8 PEM, mode ``0600``;
``wwdr.pem``
    the intermediate that issued the leaf (Apple WWDR G4 in production);
``dev-root-ca.pem``
    only for development chains: the local root that issued the intermediate.

Writes are atomic (temporary file + rename) so a crash never leaves half a key.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from certificates.errors import CertificateNotFoundError, InvalidCertificateError

__all__ = [
    "DEV_ORGANIZATION",
    "DEV_ROOT_CERTIFICATE_FILE",
    "PASS_CERTIFICATE_FILE",
    "PASS_KEY_FILE",
    "PASS_TYPE_ID_CN_PREFIX",
    "PASS_TYPE_ID_EXTENSION_OID",
    "WWDR_CERTIFICATE_FILE",
    "CertificatePaths",
    "SigningKey",
    "key_matches_certificate",
    "load_certificate_bytes",
    "pass_identity",
    "read_certificate",
    "read_private_key",
    "write_private_file",
    "write_public_file",
]

# "pass" here is Apple's pass type, not a password (ruff S105 reads it as one).
PASS_CERTIFICATE_FILE = "pass-certificate.pem"  # noqa: S105
PASS_KEY_FILE = "pass-key.pem"  # noqa: S105
WWDR_CERTIFICATE_FILE = "wwdr.pem"
DEV_ROOT_CERTIFICATE_FILE = "dev-root-ca.pem"

#: Organization name of every development certificate; also how we recognise them.
DEV_ORGANIZATION = "DEVELOPMENT ONLY - not valid on iPhone"
#: Apple's marker extension on Pass Type ID certificates.
PASS_TYPE_ID_EXTENSION_OID = x509.ObjectIdentifier("1.2.840.113635.100.6.1.16")
PASS_TYPE_ID_CN_PREFIX = "Pass Type ID: "  # noqa: S105

#: Key types the PKCS#7 signer accepts; Apple issues RSA-2048.
SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True, slots=True)
class CertificatePaths:
    """Where each file of the layout lives inside one directory."""

    directory: Path
    pass_certificate: Path
    pass_key: Path
    intermediate_certificate: Path
    dev_root_certificate: Path

    @classmethod
    def in_directory(cls, directory: Path) -> CertificatePaths:
        """Return the layout rooted at ``directory`` (nothing is read or created)."""
        return cls(
            directory=directory,
            pass_certificate=directory / PASS_CERTIFICATE_FILE,
            pass_key=directory / PASS_KEY_FILE,
            intermediate_certificate=directory / WWDR_CERTIFICATE_FILE,
            dev_root_certificate=directory / DEV_ROOT_CERTIFICATE_FILE,
        )


def load_certificate_bytes(data: bytes, *, source: str) -> x509.Certificate:
    """Parse one X.509 certificate given as PEM or DER (Apple ships WWDR as DER)."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise InvalidCertificateError(f"{source} is not a PEM or DER certificate") from exc


def read_certificate(path: Path) -> x509.Certificate:
    """Read a certificate file of the layout, with a clear error when it is missing."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise CertificateNotFoundError(f"missing certificate file: {path}") from exc
    return load_certificate_bytes(data, source=str(path))


def read_private_key(path: Path) -> SigningKey:
    """Read the unencrypted PEM private key of the layout.

    Errors name the file only; the parser's own message is dropped because
    nothing derived from key bytes may reach a log.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise CertificateNotFoundError(f"missing private key file: {path}") from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise InvalidCertificateError(f"{path} is not an unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise InvalidCertificateError(f"{path} holds a key type that cannot sign passes")
    return key


def key_matches_certificate(key: SigningKey, certificate: x509.Certificate) -> bool:
    """Tell whether ``key`` is the private half of ``certificate``'s public key."""
    encoding = serialization.Encoding.DER
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return key.public_key().public_bytes(encoding, spki) == certificate.public_key().public_bytes(
        encoding, spki
    )


def pass_identity(certificate: x509.Certificate) -> tuple[str | None, str | None]:
    """Return ``(pass_type_id, team_id)`` as Apple encodes them in the subject.

    The pass type identifier is the ``UID`` attribute (falling back to the
    ``CN`` after ``"Pass Type ID: "``) and the team identifier is the ``OU``.
    """
    subject = certificate.subject
    pass_type_id = _first_attribute(subject, NameOID.USER_ID)
    if pass_type_id is None:
        common_name = _first_attribute(subject, NameOID.COMMON_NAME)
        if common_name is not None and common_name.startswith(PASS_TYPE_ID_CN_PREFIX):
            pass_type_id = common_name.removeprefix(PASS_TYPE_ID_CN_PREFIX)
    team_id = _first_attribute(subject, NameOID.ORGANIZATIONAL_UNIT_NAME)
    return pass_type_id, team_id


def _first_attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    attributes = name.get_attributes_for_oid(oid)
    if not attributes:
        return None
    value = attributes[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def write_public_file(path: Path, data: bytes) -> None:
    """Atomically write a certificate (world-readable is fine: it is public)."""
    _atomic_write(path, data, mode=0o644)


def write_private_file(path: Path, data: bytes) -> None:
    """Atomically write key material readable by the owner only (``0600``)."""
    _atomic_write(path, data, mode=0o600)


def _atomic_write(path: Path, data: bytes, *, mode: int) -> None:
    # A new directory is private: it will hold the key next to the certificates.
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkstemp creates the file 0600 from the start, so a private key is never
    # readable by others, not even between creation and the final chmod.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
