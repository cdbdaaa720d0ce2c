"""`hotline tts` and `hotline asr` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import soundfile
from typer.testing import CliRunner

from hotline.cli import app
from tests.speech.conftest import SPEECH_DATA

runner = CliRunner()


def test_tts_writes_wav_at_rate(speech_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "hello.wav"
    result = runner.invoke(app, ["tts", "您好，请拨打12345。", "-o", str(out), "--rate", "16000"])
    assert result.exit_code == 0, result.output
    info = soundfile.info(str(out))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16") and info.duration > 1.0


def test_tts_g711_and_fallback_engine(speech_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "prompt.wav"
    result = runner.invoke(app, ["tts", "请稍候", "-o", str(out), "--codec", "alaw", "--engine", "edge"])
    assert result.exit_code == 0, result.output
    assert soundfile.info(str(out)).subtype == "ALAW"


def test_tts_errors(speech_home: Path, tmp_path: Path) -> None:
    for args, message in [
        (["tts", "。", "-o", str(tmp_path / "a.wav")], "没有可朗读的文字"),
        (["tts", "你好", "-o", str(tmp_path / "a.wav"), "--engine", "x"], "未知的语音合成引擎"),
        (["tts", "你好", "-o", str(tmp_path / "a.wav"), "--codec", "mp9"], "未知的编码"),
        (["tts", "你好", "-o", str(tmp_path / "a.wav"), "--rate", "1234"], "不支持的输出采样率"),
    ]:
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "a.wav").exists()


def test_asr_text_json_and_grammar(speech_home: Path) -> None:
    wav = str(SPEECH_DATA / "firered_BAC009S0764W0121.wav")
    plain = runner.invoke(app, ["asr", wav])
    assert plain.exit_code == 0 and plain.output.startswith("甚至出现交易几乎")
    data = json.loads(runner.invoke(app, ["asr", wav, "--json"]).output)
    assert set(data) == {"text", "words", "pinyin"} and data["pinyin"][:2] == ["shen4", "zhi4"]
    assert "".join(data["words"]) == data["text"]
    picked = json.loads(
        runner.invoke(app, ["asr", wav, "--json", "--grammar", "政策法规,交易,人工服务"]).output
    )
    assert picked["words"] == ["交易"]


def test_asr_bad_audio_exits_non_zero_with_message(speech_home: Path, tmp_path: Path) -> None:
    text_file = tmp_path / "note.wav"
    text_file.write_text("not audio")
    hotline = Path(sys.executable).with_name("hotline")  # the installed console script
    result = subprocess.run(
        [str(hotline), "asr", str(text_file)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "不是有效的 WAV 文件" in result.stderr and "Traceback" not in result.stderr
