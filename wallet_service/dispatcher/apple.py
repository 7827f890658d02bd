"""Pushes to Apple as the dispatcher needs them: the connection, the refusals, the cleanup.

The APNs connection uses the pass certificate from the certificate directory and is
reopened when that file changes (a renewed certificate). Apple refusing the certificate
(403) is recorded per merchant with the certificate's fingerprint: that merchant's pushes
wait, ``/readyz`` says so, and a new certificate lifts it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from certificates.errors import CertificateError
from certificates.layout import CertificatePaths
from certificates.store import load_signing_material
from wallet_service.apple.apns import ApnsClient, PushOutcome, PushResult
from wallet_service.config import Settings
from wallet_service.db.models import PassRegistration
from wallet_service.metrics import APNS_ANSWERS
from wallet_service.push.apns_refusals import fingerprint_of

__all__ = ["ApplePusher", "forget_registrations"]

logger = logging.getLogger(__name__)


@dataclass
class ApplePusher:
    settings: Settings
    _client: ApnsClient | None = None
    _loaded: float | None = None
    fingerprint: str | None = field(default=None)

    def _certificate_modified(self) -> float | None:
        path = CertificatePaths.in_directory(self.settings.certificates_dir).pass_certificate
        try:
            return path.stat().st_mtime
        except FileNotFoundError:
            return None

    async def client(self) -> ApnsClient | None:
        """The APNs client for the installed certificate (``None`` without one)."""
        modified = self._certificate_modified()
        if modified != self._loaded or self._client is None:
            await self.aclose()
            self._loaded = modified
            if modified is None:
                return None
            try:
                material = load_signing_material(self.settings.certificates_dir)
            except CertificateError as exc:
                logger.warning("APNs pushes disabled: %s", exc)
                return None
            self.fingerprint = fingerprint_of(material)
            topic = self.settings.apple_pass_type_id or material.pass_type_id
            if topic is None:
                logger.warning("APNs pushes disabled: the certificate names no pass type")
                return None
            self._client = ApnsClient.connect(
                material,
                topic,
                base_url=self.settings.apns_url,
                ca_file=self.settings.apns_ca_file,
            )
        return self._client

    async def push(self, tokens: Sequence[str]) -> list[PushResult]:
        client = await self.client()
        if client is None:
            return [PushResult(token, PushOutcome.certificate_refused) for token in tokens]
        results = await client.push_many(list(tokens))
        for result in results:
            APNS_ANSWERS.labels(str(result.status) if result.status else "error").inc()
        return results

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


async def forget_registrations(
    session: AsyncSession, dead: Sequence[tuple[uuid.UUID, str]]
) -> None:
    """Apple says these (member, push token) registrations are gone: delete them."""
    if dead:
        await session.execute(
            delete(PassRegistration).where(
                tuple_(PassRegistration.member_id, PassRegistration.push_token).in_(list(dead))
            )
        )
