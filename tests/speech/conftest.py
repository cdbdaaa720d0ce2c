"""Speech fixtures: a fresh HOTLINE_HOME (audio cache) per test and the bundled real recordings."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.config import REPO_ROOT
from hotline.db import reset_caches

SPEECH_DATA = REPO_ROOT / "data" / "speech"


@pytest.fixture
def speech_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """HOTLINE_HOME in a temporary folder; no database needed for speech."""
    home = tmp_path / "home"
    monkeypatch.setenv("HOTLINE_HOME", str(home))
    monkeypatch.delenv("HOTLINE_TTS_ENGINE", raising=False)
    monkeypatch.delenv("HOTLINE_ASR_ENGINE", raising=False)
    reset_caches()
    yield home
    reset_caches()


def recordings() -> list[tuple[Path, str]]:
    """(wav path, reference transcript) for the real Mandarin recordings in data/speech/."""
    with open(SPEECH_DATA / "transcripts.tsv", encoding="utf-8") as handle:
        return [
            (SPEECH_DATA / row["file"], row["transcript"]) for row in csv.DictReader(handle, delimiter="\t")
        ]
