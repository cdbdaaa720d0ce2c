"""Browser voice ("网上语音咨询") as a dialog `Channel`: the page sends 16 kHz 16-bit PCM from the
microphone and keypad presses; the IVR sends prompt captions and prompt audio (16 kHz PCM).

Messages to the page (JSON text frames unless noted):
    {"type": "prompt", "text": ...} followed by one binary frame of the prompt's PCM
    {"type": "stop"}        stop playing (the caller pressed a key)
    {"type": "transfer", "text": ...}   {"type": "hangup"}
From the page: binary frames of microphone PCM; {"type": "digit", "digit": "1"}; {"type": "hangup"}.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np

import speech
from selfservice.channel import CallerHungUp, Channel, Input, read_wav_mono, write_wav_durably

RATE = 16000
POLL = 0.05
MAX_BUFFER_SECONDS = 600  # keep at most ten minutes of the caller's audio


class BrowserChannel(Channel):
    name = "browser"
    sample_rate = RATE

    def __init__(
        self, send_json: Callable[[dict], Awaitable[None]], send_bytes: Callable[[bytes], Awaitable[None]]
    ) -> None:
        super().__init__("")
        self.send_json = send_json
        self.send_bytes = send_bytes
        self.digits = ""
        self.audio = bytearray()
        self.dropped = 0  # bytes trimmed from the front of `audio`
        self.ended = asyncio.Event()
        self.transferred_to: str | None = None

    # from the page
    def on_audio(self, pcm: bytes) -> None:
        self.audio += pcm[: len(pcm) // 2 * 2]
        excess = len(self.audio) - MAX_BUFFER_SECONDS * RATE * 2
        if excess > 0:
            del self.audio[:excess]
            self.dropped += excess

    def on_digit(self, digit: str) -> None:
        if len(digit) == 1 and digit in "0123456789*#":
            self.digits += digit
            self.log.add("来电", f"按键 {digit}")

    def on_hangup(self) -> None:
        self.ended.set()

    def _position(self) -> int:
        return self.dropped + len(self.audio)

    def _read(self, start: int, end: int) -> bytes:
        lo = max(start - self.dropped, 0)
        return bytes(self.audio[lo : max(end - self.dropped, lo)])

    def _check(self) -> None:
        if self.ended.is_set():
            raise CallerHungUp

    async def play(self, text: str | None = None, *, audio: Path | None = None) -> None:
        self._check()
        if self.digits:
            return
        if text is not None:
            audio = await self.prompt_audio(text)
        assert audio is not None
        samples = read_wav_mono(audio, RATE)
        self.log.add("IVR", text if text is not None else f"[音频 {audio.name}]")
        await self.send_json({"type": "prompt", "text": text or ""})
        await self.send_bytes(samples.astype("<i2").tobytes())
        deadline = time.monotonic() + samples.size / RATE + 0.2
        while time.monotonic() < deadline:
            self._check()
            if self.digits:
                await self.send_json({"type": "stop"})
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
        stream = speech.open_stream(RATE, grammar=grammar) if speech_allowed else None
        offset = self._position()
        started = last_key = time.monotonic()
        taken = ""
        while True:
            self._check()
            while self.digits and len(taken) < max_digits:
                key, self.digits = self.digits[0], self.digits[1:]
                last_key = time.monotonic()
                if key == terminator and max_digits > 1:
                    return Input("digits", taken, terminated=True)
                taken += key
            if len(taken) >= max_digits:
                return Input("digits", taken)
            now = time.monotonic()
            if taken and now - last_key > interdigit_timeout:
                return Input("digits", taken)
            if stream is not None and not taken:
                end = self._position()
                if end > offset:
                    stream.accept_pcm(self._read(offset, end))
                    offset = end
                if stream.heard_speech and stream.endpoint_detected:
                    recognition = await asyncio.to_thread(stream.finish)
                    self.log.add("来电", f"说话：{recognition.text}")
                    return Input("speech", recognition=recognition)
                if stream.heard_speech:
                    started = now
            if not taken and now - started > timeout:
                return Input("timeout")
            await asyncio.sleep(POLL)

    async def record(self, path: Path, *, max_seconds: float) -> bool:
        self._check()
        self.digits = ""
        start = self._position()
        limit = start + int(max_seconds * RATE) * 2
        hung_up = False
        while self._position() < limit:
            if self.ended.is_set():
                hung_up = True
                break
            if "#" in self.digits:
                self.digits = self.digits.split("#", 1)[1]
                break
            await asyncio.sleep(POLL)
        samples = np.frombuffer(self._read(start, min(self._position(), limit)), dtype="<i2")
        if samples.size >= RATE // 2:
            write_wav_durably(path, samples, RATE)
            self.log.add("IVR", f"[录音已保存 {samples.size / RATE:.1f} 秒]")
        return hung_up

    async def transfer(self, target: str) -> None:
        self._check()
        self.transferred_to = target
        self.log.add("IVR", f"[转接 {target}]")
        await self.send_json({"type": "transfer", "text": "正在为您转接人工服务，请稍候。"})

    async def hangup(self) -> None:
        self.log.add("IVR", "[挂机]")
        if not self.ended.is_set():
            self.ended.set()
            await self.send_json({"type": "hangup"})
