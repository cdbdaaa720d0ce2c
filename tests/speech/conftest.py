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
    """HOTLINE_HOME in a temporary folder; no database needed for speech. The voice is eSpeak (fast):
    these tests are about the TTS interface, cache and streaming, not the voice (see kokoro_home)."""
    home = tmp_path / "home"
    monkeypatch.setenv("HOTLINE_HOME", str(home))
    monkeypatch.setenv("HOTLINE_TTS_ENGINE", "espeak")
    for name in ("HOTLINE_ASR_ENGINE", "HOTLINE_TTS_VOICE", "HOTLINE_TTS_SPEED"):
        monkeypatch.delenv(name, raising=False)
    reset_caches()
    yield home
    reset_caches()


@pytest.fixture
def kokoro_home(speech_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A speech home with the users' default voice: no TTS engine set, so Kokoro speaks."""
    monkeypatch.delenv("HOTLINE_TTS_ENGINE")
    reset_caches()
    return speech_home


def recordings() -> list[tuple[Path, str]]:
    """(wav path, reference transcript) for the real Mandarin recordings in data/speech/."""
    with open(SPEECH_DATA / "transcripts.tsv", encoding="utf-8") as handle:
        return [
            (SPEECH_DATA / row["file"], row["transcript"]) for row in csv.DictReader(handle, delimiter="\t")
        ]
