"""End to end with the users' voice: an IVR call (`hotline ivr simulate`) whose prompts Kokoro speaks."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hotline.cli import app
from hotline.config import REPO_ROOT
from hotline.db import reset_caches
from kb.importer import import_file
from speech import cached_part, recognize_file, sentence_parts, synthesize
from speech.metrics import pinyin_errors
from speech.normalize import normalize_for_speech


@pytest.fixture
def kokoro_ivr(sqlite_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("HOTLINE_TTS_ENGINE", raising=False)  # the default voice: Kokoro
    reset_caches()
    report = import_file(REPO_ROOT / "tests" / "selfservice" / "data" / "kb.jsonl", publish=True)
    assert not report.errors
    return sqlite_env


def test_a_call_hears_the_welcome_in_the_neural_voice(kokoro_ivr: Path, tmp_path: Path) -> None:
    from selfservice.menu import load_menu

    script = tmp_path / "caller.txt"
    script.write_text("press 0\n", encoding="utf-8")
    result = CliRunner().invoke(
        app,
        [
            "ivr",
            "simulate",
            "--caller",
            "13800138000",
            "--script",
            str(script),
            "--at",
            "2026-11-25T10:00:00",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "outcome=transferred" in result.output
    welcome = load_menu().say("welcome")
    rendered = set((kokoro_ivr / "audio-cache").rglob("*.wav"))
    # not in the cache before the call: played in quick parts (docs/ivr.md), these very files, Kokoro's,
    # at telephone rate
    parts = [cached_part(part, rate=8000) for part in sentence_parts(welcome, quick=True)]
    assert len(parts) >= 2 and all(part in rendered for part in parts)
    path = synthesize(welcome, rate=8000)
    assert path != synthesize(welcome, engine="espeak", rate=8000)
    errors, total = pinyin_errors(normalize_for_speech(welcome), recognize_file(path).pinyin)
    assert errors / total <= 0.1, recognize_file(path).text
