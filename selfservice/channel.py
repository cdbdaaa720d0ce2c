"""What the dialog engine needs from a transport (SIP, browser voice, simulator)."""

from __future__ import annotations

import asyncio
import os
import uuid
import wave
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

import speech
from hotline.config import get_settings
from speech import executors

_RENDERED: dict[tuple[str, str, int], Path] = {}  # (cache dir|engine|voice, text, rate) -> cached WAV


class CallerHungUp(Exception):
    """The caller hung up (or the script ended)."""


@dataclass
class Input:
    """What the caller gave after a prompt."""

    kind: Literal["digits", "speech", "timeout"]
    digits: str = ""
    terminated: bool = False  # ended with the # key
    recognition: speech.Recognition | None = None


@dataclass
class KeyBuffer:
    """The keys a caller pressed that no gather has taken yet (type-ahead). Every channel keeps its keys
    here, so the simulator treats keys exactly as the live line does.

    An entry of several digits ends with the terminator (#), also when it is already at its full
    length: the # that follows a full-length entry within `grace` seconds belongs to that entry and is
    absorbed, never left behind to cut the next prompt short. In such an entry `*` cancels (back)."""

    def __init__(self) -> None:
        self.pending = ""
        self._absorb_until: float | None = None

    def press(self, key: str, now: float) -> bool:
        """A key from the caller at time `now`; False when it was the # of a full-length entry."""
        absorb = self._absorb_until is not None and now <= self._absorb_until
        self._absorb_until = None
        if key == "#" and absorb:
            return False
        self.pending += key
        return True

    def take(
        self, entry: str, *, max_digits: int, terminator: str, now: float, grace: float
    ) -> tuple[str, Input | None]:
        """Move pending keys into `entry`; returns the entry so far and, once it is complete, the Input."""
        while self.pending:
            key, self.pending = self.pending[0], self.pending[1:]
            if max_digits > 1 and key == terminator:
                return entry, Input("digits", entry, terminated=True)
            if max_digits > 1 and key == "*":
                return "", Input("digits", "*")  # cancel the entry: back
            entry += key
            if len(entry) >= max_digits:
                if max_digits > 1:
                    if self.pending[:1] == terminator:
                        self.pending = self.pending[1:]
                        return entry, Input("digits", entry, terminated=True)
                    self._absorb_until = now + grace  # the caller's # may still be on its way
                return entry, Input("digits", entry)
        return entry, None

    def clear(self) -> str:
        """Drop the keys typed ahead (before a recording); returns them."""
        dropped, self.pending, self._absorb_until = self.pending, "", None
        return dropped


class SpokenParts:
    """Texts read one after another, in parts (speech.sentence_parts: the first clause first) rendered
    into WAVs by a background task, one part ahead of what the channel has taken: the caller hears the
    first clause soon and the next part is ready before the one playing ends. Each part comes with the
    text it begins (None for a text's later parts). Renders go through the TTS pool (speech.executors):
    the very first part at NOW, so it is rendered before parts queued ahead for other readings, the
    rest at AHEAD; parts in the cache are taken without a thread hop. `close()` stops rendering
    (barge-in, hang-up) and drops a render not yet started."""

    def __init__(self, texts: list[str], rate: int, ahead: int = 1) -> None:
        self.texts, self.rate = texts, rate
        self.finished = False
        self._queue: asyncio.Queue[tuple[str | None, Path] | Exception | None] = asyncio.Queue(maxsize=ahead)
        self._task: asyncio.Task[None] | None = None  # started by the first take() or next()
        self._put = asyncio.Event()  # set when a part (or the end) is queued

    def _start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._render())

    def _parts(self, text: str, first: bool) -> list[str]:
        """The text's parts: the natural ones when their first is in the cache (rendered ahead of
        callers: selfservice.engine.prerender_documents) or when the text is not the first (rendered
        while the one before plays); else quick ones, shorter, so that the waiting caller hears the
        first one soon, beginning with its cached words if any (speech.quick_parts)."""
        parts = speech.sentence_parts(text)
        if not first or not parts or speech.cached_part(parts[0], rate=self.rate):
            return parts
        return speech.quick_parts(text, rate=self.rate)

    async def _render(self) -> None:
        priority = executors.NOW  # the first part: the caller waits for it
        try:
            for i, text in enumerate(self.texts):
                for n, part in enumerate(self._parts(text, first=i == 0)):
                    path = await speech.render(part, rate=self.rate, priority=priority)
                    priority = executors.AHEAD
                    await self._put_item((text if n == 0 else None, path))
        except Exception as exc:  # noqa: BLE001 - handed to the channel that plays the parts
            await self._put_item(exc)
            return
        await self._put_item(None)

    async def _put_item(self, item: tuple[str | None, Path] | Exception | None) -> None:
        await self._queue.put(item)
        self._put.set()

    def _item(self, item: tuple[str | None, Path] | Exception | None) -> tuple[str | None, Path] | None:
        if item is None or isinstance(item, Exception):
            self.finished = True
            if item is not None:
                raise item
        return item

    def take(self) -> tuple[str | None, Path] | None:
        """The next part (the text it begins, its WAV) if it is rendered; None while it is not, or
        when all were taken (then `finished` is true)."""
        self._start()
        if self.finished or self._queue.empty():
            return None
        return self._item(self._queue.get_nowait())

    async def wait(self, timeout: float) -> None:
        """Return as soon as the next part can be taken (or all were), at the latest after `timeout`
        seconds: a part found in the cache is played without waiting for a poll interval."""
        self._start()
        if self.finished or not self._queue.empty():
            return
        self._put.clear()
        try:
            await asyncio.wait_for(self._put.wait(), timeout)
        except TimeoutError:
            pass

    async def next(self) -> tuple[str | None, Path] | None:
        """Wait for the next part; None when all were taken."""
        self._start()
        if self.finished:
            return None
        return self._item(await self._queue.get())

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()


@dataclass
class CallLog:
    """Transcript of a call: prompts played and actions taken, in order."""

    lines: list[str] = field(default_factory=list)

    def add(self, who: str, text: str) -> None:
        self.lines.append(f"{who}: {text}")


class Channel(ABC):
    """One call on one transport. Prompts are texts rendered by the speech TTS cache (or WAV files);
    digits pressed during a prompt stop it at once (barge-in) and are kept for the next gather."""

    name: str = "channel"
    sample_rate: int = 8000
    barge_in_level_dbfs: float = -35.0  # speech barge-in: caller audio louder than this is a voice
    end_silence: float = 0.7  # seconds of silence after speech that end an utterance (menu timing)
    can_transfer: bool = True  # False: the call cannot be bridged to an agent (the browser voice page)
    client_key: str = ""  # who calls, for per-client limits where there is no calling number (browser calls)

    def __init__(self, caller_number: str = "") -> None:
        self.caller_number = caller_number
        self.log = CallLog()
        self.keys = KeyBuffer()

    def discard_keys(self) -> None:
        """Forget keys typed ahead, so the next prompt is heard (before a voicemail's intro)."""
        if self.keys.clear():
            self.log.add("IVR", "（清除提前按下的按键）")

    async def prompt_audio(self, text: str, *, render: bool = True) -> Path | None:
        """The prompt's WAV from the TTS cache, rendered now unless `render` is false (then None when
        it is not in the cache). Prompts found before are answered without a thread hop, so a key press
        is not queued behind speech recognitions busy in the thread pool."""
        settings = get_settings()
        key = (
            f"{settings.audio_cache_dir}|{settings.tts_engine}|{settings.tts_voice}",
            text,
            self.sample_rate,
        )
        known = _RENDERED.get(key)
        if known is not None and known.exists():
            return known
        if render:
            spoken = speech.normalize_for_speech(text)
            if not spoken.strip("，。？！ \n"):
                raise speech.SpeechError("没有可朗读的文字")
            path = await speech.render(spoken, rate=self.sample_rate)  # in the TTS pool, at NOW
        else:
            found = speech.cached(text, rate=self.sample_rate)
            if found is None:
                return None
            path = found
        # an online engine may have fallen back to espeak for now: remember only the offline engine's files
        if settings.tts_engine in speech.tts.OFFLINE_ENGINES and len(_RENDERED) < 10_000:
            _RENDERED[key] = path
        return path

    @abstractmethod
    async def play(
        self, text: str | None = None, *, audio: Path | None = None, speech_barge_in: bool = False
    ) -> None:
        """Play a prompt (text via TTS, or a WAV); returns early when the caller presses a key, or,
        with speech_barge_in (a prompt that asks for speech), starts talking."""

    async def read_aloud(self, *texts: str, speech_barge_in: bool = False) -> None:
        """Read texts (a document's title and section, or a prompt not in the cache) one after another,
        part by part and without gaps: the first clause is heard about as soon as it is rendered, the
        following parts are rendered while the caller listens (SpokenParts). Each text is logged as the
        caller starts hearing it. Returns when all was played, or at once when the caller presses a key
        or, with speech_barge_in (a prompt that asks for speech), starts talking."""
        parts = SpokenParts(list(texts), self.sample_rate)
        try:
            await self.play_parts(parts, speech_barge_in=speech_barge_in)
        finally:
            parts.close()

    @abstractmethod
    async def play_parts(self, parts: SpokenParts, *, speech_barge_in: bool = False) -> None:
        """Play the rendered parts back to back as they come (see `read_aloud`); a key stops them, and
        so does the caller starting to talk with speech_barge_in: the part playing and those queued
        after it."""

    @abstractmethod
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
        """Wait for keys (up to max_digits, or the terminator) or, when allowed, an utterance."""

    @abstractmethod
    async def record(self, path: Path, *, max_seconds: float) -> bool:
        """Record the caller into `path` (mono 16-bit WAV, written durably) until #, hang-up or
        max_seconds. Returns True when the caller hung up while recording."""

    @abstractmethod
    async def transfer(self, target: str) -> None:
        """Hand the call to an agent (SIP REFER / bridge); the IVR's part of the call ends. Never
        asked of a channel that cannot be transferred (`can_transfer`)."""

    @abstractmethod
    async def hangup(self) -> None:
        """End the call."""


def beep(rate: int, seconds: float = 0.4, freq: float = 1000.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.4 * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def write_wav_durably(path: Path, samples: np.ndarray, rate: int) -> Path:
    """Write a mono 16-bit WAV and fsync it (and its folder) before returning."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")  # unique: processes never collide
    with open(tmp, "wb") as fh:
        with wave.open(fh, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(rate)
            wav.writeframes(samples.astype("<i2").tobytes())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


VOICE_FRAME = 0.02  # seconds


def voiced_seconds(samples: np.ndarray, rate: int, *, floor_dbfs: float = -45.0) -> float:
    """Seconds of voice in a recording: 20 ms frames louder than the line's own noise (its quietest
    tenth) by 12 dB and than `floor_dbfs`. Silence, steady line noise and a click give (almost) 0."""
    size = int(rate * VOICE_FRAME)
    count = samples.size // size
    if count == 0:
        return 0.0
    frames = samples[: count * size].astype(np.float64).reshape(count, size)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    noise = float(np.percentile(rms, 10))
    level = max(noise * 4.0, 32768 * 10 ** (floor_dbfs / 20))
    return float(np.count_nonzero(rms > level)) * VOICE_FRAME


def read_wav_mono(path: Path, rate: int) -> np.ndarray:
    """A WAV file's samples as int16 at `rate` (resampled when needed)."""
    from speech.audio import read_wav, resample, to_int16

    samples, source_rate = read_wav(path)
    if source_rate != rate:
        samples = to_int16(resample(samples, source_rate, rate))
    return samples
