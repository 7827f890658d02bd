"""A member's private links: the card page, the *Add to Apple Wallet* download and the
*Add to Google Wallet* hop.

Each carries a MAC of the serial number, so they are unguessable without storing anything,
and the serial alone (printed in the barcode) opens nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from wallet_service.config import Settings
from wallet_service.security.keys import KeyRing, url_token, url_token_matches

__all__ = ["MemberLinks"]


@dataclass(frozen=True)
class MemberLinks:
    public_url: str
    keys: KeyRing

    @classmethod
    def from_settings(cls, settings: Settings) -> MemberLinks:
        keys = KeyRing.derive(
            settings.signing_key(), settings.retired_signing_keys(), "member-links"
        )
        return cls(settings.public_url, keys)

    def token(self, serial_number: str) -> str:
        return url_token(self.keys.active, serial_number)

    def matches(self, serial_number: str, token: str) -> bool:
        return any(url_token_matches(key, serial_number, token) for key in self.keys.all)

    def card_page_url(self, serial_number: str) -> str:
        return f"{self.public_url}/card/{serial_number}/{self.token(serial_number)}"

    def apple_pass_url(self, serial_number: str) -> str:
        return f"{self.public_url}/wallet/apple/{serial_number}/{self.token(serial_number)}.pkpass"

    def google_save_page_url(self, serial_number: str) -> str:
        """Our link behind the card page's button: syncs the card, then goes to Google."""
        return f"{self.public_url}/wallet/google/{serial_number}/{self.token(serial_number)}"
