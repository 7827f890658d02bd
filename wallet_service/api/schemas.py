"""Schema pieces shared by every resource: list pages and pagination parameters."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict

__all__ = ["Page", "PageParams", "PageParamsDep", "ReadModel"]

ItemT = TypeVar("ItemT")


class ReadModel(BaseModel):
    """Base of every ``XRead``: built from ORM rows."""

    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[ItemT]):
    data: list[ItemT]
    count: int


class PageParams(BaseModel):
    offset: int
    limit: int


async def _page_params(
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PageParams:
    return PageParams(offset=offset, limit=limit)


PageParamsDep = Annotated[PageParams, Depends(_page_params)]
