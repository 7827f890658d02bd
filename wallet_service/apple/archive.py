"""A minimal writer for uncompressed (STORED) zip archives built from pre-made entries.

A ``.pkpass`` is a zip whose members Wallet reads directly; compressing PNGs
gains nothing and costs CPU on every download. Python's :mod:`zipfile`
rebuilds every header and CRC on each call, whereas most of a pass (images,
localizations) never changes: here each member becomes a :class:`StoredEntry`
once (local header + data, CRC-32, SHA-1 for the manifest), and
:func:`assemble` only concatenates bytes and writes the central directory.

Every entry carries the same fixed timestamp (1980-01-01), so equal inputs give
byte-identical archives.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

__all__ = ["StoredEntry", "assemble", "stored_entry", "stored_entry_cached"]

_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_VERSION = 20  # 2.0: the baseline every unzip (and Wallet) reads
_MADE_BY = (3 << 8) | _VERSION  # Unix host, so external attributes carry file modes
_DOS_TIME = 0
_DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01, the DOS epoch
_FILE_MODE = 0o100644 << 16
_ZIP64_LIMIT = 0xFFFF


class StoredEntry(NamedTuple):
    """One archive member, with its local header already encoded.

    A named tuple rather than a frozen dataclass: three are created per pass
    and tuple construction is several times cheaper.
    """

    name: str
    #: Hex SHA-1 of the data for ``manifest.json`` ("" when not requested).
    sha1: str
    local: bytes
    name_bytes: bytes
    crc: int
    size: int

    def central(self, offset: int) -> bytes:
        """Central-directory record for this entry when it starts at ``offset``."""
        return (
            _CENTRAL.pack(
                0x02014B50,
                _MADE_BY,
                _VERSION,
                0,
                0,
                _DOS_TIME,
                _DOS_DATE,
                self.crc,
                self.size,
                self.size,
                len(self.name_bytes),
                0,
                0,
                0,
                0,
                _FILE_MODE,
                offset,
            )
            + self.name_bytes
        )


def stored_entry(name: str, data: bytes, *, sha1: bool = True) -> StoredEntry:
    """Encode ``data`` as an uncompressed member called ``name``.

    ``sha1=False`` skips the manifest digest, for ``manifest.json`` and
    ``signature`` themselves, which the manifest does not list.
    """
    encoded = name.encode("ascii")  # Apple's file names are ASCII; no UTF-8 flag needed
    crc = zlib.crc32(data)
    header = _LOCAL.pack(
        0x04034B50,
        _VERSION,
        0,
        0,
        _DOS_TIME,
        _DOS_DATE,
        crc,
        len(data),
        len(data),
        len(encoded),
        0,
    )
    # Apple's manifest format mandates SHA-1; integrity rests on the SHA-256
    # signature over the manifest, hence usedforsecurity=False (FIPS builds).
    digest = hashlib.sha1(data, usedforsecurity=False).hexdigest() if sha1 else ""
    return StoredEntry(name, digest, header + encoded + data, encoded, crc, len(data))


@lru_cache(maxsize=512)
def stored_entry_cached(name: str, data: bytes) -> StoredEntry:
    """:func:`stored_entry` memoised: for per-member files that repeat (stamp strips).

    ``bytes`` cache their hash, so a hit on the same object is a dictionary lookup.
    """
    return stored_entry(name, data)


def assemble(
    prefix: bytes,
    prefix_central: bytes,
    prefix_count: int,
    entries: Sequence[StoredEntry],
) -> bytes:
    """Concatenate a pre-built run of entries with more entries into a whole archive.

    ``prefix`` is the local headers and data of ``prefix_count`` entries that
    start at offset 0, and ``prefix_central`` their central records; both come
    from a cache, so only ``entries`` cost anything per call.
    """
    offset = len(prefix)
    locals_ = [prefix]
    centrals = [prefix_central]
    for entry in entries:
        locals_.append(entry.local)
        centrals.append(entry.central(offset))
        offset += len(entry.local)
    count = prefix_count + len(entries)
    if count > _ZIP64_LIMIT or offset > 0xFFFFFFFF:
        raise ValueError("archive too large for a non-ZIP64 pkpass")
    central = b"".join(centrals)
    end = _END.pack(0x06054B50, 0, 0, count, count, len(central), offset, 0)
    return b"".join((*locals_, central, end))
