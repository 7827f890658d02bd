"""Apple refusing our pass certificate for pushes (APNs 403), remembered per merchant.

The refusal is stored with the certificate's fingerprint: the merchant's pushes wait while
that certificate is installed, ``/readyz`` reports it, and installing another lifts it.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from certificates.errors import CertificateError
from certificates.store import SigningMaterial, load_signing_material
from wallet_service.config import Settings
from wallet_service.db.models import Merchant

__all__ = ["certificate_fingerprint", "fingerprint_of", "record_refusal", "refused_merchants"]

logger = logging.getLogger(__name__)


def fingerprint_of(material: SigningMaterial) -> str:
    der = material.certificate.public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()


def certificate_fingerprint(settings: Settings) -> str | None:
    """SHA-256 of the installed pass certificate (``None``: none installed)."""
    try:
        material = load_signing_material(settings.certificates_dir)
    except CertificateError:
        return None
    return fingerprint_of(material)


async def refused_merchants(session: AsyncSession, fingerprint: str | None) -> set[uuid.UUID]:
    """Merchants whose pushes Apple refused with the certificate installed now."""
    if fingerprint is None:
        return set()
    rows = await session.execute(
        select(Merchant.id).where(Merchant.apns_refused_certificate == fingerprint)
    )
    return set(rows.scalars())


async def record_refusal(
    session: AsyncSession, merchant_ids: set[uuid.UUID], fingerprint: str | None, now: datetime
) -> None:
    if merchant_ids and fingerprint:
        logger.error(
            "APNs refused the pass certificate %s (403): pushes for %d merchant(s) stop "
            "until a new certificate is installed",
            fingerprint[:16],
            len(merchant_ids),
        )
        await session.execute(
            update(Merchant)
            .where(Merchant.id.in_(merchant_ids))
            .values(apns_refused_at=now, apns_refused_certificate=fingerprint)
        )
