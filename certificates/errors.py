"""Errors raised while generating, importing or reading pass signing material.

Every message names the file and the problem, never the key or password, so
they are safe to log and to print from the CLI::

    CertificateError
     ├── CertificateNotFoundError   a file of the layout is missing
     ├── InvalidCertificateError    unreadable, wrong kind, key/chain mismatch
     ├── P12PasswordError           the .p12 could not be decrypted
     └── RefusingToOverwriteError   the dev generator met real (imported) material
"""

from __future__ import annotations

__all__ = [
    "CertificateError",
    "CertificateNotFoundError",
    "InvalidCertificateError",
    "P12PasswordError",
    "RefusingToOverwriteError",
]


class CertificateError(Exception):
    """Base class for every signing-material problem."""


class CertificateNotFoundError(CertificateError):
    """A certificate or key file expected in the directory layout is missing."""


class InvalidCertificateError(CertificateError):
    """A file exists but is unusable: malformed, wrong kind, or mismatched."""


class P12PasswordError(CertificateError):
    """The PKCS#12 bundle could not be decrypted with the supplied password."""


class RefusingToOverwriteError(CertificateError):
    """The directory holds non-development material that must not be replaced."""
