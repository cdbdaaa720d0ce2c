"""Speech barge-in: detecting, over a playing prompt, that the caller has started to talk."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from selfservice.channel import read_wav_mono
from selfservice.live_channel import LiveChannel, VoiceOnset
from selfservice.menu import load_menu
from tests.selfservice.conftest import SPEECH

RATE = 16000
ROOT = Path(__file__).resolve().parents[2]
QUESTION = SPEECH / "wenet_BAC009S0724W0121.wav"  # a real recording; the voice starts after ~0.48 s


def feed_in_chunks(onset: VoiceOnset, pcm: bytes, chunk: int = 1600) -> bool:
    """Feed audio the way the channel does: whatever arrived since the last look (odd sizes too)."""
    for start in range(0, len(pcm), chunk):
        if onset.feed(pcm[onset.position : start + chunk]):
            return True
    return False


def test_a_real_voice_is_detected_and_its_start_kept() -> None:
    pcm = read_wav_mono(QUESTION, RATE).astype("<i2").tobytes()
    lead_in = bytes(RATE * 2)  # one second of the prompt playing before the caller speaks
    onset = VoiceOnset(RATE, position=0)
    assert feed_in_chunks(onset, lead_in + pcm, chunk=1234)
    assert onset.start is not None
    voice_begins = len(lead_in) + int(0.48 * RATE) * 2
    assert voice_begins - int(0.5 * RATE) * 2 <= onset.start <= voice_begins  # the first syllable is kept


def test_line_noise_and_a_click_do_not_stop_the_prompt() -> None:
    rng = np.random.default_rng(7)
    noise = rng.normal(0, 150, RATE * 3)  # about -47 dBFS of hiss for three seconds
    noise[RATE : RATE + 1600] = rng.normal(0, 8000, 1600)  # a loud 100 ms click or cough
    onset = VoiceOnset(RATE, position=0)
    assert not feed_in_chunks(onset, noise.astype("<i2").tobytes())
    assert onset.start is None


def test_the_level_and_the_switch_are_set_in_the_menu_file(tmp_path: Path) -> None:
    bundled = ROOT / "data" / "ivr" / "menu.toml"
    text = bundled.read_text(encoding="utf-8")
    assert load_menu(bundled).timing.barge_in_level_dbfs == -35.0
    custom = tmp_path / "menu.toml"
    custom.write_text(
        text.replace("barge_in_level_dbfs = -35.0", "barge_in_level_dbfs = -15.0").replace(
            "speech_barge_in = true", "speech_barge_in = false"
        ),
        encoding="utf-8",
    )
    timing = load_menu(custom).timing
    assert timing.barge_in_level_dbfs == -15.0 and timing.speech_barge_in is False
    pcm = read_wav_mono(QUESTION, RATE).astype("<i2").tobytes()
    assert not feed_in_chunks(VoiceOnset(RATE, 0, level_dbfs=timing.barge_in_level_dbfs), pcm)  # too quiet


class QuietLine(LiveChannel):
    """A live channel whose caller audio is given up front (no media, no prompts)."""

    sample_rate = RATE

    def __init__(self, audio: bytes) -> None:
        super().__init__("")
        self.audio = audio

    def audio_position(self) -> int:
        return len(self.audio)

    def read_audio(self, start: int, end: int) -> bytes:
        return self.audio[start:end]

    async def start_prompt(self, text: str | None, audio: Path, *, queued: bool = False) -> float:
        return 0.0

    async def stop_prompt(self) -> None: ...

    async def transfer(self, target: str) -> None: ...

    async def hangup(self) -> None: ...


def test_a_quiet_caller_on_a_quiet_line_can_talk_over_a_prompt() -> None:
    rng = np.random.default_rng(5)
    line = rng.normal(0, 12, RATE * 3)  # about -69 dBFS: a quiet line, heard for three seconds
    voice = read_wav_mono(QUESTION, RATE).astype(np.float64) * 10 ** (-12 / 20)  # a caller 12 dB quieter
    pcm = voice.astype("<i2").tobytes()
    channel = QuietLine(line.astype("<i2").tobytes())
    level = channel.barge_in_level()
    assert -50.0 <= level < -45.0  # learnt from the line: well under the menu's -35 dBFS
    assert feed_in_chunks(VoiceOnset(RATE, 0, level_dbfs=level), pcm)
    assert not feed_in_chunks(VoiceOnset(RATE, 0, level_dbfs=-35.0), pcm)  # the fixed level missed it


def test_on_a_noisy_line_the_menus_level_stands() -> None:
    rng = np.random.default_rng(6)
    hiss = rng.normal(0, 400, RATE * 3)  # about -38 dBFS of line noise
    channel = QuietLine(hiss.astype("<i2").tobytes())
    assert channel.barge_in_level() == -35.0
    assert QuietLine(b"").barge_in_level() == -35.0  # nothing heard yet: the menu's level
