"""Sign a pass manifest: the one-verb :class:`PassSigner` port and its PKCS#7 adapter.

Wallet accepts a pass when ``signature`` is a detached PKCS#7 (CMS) signature of
``manifest.json`` made with the Pass Type ID certificate, carrying that
certificate and Apple's WWDR intermediate. :class:`Pkcs7PassSigner` builds it
with ``cryptography``'s ``PKCS7SignatureBuilder``: SHA-256 digest, DER output,
``DetachedSignature`` so the manifest is not embedded and ``Binary`` so its
bytes are signed exactly as zipped (no MIME canonicalisation). The builder
adds the signed attributes content-type, message-digest, *signing-time* and
S/MIME capabilities by default; the tests check that signing-time is present.

Example::

    signer = Pkcs7PassSigner.from_material(load_signing_material(Path("data/certs")))
    signature = signer.sign(manifest_bytes)
"""

from __future__ import annotations

from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from certificates.store import SigningMaterial

__all__ = ["PassSigner", "Pkcs7PassSigner"]

_OPTIONS = (pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary)


class PassSigner(Protocol):
    """Anything that turns ``manifest.json`` bytes into a detached DER signature."""

    def sign(self, manifest: bytes) -> bytes:
        """Return the DER-encoded detached PKCS#7 signature of ``manifest``."""
        ...


class Pkcs7PassSigner:
    """Detached PKCS#7 signer using the pass certificate, its key and the intermediate."""

    __slots__ = ("_certificate", "_intermediate", "_private_key")

    def __init__(
        self,
        certificate: x509.Certificate,
        private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
        intermediate: x509.Certificate,
    ) -> None:
        self._certificate = certificate
        self._private_key = private_key
        self._intermediate = intermediate

    @classmethod
    def from_material(cls, material: SigningMaterial) -> Pkcs7PassSigner:
        """Build a signer from :func:`certificates.store.load_signing_material`'s result."""
        return cls(material.certificate, material.private_key, material.intermediate)

    def sign(self, manifest: bytes) -> bytes:
        """Sign ``manifest`` (SHA-256, signing time included, chain embedded)."""
        return (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(manifest)
            .add_signer(self._certificate, self._private_key, hashes.SHA256())
            .add_certificate(self._intermediate)
            .sign(serialization.Encoding.DER, _OPTIONS)
        )

    def __repr__(self) -> str:
        # Never let the key object (or anything derived from it) into a repr.
        return f"Pkcs7PassSigner(subject={self._certificate.subject.rfc4514_string()!r})"
