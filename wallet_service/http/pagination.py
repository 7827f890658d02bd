"""Pagination parameters every list route takes (``offset``, ``limit``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from pydantic import BaseModel

__all__ = ["PageParams", "PageParamsDep"]


class PageParams(BaseModel):
    offset: int
    limit: int


async def _page_params(
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PageParams:
    return PageParams(offset=offset, limit=limit)


PageParamsDep = Annotated[PageParams, Depends(_page_params)]
