"""Pass signing material: development chain, import of real Apple certificates, expiry checks.

Secrets never live in the repository: :func:`generate_dev_chain` creates a local
chain for development and tests, :func:`import_p12` installs a real Pass Type ID
certificate, and :func:`check` reports when it expires. The ``wallet-service
certs`` commands are in :mod:`certificates.cli`.
"""

from certificates.dev import DevChain, generate_dev_chain
from certificates.errors import CertificateError
from certificates.store import (
    CertificateReport,
    SigningMaterial,
    check,
    import_p12,
    load_signing_material,
)

__all__ = [
    "CertificateError",
    "CertificateReport",
    "DevChain",
    "SigningMaterial",
    "check",
    "generate_dev_chain",
    "import_p12",
    "load_signing_material",
]
