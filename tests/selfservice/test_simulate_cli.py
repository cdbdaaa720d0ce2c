"""`hotline ivr simulate` through the real CLI: a script mixing keys, a speech WAV and silences."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hotline.cli import app
from hotline.db import session_scope
from selfservice import records
from tests.selfservice.conftest import SPEECH

pytestmark = pytest.mark.usefixtures("ivr_env")

QUESTION = SPEECH / "wenet_BAC009S0724W0121.wav"  # real recording: 广州市房地产中介协会分析
OFFICE = "2026-11-25T10:00:00"


def _simulate(tmp_path: Path, script: str, *extra: str) -> tuple[int, str]:
    path = tmp_path / "caller.txt"
    path.write_text(script, encoding="utf-8")
    result = CliRunner().invoke(
        app, ["ivr", "simulate", "--caller", "13800138000", "--script", str(path), "--at", OFFICE, *extra]
    )
    return result.exit_code, result.output


def test_script_with_keys_speech_and_silence_prints_the_transcript(tmp_path: Path) -> None:
    shutil.copy(QUESTION, tmp_path / "question.wav")  # relative to the script's folder
    script = "# 来电者脚本\npress 2\nsilence 1\npress *\nsay question.wav\npress 1\nhangup\n"
    code, output = _simulate(tmp_path, script)
    assert code == 0, output
    assert "以下是办事指南" in output
    assert "[识别：" in output and "中介" in output
    assert "为您找到以下内容" in output and "广州市房地产中介服务管理条例" in output
    assert "outcome=self_served" in output
    with session_scope() as s:
        record = records.recent_calls(s)[0]
    assert record.outcome == "self_served" and record.caller_number == "13800138000"
    assert record.searches and "中介" in record.searches[0]["query"]


def test_zero_transfers_to_an_agent(tmp_path: Path) -> None:
    code, output = _simulate(tmp_path, "press 0\n")
    assert code == 0, output
    assert "outcome=transferred" in output


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("press 1\npress 12a\n", "line 2: press needs keys"),
        ("# c\n\nsay missing.wav\n", "line 3: audio file not found"),
        ("silence soon\n", "line 1: silence needs seconds"),
        ("press 1\nsing 1\n", "line 2: unknown step 'sing'"),
    ],
)
def test_bad_script_lines_name_the_line(tmp_path: Path, script: str, message: str) -> None:
    code, output = _simulate(tmp_path, script)
    assert code == 2
    assert message in output
    with session_scope() as s:
        assert records.recent_calls(s) == []


def test_missing_script_and_broken_menu_are_clear_errors(tmp_path: Path) -> None:
    missing = CliRunner().invoke(app, ["ivr", "simulate", "--script", str(tmp_path / "nowhere.txt")])
    assert missing.exit_code == 2 and "script not found" in missing.output
    broken = tmp_path / "menu.toml"
    broken.write_text("[main\n", encoding="utf-8")
    code, output = _simulate(tmp_path, "hangup\n", "--menu", str(broken))
    assert code == 2 and "menu.toml" in output
