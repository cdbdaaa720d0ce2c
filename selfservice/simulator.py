"""`hotline ivr simulate`: one call against a scripted caller, printing the transcript.

Script format (one step a line; lines starting with `#` are comments; see docs/ivr.md):
    press 1            keys, e.g. `press 2026112400015#` (each character one DTMF key)
    say question.wav   the caller speaks (a mono 16-bit WAV; relative paths from the script's folder)
    silence 6          the caller says nothing for 6 seconds
    hangup             the caller hangs up (also implied at the end of the script)
"""

from __future__ import annotations

import asyncio
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import speech
from selfservice.channel import CallerHungUp, Channel, Input, SpokenParts, read_wav_mono, write_wav_durably

KEYS = set("0123456789*#")


class ScriptError(ValueError):
    """The caller script is invalid (message names the line)."""


@dataclass
class Step:
    kind: str  # press | say | silence | hangup
    value: str = ""
    seconds: float = 0.0
    line: int = 0


def parse_script(text: str, base: Path) -> list[Step]:
    steps: list[Step] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, _, arg = line.partition(" ")
        arg = arg.strip()
        where = f"line {number}"
        if word == "press":
            if not arg or set(arg) - KEYS:
                raise ScriptError(f"{where}: press needs keys 0-9 * # (got {arg!r})")
            steps.append(Step("press", arg, line=number))
        elif word == "say":
            path = (base / arg).resolve() if arg else None
            if path is None or not path.is_file():
                raise ScriptError(f"{where}: audio file not found: {arg!r}")
            steps.append(Step("say", str(path), line=number))
        elif word == "silence":
            try:
                seconds = float(arg)
            except ValueError as exc:
                raise ScriptError(f"{where}: silence needs seconds (got {arg!r})") from exc
            if not 0 <= seconds <= 600:
                raise ScriptError(f"{where}: silence must be 0-600 seconds")
            steps.append(Step("silence", seconds=seconds, line=number))
        elif word == "hangup":
            steps.append(Step("hangup", line=number))
        else:
            raise ScriptError(f"{where}: unknown step {word!r} (press, say, silence, hangup)")
    return steps


KEY_GAP = 0.3  # simulated seconds per key pressed
INTERDIGIT = 4.0  # the live channel's default gap that ends an entry (a silence step this long ends it)


def recognition_seconds(path: str) -> float:
    """The length of a caller's utterance (a WAV file)."""
    with wave.open(path, "rb") as wav:
        return wav.getnframes() / wav.getframerate()


class SimulatedChannel(Channel):
    """A scripted caller. Prompts are rendered by the real TTS; speech goes through the real ASR.
    Time is simulated (`now`): keys take KEY_GAP each, a silence step its seconds, speech its length;
    a silence step is consumed against the waiting time of a gather. Keys go through the same
    `KeyBuffer` as on the live line: type-ahead kept, a # right after a full-length entry absorbed."""

    name = "simulator"

    def __init__(self, steps: list[Step], caller_number: str = "", *, render_audio: bool = True) -> None:
        super().__init__(caller_number)
        self.steps = list(steps)
        self.now = 0.0
        self.render_audio = render_audio
        self.hung_up = False
        self.transferred_to: str | None = None
        self.prompt_latencies: list[float] = []
        self.talking = False  # the caller talked over a prompt; the next gather hears it
        self._input_at: float | None = None

    @property
    def pending_digits(self) -> str:
        """Keys pressed and not yet taken (type-ahead)."""
        return self.keys.pending

    def _next(self) -> Step:
        if not self.steps:
            return Step("hangup")
        return self.steps.pop(0)

    def _press(self, keys: str) -> None:
        self.log.add("来电", f"按键 {keys}")
        for key in keys:
            self.now += KEY_GAP
            self.keys.press(key, self.now)

    def _talks_over(self, speech_barge_in: bool) -> bool:
        """With speech barge-in, a `say` step right after the prompt is said over it (as on the line,
        where a prompt that listens for speech stops when the caller starts talking, and no prompt
        starts while the caller talks)."""
        if speech_barge_in and self.steps and self.steps[0].kind == "say":
            self.log.add("来电", "（开始说话，提示音停止）")
            self.talking = True
        return self.talking

    async def play(
        self, text: str | None = None, *, audio: Path | None = None, speech_barge_in: bool = False
    ) -> None:
        if self.hung_up:
            raise CallerHungUp
        if self.pending_digits:
            self.log.add("IVR", f"（按键打断，未播放）{text or audio.name if audio else ''}")
            return
        if self.talking:
            return  # the caller is talking: the prompt does not start
        if text is not None and self.render_audio:
            audio = await self.prompt_audio(text, render=False)
            if audio is None:  # not in the cache: part by part, as on the line
                await self.read_aloud(text, speech_barge_in=speech_barge_in)
                return
        if self._input_at is not None:
            self.prompt_latencies.append(time.perf_counter() - self._input_at)
            self._input_at = None
        self.log.add("IVR", text if text is not None else f"[音频 {audio.name if audio else ''}]")
        self._talks_over(speech_barge_in)

    async def play_parts(self, parts: SpokenParts, *, speech_barge_in: bool = False) -> None:
        """The parts as the line takes them; with speech barge-in and the caller's next step `say`, the
        caller talks over the first part and the rest is not played (nor rendered, but for the one
        rendered ahead)."""
        if self.hung_up:
            raise CallerHungUp
        if self.pending_digits:
            self.log.add("IVR", f"（按键打断，未播放）{parts.texts[0]}")
            return
        if self.talking:
            return
        over = speech_barge_in and bool(self.steps) and self.steps[0].kind == "say"
        if self.render_audio:
            while await parts.next() is not None:
                if self._input_at is not None:  # a key's latency: until the first part is ready
                    self.prompt_latencies.append(time.perf_counter() - self._input_at)
                    self._input_at = None
                if over:
                    break
        for text in parts.texts[:1] if over else parts.texts:
            self.log.add("IVR", text)
        self._talks_over(speech_barge_in)

    def _caller_hung_up(self) -> CallerHungUp:
        self.hung_up = True
        self.log.add("来电", "挂机")
        return CallerHungUp()

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
        if self.hung_up:
            raise CallerHungUp
        self.talking = False
        waited = 0.0
        while not self.pending_digits:
            step = self._next()
            if step.kind == "hangup":
                raise self._caller_hung_up()
            if step.kind == "press":
                self._press(step.value)
            elif step.kind == "silence":
                self.log.add("来电", f"（静默 {step.seconds:g} 秒）")
                self.now += step.seconds
                waited += step.seconds
                if waited >= timeout:
                    return self._took(Input("timeout"))
            elif step.kind == "say":
                recognition = await asyncio.to_thread(speech.recognize_file, step.value, grammar=grammar)
                self.log.add("来电", f"说话 {Path(step.value).name}")
                self.now += recognition_seconds(step.value)
                if speech_allowed:
                    return self._took(Input("speech", recognition=recognition))
                return self._took(Input("timeout"))  # speech where only keys count: nothing usable
        return self._took(self._take_digits(max_digits, terminator, interdigit_timeout))

    def _took(self, got: Input) -> Input:
        self._input_at = time.perf_counter()
        return got

    def _take_digits(self, max_digits: int, terminator: str, interdigit_timeout: float) -> Input:
        digits = ""
        while True:
            digits, done = self.keys.take(
                digits, max_digits=max_digits, terminator=terminator, now=self.now, grace=interdigit_timeout
            )
            if done is not None:
                return done
            if not self.steps or self.steps[0].kind != "press":
                if (
                    self.steps
                    and self.steps[0].kind == "silence"
                    and self.steps[0].seconds < interdigit_timeout
                ):
                    step = self._next()  # a pause between keys, shorter than the inter-digit timeout
                    self.log.add("来电", f"（静默 {step.seconds:g} 秒）")
                    self.now += step.seconds
                    continue
                self.now += interdigit_timeout
                return Input("digits", digits)  # the caller stopped keying: inter-digit timeout
            self._press(self._next().value)

    async def record(self, path: Path, *, max_seconds: float) -> bool:
        rate = self.sample_rate
        self.keys.clear()
        chunks: list[np.ndarray] = []
        hung_up = False
        while sum(c.size for c in chunks) < max_seconds * rate:
            step = self._next()
            if step.kind == "hangup":
                hung_up = True
                break
            if step.kind == "press":
                self.log.add("来电", f"按键 {step.value}")
                self.now += KEY_GAP * len(step.value)
                if "#" in step.value:
                    break
            elif step.kind == "silence":
                self.log.add("来电", f"（静默 {step.seconds:g} 秒）")
                self.now += step.seconds
                chunks.append(np.zeros(int(step.seconds * rate), dtype=np.int16))
            elif step.kind == "say":
                self.log.add("来电", f"留言 {Path(step.value).name}")
                chunks.append(read_wav_mono(Path(step.value), rate))
                self.now += chunks[-1].size / rate
        audio = np.concatenate(chunks)[: int(max_seconds * rate)] if chunks else np.zeros(0, np.int16)
        if audio.size >= rate // 2:  # half a second or more is kept, as on the live line
            write_wav_durably(path, audio, rate)
            self.log.add("IVR", f"[录音已保存 {audio.size / rate:.1f} 秒]")
        if hung_up:
            self._caller_hung_up()
        return hung_up

    async def transfer(self, target: str) -> None:
        self.transferred_to = target
        self.log.add("IVR", f"[转接 {target}]")

    async def hangup(self) -> None:
        self.hung_up = True
        self.log.add("IVR", "[挂机]")
