"""The SIP user agent (PJSIP through pjsua2), run in a child process of its own.

One thread, one `libHandleEvents` loop (threadCnt=0, mainThreadOnly): PJSIP's Python frame callbacks
are not used at all (they crash under load); audio goes through PJSIP's own WAV player and recorder.
Each call is recorded from the moment its media is up into `<recordings>/sip/<call>.wav` (8 kHz, 16-bit),
which the parent reads as it grows (ASR, voicemail). The parent and this process talk over a pipe
with small dicts:

    to the parent:   {"ev": "ready"} | {"ev": "failed", "detail": why}  (the line could not be opened)
                     {"ev": "incoming", "call": id, "from": uri}
                     {"ev": "media", "call": id, "recording": path} | {"ev": "dtmf", "call": id, "digit": "1"}
                     {"ev": "ended", "call": id, "code": sip_status}   (after the recorder is closed)
                     outbound legs: {"ev": "progress", "call": leg} (ringing) | {"ev": "answered", "call": leg}
                     {"ev": "recorded", "call": id, "path": path}   (a conversation recording is complete)
    from the parent: {"cmd": "play", "call": id, "wav": path, "loop": bool, "queue": bool}
                     (queue: play it right after the WAV now playing, gap-free, instead of replacing it)
                     {"cmd": "stop_play", "call": id}   (also drops the queued WAVs)
                     {"cmd": "transfer", "call": id, "target": uri} | {"cmd": "hangup", "call": id}
                     {"cmd": "dial", "call": leg, "uri": uri, "headers": {name: value},
                      "on_answer": {"connect": [id], "record": {...}}}   (bridge as soon as it answers)
                     {"cmd": "connect", "calls": [id, leg, ...], "record": {"owner": id, "path": path}}
                     {"cmd": "disconnect", "call": id}   (from everyone it was connected with)
                     {"cmd": "shutdown"}

Inbound calls are keyed by PJSIP's call id (an int); outbound legs by the parent's key (a str).
Connected calls hear each other through PJSIP's conference bridge; a conversation recorder mixes every
connected party into one WAV (8 kHz, 16-bit) owned by the caller's call and closed when it ends.
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import os
import sys
import time
import wave
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

CALL_SLOTS = 4  # PJSUA_MAX_CALLS of the pjsua2-python 2.15.1 build: call legs one process can hold


@dataclass(frozen=True)
class EndpointConfig:
    host: str
    port: int
    recordings_dir: str
    log_level: int = 0
    max_inbound: int = CALL_SLOTS  # callers this process answers; the other slots are for their agents
    rtp_port: int = 20000
    drain_flag: str = ""  # a file; while it exists new calls are refused with 503 (hotline.node)


def run_endpoint(conn: Connection, config: EndpointConfig) -> None:
    """Child process entry point: serve SIP calls until told to shut down or the parent goes away."""
    import pjsua2 as pj

    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.uaConfig.userAgent = "hotline-12345-ivr"
    cfg.uaConfig.maxCalls = CALL_SLOTS
    cfg.medConfig.maxMediaPorts = CALL_SLOTS * 4 + 8  # each call: its port, a player, recorders
    cfg.logConfig.level = config.log_level
    cfg.logConfig.consoleLevel = config.log_level
    cfg.medConfig.clockRate = 8000
    cfg.medConfig.sndClockRate = 8000
    cfg.medConfig.channelCount = 1
    cfg.medConfig.ecTailLen = 0
    cfg.medConfig.noVad = True
    ep.libInit(cfg)
    transport = pj.TransportConfig()
    transport.port = config.port
    transport.boundAddress = config.host
    transport.publicAddress = config.host
    try:
        ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
    except pj.Error as exc:  # the port is taken, or the address is not on this host
        with contextlib.suppress(BrokenPipeError, OSError):
            conn.send({"ev": "failed", "detail": exc.info()})
        ep.libDestroy()
        return
    ep.libStart()
    ep.audDevManager().setNullDev()
    for codec in ep.codecEnum2():
        wanted = {"PCMU/8000/1": 255, "PCMA/8000/1": 254}.get(codec.codecId, 0)
        ep.codecSetPriority(codec.codecId, wanted)

    recordings = Path(config.recordings_dir)
    recordings.mkdir(parents=True, exist_ok=True)
    calls: dict[int | str, Any] = {}
    finished: list[int | str] = []
    links: set[tuple[int | str, int | str]] = set()  # (source, sink) pairs transmitting to each other

    def send(message: dict) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            conn.send(message)

    class IvrCall(pj.Call):
        def __init__(self, account: Any, call_id: int = pj.PJSUA_INVALID_ID, key: int | str | None = None) -> None:
            super().__init__(account, call_id)
            self.cid: int | str = call_id if key is None else key
            self.outbound = key is not None
            self.audio: Any = None
            self.recorder: Any = None
            self.conversation: tuple[Any, str] | None = None  # (recorder, path) of the whole conversation
            self.player: Any = None
            self.playing_until = 0.0  # monotonic time the player's WAV ends
            self.queued: list[str] = []  # WAVs to play after it, back to back
            self.ended = False
            self.code = 0
            self.answered = False
            self.on_answer: dict | None = None  # {"connect": [call], "record": {...}} for an agent's leg

        def onCallState(self, prm: Any) -> None:  # noqa: N802 - PJSIP's name
            info = self.getInfo()
            if info.lastStatusCode:
                self.code = int(info.lastStatusCode)
            if info.state == pj.PJSIP_INV_STATE_DISCONNECTED and not self.ended:
                self.ended = True
                finished.append(self.cid)
            elif self.outbound and info.state == pj.PJSIP_INV_STATE_EARLY:
                send({"ev": "progress", "call": self.cid})

        def onCallMediaState(self, prm: Any) -> None:  # noqa: N802
            info = self.getInfo()
            for media in info.media:
                if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                    previous = self.audio
                    self.audio = self.getAudioMedia(media.index)
                    if previous is not None and previous.getPortId() != self.audio.getPortId():
                        reconnect(self)  # a re-negotiation gave the call a new port: restore its audio
                    if self.outbound:
                        if not self.answered:
                            self.answered = True
                            if self.on_answer is not None:  # bridge at once: no round trip to the parent
                                with contextlib.suppress(pj.Error):
                                    bridge_on_answer(self, self.on_answer)
                            send({"ev": "answered", "call": self.cid})
                    elif self.recorder is None:
                        path = recordings / f"call-{config.port}-{self.cid}-{id(self)}.wav"
                        self.recorder = pj.AudioMediaRecorder()
                        self.recorder.createRecorder(str(path))
                        self.audio.startTransmit(self.recorder)
                        send({"ev": "media", "call": self.cid, "recording": str(path)})

        def onDtmfDigit(self, prm: Any) -> None:  # noqa: N802
            send({"ev": "dtmf", "call": self.cid, "digit": prm.digit})

        def start_player(self, path: str, loop: bool = False) -> None:
            self.stop_player()
            self.player = pj.AudioMediaPlayer()
            self.player.createPlayer(path, 0 if loop else pj.PJMEDIA_FILE_NO_LOOP)
            self.player.startTransmit(self.audio)
            with wave.open(path, "rb") as wav:
                seconds = float("inf") if loop else wav.getnframes() / wav.getframerate()
            self.playing_until = time.monotonic() + seconds

        def play_queued(self, now: float) -> None:
            """Start the next queued WAV once the one playing has ended (checked every loop turn)."""
            if self.queued and now >= self.playing_until and self.audio is not None:
                self.start_player(self.queued.pop(0))

        def stop_player(self) -> None:
            if self.player is not None:
                with contextlib.suppress(Exception):
                    self.player.stopTransmit(self.audio)
                self.player = None

        def release_media(self) -> None:
            """After the call ended: drop its player and recorders (destroying a recorder closes its WAV;
            PJSIP has already removed the call's conference port with its connections). No stopTransmit
            through the call's AudioMedia here: its port id is no longer valid and may name another
            port, whose audio a disconnect would cut."""
            self.player = None
            self.queued.clear()
            self.recorder = None
            if self.conversation is not None:
                path = self.conversation[1]
                self.conversation = None  # the recorder's last reference: its port goes, the file closes
                send({"ev": "recorded", "call": self.cid, "path": path})

    def reconnect(call: Any) -> None:
        """Transmit again what went to and from the call's old conference port (links, recorders, player)."""
        with contextlib.suppress(pj.Error):
            for source, sink in [pair for pair in links if call.cid in pair]:
                src, dst = calls.get(source), calls.get(sink)
                if src is not None and dst is not None and src.audio is not None and dst.audio is not None:
                    src.audio.startTransmit(dst.audio)
            if call.recorder is not None:
                call.audio.startTransmit(call.recorder)
            linked = [calls.get(sink) for source, sink in links if source == call.cid]
            owners = {c.cid: c for c in [call, *linked] if c is not None}  # its own recording, its callers'
            for owner in owners.values():
                if owner.conversation is not None:
                    call.audio.startTransmit(owner.conversation[0])
            if call.player is not None:
                call.player.startTransmit(call.audio)

    def link(a: Any, b: Any) -> None:
        """a hears b and b hears a."""
        if (a.cid, b.cid) not in links:
            a.audio.startTransmit(b.audio)
            b.audio.startTransmit(a.audio)
            links.update({(a.cid, b.cid), (b.cid, a.cid)})

    def unlink_all(call: Any, media_gone: bool = False) -> None:
        """Stop what the call hears and sends to other calls. `media_gone`: the call has ended and PJSIP
        has removed its conference port with its connections; only the bookkeeping is dropped (its
        AudioMedia no longer names a valid port: a stopTransmit through it cut other calls' audio)."""
        for source, sink in [pair for pair in links if call.cid in pair]:
            links.discard((source, sink))
            if media_gone:
                continue
            src, dst = calls.get(source), calls.get(sink)
            if src is not None and dst is not None and src.audio is not None and dst.audio is not None:
                with contextlib.suppress(Exception):
                    src.audio.stopTransmit(dst.audio)

    def connect(parties: list[Any], record: dict | None) -> None:
        for call in parties:
            call.queued.clear()
            call.stop_player()
        for i, a in enumerate(parties):
            for b in parties[i + 1 :]:
                link(a, b)
        if record is not None:
            owner = calls.get(record["owner"])
            if owner is None or owner.ended:
                return
            if owner.conversation is None and record.get("path"):
                path = Path(record["path"])
                path.parent.mkdir(parents=True, exist_ok=True)
                recorder = pj.AudioMediaRecorder()
                recorder.createRecorder(str(path))
                owner.conversation = (recorder, str(path))
            if owner.conversation is not None:  # a party added later (three-way, transfer) is recorded too
                for call in parties:
                    call.audio.startTransmit(owner.conversation[0])

    class IvrAccount(pj.Account):
        def onIncomingCall(self, prm: Any) -> None:  # noqa: N802
            call = IvrCall(self, prm.callId)
            answer = pj.CallOpParam()
            inbound = sum(1 for c in calls.values() if not c.outbound and not c.ended)
            if inbound >= config.max_inbound:  # full: Kamailio tries the next process
                answer.statusCode = 486
                call.hangup(answer)
                return
            # the node is draining (hotline.node): Kamailio's dispatcher tries another node
            if config.drain_flag and os.path.exists(config.drain_flag):
                answer.statusCode = 503
                call.hangup(answer)
                return
            calls[prm.callId] = call
            send({"ev": "incoming", "call": prm.callId, "from": call.getInfo().remoteUri})
            answer.statusCode = 200
            call.answer(answer)

    account_cfg = pj.AccountConfig()
    account_cfg.idUri = f"sip:ivr@{config.host}:{config.port}"
    account_cfg.mediaConfig.transportConfig.port = config.rtp_port
    account_cfg.mediaConfig.transportConfig.portRange = CALL_SLOTS * 4
    account_cfg.mediaConfig.transportConfig.boundAddress = config.host
    # no re-INVITE to "lock" one codec after the answer: it re-creates the call's media port, and the
    # bridge to an agent made before it went silent
    account_cfg.mediaConfig.lockCodecEnabled = False
    account = IvrAccount()
    account.create(account_cfg)
    account_ref = [account]  # for dial(); emptied before libDestroy()
    send({"ev": "ready"})

    def live_calls(keys: list[int | str]) -> list[Any] | None:
        """The calls named, when every one is still up with audio (None otherwise)."""
        parties = [calls.get(key) for key in keys]
        live = [c for c in parties if c is not None and not c.ended and c.audio is not None]
        return live if len(live) == len(parties) else None

    def bridge_on_answer(leg: Any, plan: dict) -> None:
        live = live_calls(plan.get("connect", []))
        if live is not None:
            connect([*live, leg], plan.get("record"))

    def dial(key: str, uri: str, headers: dict[str, str], on_answer: dict | None = None) -> None:
        call = IvrCall(account_ref[0], key=key)
        call.on_answer = on_answer
        calls[key] = call
        prm = pj.CallOpParam(True)
        for name, value in headers.items():
            header = pj.SipHeader()
            header.hName, header.hValue = name, value
            prm.txOption.headers.append(header)
        try:
            call.makeCall(uri, prm)
        except pj.Error as exc:  # a malformed URI, no more call slots: the leg ends at once
            call.ended, call.code = True, 500
            finished.append(key)
            send({"ev": "error", "call": key, "detail": str(exc.info())})

    def handle(message: dict) -> bool:
        cmd = message.get("cmd")
        if cmd == "shutdown":
            return False
        if cmd == "dial":
            dial(message["call"], message["uri"], message.get("headers") or {}, message.get("on_answer"))
            return True
        if cmd == "connect":
            live = live_calls(message["calls"])
            if live is not None:
                try:
                    connect(live, message.get("record"))
                except pj.Error as exc:
                    send({"ev": "error", "call": message["calls"][0], "detail": str(exc.info())})
            return True
        call = calls.get(message.get("call", -1))
        if call is None or call.ended:
            return True
        try:
            if cmd == "play" and call.audio is not None:
                if message.get("queue") and call.player is not None and time.monotonic() < call.playing_until:
                    call.queued.append(message["wav"])
                else:
                    call.queued.clear()
                    call.start_player(message["wav"], bool(message.get("loop")))
            elif cmd == "stop_play":
                call.queued.clear()
                call.stop_player()
            elif cmd == "disconnect":
                unlink_all(call)
            elif cmd == "transfer":
                call.xfer(message["target"], pj.CallOpParam(True))
            elif cmd == "hangup":
                prm = pj.CallOpParam(True)
                if call.outbound and not call.answered:
                    prm.statusCode = 487  # CANCEL a ringing leg
                call.hangup(prm)
        except pj.Error as exc:  # a call that went away under us: report it ended
            send({"ev": "error", "call": call.cid, "detail": str(exc.info())})
        return True

    running = True
    try:
        while running:
            ep.libHandleEvents(10)
            now = time.monotonic()
            for call in list(calls.values()):
                if call.queued and not call.ended:
                    with contextlib.suppress(pj.Error):
                        call.play_queued(now)
            while running and conn.poll():
                try:
                    running = handle(conn.recv())
                except EOFError:
                    running = False
            while finished:
                cid = finished.pop()
                call = calls.get(cid)
                code = 0
                if call is not None:
                    code = call.code
                    unlink_all(call, media_gone=True)
                    call.release_media()
                    calls.pop(cid, None)
                    del call
                send({"ev": "ended", "call": cid, "code": code})
    finally:
        for call in list(calls.values()):
            with contextlib.suppress(Exception):
                call.release_media()
                call.hangup(pj.CallOpParam(True))
        # no Call may outlive the library: its destructor asserts after libDestroy() (the loop's variable
        # held the last call hung up here, and the media process aborted at shutdown)
        call = None
        for _ in range(20):
            ep.libHandleEvents(10)
        calls.clear()
        account_ref.clear()
        del account
        ep.libDestroy()


def main() -> None:
    """`python -m selfservice.sip.endpoint FD CONFIG_JSON`: serve on the socket FD (from the parent)."""
    faulthandler.enable()  # a crash inside PJSIP leaves its Python stack in the server's log
    run_endpoint(Connection(int(sys.argv[1])), EndpointConfig(**json.loads(sys.argv[2])))


if __name__ == "__main__":
    main()
