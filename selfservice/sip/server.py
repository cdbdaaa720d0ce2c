"""The media node's SIP side: a pool of PJSIP endpoint processes, one dialog per incoming call, and the
outbound legs (agents' phones, departments) the switchboard places.

Why a pool: the PJSIP build we can install (pjsua2-python 2.15.1) is compiled with PJSUA_MAX_CALLS = 4,
so one process holds at most 4 call legs. Each process (`MediaProcess`, ~30 MB) therefore takes at most
`INBOUND_PER_PROCESS` callers and keeps the other slots for the legs that caller needs (the agent, a
third party); Kamailio's dispatcher spreads callers over the processes and tries the next one when a
process is full (486). Process i listens on `port + i`. Without Kamailio in front only process 0 is
reachable (callers dial it directly), as before.

A process that dies is started again; its calls end as hung up, nothing else is lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import socket
import subprocess
import sys
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, replace
from multiprocessing.connection import Connection
from pathlib import Path

from selfservice.kamailio import die_with_parent
from selfservice.sip.channel import SipChannel
from selfservice.sip.endpoint import CALL_SLOTS, EndpointConfig
from selfservice.sip.leg import SipLeg

log = logging.getLogger("hotline.sip")
NUMBER = re.compile(r"sip:([^@;>]+)@")
INBOUND_PER_PROCESS = 2  # callers per PJSIP process; its other slots are for their agents and third parties


def caller_number(uri: str) -> str:
    """`"Name" <sip:13800138000@host>` -> `13800138000`."""
    match = NUMBER.search(uri)
    return match.group(1) if match else ""


def processes_for(max_calls: int) -> int:
    """PJSIP processes needed for `max_calls` concurrent callers."""
    return max(1, math.ceil(max_calls / INBOUND_PER_PROCESS))


class SipLineError(RuntimeError):
    """The SIP line could not be opened (the message says where and why)."""


class MediaProcess:
    """One PJSIP endpoint process and the socket to it. Started as `python -m selfservice.sip.endpoint`
    (not multiprocessing's spawn, which would import the parent's whole application in every child)."""

    def __init__(self, index: int, config: EndpointConfig, on_event: Callable[[int, dict], None]) -> None:
        self.index = index
        self.config = config
        self.on_event = on_event
        self.process: subprocess.Popen[bytes] | None = None
        self.conn: Connection | None = None
        self.ready = asyncio.Event()
        self.failure: str | None = None
        self.on_death: Callable[[MediaProcess], None] = lambda _: None

    @property
    def where(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    def spawn(self) -> None:
        parent, child = socket.socketpair()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "selfservice.sip.endpoint", str(child.fileno()), json.dumps(asdict(self.config))],
            pass_fds=(child.fileno(),),
            stdout=subprocess.DEVNULL,  # PJSIP prints a line at start-up; its log goes to stderr
            preexec_fn=die_with_parent,
        )
        child.close()
        self.conn = Connection(parent.detach())
        self.ready.clear()
        asyncio.get_running_loop().add_reader(self.conn.fileno(), self._on_readable)

    def send(self, message: dict) -> None:
        if self.conn is not None:
            try:
                self.conn.send(message)
            except OSError:
                log.warning("SIP process %d gone; dropped %s", self.index, message.get("cmd"))

    def _on_readable(self) -> None:
        assert self.conn is not None
        try:
            while self.conn.poll():
                event = self.conn.recv()
                if event.get("ev") == "ready":
                    self.ready.set()
                elif event.get("ev") == "failed":
                    self.failure = str(event.get("detail", ""))
                    self.ready.set()
                else:
                    self.on_event(self.index, event)
        except (EOFError, OSError):
            self.close()
            self.on_death(self)

    def close(self) -> None:
        if self.conn is not None:
            asyncio.get_running_loop().remove_reader(self.conn.fileno())
            self.conn.close()
            self.conn = None

    async def stop(self) -> None:
        self.send({"cmd": "shutdown"})
        if self.process is not None:
            try:
                await asyncio.to_thread(self.process.wait, 10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                await asyncio.to_thread(self.process.wait)
            if self.process.returncode:
                log.warning("SIP process %d (%s) ended with exit code %d", self.index, self.where, self.process.returncode)
        self.close()


class SipServer:
    """`await start()` in the running event loop; `await stop()` hangs up and shuts PJSIP down.
    `dialog_factory(channel)` returns the coroutine that runs one call (a `Dialog(...).run()`).
    `processes`: PJSIP processes on ports port .. port+processes-1 (see the module's docstring)."""

    def __init__(
        self,
        host: str,
        port: int,
        recordings_dir: Path,
        dialog_factory: Callable[[SipChannel], object],
        *,
        processes: int = 1,
        rtp_port: int = 20000,
        drain_flag: Path | None = None,
    ) -> None:
        base = EndpointConfig(
            host=host,
            port=port,
            recordings_dir=str(recordings_dir / "sip"),
            max_inbound=INBOUND_PER_PROCESS if processes > 1 else CALL_SLOTS,
            rtp_port=rtp_port,
            drain_flag=str(drain_flag or ""),
        )
        self.config = base
        self.pool = [
            MediaProcess(i, replace(base, port=port + i, rtp_port=rtp_port + i * CALL_SLOTS * 4), self._handle)
            for i in range(max(1, processes))
        ]
        for member in self.pool:
            member.on_death = self._process_died
        self.dialog_factory = dialog_factory
        self.channels: dict[tuple[int, int], SipChannel] = {}
        self.legs: dict[str, SipLeg] = {}
        self._leg_serial = 0
        self.tasks: set[asyncio.Task] = set()
        self.stopping = False
        self.restarts = 0
        self.finished: deque[SipChannel] = deque(maxlen=100)  # the latest calls, for inspection
        self.on_stop: list[Callable[[], Awaitable[None]]] = []  # e.g. the switchboard's loop
        self.on_calls: Callable[[int], None] | None = None  # told the callers in progress when it changes

    @property
    def ports(self) -> list[int]:
        return [member.config.port for member in self.pool]

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """The first PJSIP process (the one callers reach without Kamailio)."""
        return self.pool[0].process

    async def start(self) -> None:
        """Start every PJSIP process; raises SipLineError when a port cannot be opened."""
        for member in self.pool:
            member.spawn()
        for member in self.pool:
            try:
                await asyncio.wait_for(member.ready.wait(), timeout=30)
            except TimeoutError:
                raise SipLineError(f"SIP 线路 {member.where} 30 秒内未能启动") from None
            if member.failure is not None:
                self.stopping = True  # the same port would fail again: no restart
                raise SipLineError(
                    f"SIP 线路 {member.where} 无法打开（端口被占用或地址不属于本机）：{member.failure}"
                )
        log.info("SIP line listening on %s (%d PJSIP processes)", self.pool[0].where, len(self.pool))

    def _process_died(self, member: MediaProcess) -> None:
        for key in [k for k in self.channels if k[0] == member.index]:
            self.channels.pop(key).on_hangup()
        for leg_key in [k for k, leg in self.legs.items() if leg.process == member.index]:
            self.legs.pop(leg_key).on_event("ended", {"code": 503})
        if not self.stopping:
            self.restarts += 1
            log.error("SIP process %d died; restarting in 1 s (%d)", member.index, self.restarts)
            asyncio.get_running_loop().call_later(1.0, self._respawn, member)

    def _respawn(self, member: MediaProcess) -> None:
        if not self.stopping:
            member.spawn()

    def least_busy(self) -> int:
        """The PJSIP process holding the fewest call legs (for calls that start here: call-backs)."""
        load = [0] * len(self.pool)
        for process, _call in self.channels:
            load[process] += 1
        for leg in self.legs.values():
            load[leg.process] += 1
        return min(range(len(self.pool)), key=lambda i: (load[i], i))

    def send(self, message: dict, process: int = 0) -> None:
        self.pool[process].send(message)

    def dial(
        self,
        uri: str,
        headers: dict[str, str] | None = None,
        *,
        process: int = 0,
        bridge: tuple[int, str] | None = None,
    ) -> SipLeg:
        """Place an outbound call from one PJSIP process (the caller's, so the two can be bridged).
        `bridge` = (the caller's call, recording path): the process bridges and records the two the moment
        the far end answers, without waiting for this process's event loop."""
        self._leg_serial += 1
        member = self.pool[process]
        leg = SipLeg(f"leg-{self._leg_serial}", uri, member.send, process=process)
        self.legs[leg.key] = leg
        message: dict = {"cmd": "dial", "call": leg.key, "uri": uri, "headers": headers or {}}
        if bridge is not None:
            message["on_answer"] = {"connect": [bridge[0]], "record": {"owner": bridge[0], "path": bridge[1]}}
        member.send(message)
        return leg

    def connect(
        self, parties: list[int | str], record: tuple[int | str, str] | None = None, *, process: int = 0
    ) -> None:
        """Let the parties (inbound call ids, leg keys of one process) hear each other; `record` =
        (the owning call, path): the whole conversation goes into one WAV owned by that call."""
        message: dict = {"cmd": "connect", "calls": parties}
        if record is not None:
            message["record"] = {"owner": record[0], "path": record[1]}
        self.pool[process].send(message)

    def _handle(self, process: int, event: dict) -> None:
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
        if not isinstance(call, int):
            return
        key = (process, call)
        channel = self.channels.get(key)
        if kind == "incoming":
            member = self.pool[process]
            channel = SipChannel(call, caller_number(event.get("from", "")), member.send, process=process)
            self.channels[key] = channel
            task = asyncio.create_task(self._run_call(channel))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            self._report_calls()
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
            self.channels.pop(key, None)
            self._report_calls()
        elif kind == "error":
            log.warning("SIP call %s: %s", call, event.get("detail"))

    def _report_calls(self) -> None:
        if self.on_calls is not None:
            try:
                self.on_calls(len(self.channels))
            except OSError:  # the report is for operators (hotline node status): calls go on without it
                log.warning("could not report the calls in progress", exc_info=True)

    async def _run_call(self, channel: SipChannel) -> None:
        try:
            await self.dialog_factory(channel)  # type: ignore[misc]
        except Exception:  # a broken call must not take the line down
            log.exception("IVR dialog failed on SIP call %s", channel.call)
        finally:
            if not channel.ended.is_set():
                await channel.hangup()
            self.finished.append(channel)

    async def stop(self) -> None:
        self.stopping = True
        for stop in self.on_stop:
            await stop()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*(member.stop() for member in self.pool))
