"""Schema pieces every resource shares: read models, the list page, strict request types.

Request bodies take numbers and flags strictly: a boolean is never a number, a number never
a boolean, and a decimal sent as a string must be plain ASCII digits (``"12.50"``), because
Python's ``Decimal()`` would otherwise read other scripts' digits (Arabic-Indic five) as 5 and
``"1_0"`` as 10. Request schemas use pydantic's ``StrictInt`` / ``StrictFloat`` /
``StrictBool`` and ``StrictDecimal`` below instead of ``int`` / ``float`` / ``bool`` /
``Decimal``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict

__all__ = ["DECIMAL_TEXT", "Page", "ReadModel", "RequestModel", "StrictDecimal"]

ItemT = TypeVar("ItemT")

# What a decimal written as a JSON string may look like: ASCII digits, one optional sign and
# point; no spaces, underscores, exponents or other scripts' digits.
DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def _plain_decimal_text(value: object) -> object:
    if isinstance(value, str) and not DECIMAL_TEXT.fullmatch(value):
        raise ValueError('a decimal string takes ASCII digits only, such as "12.50"')
    return value  # numbers go on to pydantic, which also refuses booleans for Decimal


StrictDecimal = Annotated[Decimal, BeforeValidator(_plain_decimal_text)]


class RequestModel(BaseModel):
    """Base of every body a client of our API sends (``XCreate``, ``XUpdate``, ...).

    Unknown fields are refused (422 naming them) rather than dropped: a misspelt
    ``first_name`` must not silently enrol a nameless "Member". Bodies that Apple or Google
    send are not ``RequestModel``: they may grow fields we do not know yet.
    """

    model_config = ConfigDict(extra="forbid")


class ReadModel(BaseModel):
    """Base of every ``XRead``: built from ORM rows."""

    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[ItemT]):
    data: list[ItemT]
    count: int
