"""The PKCS#7 pass signer: detached, SHA-256, signing time, chain embedded, no key leaks."""

from __future__ import annotations

import subprocess
from pathlib import Path

from certificates.dev import DevChain
from wallet_service.apple.signing import PassSigner, Pkcs7PassSigner

MANIFEST = b'{"pass.json":"da39a3ee5e6b4b0d3255bfef95601890afd80709"}'


def _openssl(*arguments: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", *arguments], input=stdin, capture_output=True, check=False)


def test_pkcs7_signer_satisfies_the_pass_signer_port(signer: Pkcs7PassSigner) -> None:
    port: PassSigner = signer

    assert port.sign(MANIFEST)[:1] == b"\x30"  # a DER SEQUENCE


def test_signature_is_detached_and_verifies_against_the_exact_bytes(
    signer: Pkcs7PassSigner, dev_chain: DevChain, tmp_path: Path
) -> None:
    (tmp_path / "signature").write_bytes(signer.sign(MANIFEST))
    (tmp_path / "manifest.json").write_bytes(MANIFEST)
    (tmp_path / "other.json").write_bytes(MANIFEST + b" ")
    common = [
        "smime", "-verify", "-binary", "-inform", "DER", "-in", str(tmp_path / "signature"),
        "-CAfile", str(dev_chain.root_certificate), "-purpose", "any", "-out", "/dev/null",
    ]  # fmt: skip

    assert _openssl(*common, "-content", str(tmp_path / "manifest.json")).returncode == 0
    assert _openssl(*common, "-content", str(tmp_path / "other.json")).returncode != 0
    # Detached: without the content there is nothing to verify.
    assert MANIFEST not in (tmp_path / "signature").read_bytes()


def test_signature_uses_sha256_carries_signing_time_and_both_certificates(
    signer: Pkcs7PassSigner,
) -> None:
    printed = _openssl(
        "cms", "-cmsout", "-print", "-inform", "DER", stdin=signer.sign(MANIFEST)
    ).stdout.decode()  # fmt: skip

    assert "signingTime" in printed
    assert "messageDigest" in printed
    assert "sha256" in printed
    certificates = _openssl(
        "pkcs7", "-inform", "DER", "-print_certs", "-noout", stdin=signer.sign(MANIFEST)
    ).stdout.decode()
    assert "Pass Type ID: pass.test.wallet-service.apple" in certificates
    assert "WWDR G4 stand-in" in certificates


def test_signer_repr_names_the_certificate_but_never_the_key(signer: Pkcs7PassSigner) -> None:
    text = repr(signer)

    assert "Pass Type ID" in text
    assert "Private" not in text and "KEY" not in text
