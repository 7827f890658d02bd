"""Program persistence, always within one merchant."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wallet_service.accounts.posting import default_rules, touch_passes
from wallet_service.db.models import Program
from wallet_service.db.repository import count_and_list, get_scoped, scoped_select
from wallet_service.errors import InvalidRequest
from wallet_service.loyalty.rules import ProgramRules
from wallet_service.programs.schemas import ProgramCreate, ProgramUpdate
from wallet_service.security.principal import MerchantScope

__all__ = [
    "create_program",
    "get_program",
    "list_programs",
    "update_program",
    "validated_rules",
]


def validated_rules(rules: dict[str, Any] | None, currency: str) -> dict[str, Any]:
    """The rules, checked by the loyalty domain and normalised; defaults when none are given."""
    if not rules:
        return default_rules(currency)
    if rules.get("currency", currency) != currency:
        raise InvalidRequest(
            f"The rules' currency must be the program's ({currency}).", code="currency_mismatch"
        )
    # InvalidProgramRules (a DomainError) carries the path of the offending field.
    return ProgramRules.from_dict({**rules, "currency": currency}).to_dict()


async def create_program(
    session: AsyncSession, scope: MerchantScope, data: ProgramCreate
) -> Program:
    program = Program(
        merchant_id=scope.merchant_id,
        name=data.name,
        currency=data.currency,
        template=data.template,
        rules=validated_rules(data.rules, data.currency),
        rotating_barcode=data.rotating_barcode,
    )
    session.add(program)
    await session.flush()
    return program


async def get_program(
    session: AsyncSession, scope: MerchantScope, program_id: uuid.UUID, *, for_update: bool = False
) -> Program:
    return await get_scoped(
        session, scope, Program, program_id, what="program", for_update=for_update
    )


async def list_programs(
    session: AsyncSession, scope: MerchantScope, *, offset: int, limit: int
) -> tuple[int, Sequence[Program]]:
    statement = scoped_select(scope, Program).order_by(Program.created_at, Program.id)
    return await count_and_list(session, statement, offset=offset, limit=limit)


async def update_program(
    session: AsyncSession,
    scope: MerchantScope,
    program_id: uuid.UUID,
    data: ProgramUpdate,
    now: datetime,
) -> Program:
    program = await get_program(session, scope, program_id)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "rules" in changes:
        changes["rules"] = validated_rules(changes["rules"], program.currency)
    for field, value in changes.items():
        setattr(program, field, value)
    if changes:
        await touch_passes(session, scope, now, program_id=program.id)
    await session.flush()
    return program
