"""Google Wallet adapter: loyalty classes and objects, save links, the REST client, callbacks.

:mod:`~wallet_service.google.objects` maps the neutral
:class:`~wallet_service.passes.model.CardState` to ``LoyaltyClass`` / ``LoyaltyObject``
(pure); :mod:`~wallet_service.google.save_link` signs the *Add to Google Wallet* JWT;
:mod:`~wallet_service.google.client` talks to the walletobjects API;
:mod:`~wallet_service.google.wallet` ties them to merchants' credentials and the database,
:mod:`~wallet_service.google.callbacks` verifies the save/delete callbacks Google signs
(ECv2SigningOnly) and :mod:`~wallet_service.google.installs` records them on the card;
:mod:`~wallet_service.google.router` serves the save hop, the images Google fetches and the
callbacks endpoint.
"""
