"""The Google Wallet gateway and Google's callback keys as route dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from wallet_service.google.callbacks import GoogleRootKeys
from wallet_service.google.wallet import GoogleWallet

__all__ = ["GoogleCallbackKeysDep", "GoogleWalletDep"]


async def get_google_wallet(request: Request) -> GoogleWallet:
    wallet: GoogleWallet = request.app.state.google
    return wallet


async def get_google_callback_keys(request: Request) -> GoogleRootKeys:
    keys: GoogleRootKeys = request.app.state.google_callback_keys
    return keys


GoogleWalletDep = Annotated[GoogleWallet, Depends(get_google_wallet)]
GoogleCallbackKeysDep = Annotated[GoogleRootKeys, Depends(get_google_callback_keys)]
