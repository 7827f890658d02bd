"""Apple pass issuing as the running service sees it: signer, identity, tokens, links.

Loaded once at start-up from the certificate directory. Without certificates the service
still runs; issuing answers ``apple_wallet_unavailable`` until ``wallet-service certs``
provides them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import anyio

from certificates.errors import CertificateError
from certificates.store import (
    CertificateReport,
    check,
    identity_mismatch,
    load_signing_material,
)
from wallet_service.apple.auth import derive_authentication_token, tokens_match
from wallet_service.apple.pkpass import build_pkpass
from wallet_service.apple.signing import Pkcs7PassSigner
from wallet_service.config import Settings
from wallet_service.errors import ServiceUnavailable
from wallet_service.passes.model import CardState
from wallet_service.passes.templates import load_template
from wallet_service.security.keys import KeyRing

__all__ = ["AppleIssuer", "AppleWalletUnavailable", "certificate_report", "load_apple_issuer"]

logger = logging.getLogger(__name__)


class AppleWalletUnavailable(ServiceUnavailable):
    default_code = "apple_wallet_unavailable"
    title = "Apple Wallet is not configured"


@dataclass(frozen=True)
class AppleIssuer:
    signer: Pkcs7PassSigner
    pass_type_id: str
    team_id: str
    web_service_url: str
    templates_dir: Path
    _auth_keys: KeyRing

    def authentication_token(self, serial_number: str) -> str:
        return derive_authentication_token(self._auth_keys.active, serial_number)

    def authenticates(self, serial_number: str, presented: str) -> bool:
        return any(
            tokens_match(presented, derive_authentication_token(key, serial_number))
            for key in self._auth_keys.all
        )

    async def issue(self, card: CardState, template_name: str) -> bytes:
        template = load_template(template_name, self.templates_dir)
        # The RSA signature is CPU work: keep it off the event loop.
        return await anyio.to_thread.run_sync(
            lambda: build_pkpass(
                template,
                card,
                pass_type_id=self.pass_type_id,
                team_id=self.team_id,
                web_service_url=self.web_service_url,
                authentication_token=self.authentication_token(card.serial_number),
                signer=self.signer,
            )
        )


def load_apple_issuer(settings: Settings) -> AppleIssuer | None:
    """The issuer, or ``None`` (logged) when no usable certificate is installed."""
    try:
        material = load_signing_material(settings.certificates_dir)
    except CertificateError as exc:
        logger.warning("Apple Wallet disabled: %s (run `wallet-service certs dev`)", exc)
        return None
    mismatch = identity_mismatch(
        material, pass_type_id=settings.apple_pass_type_id, team_id=settings.apple_team_id
    )
    if mismatch:  # /readyz says not ready too (see certificate_status in health.py)
        logger.error("Apple Wallet disabled: %s", mismatch)
        return None
    pass_type_id = settings.apple_pass_type_id or material.pass_type_id
    team_id = settings.apple_team_id or material.team_id
    if not pass_type_id or not team_id:
        logger.warning("Apple Wallet disabled: the certificate names no pass type id or team id")
        return None
    master = settings.signing_key()
    return AppleIssuer(
        signer=Pkcs7PassSigner.from_material(material),
        pass_type_id=pass_type_id,
        team_id=team_id,
        web_service_url=f"{settings.public_url}/passkit",
        templates_dir=settings.templates_dir,
        _auth_keys=KeyRing.derive(
            master, settings.retired_signing_keys(), "apple-authentication-token"
        ),
    )


def certificate_report(settings: Settings, now: datetime) -> CertificateReport | None:
    try:
        return check(settings.certificates_dir, now=now)
    except CertificateError:
        return None
