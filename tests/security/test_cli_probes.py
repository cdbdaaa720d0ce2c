"""Command-line probes of issue 12: a truncated WAV (cut mid-sample, as a dropped upload or copy leaves
it) is recognised as far as it goes by `hotline asr`, without a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.speech.conftest import SPEECH_DATA, speech_home  # noqa: F401 - fixture


def test_a_truncated_wav_is_recognised_as_far_as_it_goes(speech_home: Path, tmp_path: Path) -> None:  # noqa: F811
    audio = (SPEECH_DATA / "firered_BAC009S0764W0121.wav").read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(audio[: len(audio) // 2 | 1])  # an odd length: the last sample is half there
    hotline = Path(sys.executable).with_name("hotline")  # the installed console script
    result = subprocess.run([str(hotline), "asr", str(cut)], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert result.stdout.startswith("甚至出现")
