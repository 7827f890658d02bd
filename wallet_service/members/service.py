"""Members: enrolment, lookup, consent history, cancellation and erasure."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wallet_service.accounts import posting as accounts
from wallet_service.db.models import Consent, Member, MemberStatus
from wallet_service.db.repository import count_and_list, get_scoped, scoped_select
from wallet_service.errors import Conflict, NotFound
from wallet_service.google.wallet import GoogleWallet
from wallet_service.idempotency.records import IdempotentCall, StoredResponse, redact_answers
from wallet_service.links import MemberLinks
from wallet_service.members.schemas import ConsentChange, ConsentRead, MemberCreate, MemberRead
from wallet_service.programs.service import get_program
from wallet_service.push.changes import card_changed
from wallet_service.security.principal import MerchantScope, Principal
from wallet_service.stores.service import get_store

__all__ = [
    "cancel_member",
    "create_member",
    "current_consents",
    "enrol",
    "erase_member",
    "get_member",
    "list_members",
    "present_member",
    "record_consents",
    "record_member_consents",
]


async def create_member(
    session: AsyncSession,
    scope: MerchantScope,
    program_id: uuid.UUID,
    data: MemberCreate,
    *,
    source: str,
    posting_source: accounts.PostingSource,
    now: datetime,
) -> Member:
    program = await get_program(session, scope, program_id)
    if data.home_store_id is not None:
        await get_store(session, scope, data.home_store_id)
    if data.referred_by is not None:
        referrer = await get_member(session, scope, data.referred_by)
        if referrer.program_id != program.id:
            raise NotFound("No such member in this program.", code="member_not_found")
    email = str(data.email).lower() if data.email else None
    if email is not None:
        taken = await session.execute(
            scoped_select(scope, Member).where(
                Member.program_id == program.id, Member.email == email
            )
        )
        if taken.first() is not None:
            raise Conflict("This email is already a member of the program.", code="member_exists")
    member = Member(
        merchant_id=scope.merchant_id,
        program_id=program.id,
        # Random, not sequential: the serial is printed on the pass and must not be guessable.
        serial_number=str(uuid.uuid4()),
        given_name=data.given_name,
        family_name=data.family_name,
        email=email,
        birthday=data.birthday,
        home_store_id=data.home_store_id,
        referred_by_id=data.referred_by,
    )
    session.add(member)
    await session.flush()
    await record_consents(session, scope, member, data.consents, source=source)
    account = await accounts.load_account(session, member)
    welcome = account.loyalty.award_welcome_bonus(
        account.ledger, accounts.new_context(posting_source, now, "welcome bonus")
    )
    if welcome is not None:
        await accounts.post(session, account, welcome, posting_source)
    else:  # the new card still goes to Google Wallet, so its save link works
        card_changed(session, member, now)
    return member


async def record_consents(
    session: AsyncSession,
    scope: MerchantScope,
    member: Member,
    changes: Sequence[ConsentChange],
    *,
    source: str,
) -> None:
    for change in changes:
        session.add(
            Consent(
                merchant_id=scope.merchant_id,
                member_id=member.id,
                purpose=change.purpose,
                granted=change.granted,
                source=source,
            )
        )
    await session.flush()


async def record_member_consents(
    session: AsyncSession,
    scope: MerchantScope,
    member_id: uuid.UUID,
    changes: Sequence[ConsentChange],
    *,
    source: str,
) -> Member:
    """Record a member's consent decisions (the history is kept); the member is returned."""
    member = await get_member(session, scope, member_id)
    await record_consents(session, scope, member, changes, source=source)
    return member


async def current_consents(
    session: AsyncSession, scope: MerchantScope, member_id: uuid.UUID
) -> list[Consent]:
    """The latest decision per purpose."""
    rows = (
        await session.execute(
            scoped_select(scope, Consent)
            .where(Consent.member_id == member_id)
            .order_by(Consent.created_at, Consent.id)
        )
    ).scalars()
    latest: dict[str, Consent] = {}
    for row in rows:
        latest[row.purpose] = row
    return sorted(latest.values(), key=lambda c: c.purpose)


async def get_member(
    session: AsyncSession, scope: MerchantScope, member_id: uuid.UUID, *, for_update: bool = False
) -> Member:
    return await get_scoped(session, scope, Member, member_id, what="member", for_update=for_update)


async def cancel_member(
    session: AsyncSession, scope: MerchantScope, member_id: uuid.UUID, now: datetime
) -> Member:
    """End the membership: the card is voided in Apple Wallet and inactive in Google Wallet.

    The ledger stays as it is (history and totals are kept); the card can no longer be scanned.
    Cancelling a cancelled or erased member changes nothing.
    """
    member = await get_member(session, scope, member_id, for_update=True)
    if member.status is MemberStatus.active:
        member.status = MemberStatus.cancelled
        accounts.touch_pass(session, member, now, final=True)
        await session.flush()
    return member


async def erase_member(
    session: AsyncSession, scope: MerchantScope, member_id: uuid.UUID, now: datetime
) -> Member:
    """Erase the customer's personal data (GDPR) and void the card everywhere.

    Name, email, birthday and home store are wiped, here and in the answers stored for
    retries (``Idempotency-Key``); the ledger stays, tied to the now anonymous member, so
    balances and totals still add up for accounting. Erasing twice changes nothing.
    """
    member = await get_member(session, scope, member_id, for_update=True)
    if member.status is not MemberStatus.erased:
        # A cancelled card was voided on the phone already: it gets no further push.
        voids_the_card = member.status is MemberStatus.active
        member.status = MemberStatus.erased
        member.given_name = member.family_name = ""
        member.email = None
        member.birthday = None
        member.home_store_id = None
        accounts.touch_pass(session, member, now, final=voids_the_card)
        await session.flush()
        await redact_answers(session, scope, member.id, _erased_answer)
    return member


# What erasure blanks in a stored answer, where present: the member as the API shows it
# (an enrolment's answer, links included: they open the card) and the till's member summary.
_ERASED_MEMBER: dict[str, Any] = {
    "given_name": "",
    "family_name": "",
    "email": None,
    "birthday": None,
    "home_store_id": None,
    "apple_pass_url": "",
    "google_save_url": None,
    "card_url": "",
    "status": MemberStatus.erased.value,
}
_ERASED_SUMMARY: dict[str, Any] = {"name": "Member", "status": MemberStatus.erased.value}


def _blanked(fields: dict[str, Any], erased: dict[str, Any]) -> dict[str, Any]:
    return {name: erased.get(name, value) for name, value in fields.items()}


def _erased_answer(body: dict[str, Any]) -> dict[str, Any]:
    """A stored answer about an erased member: same shape, personal data blanked, the
    member shown as erased (as the till and the API now show it)."""
    if isinstance(summary := body.get("member"), dict):
        return {**body, "member": _blanked(summary, _ERASED_SUMMARY)}
    return _blanked(body, _ERASED_MEMBER)


async def list_members(
    session: AsyncSession,
    scope: MerchantScope,
    *,
    program_id: uuid.UUID | None,
    offset: int,
    limit: int,
) -> tuple[int, Sequence[Member]]:
    statement = scoped_select(scope, Member).order_by(Member.created_at, Member.id)
    if program_id is not None:
        statement = statement.where(Member.program_id == program_id)
    return await count_and_list(session, statement, offset=offset, limit=limit)


def _with_links(
    member: Member, links: MemberLinks, google: GoogleWallet, now: datetime
) -> MemberRead:
    return MemberRead.model_validate(member).model_copy(
        update={
            "apple_pass_url": links.apple_pass_url(member.serial_number),
            "google_save_url": google.save_url(member, now),
            "card_url": links.card_page_url(member.serial_number),
        }
    )


async def present_member(
    session: AsyncSession,
    scope: MerchantScope,
    member: Member,
    links: MemberLinks,
    google: GoogleWallet,
    now: datetime,
    *,
    with_consents: bool = True,
) -> MemberRead:
    """The member as the API shows it: with its wallet links and (by default) consents."""
    read = _with_links(member, links, google, now)
    if not with_consents:
        return read
    consents = await current_consents(session, scope, member.id)
    return read.model_copy(update={"consents": [ConsentRead.model_validate(c) for c in consents]})


async def enrol(
    session: AsyncSession,
    principal: Principal,
    program_id: uuid.UUID,
    data: MemberCreate,
    *,
    call: IdempotentCall | None,
    links: MemberLinks,
    google: GoogleWallet,
    now: datetime,
) -> MemberRead | StoredResponse:
    """Enrol a customer through the API: the member, the welcome bonus, the links.

    With an idempotency ``call``, a double-submitted form enrols (and welcomes) once: the
    retry gets the first answer back (a ``StoredResponse``). Once the transaction commits,
    the card is inserted in Google Wallet so the returned save link works at once.
    """
    scope = principal.scope
    if call is not None and (stored := await call.replay(session, scope)) is not None:
        return stored
    member = await create_member(
        session,
        scope,
        program_id,
        data,
        source=principal.kind.value,
        posting_source=accounts.PostingSource.from_principal(principal, channel="enrolment"),
        now=now,
    )
    created = await present_member(session, scope, member, links, google, now)
    if call is not None:
        await call.remember(session, scope, created, member.id)
    return created
