"""Group commit for scans: the scans that arrive together share one transaction.

A scan's cost was mostly its round trips (lock the card, check the key, read stock, insert
the transaction, its entries and its answer, update the member, commit), each costing
about as much CPU in the driver as the scan's rules. One writer task per process takes
every scan waiting when it is free (up to ``max_batch``) and posts them with
:func:`~wallet_service.scanning.service.record_scans`: one statement per step for the
whole batch. Nobody waits for a batch to fill: a lone scan is posted at once; under load,
scans queue while the previous batch commits and go together in the next.

Each scan still gets exactly its own answer or error. If the batch's transaction fails
(a database error, a deadlock with another process, a key that raced in elsewhere), every
scan of it is posted again alone, so only the one at fault fails. Every answer is given
after its transaction committed.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from wallet_service.db.session import session_scope
from wallet_service.idempotency.records import IdempotentCall, StoredResponse
from wallet_service.scanning.schemas import ScanCreate
from wallet_service.scanning.service import ScanRequest, ScanResult, admit_scan, record_scans
from wallet_service.security.keys import KeyRing
from wallet_service.security.principal import Principal

__all__ = ["ScanBatcher"]

_Waiting = tuple[ScanRequest, "asyncio.Future[StoredResponse]"]


class ScanBatcher:
    """One process's scan writer (started on the first scan, stopped by :meth:`close`)."""

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], max_batch: int = 64
    ) -> None:
        self._session_factory = session_factory
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Waiting] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None

    async def record(self, scan: ScanRequest) -> StoredResponse:
        """Post ``scan`` with whatever else is waiting; its answer once committed."""
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_forever(), name="scan-batcher")
        answer: asyncio.Future[StoredResponse] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((scan, answer))
        return await answer

    async def scan(
        self,
        session: AsyncSession,
        principal: Principal,
        data: ScanCreate,
        call: IdempotentCall,
        keys: KeyRing,
        at: datetime,
    ) -> StoredResponse:
        """A till's scan, end to end: checked in the caller's transaction (which
        :func:`~wallet_service.scanning.service.admit_scan` ends), then posted with its batch.
        A retry whose rotating code expired meanwhile gets the first answer back."""
        admitted = await admit_scan(session, principal, data, call, keys, at)
        if isinstance(admitted, StoredResponse):
            return admitted
        return await self.record(admitted)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None

    async def _write_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            # A caller that went away before its turn (client disconnected) is not posted.
            await self._post([(scan, answer) for scan, answer in batch if not answer.done()])

    async def _post(self, batch: list[_Waiting]) -> None:
        if not batch:
            return
        try:
            async with session_scope(self._session_factory) as session:
                results = await record_scans(session, [scan for scan, _ in batch])
        except Exception as failure:
            if len(batch) == 1:
                _settle(batch[0][1], failure)
                return
            for waiting in batch:  # alone, only the scan at fault fails
                await self._post([waiting])
            return
        alone = []
        for waiting, result in zip(batch, results, strict=True):
            if result is None:
                alone.append(waiting)
            else:
                _settle(waiting[1], result)
        for waiting in alone:
            await self._post([waiting])


def _settle(answer: asyncio.Future[StoredResponse], result: ScanResult) -> None:
    if answer.done():  # its caller went away meanwhile
        return
    if isinstance(result, StoredResponse):
        answer.set_result(result)
    else:
        assert result is not None
        answer.set_exception(result)
