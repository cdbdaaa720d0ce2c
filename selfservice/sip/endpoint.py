"""The SIP user agent (PJSIP through pjsua2), run in a child process of its own.

One thread, one `libHandleEvents` loop (threadCnt=0, mainThreadOnly): PJSIP's Python frame callbacks
are not used at all (they crash under load); audio goes through PJSIP's own WAV player and recorder.
Each call is recorded from the moment its media is up into `<recordings>/sip/<call>.wav` (8 kHz, 16-bit),
which the parent reads as it grows (ASR, voicemail). The parent and this process talk over a pipe
with small dicts:

    to the parent:   {"ev": "ready"} | {"ev": "failed", "detail": why}  (the line could not be opened)
                     {"ev": "incoming", "call": id, "from": uri}
                     {"ev": "media", "call": id, "recording": path} | {"ev": "dtmf", "call": id, "digit": "1"}
                     {"ev": "ended", "call": id}   (after the recorder is closed)
    from the parent: {"cmd": "play", "call": id, "wav": path} | {"cmd": "stop_play", "call": id}
                     {"cmd": "transfer", "call": id, "target": uri} | {"cmd": "hangup", "call": id}
                     {"cmd": "shutdown"}
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any


@dataclass
class EndpointConfig:
    host: str
    port: int
    recordings_dir: str
    log_level: int = 0


def run_endpoint(conn: Connection, config: EndpointConfig) -> None:
    """Child process entry point: serve SIP calls until told to shut down or the parent goes away."""
    import pjsua2 as pj

    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.uaConfig.userAgent = "hotline-12345-ivr"
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
    calls: dict[int, Any] = {}
    finished: list[int] = []

    def send(message: dict) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            conn.send(message)

    class IvrCall(pj.Call):  # type: ignore[misc]
        def __init__(self, account: Any, call_id: int) -> None:
            super().__init__(account, call_id)
            self.cid = call_id
            self.audio: Any = None
            self.recorder: Any = None
            self.player: Any = None
            self.ended = False

        def onCallState(self, prm: Any) -> None:  # noqa: N802 - PJSIP's name
            if self.getInfo().state == pj.PJSIP_INV_STATE_DISCONNECTED and not self.ended:
                self.ended = True
                finished.append(self.cid)

        def onCallMediaState(self, prm: Any) -> None:  # noqa: N802
            info = self.getInfo()
            for media in info.media:
                if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                    self.audio = self.getAudioMedia(media.index)
                    if self.recorder is None:
                        path = recordings / f"call-{config.port}-{self.cid}-{id(self)}.wav"
                        self.recorder = pj.AudioMediaRecorder()
                        self.recorder.createRecorder(str(path))
                        self.audio.startTransmit(self.recorder)
                        send({"ev": "media", "call": self.cid, "recording": str(path)})

        def onDtmfDigit(self, prm: Any) -> None:  # noqa: N802
            send({"ev": "dtmf", "call": self.cid, "digit": prm.digit})

        def stop_player(self) -> None:
            if self.player is not None:
                with contextlib.suppress(Exception):
                    self.player.stopTransmit(self.audio)
                self.player = None

        def release_media(self) -> None:
            self.stop_player()
            if self.recorder is not None:
                with contextlib.suppress(Exception):
                    self.audio.stopTransmit(self.recorder)
                self.recorder = None  # destroying the recorder flushes and closes the WAV

    class IvrAccount(pj.Account):  # type: ignore[misc]
        def onIncomingCall(self, prm: Any) -> None:  # noqa: N802
            call = IvrCall(self, prm.callId)
            calls[prm.callId] = call
            send({"ev": "incoming", "call": prm.callId, "from": call.getInfo().remoteUri})
            answer = pj.CallOpParam()
            answer.statusCode = 200
            call.answer(answer)

    account_cfg = pj.AccountConfig()
    account_cfg.idUri = f"sip:ivr@{config.host}:{config.port}"
    account = IvrAccount()
    account.create(account_cfg)
    send({"ev": "ready"})

    def handle(message: dict) -> bool:
        call = calls.get(message.get("call", -1))
        cmd = message.get("cmd")
        if cmd == "shutdown":
            return False
        if call is None or call.ended:
            return True
        try:
            if cmd == "play" and call.audio is not None:
                call.stop_player()
                call.player = pj.AudioMediaPlayer()
                call.player.createPlayer(message["wav"], pj.PJMEDIA_FILE_NO_LOOP)
                call.player.startTransmit(call.audio)
            elif cmd == "stop_play":
                call.stop_player()
            elif cmd == "transfer":
                call.xfer(message["target"], pj.CallOpParam(True))
            elif cmd == "hangup":
                call.hangup(pj.CallOpParam(True))
        except pj.Error as exc:  # a call that went away under us: report it ended
            send({"ev": "error", "call": call.cid, "detail": str(exc.info())})
        return True

    running = True
    try:
        while running:
            ep.libHandleEvents(10)
            while running and conn.poll():
                try:
                    running = handle(conn.recv())
                except EOFError:
                    running = False
            while finished:
                cid = finished.pop()
                call = calls.pop(cid, None)
                if call is not None:
                    call.release_media()
                    del call
                send({"ev": "ended", "call": cid})
    finally:
        for call in list(calls.values()):
            with contextlib.suppress(Exception):
                call.release_media()
                call.hangup(pj.CallOpParam(True))
        for _ in range(20):
            ep.libHandleEvents(10)
        calls.clear()
        del account
        ep.libDestroy()
