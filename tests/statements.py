"""What SQL the application sends, for tests that pin how many round trips work takes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event


@dataclass(frozen=True)
class Sent:
    statement: str
    rows: int  # parameter sets: an executemany sends several in one statement


@contextmanager
def statements_sent(app: FastAPI, keep: Callable[[str], bool]) -> Iterator[list[Sent]]:
    """The statements the app's engine sends while the block runs, those ``keep`` accepts."""
    sent: list[Sent] = []

    def record(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, many: bool) -> None:
        if keep(statement.lstrip()):
            sent.append(Sent(statement, len(parameters) if many else 1))

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)
