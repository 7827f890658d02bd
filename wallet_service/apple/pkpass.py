"""Build a signed Apple Wallet ``.pkpass`` (store card) from a template and a card state.

The archive holds ``pass.json``, the template's images and ``<lang>.lproj``
localizations, ``manifest.json`` (SHA-1 of every other file) and
``signature`` (detached PKCS#7 of the manifest, from a :class:`PassSigner`),
all STORED uncompressed.

Only Apple-defined ``pass.json`` keys are written: the required identity keys,
colours, ``storeCard`` field groups, a ``barcodes`` array (one entry per
template format, ``iso-8859-1``), ``webServiceURL`` + ``authenticationToken``
for live updates, at most :data:`MAX_LOCATIONS` ``locations`` with
``relevantText``, ``expirationDate`` and ``voided`` when set.

Per-pass work is kept to what varies by member: everything derived from the
template alone (zip entries of the images, their SHA-1s and central-directory
records, the manifest fragment, the constant JSON of ``pass.json``, see
:mod:`~wallet_service.apple.passjson`) is computed once and cached, so a build
costs some string joins, three small hashes and the RSA signature.

Example::

    data = build_pkpass(
        load_template("points"), card,
        pass_type_id="pass.com.example.loyalty", team_id="ABCDE12345",
        web_service_url="https://wallet.example.com/apple",
        authentication_token=derive_authentication_token(key, card.serial_number),
        signer=Pkcs7PassSigner.from_material(material),
    )
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from wallet_service.apple.archive import StoredEntry, assemble, stored_entry, stored_entry_cached
from wallet_service.apple.passjson import (
    BARCODE_MESSAGE_ENCODING,
    MAX_LOCATIONS,
    MIN_AUTHENTICATION_TOKEN_LENGTH,
    compile_pass_json,
)
from wallet_service.apple.signing import PassSigner
from wallet_service.passes.model import CardState
from wallet_service.passes.templates import PassTemplate

__all__ = [
    "BARCODE_MESSAGE_ENCODING",
    "MAX_LOCATIONS",
    "MIN_AUTHENTICATION_TOKEN_LENGTH",
    "PKPASS_MEDIA_TYPE",
    "build_pass_json",
    "build_pkpass",
]

#: ``Content-Type`` of a pass download.
PKPASS_MEDIA_TYPE = "application/vnd.apple.pkpass"


@dataclass(frozen=True, slots=True)
class _TemplateBundle:
    """Everything about a template's archive that no member changes."""

    prefix: bytes
    central: bytes
    count: int
    manifest_fragment: str


def build_pass_json(
    template: PassTemplate,
    card: CardState,
    *,
    pass_type_id: str,
    team_id: str,
    web_service_url: str,
    authentication_token: str,
) -> dict[str, Any]:
    """Return the ``pass.json`` document of ``card`` as a dictionary (exactly what is signed)."""
    writer = compile_pass_json(
        template, pass_type_id=pass_type_id, team_id=team_id, web_service_url=web_service_url
    )
    document: dict[str, Any] = json.loads(writer.write(card, authentication_token))
    return document


def build_pkpass(
    template: PassTemplate,
    card: CardState,
    *,
    pass_type_id: str,
    team_id: str,
    web_service_url: str,
    authentication_token: str,
    signer: PassSigner,
) -> bytes:
    """Return the signed ``.pkpass`` archive for ``card`` (media type :data:`PKPASS_MEDIA_TYPE`).

    Raises :class:`ValueError` when an identifier is malformed, the token is
    shorter than 16 characters or the barcode message is not ISO-8859-1.
    """
    writer = compile_pass_json(
        template, pass_type_id=pass_type_id, team_id=team_id, web_service_url=web_service_url
    )
    pass_entry = stored_entry("pass.json", writer.write(card, authentication_token))
    bundle = _template_bundle(template)
    member_entries = [
        stored_entry_cached(name, data)
        for name, data in sorted(template.member_files(card).items())
    ]
    manifest = _manifest(bundle, (pass_entry, *member_entries))
    manifest_entry = stored_entry("manifest.json", manifest, sha1=False)
    signature_entry = stored_entry("signature", signer.sign(manifest), sha1=False)
    return assemble(
        bundle.prefix,
        bundle.central,
        bundle.count,
        (*member_entries, pass_entry, manifest_entry, signature_entry),
    )


def _manifest(bundle: _TemplateBundle, entries: Iterable[StoredEntry]) -> bytes:
    # File names come from a fixed pattern (no quotes or backslashes), so
    # splicing them next to the cached JSON fragment yields valid JSON.
    dynamic = ",".join(f'"{entry.name}":"{entry.sha1}"' for entry in entries)
    return ("{" + dynamic + "," + bundle.manifest_fragment + "}").encode("ascii")


@lru_cache(maxsize=64)
def _template_bundle(template: PassTemplate) -> _TemplateBundle:
    """Pre-encode the template's files; keyed by template identity (templates are cached)."""
    entries = [
        stored_entry(name, data)
        for name, data in sorted(template.files.items())
        if name not in template.member_file_names
    ]
    offset = 0
    centrals = []
    for entry in entries:
        centrals.append(entry.central(offset))
        offset += len(entry.local)
    fragment = json.dumps({entry.name: entry.sha1 for entry in entries}, separators=(",", ":"))
    return _TemplateBundle(
        prefix=b"".join(entry.local for entry in entries),
        central=b"".join(centrals),
        count=len(entries),
        manifest_fragment=fragment[1:-1],
    )
