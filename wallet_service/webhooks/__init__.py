"""Merchant webhooks: endpoints, events emitted with the change, signed deliveries.

``service`` keeps endpoints and the delivery log and emits events (a delivery row and an
outbox row in the caller's transaction); ``signing`` makes and checks the
``Wallet-Signature`` header; ``secrets`` derives each endpoint's signing secret;
``destinations`` keeps deliveries off private networks (SSRF); ``sender`` makes one POST.
The outbox handler that drives them is :mod:`wallet_service.dispatcher.webhooks`.
"""
