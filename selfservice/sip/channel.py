"""One SIP call as a dialog `Channel`: prompts go to the endpoint's WAV player, keys arrive as DTMF
events, the caller's voice is read from the call's growing recording (8 kHz, 16-bit)."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import Callable
from pathlib import Path

from selfservice.live_channel import LiveChannel


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


class GrowingRecording:
    """Reads the PCM a PJSIP recorder has written so far (its header is only final at the end)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data_start: int | None = None

    def _start(self) -> int | None:
        if self.data_start is None:
            try:
                with open(self.path, "rb") as fh:
                    head = fh.read(512)
            except FileNotFoundError:
                return None
            at = head.find(b"data")
            if at >= 0:
                self.data_start = at + 8
        return self.data_start

    def size(self) -> int:
        """Bytes of audio recorded so far."""
        start = self._start()
        if start is None:
            return 0
        return max(self.path.stat().st_size - start, 0) // 2 * 2

    def read(self, offset: int, end: int | None = None) -> bytes:
        start = self._start()
        if start is None:
            return b""
        with open(self.path, "rb") as fh:
            fh.seek(start + offset)
            data = fh.read(-1 if end is None else max(end - offset, 0))
        return data[: len(data) // 2 * 2]


class SipChannel(LiveChannel):
    name = "sip"
    sample_rate = 8000

    def __init__(self, call: int, caller_number: str, send: Callable[[dict], None], process: int = 0) -> None:
        super().__init__(caller_number)
        self.call = call
        self.send = send  # to the PJSIP process holding the call
        self.process = process
        self.recording: GrowingRecording | None = None
        self.media_ready = asyncio.Event()
        self.conversation: Path | None = None  # the finished recording of the caller's talk with agents
        self.conversation_done = asyncio.Event()

    # events from the endpoint
    def on_media(self, path: str) -> None:
        self.recording = GrowingRecording(Path(path))
        self.media_ready.set()

    def on_recorded(self, path: str) -> None:
        self.conversation = Path(path)
        self.conversation_done.set()

    # the transport
    async def ready(self) -> None:
        await asyncio.wait_for(self.media_ready.wait(), timeout=10)

    def audio_position(self) -> int:
        return self.recording.size() if self.recording else 0

    def read_audio(self, start: int, end: int) -> bytes:
        return self.recording.read(start, end) if self.recording else b""

    async def start_prompt(self, text: str | None, audio: Path, *, queued: bool = False) -> float:
        self.send({"cmd": "play", "call": self.call, "wav": str(audio), "queue": queued})
        return wav_seconds(audio)

    async def stop_prompt(self) -> None:
        self.send({"cmd": "stop_play", "call": self.call})

    async def transfer(self, target: str) -> None:
        self._check()
        self.transferred_to = target
        self.log.add("IVR", f"[转接 {target}]")
        self.send({"cmd": "transfer", "call": self.call, "target": target})
        await asyncio.sleep(0.5)  # let the REFER go out before the dialog lets go of the call

    async def hangup(self) -> None:
        self.log.add("IVR", "[挂机]")
        if not self.ended.is_set():
            self.send({"cmd": "hangup", "call": self.call})
