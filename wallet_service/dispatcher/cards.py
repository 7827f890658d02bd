"""Delivering card changes: APNs pushes to a card's devices, its Google Wallet object.

:class:`CardChanges` handles one card per group (``pass`` rows, merged: a burst of changes
is one push). :class:`ProgramChanges` handles a whole program's cards (``program`` rows),
a page at a time, keeping its place in the row so a crash resumes where it stopped.

A voided card (cancelled, erased) gets the push of the change that voided it, so the phone
shows it voided, and none after.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from wallet_service.apple.apns import PushOutcome, PushResult
from wallet_service.clock import Clock
from wallet_service.db.models import Member, MemberStatus, PassRegistration
from wallet_service.db.session import session_scope
from wallet_service.dispatcher.apple import ApplePusher, forget_registrations
from wallet_service.dispatcher.loop import Continue, Delivered, Group, Outcome, Pause, Retry
from wallet_service.google.client import GoogleWalletError
from wallet_service.google.wallet import GoogleWallet, GoogleWalletNotConfigured
from wallet_service.metrics import GOOGLE_ANSWERS, PUSH_LATENCY
from wallet_service.push.apns_refusals import record_refusal, refused_merchants
from wallet_service.push.changes import CHANNELS
from wallet_service.push.outbox import Topic, enqueue

__all__ = ["CardChanges", "ProgramChanges"]

logger = logging.getLogger(__name__)

# Until a new certificate is installed, a refused merchant's pushes are looked at this often.
REFUSED_CERTIFICATE_RECHECK = timedelta(minutes=10)
# Google writes in flight at once (the token bucket paces them to the issuer's quota).
GOOGLE_CONCURRENCY = 8
APPLE_PAGE = 10_000
GOOGLE_PAGE = 100
# Google refusals about the card itself: retrying the same body cannot help.
_REFUSED = "Apple refused the pass certificate"
_GOOGLE_FINAL = frozenset({"google_wallet_rejected", "google_wallet_conflict"})


@dataclass(frozen=True)
class _Change:
    channels: frozenset[str]
    notify: bool
    final: bool

    @classmethod
    def merged(cls, group: Group) -> _Change:
        payloads = [message.payload for message in group.messages]
        return cls(
            channels=frozenset(c for p in payloads for c in p.get("channels", CHANNELS)),
            notify=any(p.get("notify") for p in payloads),
            final=any(p.get("final") for p in payloads),
        )


@dataclass
class CardChanges:
    factory: async_sessionmaker[AsyncSession]
    clock: Clock
    apple: ApplePusher
    google: GoogleWallet

    async def deliver(self, groups: Sequence[Group]) -> list[Outcome]:
        changes = {uuid.UUID(group.subject): _Change.merged(group) for group in groups}
        await self.apple.client()  # (re)load the certificate before reading refusals
        async with session_scope(self.factory) as session:
            members = {
                member.id: member
                for member in (
                    await session.execute(select(Member).where(Member.id.in_(list(changes))))
                ).scalars()
            }
            refused = await refused_merchants(session, self.apple.fingerprint)
            tokens = await _tokens(session, list(changes))
        # A voided card hears of the change that voided it, and of nothing after.
        wanted = {
            member_id: change
            for member_id, change in changes.items()
            if (member := members.get(member_id)) is not None
            and (member.status is MemberStatus.active or change.final)
        }
        apple_failed, apple_paused = await self._push(wanted, tokens, members, refused)
        google_failed = await self._sync_google(wanted)
        outcomes: list[Outcome] = []
        for group in groups:
            member_id = uuid.UUID(group.subject)
            change = changes[member_id]
            left = {c for c in ("apple",) if member_id in apple_failed | apple_paused}
            left |= {"google"} if member_id in google_failed else set()
            if not left:
                outcomes.append(Delivered())
                if member_id in wanted and tokens.get(member_id):
                    PUSH_LATENCY.observe((self.clock.now() - group.first_queued_at).total_seconds())
                continue
            payload = {"channels": sorted(left), "notify": change.notify, "final": change.final}
            error = google_failed.get(member_id) or "APNs did not take the push"
            if member_id in apple_paused and "google" not in left:
                outcomes.append(
                    Pause(
                        "Apple refused the pass certificate", REFUSED_CERTIFICATE_RECHECK, payload
                    )
                )
            else:
                outcomes.append(Retry(error, payload))
        return outcomes

    async def _push(
        self,
        wanted: dict[uuid.UUID, _Change],
        tokens: dict[uuid.UUID, list[str]],
        members: dict[uuid.UUID, Member],
        refused: set[uuid.UUID],
    ) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
        """Push every wanted card's devices; (members to retry, members paused)."""
        paused = {
            member_id
            for member_id, change in wanted.items()
            if "apple" in change.channels and members[member_id].merchant_id in refused
        }
        sending = [
            (member_id, token)
            for member_id, change in wanted.items()
            if "apple" in change.channels and member_id not in paused
            for token in tokens.get(member_id, [])
        ]
        if not sending:
            return set(), paused
        results = await self.apple.push([token for _, token in sending])
        merchant_of = {member_id: members[member_id].merchant_id for member_id, _ in sending}
        failed, dead, newly_refused = _settle_pushes(sending, results, merchant_of)
        if dead or newly_refused:
            async with session_scope(self.factory) as session:
                await forget_registrations(session, dead)
                await record_refusal(
                    session, newly_refused, self.apple.fingerprint, self.clock.now()
                )
        paused |= {m for m, _ in sending if members[m].merchant_id in newly_refused}
        return failed - paused, paused

    async def _sync_google(self, wanted: dict[uuid.UUID, _Change]) -> dict[uuid.UUID, str]:
        slots = asyncio.Semaphore(GOOGLE_CONCURRENCY)
        failed: dict[uuid.UUID, str] = {}

        async def sync(member_id: uuid.UUID, change: _Change) -> None:
            async with slots:
                try:
                    await self.google.sync_member(self.factory, member_id, notify=change.notify)
                    GOOGLE_ANSWERS.labels("ok").inc()
                except GoogleWalletNotConfigured:
                    return
                except GoogleWalletError as exc:
                    GOOGLE_ANSWERS.labels(exc.code).inc()
                    if exc.code in _GOOGLE_FINAL:
                        logger.warning("Google Wallet refused card %s: %s", member_id, exc)
                        return
                    failed[member_id] = f"Google Wallet: {exc.code}"
                except Exception as exc:  # e.g. its card design is gone: this card only
                    logger.exception("Google Wallet card of member %s not built", member_id)
                    failed[member_id] = f"Google Wallet card not built: {type(exc).__name__}"

        await asyncio.gather(
            *(
                sync(member_id, change)
                for member_id, change in wanted.items()
                if "google" in change.channels
            )
        )
        return failed


async def _tokens(session: AsyncSession, member_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    rows = await session.execute(
        select(PassRegistration.member_id, PassRegistration.push_token).where(
            PassRegistration.member_id.in_(member_ids)
        )
    )
    tokens: dict[uuid.UUID, list[str]] = {}
    for member_id, token in rows.all():
        tokens.setdefault(member_id, []).append(token)
    return tokens


def _settle_pushes(
    sending: Sequence[tuple[uuid.UUID, str]],
    results: Sequence[PushResult],
    merchant_of: dict[uuid.UUID, uuid.UUID],
) -> tuple[set[uuid.UUID], list[tuple[uuid.UUID, str]], set[uuid.UUID]]:
    """(members to retry, dead registrations, merchants whose certificate Apple refused)."""
    failed: set[uuid.UUID] = set()
    dead: list[tuple[uuid.UUID, str]] = []
    refused: set[uuid.UUID] = set()
    for (member_id, token), result in zip(sending, results, strict=True):
        if result.outcome is PushOutcome.unregistered:
            dead.append((member_id, token))
        elif result.outcome is PushOutcome.retry:
            failed.add(member_id)
        elif result.outcome is PushOutcome.certificate_refused:
            refused.add(merchant_of[member_id])
        elif result.outcome is PushOutcome.rejected:
            logger.warning("APNs rejected a push: %s %s", result.status, result.reason)
    return failed, dead, refused


@dataclass
class ProgramChanges:
    """Every card of a program (or merchant): pages of pushes, or of Google writes."""

    factory: async_sessionmaker[AsyncSession]
    clock: Clock
    apple: ApplePusher
    google: GoogleWallet
    apple_page: int = APPLE_PAGE
    google_page: int = GOOGLE_PAGE

    async def deliver(self, groups: Sequence[Group]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for group in groups:
            if group.payload.get("channel") == "google":
                outcomes.append(await self._google_page(group))
            else:
                outcomes.append(await self._apple_page(group))
        return outcomes

    def _members(self, group: Group) -> Any:
        statement = select(Member.id).where(
            Member.merchant_id == group.merchant_id, Member.status == MemberStatus.active
        )
        if program_id := group.payload.get("program_id"):
            statement = statement.where(Member.program_id == uuid.UUID(program_id))
        return statement

    async def _apple_page(self, group: Group) -> Outcome:
        after = group.payload.get("after")
        await self.apple.client()
        async with session_scope(self.factory) as session:
            if group.merchant_id in await refused_merchants(session, self.apple.fingerprint):
                return Pause(_REFUSED, REFUSED_CERTIFICATE_RECHECK)
            statement = (
                select(PassRegistration.id, PassRegistration.member_id, PassRegistration.push_token)
                .where(PassRegistration.member_id.in_(self._members(group)))
                .order_by(PassRegistration.id)
                .limit(self.apple_page)
            )
            if after:
                statement = statement.where(PassRegistration.id > uuid.UUID(after))
            page = (await session.execute(statement)).all()
        if not page:
            return Delivered()
        sending = [(member_id, token) for _, member_id, token in page]
        results = await self.apple.push([token for _, token in sending])
        merchant_of = {member_id: group.merchant_id for member_id, _ in sending}
        failed, dead, refused = _settle_pushes(sending, results, merchant_of)
        now = self.clock.now()
        async with session_scope(self.factory) as session:
            await forget_registrations(session, dead)
            await record_refusal(session, refused, self.apple.fingerprint, now)
            # A device that could not be reached now gets its own retried push.
            for member_id in failed:
                enqueue(
                    session,
                    merchant_id=group.merchant_id,
                    topic=Topic.CARD,
                    subject=str(member_id),
                    now=now,
                    payload={"channels": ["apple"], "notify": False, "final": False},
                )
        if refused:
            return Pause(_REFUSED, REFUSED_CERTIFICATE_RECHECK)
        if len(page) < self.apple_page:
            return Delivered()
        return Continue({**group.payload, "after": str(page[-1][0])})

    async def _google_page(self, group: Group) -> Outcome:
        if self.google.credentials(group.merchant_id) is None:
            return Delivered()
        after = group.payload.get("after")
        async with session_scope(self.factory) as session:
            statement = (
                self._members(group)
                .where(Member.google_pass_version.is_not(None))
                .order_by(Member.id)
                .limit(self.google_page)
            )
            if after:
                statement = statement.where(Member.id > uuid.UUID(after))
            member_ids = list((await session.execute(statement)).scalars())
        for member_id in member_ids:
            try:
                await self.google.sync_member(self.factory, member_id)
                GOOGLE_ANSWERS.labels("ok").inc()
            except GoogleWalletError as exc:
                GOOGLE_ANSWERS.labels(exc.code).inc()
                if exc.code not in _GOOGLE_FINAL:
                    # Where this page stopped is where the retry starts.
                    return Retry(f"Google Wallet: {exc.code}", {**group.payload, "after": after})
            after = str(member_id)
        if len(member_ids) < self.google_page:
            return Delivered()
        return Continue({**group.payload, "after": after})
