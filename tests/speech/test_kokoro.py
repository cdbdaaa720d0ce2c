"""The neural offline voice: Kokoro-82M v1.0 with Mandarin voice packs, the users' default engine.

These tests run the real model (joined from the PyPI wheels on first use; ~1 s to load per process)."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from hotline.config import REPO_ROOT, Settings
from hotline.db import reset_caches
from speech import SpeechError, kokoro, recognize_file, synthesize, synthesize_sentences
from speech.metrics import pinyin_errors
from speech.normalize import normalize_for_speech
from speech.syllables import toneless

HOTLINE_SENTENCE = "您好，这里是12345市民服务热线，请按1查询政策法规。"


def _seconds(path: Path) -> float:
    info = soundfile.info(str(path))
    assert info.channels == 1 and info.subtype == "PCM_16"
    return info.frames / info.samplerate


def _heard(path: Path) -> list[str]:
    return [toneless(s) for s in recognize_file(path).pinyin]


def test_kokoro_is_the_default_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOTLINE_TTS_ENGINE", raising=False)
    settings = Settings()
    assert settings.tts_engine == "kokoro"
    assert settings.tts_threads in (1, 2)


def test_the_model_is_joined_from_the_wheels_and_checked(tmp_path: Path) -> None:
    path = kokoro.join_model(tmp_path / kokoro.MODEL_NAME)
    assert path.stat().st_size == kokoro.MODEL_SIZE
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == kokoro.MODEL_SHA256
    assert [p.name for p in tmp_path.iterdir()] == [kokoro.MODEL_NAME]  # no temporary file left


def test_vendored_voices_and_vocabulary() -> None:
    folder = REPO_ROOT / "data" / "models" / "kokoro-zh"
    assert {"zm_yunjian", "zf_xiaobei", "zf_xiaoyi"} <= set(kokoro.voices())
    assert "zf_xiaoni" not in kokoro.voices()  # poor tones: not offered
    for line in (folder / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
    assert kokoro.voice_pack("zm_yunjian").shape == (510, 1, 256)


def test_default_voice_speaks_at_the_asked_rates(kokoro_home: Path) -> None:
    text = "您好，这里是市民服务热线。"
    phone = synthesize(text, rate=8000)
    web = synthesize(text, rate=16000)
    assert soundfile.info(str(phone)).samplerate == 8000 and soundfile.info(str(web)).samplerate == 16000
    assert 0.15 * 11 <= _seconds(phone) <= 0.45 * 11  # 11 syllables at a natural rate, silence trimmed
    assert abs(_seconds(phone) - _seconds(web)) < 0.01  # one rendering, resampled
    samples, _ = soundfile.read(str(phone), dtype="int16")
    assert np.abs(samples).max() > 3000
    assert phone != synthesize(text, engine="espeak", rate=8000)  # the neural voice, not eSpeak


def test_round_trip_at_phone_rate_is_intelligible(kokoro_home: Path) -> None:
    """Kokoro at 8 kHz, recognised by the bundled recogniser: pinyin error <= 0.1 (eSpeak: ~0.6)."""
    path = synthesize(HOTLINE_SENTENCE, rate=8000)
    errors, total = pinyin_errors(normalize_for_speech(HOTLINE_SENTENCE), recognize_file(path).pinyin)
    assert errors / total <= 0.1, (errors, total, recognize_file(path).text)


def test_polyphones_are_heard_as_the_lexicon_reads_them(kokoro_home: Path) -> None:
    heard = _heard(synthesize("请到银行办理还款。", rate=16000))
    text = " ".join(heard)
    assert "yin hang" in text and "huan kuan" in text, heard


def test_letters_are_read_as_chinese_letter_names() -> None:
    assert kokoro.phonemes("下载APP") == kokoro.phonemes("下载诶皮皮")
    assert all(ch not in "PDF" for ch in kokoro.phonemes("打开PDF文件"))


def test_voice_and_speed_per_call_and_per_setting(kokoro_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = "请问还有什么可以帮您？"
    normal = synthesize(text)
    faster = synthesize(text, speed=1.3)
    female = synthesize(text, voice="zf_xiaobei")
    assert len({normal, faster, female}) == 3
    assert _seconds(faster) < _seconds(normal) * 0.9
    monkeypatch.setenv("HOTLINE_TTS_VOICE", "zf_xiaobei")
    reset_caches()
    assert synthesize(text) == female
    with pytest.raises(SpeechError, match="没有名为"):
        synthesize(text, voice="zf_nobody")


def test_first_clause_is_rendered_first(kokoro_home: Path) -> None:
    stream = synthesize_sentences(HOTLINE_SENTENCE, rate=8000)
    first = next(stream)
    assert first == synthesize("您好，", rate=8000)
    assert _seconds(first) < 1.2
    rest = list(stream)  # 这里是幺二三四五市民服务热线，| 请按一查询政策法规。
    assert len(rest) == 2 and _seconds(rest[0]) > 2 * _seconds(first)


def test_long_text_is_cut_below_the_model_limit(kokoro_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = "职工有下列情形之一的，可以提取本人住房公积金账户内的存储余额。" * 8
    ids = kokoro.phoneme_ids(normalize_for_speech(text))
    assert len(ids) > kokoro.MAX_IDS
    chunks = kokoro._chunks(ids)
    assert all(len(c) <= kokoro.MAX_IDS for c in chunks) and sum(map(len, chunks)) == len(ids)
    assert all(c[-1] in {kokoro.vocab()[p] for p in ",."} for c in chunks)  # cut at pauses
    monkeypatch.setattr(kokoro, "MAX_IDS", 60)  # the same cutting, on a text that renders quickly
    short = "职工有下列情形之一的，可以提取住房公积金。"
    assert len(kokoro.phoneme_ids(short)) > 60
    assert _seconds(synthesize(short, rate=8000)) > 0.15 * 20


def test_without_the_model_espeak_speaks(
    kokoro_home: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("HOTLINE_KOKORO_MODEL_PATH", str(kokoro_home / "missing.onnx"))
    reset_caches()
    with caplog.at_level(logging.WARNING, logger="speech.tts"):
        path = synthesize("您好，请讲。")
    assert path == synthesize("您好，请讲。", engine="espeak")
    assert "falling back to espeak" in caplog.text


def test_hotline_tts_end_to_end_offline_at_phone_rate(tmp_path: Path) -> None:
    """`hotline tts` in a fresh process with the default settings and every network connection refused:
    the model is found or joined, misaki and jieba fetch nothing, and the G.711 file is intelligible."""
    out = tmp_path / "prompt.wav"
    guard = tmp_path / "sitecustomize.py"
    guard.write_text(
        "import socket\n"
        "def _refuse(*args, **kwargs):\n"
        "    raise OSError('network use at run time')\n"
        "socket.socket.connect = _refuse\n"
        "socket.create_connection = _refuse\n"
        "socket.getaddrinfo = _refuse\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_TTS")}
    env.update(HOTLINE_HOME=str(tmp_path / "home"), PYTHONPATH=f"{tmp_path}{os.pathsep}{REPO_ROOT}")
    done = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "tts", HOTLINE_SENTENCE, "-o", str(out), "--codec", "ulaw"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "falling back" not in done.stderr
    assert list((tmp_path / "home" / "audio-cache").rglob("*.wav"))
    pcm = tmp_path / "decoded.wav"
    assert soundfile.info(str(out)).subtype == "ULAW"
    soundfile.write(str(pcm), soundfile.read(str(out), dtype="int16")[0], 8000, subtype="PCM_16")
    errors, total = pinyin_errors(normalize_for_speech(HOTLINE_SENTENCE), recognize_file(pcm).pinyin)
    assert errors / total <= 0.1


def test_warm_up_loads_the_model_once(kokoro_home: Path) -> None:
    import speech

    speech.warm_up()
    loaded = kokoro._session.cache_info()
    speech.warm_up()
    assert kokoro._session.cache_info().hits > loaded.hits and loaded.currsize >= 1
    speech.warm_up("espeak")  # nothing to load
