"""Talking over a prompt that is not in the TTS cache: it plays part by part (its first clause first), and
the caller's voice stops the part playing and the parts queued after it, on the live channel (the code
the SIP line and the browser page share) and in the simulator."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np

import speech
from selfservice.channel import read_wav_mono
from selfservice.live_channel import LiveChannel
from selfservice.menu import load_menu
from selfservice.sip.channel import wav_seconds
from tests.selfservice.conftest import SPEECH

RATE = 8000
QUESTION = SPEECH / "wenet_BAC009S0724W0121.wav"  # a real recording; the voice starts after ~0.48 s
FRAME = RATE // 50


class MemoryLine(LiveChannel):
    """A live line in memory: the caller's audio grows in real time, prompts play for their length."""

    sample_rate = RATE

    def __init__(self) -> None:
        super().__init__("13800138000")
        self.audio = bytearray()
        self.started: list[tuple[float, str | None, Path, bool]] = []  # (when, text, WAV, queued)
        self.stopped: list[float] = []

    def audio_position(self) -> int:
        return len(self.audio)

    def read_audio(self, start: int, end: int) -> bytes:
        return bytes(self.audio[start:end])

    async def start_prompt(self, text: str | None, audio: Path, *, queued: bool = False) -> float:
        self.started.append((time.monotonic(), text, audio, queued))
        return wav_seconds(audio)

    async def stop_prompt(self) -> None:
        self.stopped.append(time.monotonic())

    async def transfer(self, target: str) -> None: ...

    async def hangup(self) -> None:
        self.ended.set()


async def microphone(line: MemoryLine, voice: np.ndarray, after_first_part: float, seconds: float) -> float:
    """Silence until the first part plays, then `voice` after `after_first_part` seconds, in real time
    in 20 ms frames; returns when the voice began (monotonic)."""
    begun = 0.0
    voice_at = 0
    sent = 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        due = int((time.monotonic() - start) * RATE) // FRAME * FRAME
        chunk = np.zeros(max(due - sent, 0), dtype=np.int16)
        if line.started and not begun:
            begun = line.started[0][0] + after_first_part
            voice_at = sent + int((begun - time.monotonic()) * RATE)
        if begun:
            lo, hi = sent - voice_at, due - voice_at
            part = voice[max(lo, 0) : max(hi, 0)]
            chunk[max(-lo, 0) : max(-lo, 0) + part.size] = part
        line.audio += chunk.astype("<i2").tobytes()
        sent = due
        await asyncio.sleep(0.02)
    return begun


def test_talking_over_an_uncached_prompt_stops_its_parts_and_is_heard_from_its_start(
    sqlite_env: Path,
) -> None:
    menu = load_menu()
    prompt = menu.prompts["main_menu"]
    parts = speech.sentence_parts(prompt, quick=True)  # nothing of it in the cache: short parts
    assert speech.cached(prompt, rate=RATE) is None and len(parts) >= 4  # a cold cache
    line = MemoryLine()
    voice = read_wav_mono(QUESTION, RATE)

    async def call() -> tuple[float, speech.Recognition | None]:
        mic = asyncio.create_task(microphone(line, voice, 1.0, 12.0))
        await line.play(prompt, speech_barge_in=True)
        stopped_at = time.monotonic()
        got = await line.gather(timeout=6.0, speech_allowed=True)
        line.on_hangup()
        begun = await mic
        assert stopped_at >= begun
        return begun, got.recognition

    begun, recognition = asyncio.run(call())
    # it played part by part: the first clause alone first, the next queued behind it
    when, text, first, queued = line.started[0]
    assert text == prompt and not queued
    assert first == speech.cached_part(parts[0], rate=RATE) and wav_seconds(first) < 4.0
    # the caller's voice (at ~0.5 s into the recording) stopped it within a second, and nothing after
    assert line.stopped and begun + 0.4 <= line.stopped[0] <= begun + 1.5, (begun, line.stopped)
    assert all(at <= line.stopped[0] for at, *_ in line.started)
    assert "来电: （开始说话，提示音停止）" in line.log.lines
    assert len(line.started) < len(parts)
    assert speech.cached_part(parts[-1], rate=RATE) is None  # the rest was never even rendered
    # what the caller said was recognised from its first syllable
    assert recognition is not None and "中介" in recognition.text


def test_the_simulator_stops_an_uncached_prompt_a_caller_talks_over(call, sqlite_env: Path) -> None:  # noqa: ANN001
    """`say` right after a prompt that listens: said over it (the welcome, here); after `silence`: the
    caller listened to the welcome and the whole main menu first."""
    from kb.importer import import_file
    from tests.selfservice.conftest import DATA

    assert not import_file(DATA / "kb.jsonl", publish=True).errors
    menu = load_menu()
    welcome, main_menu = menu.prompts["welcome"], menu.prompts["main_menu"]
    assert speech.cached(welcome, rate=RATE) is None  # a cold cache
    over = call(f"say {QUESTION}\nhangup")
    lines = over.channel.log.lines
    assert lines[:3] == [f"IVR: {welcome}", "来电: （开始说话，提示音停止）", "来电: 说话 " + QUESTION.name]
    main_parts = speech.sentence_parts(main_menu, quick=True)  # as a caller hears it from a cold cache
    assert not any(speech.cached_part(part, rate=RATE) for part in main_parts)  # not started while talking
    assert any(p.startswith("为您找到以下内容") for p in over.prompts)  # the question answered

    listened = call(f"silence 1\nsay {QUESTION}\nhangup")
    assert listened.channel.log.lines[:2] == [f"IVR: {welcome}", f"IVR: {main_menu}"]
    assert "来电: （开始说话，提示音停止）" not in listened.channel.log.lines
    assert all(speech.cached_part(part, rate=RATE) for part in main_parts)
