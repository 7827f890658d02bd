"""The outbox dispatcher: leases due rows, delivers them, records what happened.

Runs inside ``wallet-service serve`` (the embedded default) or as ``wallet-service worker``
processes; any number of them share the outbox safely (see :mod:`wallet_service.push.outbox`).
"""
