"""The *Add to Google Wallet* link: a skinny JWT naming an object we already inserted.

Only ``{id, classId}`` travel in the token, so the link stays short and nothing about the
member (nor the rotating barcode's secret) leaves the server in it; Google looks the object
up by id when the customer saves it. Signed RS256 with the merchant's service-account key,
``aud: google``, ``typ: savetowallet``, ``origins`` the sites allowed to show the button.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import jwt

from certificates.google import GoogleCredentials

__all__ = ["SAVE_URL_PREFIX", "save_jwt", "save_url"]

SAVE_URL_PREFIX = "https://pay.google.com/gp/v/save/"


def save_jwt(
    credentials: GoogleCredentials,
    *,
    object_id: str,
    class_id: str,
    origins: Sequence[str],
    now: datetime,
) -> str:
    claims = {
        "iss": credentials.client_email,
        "aud": "google",
        "typ": "savetowallet",
        "iat": int(now.timestamp()),
        "origins": list(origins),
        "payload": {"loyaltyObjects": [{"id": object_id, "classId": class_id}]},
    }
    return jwt.encode(
        claims,
        credentials.private_key(),
        algorithm="RS256",
        headers={"kid": credentials.private_key_id},
    )


def save_url(token: str) -> str:
    return SAVE_URL_PREFIX + token
