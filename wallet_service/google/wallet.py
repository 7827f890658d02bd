"""Google Wallet as the running service sees it: credentials per merchant, sync, save links.

A merchant is on Google Wallet once ``wallet-service google import`` stored its issuer id
and service-account key. Then every member has an object in Google's API, kept in step with
the card: :meth:`GoogleWallet.sync_member` builds the class and object from the neutral card
model and writes them, and records the pass version Google received. The outbox's dispatcher
calls it for every changed card (:mod:`wallet_service.dispatcher.cards`), as does the *Add to
Google Wallet* hop. The database transaction is closed before Google is
called: a slow API never holds a row or, on SQLite, the process's one connection.

An object is written with PATCH (inserted only when Google does not have it yet), never
with PUT: an update replaces the whole object, and would wipe the messages added with
:meth:`GoogleWallet.add_message`. The PATCH leaves ``messages`` out; when the card's own
message (points about to expire) differs from what Google holds, a second PATCH writes
Google's list with just that message replaced. A sync or message may notify the customer,
within Google's budget of 3 notifications per pass per 24 hours
(:mod:`wallet_service.google.notifications`); past it, it goes silently.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from certificates.errors import CertificateError
from certificates.google import (
    GoogleCredentials,
    google_credentials_dir,
    google_credentials_path,
    load_google_credentials,
)
from wallet_service.cards.holders import member_by_link
from wallet_service.cards.state import card_state_for
from wallet_service.clock import Clock
from wallet_service.config import Settings
from wallet_service.db.models import Member, Merchant, Program
from wallet_service.db.session import session_scope
from wallet_service.errors import NotFound, ServiceUnavailable
from wallet_service.google import notifications
from wallet_service.google.client import GoogleWalletClient, GoogleWalletError
from wallet_service.google.objects import (
    CARD_MESSAGE_IDS,
    ProgramCard,
    RotatingCode,
    class_id,
    loyalty_class,
    loyalty_object,
    object_id,
    text_message,
)
from wallet_service.google.save_link import save_jwt, save_url
from wallet_service.links import MemberLinks
from wallet_service.passes.templates import load_template, parse_rgb
from wallet_service.rate_limits.bucket import Sleep, Throttle, token_bucket_for
from wallet_service.scanning import rotating
from wallet_service.security.keys import KeyRing
from wallet_service.security.principal import MerchantScope

__all__ = ["GoogleWallet", "GoogleWalletNotConfigured"]

logger = logging.getLogger(__name__)

#: Template images Google may fetch from us (logo and hero banner).
PUBLIC_IMAGES = frozenset({"logo.png", "strip.png"})
#: Google keeps at most 10 messages on an object.
MAX_MESSAGES = 10
NOTIFY_ON_UPDATE = {"notifyPreference": "NOTIFY_ON_UPDATE"}


class GoogleWalletNotConfigured(ServiceUnavailable):
    default_code = "google_wallet_not_configured"
    title = "Google Wallet is not configured"


@dataclass(frozen=True, slots=True)
class _Prepared:
    """What one sync sends, built inside a transaction and sent after it."""

    member_id: uuid.UUID
    merchant_id: uuid.UUID
    pass_version: int
    credentials: GoogleCredentials
    class_body: dict[str, Any]
    object_body: dict[str, Any] = field(repr=False)  # a rotating card's TOTP secret


@dataclass
class _Outcome:
    """Set as soon as Google accepted a notifying call, even if a later call fails."""

    notified: bool = False


@dataclass
class GoogleWallet:
    """One process's Google Wallet side (``app.state.google``, and the worker's)."""

    certificates_dir: Path
    api_url: str
    public_url: str
    origins: tuple[str, ...]
    templates_dir: Path
    barcode_keys: KeyRing = field(repr=False)
    links: MemberLinks = field(repr=False)
    http: httpx.AsyncClient
    clock: Clock
    throttle: Throttle | None = None  # Google's request rate, per issuer
    _credentials: dict[uuid.UUID, tuple[float, GoogleCredentials | None]] = field(
        default_factory=dict
    )
    _clients: dict[tuple[uuid.UUID, str], GoogleWalletClient] = field(default_factory=dict)
    # Classes this process wrote, as last written.
    _classes_sent: dict[str, dict[str, Any]] = field(default_factory=dict)
    _class_locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        http: httpx.AsyncClient,
        clock: Clock,
        *,
        sleep: Sleep = asyncio.sleep,
    ) -> GoogleWallet:
        master, retired = settings.signing_key(), settings.retired_signing_keys()
        throttle = Throttle(
            token_bucket_for(settings.redis_url, clock),
            rate=settings.google_requests_per_second,
            sleep=sleep,
        )
        return cls(
            certificates_dir=settings.certificates_dir,
            api_url=settings.google_wallet_api_url,
            public_url=settings.public_url,
            origins=tuple(settings.save_origins),
            templates_dir=settings.templates_dir,
            barcode_keys=KeyRing.derive(master, retired, "barcode-token"),
            links=MemberLinks.from_settings(settings),
            http=http,
            clock=clock,
            throttle=throttle,
        )

    async def aclose(self) -> None:
        """Let go of the shared bucket's connection (the HTTP client is its owner's)."""
        if self.throttle is not None:
            await self.throttle.close()

    # -- credentials -----------------------------------------------------------------------

    def credentials(self, merchant_id: uuid.UUID) -> GoogleCredentials | None:
        """The merchant's credentials, re-read when ``google import`` replaced the file."""
        try:
            modified = google_credentials_path(self.certificates_dir, merchant_id).stat().st_mtime
        except FileNotFoundError:
            return None
        cached = self._credentials.get(merchant_id)
        if cached is None or cached[0] != modified:
            try:
                loaded = load_google_credentials(self.certificates_dir, merchant_id)
            except CertificateError as exc:
                logger.warning("Google Wallet disabled for merchant %s: %s", merchant_id, exc)
                loaded = None
            cached = (modified, loaded)
            self._credentials[merchant_id] = cached
        return cached[1]

    def configured_merchants(self) -> list[uuid.UUID]:
        directory = google_credentials_dir(self.certificates_dir)
        names = os.listdir(directory) if directory.is_dir() else []
        merchants = []
        for name in names:
            try:
                merchant_id = uuid.UUID(name.removesuffix(".json"))
            except ValueError:
                continue
            if self.credentials(merchant_id) is not None:
                merchants.append(merchant_id)
        return merchants

    def _client(self, credentials: GoogleCredentials, merchant_id: uuid.UUID) -> GoogleWalletClient:
        key = (merchant_id, credentials.private_key_id)
        if key not in self._clients:  # one per key, so its access token is reused
            self._clients[key] = GoogleWalletClient(
                credentials, self.http, self.api_url, self.throttle
            )
        return self._clients[key]

    def client_for(self, merchant_id: uuid.UUID) -> GoogleWalletClient:
        credentials = self.credentials(merchant_id)
        if credentials is None:
            raise GoogleWalletNotConfigured(
                "This merchant has no Google Wallet issuer account yet "
                "(`wallet-service google import`)."
            )
        return self._client(credentials, merchant_id)

    # -- links -----------------------------------------------------------------------------

    def save_url(self, member: Member, now: datetime) -> str | None:
        """The member's *Add to Google Wallet* link, or ``None`` without Google credentials."""
        credentials = self.credentials(member.merchant_id)
        if credentials is None:
            return None
        token = save_jwt(
            credentials,
            object_id=object_id(credentials.issuer_id, member.serial_number),
            class_id=class_id(credentials.issuer_id, member.program_id),
            origins=self.origins,
            now=now,
        )
        return save_url(token)

    def image_url(self, template: str, image: str) -> str:
        return f"{self.public_url}/wallet/google/images/{template}/{image}"

    # -- sync ------------------------------------------------------------------------------

    async def sync_member(
        self,
        factory: async_sessionmaker[AsyncSession],
        member_id: uuid.UUID,
        *,
        notify: bool = False,
    ) -> bool:
        """Write the member's class and object to Google now; Google's refusal is raised.

        With ``notify``, the update asks Google to notify the customer (``notifyPreference``)
        while the pass has notifications left in its 24-hour budget; past it, or for a card
        Google did not have yet, the write is silent. Returns whether it notified.

        Owns its units of work: the card is read in one transaction and the version sent is
        recorded in another, so no database connection (nor SQLite's write lock) is held
        while Google answers.
        """
        async with session_scope(factory) as session:
            member = await session.get(Member, member_id)
            prepared = None if member is None else await self._prepare(session, member)
            if prepared is not None and notify:
                notify = await self._within_budget(session, prepared.merchant_id, member_id)
        if prepared is None:
            raise GoogleWalletNotConfigured("This card is not offered in Google Wallet yet.")
        outcome = _Outcome()
        try:
            await self._send(prepared, notify=notify, outcome=outcome)
        finally:
            # Counted once Google took it, even when a later call of the sync failed.
            if outcome.notified:
                await self._count_notification(factory, prepared.merchant_id, member_id)
        async with session_scope(factory) as recording:
            await _record_sent(recording, prepared)
        return outcome.notified

    async def add_message(
        self,
        factory: async_sessionmaker[AsyncSession],
        member_id: uuid.UUID,
        header: str,
        body: str,
        *,
        notify: bool,
        message_id: str | None = None,
        display_until: datetime | None = None,
    ) -> bool:
        """Add a message to the back of the member's Google pass (Google's ``addMessage``).

        With ``notify`` it is also shown as a notification (``TEXT_AND_NOTIFY``) while the
        pass has notifications left in its 24-hour budget; past it, it is added silently.
        Kept across syncs (they never send ``messages``). Returns whether it notified.
        """
        async with session_scope(factory) as session:
            member = await session.get(Member, member_id)
            if member is None:
                raise NotFound("No such pass.", code="pass_not_found")
            credentials = self.credentials(member.merchant_id)
            if credentials is None:
                raise GoogleWalletNotConfigured("This card is not offered in Google Wallet yet.")
            merchant_id, target = (
                member.merchant_id,
                object_id(credentials.issuer_id, member.serial_number),
            )
            if notify:
                notify = await self._within_budget(session, merchant_id, member_id)
        message = text_message(
            message_id or f"message-{uuid.uuid4().hex}", header, body, notify=notify
        )
        if display_until is not None:
            message["displayInterval"] = {"end": {"date": display_until.isoformat()}}
        client = self._client(credentials, merchant_id)
        try:
            await client.add_message(target, message)
        except GoogleWalletError as exc:
            if exc.code != "google_wallet_not_found":
                raise
            await self.sync_member(factory, member_id)  # not in Google yet: put it there first
            await client.add_message(target, message)
        if notify:
            await self._count_notification(factory, merchant_id, member_id)
        return notify

    async def _within_budget(
        self, session: AsyncSession, merchant_id: uuid.UUID, member_id: uuid.UUID
    ) -> bool:
        left = await notifications.notifications_left(
            session, merchant_id, member_id, self.clock.now()
        )
        return left > 0

    async def _count_notification(
        self,
        factory: async_sessionmaker[AsyncSession],
        merchant_id: uuid.UUID,
        member_id: uuid.UUID,
    ) -> None:
        async with session_scope(factory) as recording:
            await notifications.record(recording, merchant_id, member_id, self.clock.now())

    async def save_hop(
        self,
        factory: async_sessionmaker[AsyncSession],
        links: MemberLinks,
        serial_number: str,
        token: str,
        now: datetime,
    ) -> str:
        """The *Add to Google Wallet* button: bring the card named by a private link up to
        date in Google Wallet, and return Google's save URL to send the customer to."""
        async with session_scope(factory) as session:
            member = await member_by_link(session, links, serial_number, token)
            if member is None:
                raise NotFound("No such pass.", code="pass_not_found")
            target = self.save_url(member, now)
        if target is None:
            raise GoogleWalletNotConfigured("This card is not offered in Google Wallet yet.")
        await self.sync_member(factory, member.id)
        return target

    async def _prepare(self, session: AsyncSession, member: Member) -> _Prepared | None:
        credentials = self.credentials(member.merchant_id)
        if credentials is None:
            return None
        program = await session.get(Program, member.program_id)
        merchant = await session.get(Merchant, member.merchant_id)
        assert program is not None and merchant is not None  # foreign keys guarantee them
        card = await card_state_for(
            session,
            MerchantScope.for_operator(member.merchant_id),
            member,
            barcode_key=self.barcode_keys.active,
            card_page_url=self.links.card_page_url(member.serial_number),
            now=self.clock.now(),
        )
        code = None
        if program.rotating_barcode:
            code = RotatingCode(
                value_pattern=rotating.value_pattern(member.serial_number),
                secret=rotating.totp_secret(self.barcode_keys.active, member.serial_number),
                digits=rotating.DIGITS,
                period_millis=rotating.PERIOD_MILLIS,
            )
        issuer = credentials.issuer_id
        return _Prepared(
            member_id=member.id,
            merchant_id=member.merchant_id,
            pass_version=member.pass_version,
            credentials=credentials,
            class_body=loyalty_class(issuer, self._program_card(program, merchant)),
            object_body=loyalty_object(issuer, program.id, card, rotating=code),
        )

    async def _send(
        self, prepared: _Prepared, *, notify: bool = False, outcome: _Outcome | None = None
    ) -> None:
        client = self._client(prepared.credentials, prepared.merchant_id)
        # A class reaches every holder of the card: write it only when it changed.
        class_body = prepared.class_body
        # Cards of one program are sent concurrently: one of them writes the class.
        async with self._class_locks.setdefault(class_body["id"], asyncio.Lock()):
            if self._classes_sent.get(class_body["id"]) != class_body:
                await client.upsert_class(class_body)
                self._classes_sent[class_body["id"]] = class_body
        body = prepared.object_body
        fields = {key: value for key, value in body.items() if key != "messages"}
        try:
            held = await client.patch_object(
                body["id"], {**fields, **NOTIFY_ON_UPDATE} if notify else fields
            )
        except GoogleWalletError as exc:
            if exc.code != "google_wallet_not_found":
                raise
            # New to Google: nobody has saved it yet, so there is nobody to notify.
            try:
                await client.insert_object(body)
            except GoogleWalletError as again:
                if again.code != "google_wallet_conflict":
                    raise
                await client.patch_object(body["id"], fields)  # a racing sync inserted it
            return
        if notify and outcome is not None:
            outcome.notified = True
        merged = _with_card_messages(held.get("messages") or [], body.get("messages", []))
        if merged is not None:
            await client.patch_object(body["id"], {"messages": merged})

    def _program_card(self, program: Program, merchant: Merchant) -> ProgramCard:
        template = load_template(program.template, self.templates_dir)
        red, green, blue = parse_rgb(
            template.colors.get("backgroundColor", "rgb(0, 0, 0)"), where=program.template
        )
        return ProgramCard(
            program_id=program.id,
            program_name=program.name,
            issuer_name=merchant.name,
            logo_url=self.image_url(program.template, "logo.png"),
            hero_url=self.image_url(program.template, "strip.png")
            if "strip.png" in template.files
            else None,
            background_color=f"#{red:02x}{green:02x}{blue:02x}",
            home_url=self.public_url,
            callback_url=f"{self.public_url}/wallet/google/callbacks",
        )


def _with_card_messages(
    held: list[dict[str, Any]], card: list[dict[str, Any]]
) -> list[dict[str, Any]] | None:
    """Google's messages with the card's own replaced; ``None`` when they are already right.

    The messages added with addMessage stay, in their order; past Google's 10, the oldest
    of them go first.
    """

    def shown(messages: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [(m.get("id"), m.get("header"), m.get("body")) for m in messages]

    own = [message for message in held if message.get("id") in CARD_MESSAGE_IDS]
    if shown(own) == shown(card):
        return None
    added = [message for message in held if message.get("id") not in CARD_MESSAGE_IDS]
    return (added + card)[-MAX_MESSAGES:]


async def _record_sent(session: AsyncSession, prepared: _Prepared) -> None:
    # The version Google was last sent. When two syncs of one card race (the save button and
    # the dispatcher), the older one may land last at Google: Google then stays one version
    # behind until the card's next change (rare, and never a wrong balance for long).
    await session.execute(
        update(Member)
        .where(Member.id == prepared.member_id)
        .values(google_pass_version=prepared.pass_version)
    )
