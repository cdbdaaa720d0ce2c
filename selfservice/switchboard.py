"""The switchboard: callers waiting for a person, ringing agents' phones, bridging and recording the
conversation, and carrying out the agents' console requests (hold, transfer, three-way, hang-up).

It runs in the process that answers the SIP line (the media node), next to the IVR dialogs. Which agent
takes which call is decided in the database (selfservice.acd), so consoles in any web worker and other
media nodes see the same state. One loop, every DISPATCH_SECONDS:
- agents whose after-call work is over become ready;
- each caller waiting on this node, oldest first, gets the longest-idle ready agent of its skill group
  (or of the overflow group once the caller has waited long enough), whose phone then rings;
- console requests for calls on this node are carried out.

A caller's part runs in the caller's dialog task (`serve`): the recording notice, the queue position
and expected wait every `announce_every` seconds, hold music, keys 4 (voicemail) and 5 (call-back),
then the conversation until the last person on the other side hangs up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import wave
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hotline.config import get_settings
from hotline.db import session_scope
from selfservice import acd
from selfservice.menu import Menu
from selfservice.sip.leg import SipLeg

if TYPE_CHECKING:
    from selfservice.engine import Dialog
    from selfservice.sip.channel import SipChannel
    from selfservice.sip.server import SipServer

log = logging.getLogger("hotline.acd")
DISPATCH_SECONDS = 0.2


@dataclass
class Waiting:
    """A caller on this node who asked for a person."""

    call_id: str
    channel: SipChannel
    group: str
    started: float = field(default_factory=time.monotonic)
    state: str = "waiting"  # waiting | ringing | connected | held | left | done
    agent_leg: SipLeg | None = None
    agent_seat: int | None = None
    others: list[SipLeg] = field(default_factory=list)  # third parties (three-way, consultation)
    consulting: SipLeg | None = None
    ringing: SipLeg | None = None
    answered: bool = False
    outcome: str | None = None  # how the caller left the queue: voicemail | callback
    ring_task: asyncio.Task | None = None
    music_on: bool = False

    def parties(self) -> list[int | str]:
        legs = [self.agent_leg, *self.others]
        return [self.channel.call, *(leg.key for leg in legs if leg is not None and not leg.ended.is_set())]


def hold_music(rate: int = 8000) -> Path:
    """A soft, royalty-free hold tune (a slow arpeggio of sine tones), written once into the audio cache."""
    path = get_settings().audio_cache_dir / f"hold-music-{rate}.wav"
    if path.exists():
        return path
    notes = [261.6, 329.6, 392.0, 523.3, 392.0, 329.6, 293.7, 349.2, 440.0, 587.3, 440.0, 349.2]
    beat = int(0.5 * rate)
    t = np.arange(beat) / rate
    envelope = np.minimum(1.0, t / 0.05) * np.exp(-3.0 * t)
    tune = np.concatenate([np.sin(2 * np.pi * f * t) * envelope for f in notes])
    samples = (tune * 0.18 * 32767).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())
    tmp.replace(path)
    return path


def node_name(sip_host: str, sip_port: int) -> str:
    return f"{socket.gethostname()}:{sip_host}:{sip_port}"


class Switchboard:
    def __init__(self, server: SipServer, menu: Menu) -> None:
        settings = get_settings()
        self.server = server
        self.menu = menu
        self.node = node_name(server.config.host, server.config.port)
        self.front = (
            f"{settings.kamailio_host}:{settings.kamailio_port}" if settings.kamailio_enabled else None
        )
        self.ring_seconds = settings.acd_ring_seconds
        self.wrap_seconds = settings.acd_wrap_up_seconds
        self.recordings = settings.recordings_dir / "calls"
        self.waiting: dict[str, Waiting] = {}
        self._loop: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()

    # -- the dispatch loop ------------------------------------------------------------------------

    def start(self) -> None:
        hold_music()
        self._loop = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop

    async def _run(self) -> None:
        while True:
            try:
                await self._dispatch()
            except Exception:  # the database away for a moment: try again on the next round
                log.exception("call dispatch failed")
            await asyncio.sleep(DISPATCH_SECONDS)

    async def _dispatch(self) -> None:
        dials = await asyncio.to_thread(self._housekeeping)
        for waiting in sorted(self.waiting.values(), key=lambda w: w.started):
            if waiting.state == "waiting" and waiting.ring_task is None:
                seat = await asyncio.to_thread(self._claim, waiting)
                if seat is not None:
                    waiting.state = "ringing"
                    waiting.ring_task = self._spawn(self._ring(waiting, *seat))
        for control in dials:
            self._spawn(self._dial_back(*control))
        live = [w.call_id for w in self.waiting.values() if w.state in ("connected", "held")]
        if live:
            for control in await asyncio.to_thread(self._take_controls, live):
                self._spawn(self._carry_out(*control))

    def _spawn(self, coro: Any) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _housekeeping(self) -> list[tuple[int, str, str, str]]:
        """One transaction a round: agents past their after-call work become ready; click-to-call
        requests no node has taken yet are taken."""
        with session_scope() as session:
            acd.end_wrap_ups(session, self.wrap_seconds)
            return [(c.id, c.call_id, c.action, c.target) for c in acd.take_dials(session)]

    def _claim(self, waiting: Waiting) -> tuple[int, str] | None:
        group = self.menu.queue.group(waiting.group)
        groups = [group.name]
        if group.overflow_to and time.monotonic() - waiting.started >= group.overflow_after:
            groups.append(group.overflow_to)
        with session_scope() as session:
            call = acd.get_call(session, waiting.call_id)
            if call is None:
                return None
            seat = acd.claim_agent(session, call, groups, self.menu.queue.default_group)
            return (seat.id, seat.extension) if seat is not None else None

    @staticmethod
    def _take_controls(call_ids: list[str]) -> list[tuple[int, str, str, str]]:
        with session_scope() as session:
            return [(c.id, c.call_id, c.action, c.target) for c in acd.take_controls(session, call_ids)]

    def _recording_path(self, name: str) -> Path:
        return self.recordings / datetime.now(UTC).strftime("%Y%m%d") / f"{name}.wav"

    async def _dial_back(self, control_id: int, call_id: str, _action: str, target: str) -> None:
        """Click-to-call: ring the agent's phone; once the agent answers, ring the citizen and bridge the
        two (recorded); the result goes to the console."""
        extension, _, number = target.partition(">")
        headers = {"X-Hotline-Call": call_id}
        result = "完成"
        try:
            process = self.server.least_busy()
            agent = self.server.dial(self.uri_for(extension), {**headers, "X-Hotline-Caller": number}, process=process)
            if not await agent.wait_answer(self.ring_seconds):
                result = "坐席话机未接听"
                return
            citizen = self.server.dial(self.uri_for(number), headers, process=process)
            if not await citizen.wait_answer(30) or agent.ended.is_set():
                citizen.hangup()
                agent.hangup()
                result = f"来电人未接听（{citizen.code}）"
                return
            path = self._recording_path(f"{call_id}-callback-{control_id}")
            self.server.connect([agent.key, citizen.key], record=(agent.key, str(path)), process=process)
            result = "已接通"
            await asyncio.to_thread(
                self._db, acd.note_leg, call_id, kind="callback", target=number, result="已接通", recording=str(path)
            )
            ends = [asyncio.create_task(agent.ended.wait()), asyncio.create_task(citizen.ended.wait())]
            await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
            for end in ends:
                end.cancel()
            agent.hangup()
            citizen.hangup()
            await agent.wait_ended()  # the recording is closed with the agent's leg
        except ValueError as exc:
            result = str(exc)
        finally:
            await asyncio.to_thread(self._db, acd.control_result, control_id, result)
            await asyncio.to_thread(self._db, acd.dial_back_ended, call_id, extension)

    def uri_for(self, target: str) -> str:
        """An extension or number as a SIP URI through Kamailio (a full SIP URI is taken as it is)."""
        if target.startswith("sip:"):
            return target
        if self.front is None:
            raise ValueError("没有配置 Kamailio，无法呼叫分机")
        return f"sip:{target}@{self.front}"

    def _dial(self, waiting: Waiting, target: str, bridge_to: Path | None = None) -> SipLeg:
        """A leg from the caller's PJSIP process (legs bridged together share a conference bridge);
        `bridge_to`: bridge it with the caller, recorded there, the moment it answers."""
        return self.server.dial(
            self.uri_for(target),
            {"X-Hotline-Caller": waiting.channel.caller_number or "unknown", "X-Hotline-Call": waiting.call_id},
            process=waiting.channel.process,
            bridge=(waiting.channel.call, str(bridge_to)) if bridge_to is not None else None,
        )

    # -- ringing an agent -------------------------------------------------------------------------

    async def _ring(self, waiting: Waiting, seat_id: int, extension: str) -> None:
        path = self._recording_path(waiting.call_id)
        try:
            leg = self._dial(waiting, extension, bridge_to=path)  # bridged by PJSIP the moment it answers
        except ValueError:
            await asyncio.to_thread(self._db, acd.ring_failed, waiting.call_id, seat_id, 404)
            waiting.state, waiting.ring_task = "waiting", None
            return
        waiting.ringing = leg
        answered = await leg.wait_answer(self.ring_seconds)
        waiting.ringing = None
        if waiting.state != "ringing" or waiting.channel.ended.is_set():  # the caller left meanwhile
            leg.hangup()
            await asyncio.to_thread(self._db, acd.release_ring, seat_id)
            waiting.ring_task = None
            return
        if not answered:
            log.info("call %s: agent %s did not answer (%s)", waiting.call_id, extension, leg.code)
            await asyncio.to_thread(self._db, acd.ring_failed, waiting.call_id, seat_id, leg.code)
            waiting.state, waiting.ring_task = "waiting", None
            return
        waiting.agent_leg, waiting.agent_seat = leg, seat_id
        waiting.music_on = False  # the bridge stopped it
        waiting.state, waiting.answered, waiting.ring_task = "connected", True, None
        await asyncio.to_thread(self._db, acd.answered, waiting.call_id, seat_id, str(path))
        self._spawn(self._watch_agent(waiting, leg, seat_id))

    async def _watch_agent(self, waiting: Waiting, leg: SipLeg, seat_id: int) -> None:
        """When an agent's leg ends: after-call work; the caller is hung up if nobody else is on the line."""
        await leg.ended.wait()
        await asyncio.to_thread(self._db, acd.agent_left, waiting.call_id, seat_id)
        if waiting.agent_leg is leg:
            waiting.agent_leg = None
        await asyncio.to_thread(self._db, acd.note_leg, waiting.call_id, kind="agent", agent=seat_id, result="挂机")
        if waiting.state in ("connected", "held") and not self._others_live(waiting):
            waiting.state = "done"

    def _connect(self, waiting: Waiting, parties: list[int | str] | None = None, *, record: bool = True) -> None:
        """Bridge parties in the caller's PJSIP process (by default everyone on the caller's side); with
        `record`, they go into the caller's conversation recording too."""
        caller = waiting.channel.call
        self.server.connect(
            parties if parties is not None else waiting.parties(),
            record=(caller, "") if record else None,
            process=waiting.channel.process,
        )

    def _hold(self, waiting: Waiting) -> None:
        """The caller hears hold music and nobody else."""
        waiting.channel.send({"cmd": "disconnect", "call": waiting.channel.call})
        waiting.state = "held"
        self._start_music(waiting)

    def _others_live(self, waiting: Waiting) -> bool:
        legs = [waiting.agent_leg, *waiting.others]
        return any(leg is not None and leg.answered.is_set() and not leg.ended.is_set() for leg in legs)

    @staticmethod
    def _db(fn: Any, *args: Any, **kwargs: Any) -> Any:
        with session_scope() as session:
            return fn(session, *args, **kwargs)

    # -- console requests -------------------------------------------------------------------------

    async def _carry_out(self, control_id: int, call_id: str, action: str, target: str) -> None:
        waiting = self.waiting.get(call_id)
        result = "完成"
        try:
            if waiting is None or waiting.state not in ("connected", "held"):
                result = "通话已结束"
            else:
                result = await self._act(waiting, action, target)
        except ValueError as exc:
            result = str(exc)
        except Exception:
            log.exception("console request %s on call %s failed", action, call_id)
            result = "操作失败"
        await asyncio.to_thread(self._db, acd.control_result, control_id, result)
        if waiting is not None:
            await asyncio.to_thread(
                self._db, acd.note_leg, call_id, kind=action, target=target, result=result
            )

    async def _act(self, waiting: Waiting, action: str, target: str) -> str:
        result = await self._act_on_media(waiting, action, target)
        if waiting.state in ("connected", "held"):  # what the consoles show
            await asyncio.to_thread(self._db, acd.set_status, waiting.call_id, waiting.state)
        return result

    async def _act_on_media(self, waiting: Waiting, action: str, target: str) -> str:
        caller = waiting.channel.call
        if action == "hangup":
            waiting.state = "done"
            return "已挂断"
        if action == "hold":
            self._hold(waiting)
            return "已保持"
        if action == "resume":
            self._stop_music(waiting)
            self._connect(waiting)
            waiting.state = "connected"
            return "已恢复通话"
        if action == "conference":
            leg = self._dial(waiting, target)
            if not await leg.wait_answer(self.ring_seconds):
                return f"{target} 未接通"
            waiting.others.append(leg)
            self._connect(waiting)
            self._spawn(self._watch_other(waiting, leg))
            return f"已与 {target} 三方通话"
        if action == "transfer":
            return await self._transfer(waiting, target)
        if action == "consult":
            self._hold(waiting)
            leg = self._dial(waiting, target)
            if not await leg.wait_answer(self.ring_seconds):
                self._stop_music(waiting)
                self._connect(waiting)
                waiting.state = "connected"
                return f"{target} 未接通，已恢复通话"
            waiting.consulting = leg
            if waiting.agent_leg is not None:  # agent and target talk; the caller is not recorded here
                self._connect(waiting, [waiting.agent_leg.key, leg.key], record=False)
            return f"正在与 {target} 通话，来电人保持中"
        if action in ("complete", "cancel"):
            consulted, waiting.consulting = waiting.consulting, None
            if consulted is None or consulted.ended.is_set():
                raise ValueError("没有进行中的咨询")
            self._stop_music(waiting)
            if action == "cancel":
                consulted.hangup()
                self._connect(waiting)
                waiting.state = "connected"
                return "已取消咨询，恢复通话"
            waiting.others.append(consulted)
            self._spawn(self._watch_other(waiting, consulted))
            agent = waiting.agent_leg
            self._connect(waiting, [caller, consulted.key])
            waiting.state = "connected"
            if agent is not None:
                agent.hangup()
            return "已完成转接"
        raise ValueError("不支持的操作")

    async def _transfer(self, waiting: Waiting, target: str) -> str:
        """Blind transfer: to a skill group (the caller queues again, keeping the place), or to an
        extension / department number (rings; back to the queue when nobody answers)."""
        agent = waiting.agent_leg
        group = target.removeprefix("group:")
        if target.startswith("group:"):
            if group not in {g.name for g in self.menu.queue.groups}:
                raise ValueError(f"没有技能组 {group}")
            waiting.group = group
            waiting.agent_leg = None
            await asyncio.to_thread(self._db, acd.set_status, waiting.call_id, "waiting", group=group)
            waiting.state = "waiting"
            self._start_music(waiting)
            if agent is not None:
                agent.hangup()
            return f"已转至{group}队列"
        self._hold(waiting)
        if agent is not None:
            agent.hangup()
        leg = self._dial(waiting, target)
        if await leg.wait_answer(self.ring_seconds) and not waiting.channel.ended.is_set():
            waiting.others.append(leg)
            self._stop_music(waiting)
            self._connect(waiting)
            waiting.state = "connected"
            self._spawn(self._watch_other(waiting, leg))
            return f"已转接 {target}"
        await asyncio.to_thread(self._db, acd.set_status, waiting.call_id, "waiting")
        waiting.state = "waiting"
        return f"{target} 未接通，来电已回到队列"

    async def _watch_other(self, waiting: Waiting, leg: SipLeg) -> None:
        await leg.ended.wait()
        if waiting.state in ("connected", "held") and not self._others_live(waiting):
            waiting.state = "done"

    # -- hold music -------------------------------------------------------------------------------

    def _start_music(self, waiting: Waiting) -> None:
        if not waiting.music_on:
            waiting.channel.send({"cmd": "play", "call": waiting.channel.call, "wav": str(hold_music()), "loop": True})
            waiting.music_on = True

    def _stop_music(self, waiting: Waiting) -> None:
        if waiting.music_on:
            waiting.channel.send({"cmd": "stop_play", "call": waiting.channel.call})
            waiting.music_on = False

    # -- the caller's side ------------------------------------------------------------------------

    def call_over(self, call_id: str) -> None:
        """The caller hung up (in the IVR after stepping out of the queue): close the queued call."""
        with session_scope() as session:
            acd.finish(session, call_id)

    def staffed(self, group: str) -> bool:
        """Whether any agent who takes the group's calls (or its overflow's) is signed in."""
        queue = self.menu.queue
        names = [group, queue.group(group).overflow_to or group]
        with session_scope() as session:
            return any(acd.agents_for(session, name, queue.default_group) for name in names)

    async def serve(self, dialog: Dialog, group: str | None) -> str | None:
        """Queue the caller for a person. Returns the call's outcome ("agent": talked to a person;
        "callback": asked to be called back; "voicemail"; "self_service": went to the menu, the place
        kept), or None when no agent is signed in."""
        channel: SipChannel = dialog.channel  # type: ignore[assignment]
        name = self.menu.queue.group(group).name
        if not await asyncio.to_thread(self.staffed, name):
            return None
        waiting = Waiting(call_id=dialog.call_id, channel=channel, group=name)
        await asyncio.to_thread(
            self._db, acd.enqueue, call_id=dialog.call_id, caller_number=channel.caller_number, group=name,
            node=self.node,
        )
        self.waiting[waiting.call_id] = waiting
        try:
            await dialog.say("queue_notice")
            return await self._wait_and_talk(dialog, waiting)
        finally:
            await self._leave(waiting)

    async def _wait_and_talk(self, dialog: Dialog, waiting: Waiting) -> str:
        channel = waiting.channel
        announce_at = 0.0
        while True:
            if channel.ended.is_set():
                from selfservice.channel import CallerHungUp

                raise CallerHungUp
            if waiting.state == "done":
                return "agent"
            if waiting.state in ("waiting", "ringing"):
                if waiting.state == "waiting" and time.monotonic() >= announce_at:
                    await self._announce(dialog, waiting)
                    announce_at = time.monotonic() + self.menu.queue.announce_every
                if waiting.state in ("waiting", "ringing"):
                    self._start_music(waiting)
                got = await channel.gather(max_digits=1, timeout=0.2)
                if got.kind == "digits" and waiting.state in ("waiting", "ringing"):
                    if got.digits == "1":  # self-service while waiting; 0 later rejoins at the same place
                        waiting.outcome = "self_service"
                        await self._leave(waiting)
                        return "self_service"
                    if got.digits in ("4", "5"):
                        waiting.outcome = "voicemail" if got.digits == "4" else "callback"
                        await self._leave(waiting)
                        if waiting.outcome == "voicemail":
                            await dialog.voicemail()
                        else:
                            await dialog.say("queue_callback_booked")
                        return waiting.outcome
            else:
                await asyncio.sleep(0.1)

    async def _announce(self, dialog: Dialog, waiting: Waiting) -> None:
        def figures() -> tuple[int, float]:
            with session_scope() as session:
                call = acd.get_call(session, waiting.call_id)
                if call is None:
                    return 1, 0.0
                return acd.position(session, call), acd.expected_wait(session, call, self.menu.queue.default_group)

        ahead, seconds = await asyncio.to_thread(figures)
        self._stop_music(waiting)
        if waiting.state != "waiting":
            return
        if ahead <= 1:
            await dialog.say("queue_next")
        else:
            await dialog.say("queue_position", ahead=ahead - 1, minutes=max(1, round(seconds / 60)))

    async def _leave(self, waiting: Waiting) -> None:
        """The caller's part is over (or the caller left the queue for voicemail / a call-back): hang up
        every leg, close the records. Runs once."""
        if self.waiting.pop(waiting.call_id, None) is None:
            return
        previous, waiting.state = waiting.state, "left"
        self._stop_music(waiting)
        for leg in [waiting.ringing, waiting.agent_leg, waiting.consulting, *waiting.others]:
            if leg is not None:
                leg.hangup()
        if waiting.ring_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(waiting.ring_task), 5)
        if previous in ("connected", "held", "done") and not waiting.channel.ended.is_set():
            await waiting.channel.hangup()
        if waiting.answered:  # a finished call's recording is complete (closed when the caller's leg ends)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiting.channel.conversation_done.wait(), 5)
        if waiting.outcome == "self_service":
            await asyncio.to_thread(self._db, acd.step_out, waiting.call_id)
        else:
            await asyncio.to_thread(self._db, acd.finish, waiting.call_id, waiting.outcome)
