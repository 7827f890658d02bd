"""Local development certificate chain for signing passes without an Apple account.

The chain mirrors Apple's shape so the signer, the expiry check and the tests
exercise the real code paths: a local root CA, an intermediate standing in for
Apple WWDR G4, and an RSA-2048 Pass Type ID certificate whose subject and
extensions look like Apple's (``UID`` = pass type id, ``OU`` = team id, the
``1.2.840.113635.100.6.1.16`` marker). Its organization says
``DEVELOPMENT ONLY - not valid on iPhone``: Wallet rejects these passes because
the root is not Apple's, which is exactly what a dev chain must never hide.

Only the leaf key is written; the CA keys are discarded after signing because
regenerating the whole chain is cheaper and safer than keeping CA keys on disk.

Example::

    chain = generate_dev_chain(Path("data/certs"), "pass.dev.wallet-service.loyalty", "DEVTEAM123")
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certificates.errors import CertificateError, RefusingToOverwriteError
from certificates.layout import (
    DEV_ORGANIZATION,
    PASS_TYPE_ID_CN_PREFIX,
    PASS_TYPE_ID_EXTENSION_OID,
    CertificatePaths,
    key_matches_certificate,
    pass_identity,
    read_certificate,
    read_private_key,
    write_private_file,
    write_public_file,
)

__all__ = ["DEV_RENEW_WITHIN", "DevChain", "generate_dev_chain", "is_development_certificate"]

#: A dev chain closer than this to expiry is regenerated instead of reused.
DEV_RENEW_WITHIN = timedelta(days=30)

_ROOT_LIFETIME = timedelta(days=3650)
_INTERMEDIATE_LIFETIME = timedelta(days=1825)
# Apple's Pass Type ID certificates last about a year; keep dev the same so the
# expiry warnings are exercised on realistic numbers.
_PASS_LIFETIME = timedelta(days=365)
# Tolerate clocks that are slightly behind the machine that generated the chain.
_BACKDATE = timedelta(hours=1)
# X.520 caps a common name at 64 characters, and the CN embeds the identifier.
_MAX_COMMON_NAME = 64


@dataclass(frozen=True, slots=True)
class DevChain:
    """Paths of a development chain and whether this call created it."""

    root_certificate: Path
    intermediate_certificate: Path
    pass_certificate: Path
    pass_key: Path
    generated: bool


def is_development_certificate(certificate: x509.Certificate) -> bool:
    """Tell whether a certificate was produced by this generator."""
    organizations = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return any(attribute.value == DEV_ORGANIZATION for attribute in organizations)


def generate_dev_chain(
    directory: Path,
    pass_type_id: str,
    team_id: str,
    *,
    now: datetime | None = None,
) -> DevChain:
    """Create (or reuse) a development chain for ``pass_type_id`` in ``directory``.

    An existing chain is kept when it is complete, consistent (key matches the
    leaf, each certificate is signed by the next), names the same pass type and
    team, and is not within :data:`DEV_RENEW_WITHIN` of expiry. Otherwise the
    whole chain is regenerated. Real material imported with
    :func:`certificates.store.import_p12` is never overwritten.
    """
    if not pass_type_id.startswith("pass."):
        raise ValueError("pass type identifiers start with 'pass.' (reverse-DNS style)")
    if len(PASS_TYPE_ID_CN_PREFIX) + len(pass_type_id) > _MAX_COMMON_NAME:
        limit = _MAX_COMMON_NAME - len(PASS_TYPE_ID_CN_PREFIX)
        raise ValueError(f"pass type identifier longer than {limit} characters")
    if not team_id or not team_id.isalnum():
        raise ValueError("team identifiers are alphanumeric, e.g. 'DEVTEAM123'")
    moment = now or datetime.now(UTC)
    paths = CertificatePaths.in_directory(directory)
    _refuse_real_material(paths)
    if _existing_chain_is_usable(paths, pass_type_id, team_id, moment):
        return _chain(paths, generated=False)

    root_key = _new_key()
    root_name = _dev_name("Wallet Service Development Root CA")
    root = _ca_certificate(root_name, root_key, root_name, root_key, moment, _ROOT_LIFETIME, None)

    intermediate_key = _new_key()
    intermediate_name = _dev_name(
        "Wallet Service Development WWDR G4 stand-in", organizational_unit="G4"
    )
    intermediate = _ca_certificate(
        intermediate_name, intermediate_key, root_name, root_key, moment, _INTERMEDIATE_LIFETIME, 0
    )

    pass_key = _new_key()
    leaf = _pass_certificate(
        pass_type_id, team_id, pass_key, intermediate_name, intermediate_key, moment
    )

    # The key goes first: a leaf on disk without its key would look "present".
    write_private_file(
        paths.pass_key,
        pass_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    write_public_file(paths.dev_root_certificate, root.public_bytes(serialization.Encoding.PEM))
    write_public_file(
        paths.intermediate_certificate, intermediate.public_bytes(serialization.Encoding.PEM)
    )
    write_public_file(paths.pass_certificate, leaf.public_bytes(serialization.Encoding.PEM))
    return _chain(paths, generated=True)


def _chain(paths: CertificatePaths, *, generated: bool) -> DevChain:
    return DevChain(
        root_certificate=paths.dev_root_certificate,
        intermediate_certificate=paths.intermediate_certificate,
        pass_certificate=paths.pass_certificate,
        pass_key=paths.pass_key,
        generated=generated,
    )


def _refuse_real_material(paths: CertificatePaths) -> None:
    if not paths.pass_certificate.exists():
        return
    try:
        existing = read_certificate(paths.pass_certificate)
    except CertificateError:
        # An unreadable leaf is not real material worth protecting.
        return
    if not is_development_certificate(existing):
        raise RefusingToOverwriteError(
            f"{paths.pass_certificate} is not a development certificate; "
            "refusing to replace imported signing material with a dev chain"
        )


def _existing_chain_is_usable(
    paths: CertificatePaths, pass_type_id: str, team_id: str, moment: datetime
) -> bool:
    try:
        root = read_certificate(paths.dev_root_certificate)
        intermediate = read_certificate(paths.intermediate_certificate)
        leaf = read_certificate(paths.pass_certificate)
        key = read_private_key(paths.pass_key)
    except CertificateError:
        return False
    if not key_matches_certificate(key, leaf):
        return False
    if pass_identity(leaf) != (pass_type_id, team_id) or not _authenticates_tls_clients(leaf):
        return False
    try:
        leaf.verify_directly_issued_by(intermediate)
        intermediate.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return all(
        certificate.not_valid_before_utc <= moment
        and certificate.not_valid_after_utc - DEV_RENEW_WITHIN > moment
        for certificate in (root, intermediate, leaf)
    )


def _authenticates_tls_clients(certificate: x509.Certificate) -> bool:
    # Chains made before APNs pushes were code signing only: regenerate those.
    try:
        usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return True  # no EKU: every purpose is allowed
    return ExtendedKeyUsageOID.CLIENT_AUTH in usage


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _dev_name(common_name: str, *, organizational_unit: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organizational_unit is not None:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, organizational_unit))
    attributes += [
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEV_ORGANIZATION),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
    ]
    return x509.Name(attributes)


def _ca_certificate(
    subject: x509.Name,
    subject_key: rsa.RSAPrivateKey,
    issuer: x509.Name,
    issuer_key: rsa.RSAPrivateKey,
    moment: datetime,
    lifetime: timedelta,
    path_length: int | None,
) -> x509.Certificate:
    builder = (
        _base_builder(subject, subject_key, issuer, issuer_key, moment, lifetime)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    return builder.sign(issuer_key, hashes.SHA256())


def _pass_certificate(
    pass_type_id: str,
    team_id: str,
    key: rsa.RSAPrivateKey,
    issuer: x509.Name,
    issuer_key: rsa.RSAPrivateKey,
    moment: datetime,
) -> x509.Certificate:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.USER_ID, pass_type_id),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{PASS_TYPE_ID_CN_PREFIX}{pass_type_id}"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, team_id),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEV_ORGANIZATION),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        ]
    )
    builder = (
        _base_builder(subject, key, issuer, issuer_key, moment, _PASS_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        # Code signing for the pass signature; TLS client authentication because the same
        # certificate authenticates us to APNs, whose TLS servers check the purpose.
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CODE_SIGNING, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.UnrecognizedExtension(PASS_TYPE_ID_EXTENSION_OID, _der_utf8_string(pass_type_id)),
            critical=False,
        )
    )
    return builder.sign(issuer_key, hashes.SHA256())


def _base_builder(
    subject: x509.Name,
    subject_key: rsa.RSAPrivateKey,
    issuer: x509.Name,
    issuer_key: rsa.RSAPrivateKey,
    moment: datetime,
    lifetime: timedelta,
) -> x509.CertificateBuilder:
    # Key identifiers let OpenSSL and iOS build the path without guessing by name.
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(moment - _BACKDATE)
        .not_valid_after(moment + lifetime)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(subject_key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )


def _der_utf8_string(text: str) -> bytes:
    """Encode ``text`` as a DER UTF8String (tag 0x0C), the value Apple's marker carries."""
    payload = text.encode("utf-8")
    length = len(payload)
    if length < 0x80:
        header = bytes([length])
    else:
        size = length.to_bytes((length.bit_length() + 7) // 8, "big")
        header = bytes([0x80 | len(size)]) + size
    return b"\x0c" + header + payload
