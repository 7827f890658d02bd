"""Prometheus metrics (``/metrics``, and the worker's own port).

Counters live in the process that does the work: the API process counts what it serves and,
with the embedded dispatcher, what it delivers; a ``wallet-service worker`` exposes its own.
The outbox's backlog (queued, dead) is read from the database at scrape time, so any process
reports it.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = [
    "APNS_ANSWERS",
    "GOOGLE_ANSWERS",
    "OUTBOX_DEAD",
    "OUTBOX_DELIVERED",
    "OUTBOX_FAILED",
    "OUTBOX_QUEUED",
    "PUSH_LATENCY",
    "REGISTRY",
]

REGISTRY = CollectorRegistry()

OUTBOX_QUEUED = Gauge(
    "wallet_outbox_queued",
    "Outbox rows waiting for delivery (not dead), by topic.",
    ["topic"],
    registry=REGISTRY,
)
OUTBOX_DEAD = Gauge(
    "wallet_outbox_dead",
    "Outbox rows that ran out of attempts, by topic.",
    ["topic"],
    registry=REGISTRY,
)
OUTBOX_DELIVERED = Counter(
    "wallet_outbox_delivered",
    "Outbox rows delivered (coalesced rows count one each), by topic.",
    ["topic"],
    registry=REGISTRY,
)
OUTBOX_FAILED = Counter(
    "wallet_outbox_failed",
    "Outbox delivery attempts that failed and will be retried or died, by topic.",
    ["topic"],
    registry=REGISTRY,
)
OUTBOX_DIED = Counter(
    "wallet_outbox_died",
    "Outbox rows that became dead letters, by topic.",
    ["topic"],
    registry=REGISTRY,
)
PUSH_LATENCY = Histogram(
    "wallet_push_latency_seconds",
    "From the commit of a card change to APNs' answer for its push.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 30, 60, 300),
    registry=REGISTRY,
)
APNS_ANSWERS = Counter(
    "wallet_apns_answers",
    "APNs answers by HTTP status ('error' when the connection failed).",
    ["status"],
    registry=REGISTRY,
)
GOOGLE_ANSWERS = Counter(
    "wallet_google_answers",
    "Google Wallet API answers to our writes, by outcome code.",
    ["outcome"],
    registry=REGISTRY,
)
