"""Each endpoint's signing secret, derived, never stored.

``secret = "whsec_" + hex(HMAC(K, "webhook:<endpoint id>:<version>"))`` where ``K`` is the
server key's webhook purpose key (:class:`~wallet_service.security.keys.KeyRing`). The
merchant sees it once, at creation or rotation; a database leak alone reveals none. A
rotation bumps the version. Deliveries are signed with every secret a receiver may still
hold: the current one, the previous version during its grace period, and the ones derived
from retired server keys (so rotating ``WALLET_SECRET_KEY`` does not break receivers
before they are told the new secret).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime

from wallet_service.config import Settings
from wallet_service.db.models import WebhookEndpoint
from wallet_service.security.keys import KeyRing

__all__ = ["PURPOSE", "WebhookSecrets"]

PURPOSE = "webhook-secret"


def _secret(key: bytes, endpoint_id: uuid.UUID, version: int) -> str:
    message = f"webhook:{endpoint_id}:{version}".encode()
    return "whsec_" + hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class WebhookSecrets:
    keys: KeyRing

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookSecrets:
        master = settings.signing_key()
        return cls(KeyRing.derive(master, settings.retired_signing_keys(), PURPOSE))

    def current(self, endpoint: WebhookEndpoint) -> str:
        """What the merchant is shown (once)."""
        return _secret(self.keys.active, endpoint.id, endpoint.secret_version)

    def signing(self, endpoint: WebhookEndpoint, now: datetime) -> list[str]:
        """Every secret a receiver may hold now, the current one first."""
        secrets = [self.current(endpoint)]
        previous = endpoint.previous_secret_version
        until = endpoint.previous_secret_until
        if previous is not None and until is not None and now < until:
            secrets.append(_secret(self.keys.active, endpoint.id, previous))
        secrets.extend(_secret(k, endpoint.id, endpoint.secret_version) for k in self.keys.retired)
        return secrets
