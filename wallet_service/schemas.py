"""Schema pieces every resource shares: the base of read models and the list page."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

__all__ = ["Page", "ReadModel"]

ItemT = TypeVar("ItemT")


class ReadModel(BaseModel):
    """Base of every ``XRead``: built from ORM rows."""

    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[ItemT]):
    data: list[ItemT]
    count: int
