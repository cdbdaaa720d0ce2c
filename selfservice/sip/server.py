"""The IVR's SIP line: starts the PJSIP endpoint process, runs one dialog per incoming call, and
restarts the endpoint if it dies (calls in progress end as hung up; nothing else is lost)."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import re
from collections import deque
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from pathlib import Path

from selfservice.sip.channel import SipChannel
from selfservice.sip.endpoint import EndpointConfig, run_endpoint
from selfservice.sip.leg import SipLeg

log = logging.getLogger("hotline.sip")
NUMBER = re.compile(r"sip:([^@;>]+)@")


def caller_number(uri: str) -> str:
    """`"Name" <sip:13800138000@host>` -> `13800138000`."""
    match = NUMBER.search(uri)
    return match.group(1) if match else ""


class SipLineError(RuntimeError):
    """The SIP line could not be opened (the message says where and why)."""


class SipServer:
    """`await start()` in the running event loop; `await stop()` hangs up and shuts PJSIP down.
    `dialog_factory(channel)` returns the coroutine that runs one call (a `Dialog(...).run()`)."""

    def __init__(
        self,
        host: str,
        port: int,
        recordings_dir: Path,
        dialog_factory: Callable[[SipChannel], object],
        *,
        max_calls: int = 256,
        rtp_port: int = 20000,
    ) -> None:
        self.config = EndpointConfig(
            host=host,
            port=port,
            recordings_dir=str(recordings_dir / "sip"),
            max_calls=max_calls,
            rtp_port=rtp_port,
        )
        self.dialog_factory = dialog_factory
        self.channels: dict[int, SipChannel] = {}
        self.legs: dict[str, SipLeg] = {}
        self._leg_serial = 0
        self.tasks: set[asyncio.Task] = set()
        self.process: multiprocessing.process.BaseProcess | None = None
        self.conn: Connection | None = None
        self.ready = asyncio.Event()
        self.failure: str | None = None  # why the endpoint could not open the line
        self.stopping = False
        self.restarts = 0
        self.finished: deque[SipChannel] = deque(maxlen=100)  # the latest calls, for inspection
        self.on_stop: list[Callable[[], Awaitable[None]]] = []  # e.g. the switchboard's loop

    async def start(self) -> None:
        """Start the endpoint; raises SipLineError when the line cannot be opened."""
        self._spawn()
        where = f"{self.config.host}:{self.config.port}"
        try:
            await asyncio.wait_for(self.ready.wait(), timeout=20)
        except TimeoutError:
            raise SipLineError(f"SIP 线路 {where} 20 秒内未能启动") from None
        if self.failure is not None:
            raise SipLineError(f"SIP 线路 {where} 无法打开（端口被占用或地址不属于本机）：{self.failure}")
        log.info("SIP line listening on %s", where)

    def _spawn(self) -> None:
        if self.stopping:  # a restart scheduled just before stop()
            return
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self.process = ctx.Process(
            target=run_endpoint, args=(child, self.config), daemon=True, name="hotline-sip"
        )
        self.process.start()
        child.close()
        self.conn = parent
        self.ready.clear()
        asyncio.get_running_loop().add_reader(parent.fileno(), self._on_readable)

    def send(self, message: dict) -> None:
        if self.conn is not None:
            try:
                self.conn.send(message)
            except OSError:
                log.warning("SIP endpoint gone; dropped %s", message.get("cmd"))

    def _on_readable(self) -> None:
        assert self.conn is not None
        try:
            while self.conn.poll():
                self._handle(self.conn.recv())
        except (EOFError, OSError):
            self._endpoint_died()

    def dial(self, uri: str, headers: dict[str, str] | None = None) -> SipLeg:
        """Place an outbound call (through Kamailio to a registered phone, or to any SIP URI)."""
        self._leg_serial += 1
        leg = SipLeg(f"leg-{self._leg_serial}", uri, self.send)
        self.legs[leg.key] = leg
        self.send({"cmd": "dial", "call": leg.key, "uri": uri, "headers": headers or {}})
        return leg

    def connect(self, parties: list[int | str], record: tuple[int, str] | None = None) -> None:
        """Let the parties (inbound call ids, leg keys) hear each other; `record` = (the caller's call,
        path): the whole conversation goes into one WAV owned by that call."""
        message: dict = {"cmd": "connect", "calls": parties}
        if record is not None:
            message["record"] = {"owner": record[0], "path": record[1]}
        self.send(message)

    def _handle(self, event: dict) -> None:
        kind, call = event.get("ev"), event.get("call")
        if isinstance(call, str):  # an outbound leg
            leg = self.legs.get(call)
            if leg is not None:
                leg.on_event(str(kind), event)
                if kind == "ended":
                    self.legs.pop(call, None)
                elif kind == "error":
                    log.warning("SIP leg %s (%s): %s", call, leg.uri, event.get("detail"))
            return
        channel = self.channels.get(call) if call is not None else None
        if kind == "ready":
            self.ready.set()
        elif kind == "failed":
            self.failure = str(event.get("detail", ""))
            self.stopping = True  # the same port would fail again: no restart
            self.ready.set()  # wakes start(), which reports the failure
        elif kind == "incoming":
            channel = SipChannel(call, caller_number(event.get("from", "")), self.send)
            self.channels[call] = channel
            task = asyncio.create_task(self._run_call(channel))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        elif channel is None:
            return
        elif kind == "media":
            channel.on_media(event["recording"])
        elif kind == "dtmf":
            channel.on_digit(event["digit"])
        elif kind == "recorded":
            channel.on_recorded(event["path"])
        elif kind == "ended":  # sent after the recorder is closed: all the caller said is on disk
            channel.on_hangup()
            self.channels.pop(call, None)
        elif kind == "error":
            log.warning("SIP call %s: %s", call, event.get("detail"))

    async def _run_call(self, channel: SipChannel) -> None:
        try:
            await self.dialog_factory(channel)  # type: ignore[misc]
        except Exception:  # a broken call must not take the line down
            log.exception("IVR dialog failed on SIP call %s", channel.call)
        finally:
            if not channel.ended.is_set():
                await channel.hangup()
            self.finished.append(channel)

    def _endpoint_died(self) -> None:
        loop = asyncio.get_running_loop()
        if self.conn is not None:
            loop.remove_reader(self.conn.fileno())
            self.conn.close()
            self.conn = None
        for channel in self.channels.values():
            channel.on_hangup()
        self.channels.clear()
        for leg in self.legs.values():
            leg.on_event("ended", {"code": 503})
        self.legs.clear()
        if not self.stopping:
            self.restarts += 1
            log.error("SIP endpoint process died; restarting in 1 s (%d)", self.restarts)
            loop.call_later(1.0, self._spawn)

    async def stop(self) -> None:
        self.stopping = True
        for stop in self.on_stop:
            await stop()
        for task in list(self.tasks):
            task.cancel()
        self.send({"cmd": "shutdown"})
        if self.process is not None:
            await asyncio.to_thread(self.process.join, 10)
            if self.process.is_alive():
                self.process.kill()
        if self.conn is not None:
            asyncio.get_running_loop().remove_reader(self.conn.fileno())
            self.conn.close()
            self.conn = None
