"""A merchant's Google Wallet credentials: issuer id and service-account key.

Google Wallet objects are written with a service account of the merchant's Google Cloud
project, linked to its Wallet issuer account. :func:`import_service_account` checks the key
file Google's console downloads and keeps it, with the issuer id, under
``<certificate directory>/google/<merchant id>.json`` (mode 0600, outside the repository and
the database); :func:`load_google_credentials` reads it back. The private key never appears
in a repr, an exception or a log line.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from certificates.errors import InvalidCertificateError
from certificates.layout import write_private_file

__all__ = [
    "GoogleCredentials",
    "google_credentials_dir",
    "google_credentials_path",
    "import_service_account",
    "load_google_credentials",
]

_ISSUER_ID = re.compile(r"^\d{10,25}$")
_KEY_FIELDS = ("type", "client_email", "private_key", "private_key_id", "token_uri")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True, slots=True)
class GoogleCredentials:
    """One merchant's issuer id and service-account key (as Google's JSON key file)."""

    issuer_id: str
    service_account: dict[str, str] = field(repr=False)

    @property
    def client_email(self) -> str:
        return self.service_account["client_email"]

    @property
    def private_key_id(self) -> str:
        return self.service_account["private_key_id"]

    def private_key(self) -> rsa.RSAPrivateKey:
        return _rsa_key(self.service_account["private_key"])


@lru_cache(maxsize=64)
def _rsa_key(pem: str) -> rsa.RSAPrivateKey:
    # Parsing checks the RSA key, tens of milliseconds: once per key, not per save link.
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InvalidCertificateError("the service-account key is not an RSA key")
    return key


def google_credentials_dir(directory: Path) -> Path:
    return directory / "google"


def google_credentials_path(directory: Path, merchant_id: uuid.UUID) -> Path:
    return google_credentials_dir(directory) / f"{merchant_id}.json"


def import_service_account(
    directory: Path, merchant_id: uuid.UUID, issuer_id: str, key_file: Path
) -> GoogleCredentials:
    """Check ``key_file`` and keep it, with ``issuer_id``, for ``merchant_id``."""
    try:
        info = json.loads(key_file.read_bytes())
    except (OSError, ValueError) as exc:
        raise InvalidCertificateError(f"{key_file}: not a readable JSON key file") from exc
    credentials = _validated(issuer_id, info, source=str(key_file))
    document = {"issuer_id": credentials.issuer_id, "service_account": info}
    write_private_file(
        google_credentials_path(directory, merchant_id), json.dumps(document).encode()
    )
    return credentials


def load_google_credentials(directory: Path, merchant_id: uuid.UUID) -> GoogleCredentials | None:
    """The merchant's credentials, or ``None`` when Google Wallet was never set up for it."""
    path = google_credentials_path(directory, merchant_id)
    try:
        document = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise InvalidCertificateError(f"{path}: unreadable") from exc
    return _validated(document.get("issuer_id"), document.get("service_account"), source=str(path))


def _validated(issuer_id: Any, info: Any, *, source: str) -> GoogleCredentials:
    if not isinstance(issuer_id, str) or not _ISSUER_ID.match(issuer_id):
        raise InvalidCertificateError(
            f"{source}: the issuer id must be the number shown in the Google Pay & Wallet Console"
        )
    if not isinstance(info, dict) or any(not isinstance(info.get(k), str) for k in _KEY_FIELDS):
        raise InvalidCertificateError(
            f"{source}: not a service-account key (needs {', '.join(_KEY_FIELDS)})"
        )
    if info["type"] != "service_account":
        raise InvalidCertificateError(f"{source}: the key's type is not 'service_account'")
    token_uri = urlsplit(info["token_uri"])
    if token_uri.scheme != "https" and token_uri.hostname not in _LOOPBACK:
        raise InvalidCertificateError(f"{source}: the token_uri must be https")
    credentials = GoogleCredentials(issuer_id, {k: str(v) for k, v in info.items()})
    try:
        credentials.private_key()
    except (ValueError, TypeError):  # the message could quote key material: drop it
        raise InvalidCertificateError(f"{source}: the private_key is not a PEM RSA key") from None
    except InvalidCertificateError as exc:
        raise InvalidCertificateError(f"{source}: {exc}") from None
    return credentials
