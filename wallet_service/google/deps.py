"""The Google Wallet gateway as a route dependency (``GoogleWalletDep``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from wallet_service.google.wallet import GoogleWallet

__all__ = ["GoogleWalletDep"]


async def get_google_wallet(request: Request) -> GoogleWallet:
    wallet: GoogleWallet = request.app.state.google
    return wallet


GoogleWalletDep = Annotated[GoogleWallet, Depends(get_google_wallet)]
