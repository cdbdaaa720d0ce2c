"""Exactly one process answers the SIP line: the web worker that holds an exclusive lock on a file in
the data directory starts it; the others try again every few seconds, so when the holder dies
(`hotline serve` starts a new worker) another one takes the line over. The lock dies with its process:
no stale locks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO

from hotline.locks import try_lock
from selfservice.sip.server import SipServer

log = logging.getLogger("hotline.sip")
RETRY_SECONDS = 3.0


class SipLine:
    """`await start()` in each web worker's lifespan, `await stop()` at its shutdown."""

    def __init__(
        self,
        lock_path: Path,
        start_server: Callable[[], Awaitable[SipServer]] | None = None,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self.lock_path = lock_path
        self.start_server = start_server or _start_sip
        self.retry_seconds = retry_seconds
        self.server: SipServer | None = None
        self._lock: IO[str] | None = None
        self._waiting: asyncio.Task[None] | None = None

    @property
    def owner(self) -> bool:
        """Whether this process answers the line."""
        return self.server is not None

    async def start(self) -> None:
        """Take the line now if it is free (a failing start is raised: a broken menu or port stops the
        start-up); otherwise keep trying in the background."""
        if not await self._take():
            self._waiting = asyncio.create_task(self._wait_for_line())

    async def _take(self) -> bool:
        lock = try_lock(self.lock_path)
        if lock is None:
            return False
        try:
            self.server = await self.start_server()
        except BaseException:
            lock.close()
            raise
        self._lock = lock
        lock.truncate(0)
        lock.write(f"{os.getpid()}\n")  # for operators (and tests): who answers the line now
        lock.flush()
        log.info("process %d answers the SIP line", os.getpid())
        return True

    async def _wait_for_line(self) -> None:
        while True:
            await asyncio.sleep(self.retry_seconds)
            try:
                if await self._take():
                    return
            except Exception:  # e.g. the old holder's PJSIP still on the port: try again later
                log.exception("taking over the SIP line failed; retrying")

    async def stop(self) -> None:
        """Stop answering (or waiting for) the line and release it to another process."""
        if self._waiting is not None:
            self._waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._waiting
            self._waiting = None
        if self.server is not None:
            await self.server.stop()
            self.server = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None


async def _start_sip() -> SipServer:
    from selfservice.sip import start_sip

    return await start_sip()
