"""Apple Wallet adapter: ``.pkpass`` building and signing, web-service tokens.

:mod:`~wallet_service.apple.pkpass` renders a
:class:`~wallet_service.passes.model.CardState` into a signed store-card pass;
:mod:`~wallet_service.apple.signing` holds the :class:`PassSigner` port and its
PKCS#7 adapter; :mod:`~wallet_service.apple.auth` derives the per-pass
``authenticationToken``; :mod:`~wallet_service.apple.archive` writes the
uncompressed zip. Nothing here touches the database or HTTP.
"""

from wallet_service.apple.auth import derive_authentication_token, tokens_match
from wallet_service.apple.pkpass import PKPASS_MEDIA_TYPE, build_pass_json, build_pkpass
from wallet_service.apple.signing import PassSigner, Pkcs7PassSigner

__all__ = [
    "PKPASS_MEDIA_TYPE",
    "PassSigner",
    "Pkcs7PassSigner",
    "build_pass_json",
    "build_pkpass",
    "derive_authentication_token",
    "tokens_match",
]
