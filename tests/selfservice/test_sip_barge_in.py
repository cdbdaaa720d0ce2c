"""Talking over the main menu on a cold TTS cache, over a real SIP line (baresip, G.711): the menu plays
part by part as it is rendered, the caller's voice stops the part playing and the parts the media node
has queued after it, and the answer to the question follows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import speech
from kb.importer import import_file
from selfservice.channel import read_wav_mono
from selfservice.menu import load_menu
from tests.selfservice.baresip import BARESIP
from tests.selfservice.conftest import DATA
from tests.selfservice.test_sip_call import QUESTION, LiveIvr, best_match, call

pytestmark = pytest.mark.e2e
RATE = 8000
VOICE_STARTS = 0.48  # seconds into the recording


@pytest.fixture
def cold_ivr(sqlite_env: Path) -> Iterator[LiveIvr]:
    """The IVR with the test documents and a TTS cache of its own, empty but for the welcome."""
    if not Path(BARESIP).exists():
        pytest.fail("baresip not installed (scripts/install installs baresip-core)")
    assert not import_file(DATA / "kb.jsonl", publish=True).errors
    speech.synthesize(load_menu().prompts["welcome"], rate=RATE)
    with LiveIvr() as live:
        yield live


def loudness(samples: np.ndarray) -> np.ndarray:
    """dBFS of 20 ms frames."""
    frame = RATE // 50
    count = samples.size // frame
    frames = samples[: count * frame].astype(np.float64).reshape(count, frame)
    return 20 * np.log10(np.maximum(np.sqrt(np.mean(frames * frames, axis=1)), 1.0) / 32768)


def test_talking_over_an_uncached_main_menu_stops_it_and_the_answer_follows(
    cold_ivr: LiveIvr, tmp_path: Path
) -> None:
    menu = load_menu()
    main_menu = menu.prompts["main_menu"]
    parts = speech.sentence_parts(main_menu, quick=True)  # how a caller hears it from a cold cache
    assert speech.cached(main_menu, rate=RATE) is None and speech.cached_part(parts[0], rate=RATE) is None
    welcome = len(read_wav_mono(speech.synthesize(menu.prompts["welcome"], rate=RATE), RATE)) / RATE
    lead = welcome + 4.0  # the main menu (~15 s when whole) has begun: the caller talks over it
    voice = read_wav_mono(QUESTION, RATE)
    spoken = voice.size / RATE
    caller = call(cold_ivr, tmp_path, voice, lead=lead, total=lead + spoken + 14)
    try:
        assert caller.closed(lead + spoken + 50)  # the voice file ends: baresip hangs up
        heard = caller.heard()
    finally:
        caller.stop()
    channel = cold_ivr.finished_call()
    lines = channel.log.lines
    story = "\n".join(lines)
    menu_at = lines.index(f"IVR: {main_menu}")
    assert lines[menu_at + 1] == "来电: （开始说话，提示音停止）", story
    assert "中介" in next(line for line in lines if line.startswith("来电: 说话："))
    # the answer: the titles found, or "您是想咨询……吗" for a weaker hit (G.711 and a loaded machine vary
    # what is recognised)
    searched = next(n for n, line in enumerate(lines) if line.startswith("IVR: [把握："))
    answer = next(line[5:] for line in lines[searched:] if line.startswith("IVR: ") and line[5] != "[")
    assert answer.startswith(("为您找到以下内容", "您是想咨询")), story
    # what the caller heard: the menu's first clause, then silence from soon after the voice began to
    # its end (nothing queued played on), then the answer's first part
    first = read_wav_mono(speech.cached_part(parts[0], rate=RATE) or Path(), RATE)
    score, first_at = best_match(heard[: int((lead + 1) * RATE)], first)
    assert score > 0.8 and welcome - 0.5 <= first_at / RATE <= lead, (score, first_at / RATE)
    voice_on, voice_off = lead + VOICE_STARTS, lead + spoken
    quiet = loudness(heard[int((voice_on + 1.0) * RATE) : int((voice_off - 0.3) * RATE)])
    assert quiet.size > 50 and float(np.percentile(quiet, 99)) < -45.0, float(np.max(quiet))
    answer_first = speech.cached_part(speech.sentence_parts(answer, quick=True)[0], rate=RATE)
    assert answer_first is not None
    score, answer_at = best_match(heard[int(voice_off * RATE) :], read_wav_mono(answer_first, RATE))
    assert score > 0.8 and answer_at / RATE < 6.0, (score, answer_at / RATE)
