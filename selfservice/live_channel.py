"""What the live channels (SIP line, browser voice) share: keys arrive as events, the caller's audio
is a growing stream of 16-bit PCM, prompts play in real time and stop at the first key (barge-in)."""

from __future__ import annotations

import asyncio
import time
from abc import abstractmethod
from pathlib import Path

import numpy as np

import speech
from selfservice.channel import CallerHungUp, Channel, Input, write_wav_durably

POLL = 0.05  # seconds between looks at keys and audio


class LiveChannel(Channel):
    """Subclasses feed `on_digit` / `on_hangup`, and provide the caller's audio (`audio_position`,
    `read_audio`) and the prompt player (`start_prompt`, `stop_prompt`)."""

    def __init__(self, caller_number: str = "") -> None:
        super().__init__(caller_number)
        self.digits = ""
        self.ended = asyncio.Event()
        self.transferred_to: str | None = None

    # -- what a transport provides -----------------------------------------------------------------

    @abstractmethod
    def audio_position(self) -> int:
        """Bytes of caller audio received so far."""

    @abstractmethod
    def read_audio(self, start: int, end: int) -> bytes:
        """Caller audio between two positions (as far as it is still available)."""

    @abstractmethod
    async def start_prompt(self, text: str | None, audio: Path) -> float:
        """Start playing `audio` to the caller; returns its length in seconds."""

    @abstractmethod
    async def stop_prompt(self) -> None:
        """Stop the prompt now playing."""

    async def ready(self) -> None:
        """Wait until audio can flow (the SIP media is up)."""

    # -- events from the transport --------------------------------------------------------------------

    def on_digit(self, digit: str) -> None:
        if len(digit) == 1 and digit in "0123456789*#":
            self.digits += digit
            self.log.add("来电", f"按键 {digit}")

    def on_hangup(self) -> None:
        self.ended.set()

    def _check(self) -> None:
        if self.ended.is_set():
            raise CallerHungUp

    # -- the Channel operations -----------------------------------------------------------------------

    async def play(self, text: str | None = None, *, audio: Path | None = None) -> None:
        self._check()
        if self.digits:
            return  # the caller already keyed ahead: do not start the prompt
        if text is not None:
            audio = await self.prompt_audio(text)
        assert audio is not None
        await self.ready()
        self.log.add("IVR", text if text is not None else f"[音频 {audio.name}]")
        deadline = time.monotonic() + await self.start_prompt(text, audio) + 0.1
        while time.monotonic() < deadline:
            self._check()
            if self.digits:
                await self.stop_prompt()
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
        stream = speech.open_stream(self.sample_rate, grammar=grammar) if speech_allowed else None
        offset = self.audio_position()
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
                end = self.audio_position()
                if end > offset:
                    stream.accept_pcm(self.read_audio(offset, end))
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
        await self.ready()
        self.digits = ""
        start = self.audio_position()
        limit = start + int(max_seconds * self.sample_rate) * 2
        hung_up = False
        while self.audio_position() < limit:
            if self.ended.is_set():
                hung_up = True
                break
            if "#" in self.digits:
                self.digits = self.digits.split("#", 1)[1]
                break
            await asyncio.sleep(POLL)
        samples = np.frombuffer(self.read_audio(start, min(self.audio_position(), limit)), dtype="<i2")
        if samples.size >= self.sample_rate // 2:  # half a second or more: keep it
            write_wav_durably(path, samples, self.sample_rate)
            self.log.add("IVR", f"[录音已保存 {samples.size / self.sample_rate:.1f} 秒]")
        return hung_up
