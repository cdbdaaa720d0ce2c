"""One SIP call as a dialog `Channel`: prompts go to the endpoint's WAV player, keys arrive as DTMF
events, the caller's voice is read from the call's growing recording (8 kHz, 16-bit)."""

from __future__ import annotations

import asyncio
import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

import speech
from selfservice.channel import CallerHungUp, Channel, Input, write_wav_durably

POLL = 0.05  # seconds between looks at keys / the recording
BYTES_PER_SECOND = 16000  # 8 kHz, 16-bit mono


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
                head = self.path.read_bytes()[:512]
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


class SipChannel(Channel):
    name = "sip"
    sample_rate = 8000

    def __init__(self, call: int, caller_number: str, send: Callable[[dict], None]) -> None:
        super().__init__(caller_number)
        self.call = call
        self.send = send
        self.digits = ""
        self.recording: GrowingRecording | None = None
        self.media_ready = asyncio.Event()
        self.ended = asyncio.Event()
        self.transferred_to: str | None = None

    # events from the endpoint
    def on_media(self, path: str) -> None:
        self.recording = GrowingRecording(Path(path))
        self.media_ready.set()

    def on_dtmf(self, digit: str) -> None:
        self.digits += digit
        self.log.add("来电", f"按键 {digit}")

    def on_ended(self) -> None:
        self.ended.set()

    def _check(self) -> None:
        if self.ended.is_set():
            raise CallerHungUp

    async def play(self, text: str | None = None, *, audio: Path | None = None) -> None:
        self._check()
        if self.digits:
            return  # the caller already keyed ahead: barge-in, do not start the prompt
        if text is not None:
            audio = await self.prompt_audio(text)
        assert audio is not None
        await asyncio.wait_for(self.media_ready.wait(), timeout=10)
        self.log.add("IVR", text if text is not None else f"[音频 {audio.name}]")
        self.send({"cmd": "play", "call": self.call, "wav": str(audio)})
        deadline = time.monotonic() + wav_seconds(audio) + 0.1
        while time.monotonic() < deadline:
            self._check()
            if self.digits:
                self.send({"cmd": "stop_play", "call": self.call})
                return
            await asyncio.sleep(POLL)

    async def gather(
        self,
        *,
        max_digits: int = 1,
        timeout: float,
        interdigit_timeout: float = 4.0,
        terminator: str = "#",
        speech_allowed: bool = False,
        grammar: list[str] | None = None,
    ) -> Input:
        self._check()
        stream = None
        offset = self.recording.size() if self.recording else 0
        if speech_allowed:
            stream = speech.open_stream(self.sample_rate, grammar=grammar)
        started = last_key = time.monotonic()
        taken = ""
        seen = len(self.digits)
        while True:
            self._check()
            if len(self.digits) > seen:
                seen, last_key = len(self.digits), time.monotonic()
            while self.digits and len(taken) < max_digits:
                key, self.digits = self.digits[0], self.digits[1:]
                if key == terminator and max_digits > 1:
                    return Input("digits", taken, terminated=True)
                taken += key
            seen = len(self.digits)
            if len(taken) >= max_digits:
                return Input("digits", taken)
            now = time.monotonic()
            if taken and now - last_key > interdigit_timeout:
                return Input("digits", taken)
            if stream is not None and not taken and self.recording is not None:
                end = self.recording.size()
                if end > offset:
                    stream.accept_pcm(self.recording.read(offset, end))
                    offset = end
                if stream.heard_speech and stream.endpoint_detected:
                    recognition = await asyncio.to_thread(stream.finish)
                    self.log.add("来电", f"说话：{recognition.text}")
                    return Input("speech", recognition=recognition)
                if stream.heard_speech:
                    started = now  # the caller is talking: wait for the end of the utterance
            if not taken and now - started > timeout:
                return Input("timeout")
            await asyncio.sleep(POLL)

    async def record(self, path: Path, *, max_seconds: float) -> bool:
        self._check()
        await asyncio.wait_for(self.media_ready.wait(), timeout=10)
        assert self.recording is not None
        self.digits = ""
        start = self.recording.size()
        limit = start + int(max_seconds * BYTES_PER_SECOND)
        hung_up = False
        while self.recording.size() < limit:
            if self.ended.is_set():
                hung_up = True
                break
            if "#" in self.digits:
                self.digits = self.digits.split("#", 1)[1]
                break
            await asyncio.sleep(POLL)
        if hung_up:
            await asyncio.sleep(0.3)  # the endpoint has closed the recorder: everything is on disk
        pcm = self.recording.read(start, limit)
        samples = np.frombuffer(pcm, dtype="<i2")
        if samples.size >= self.sample_rate // 2:  # half a second or more: keep it
            write_wav_durably(path, samples, self.sample_rate)
            self.log.add("IVR", f"[录音已保存 {samples.size / self.sample_rate:.1f} 秒]")
        return hung_up

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
