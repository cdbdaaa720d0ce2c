"""An outbound call the media node places (an agent's phone, a department, an expert): the parent's view
of it, fed by the endpoint's events."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class SipLeg:
    """`await wait_answer(timeout)` while it rings; `ended` is set when it is over (`code` says how:
    200 after a conversation, 486 busy, 480/404 not registered, 487 cancelled, 408 no answer ...)."""

    def __init__(self, key: str, uri: str, send: Callable[[dict], None], process: int = 0) -> None:
        self.key = key
        self.uri = uri
        self.send = send
        self.process = process  # the PJSIP process holding the leg
        self.ringing = asyncio.Event()
        self.answered = asyncio.Event()
        self.ended = asyncio.Event()
        self.code = 0

    # events from the endpoint
    def on_event(self, kind: str, event: dict) -> None:
        if kind == "progress":
            self.ringing.set()
        elif kind == "answered":
            self.answered.set()
        elif kind == "ended":
            self.code = int(event.get("code") or 0)
            self.ended.set()

    async def wait_answer(self, timeout: float) -> bool:
        """True once the far end answered (media up); False when it ended or rang `timeout` seconds
        (the leg is then cancelled)."""
        answered = asyncio.create_task(self.answered.wait())
        ended = asyncio.create_task(self.ended.wait())
        try:
            await asyncio.wait({answered, ended}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            answered.cancel()
            ended.cancel()
        if self.answered.is_set() and not self.ended.is_set():
            return True
        if not self.ended.is_set():
            self.code = self.code or 408
            self.hangup()
        return False

    def hangup(self) -> None:
        if not self.ended.is_set():
            self.send({"cmd": "hangup", "call": self.key})

    async def wait_ended(self, timeout: float = 5.0) -> None:
        try:
            await asyncio.wait_for(self.ended.wait(), timeout)
        except TimeoutError:
            pass
