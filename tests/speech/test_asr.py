"""Speech recognition on the real Mandarin recordings: accuracy bounds, 8 kHz, streaming, grammar, digits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from speech import Recognition, SpeechError, open_stream, recognize_file, spoken_digits, synthesize
from speech.audio import read_wav, resample, to_int16, write_wav
from speech.metrics import char_errors, pinyin_errors
from tests.speech.conftest import SPEECH_DATA, recordings

MENU = ["政策法规", "办事指南", "人工服务", "办理进度", "留言", "是", "不是", "第一个", "第二个", "第三个"]
DIGITS = list("零一二三四五六七八九幺")


def _rate(errors: list[tuple[int, int]]) -> float:
    return sum(e for e, _ in errors) / sum(n for _, n in errors)


def test_free_recognition_on_real_recordings_within_error_bounds(speech_home: Path) -> None:
    results = [(recognize_file(path), text) for path, text in recordings()]
    assert len(results) == 10
    pinyin = _rate([pinyin_errors(text, r.pinyin) for r, text in results])
    with_tones = _rate([pinyin_errors(text, r.pinyin, tones=True) for r, text in results])
    cer = _rate([char_errors(text, r.text) for r, text in results])
    # measured 0.134 / 0.165 / 0.25 (bench/asr.py); the bounds leave a little room, not a lot
    assert pinyin <= 0.16 and with_tones <= 0.20 and cer <= 0.30, (pinyin, with_tones, cer)
    first = dict((p.name, r) for (r, _), (p, _) in zip(results, recordings(), strict=True))
    assert first["firered_BAC009S0764W0121.wav"].text.startswith("甚至出现交易几乎")
    assert first["rapidasr_asr_example_zh.wav"].pinyin[:4] == ["huan1", "ying2", "da4", "jia1"]


def test_telephone_rate_audio(speech_home: Path, tmp_path: Path) -> None:
    errors = []
    for path, text in recordings():
        samples, rate = read_wav(path)
        phone = write_wav(tmp_path / path.name, to_int16(resample(samples, rate, 8000)), 8000)
        errors.append(pinyin_errors(text, recognize_file(phone).pinyin))
    assert _rate(errors) <= 0.19  # measured 0.16 at 8 kHz


def test_streaming_matches_file_and_detects_the_end_of_speech(speech_home: Path) -> None:
    path = SPEECH_DATA / "wenet_BAC009S0724W0121.wav"
    samples, rate = read_wav(path)
    stream = open_stream(rate)
    pcm = samples.tobytes()
    for start in range(0, len(pcm), 1001):  # odd chunk sizes split samples between chunks
        stream.accept_pcm(pcm[start : start + 1001])
    assert not stream.timed_out
    silence = np.zeros(rate // 10, dtype=np.int16).tobytes()
    fed = 0
    while not stream.endpoint_detected and fed < 30:
        stream.accept_pcm(silence)
        fed += 1
    assert stream.endpoint_detected and 3 <= fed <= 20  # ends 0.8 s after speech, not at once
    result = stream.finish()
    assert result == recognize_file(path)
    assert stream.heard_speech and not stream.timed_out
    with pytest.raises(SpeechError, match="识别已结束"):
        stream.accept_pcm(silence)


def test_silence_times_out(speech_home: Path) -> None:
    stream = open_stream(8000)
    for _ in range(70):
        stream.accept_pcm(np.zeros(800, dtype=np.int16).tobytes())
        if stream.endpoint_detected:
            break
    assert stream.timed_out and 4.9 <= stream.seconds <= 6.5
    assert stream.finish() == Recognition(text="", words=[], pinyin=[])


def test_grammar_mode_on_real_recordings(speech_home: Path) -> None:
    grammar = ["三个问题", "政策法规", "人工服务"]
    assert recognize_file(SPEECH_DATA / "kws_test1.wav", grammar=grammar).words == ["三个问题"]
    grammar = ["广州市", "办事指南", "留言"]
    assert recognize_file(SPEECH_DATA / "wenet_BAC009S0724W0121.wav", grammar=grammar).words == ["广州市"]
    # nothing in the grammar was said: no guess
    assert recognize_file(SPEECH_DATA / "firered_IT0011W0001.wav", grammar=MENU).words == []


def test_grammar_mode_on_synthesised_menu_answers(speech_home: Path) -> None:
    cases = [
        ("我要办事指南", "办事指南"),
        ("我要人工服务", "人工服务"),
        ("留言", "留言"),
        ("是", "是"),
        ("第一个", "第一个"),
    ]
    for said, expected in cases:
        for rate in (8000, 16000):
            result = recognize_file(synthesize(said, rate=rate), grammar=MENU)
            assert result.words == [expected], (said, rate, result)
            assert result.text == expected


def test_spoken_digits_in_grammar_mode(speech_home: Path) -> None:
    # the offline voice is weak on running digits (docs/speech.md); spoken one by one at 16 kHz they come through
    result = recognize_file(synthesize("一，三，八，零，零", rate=16000), grammar=DIGITS)
    assert result.words == ["一", "三", "八", "零", "零"]
    assert spoken_digits(result.text) == "13800"


def test_free_mode_renders_digit_runs_as_digits() -> None:
    from hotline.config import BUNDLED_DATA
    from speech.asr import SHERPA_MODEL, _from_syllables

    said = ["wo3", "de", "hao4", "ma3", "shi4", "yao1", "san1", "ba1", "ling2", "ling2", "er4"]
    result = _from_syllables(said, None, BUNDLED_DATA / "models" / SHERPA_MODEL)
    assert result.text.startswith("我的号码是") and spoken_digits(result.text) == "138002"


def test_unknown_engine_and_bad_rate(speech_home: Path) -> None:
    with pytest.raises(SpeechError, match="未知的语音识别引擎"):
        open_stream(16000, engine="whisper")
    with pytest.raises(SpeechError, match="不支持的采样率 11025"):
        open_stream(11025)


def test_missing_model_is_a_clear_error(
    speech_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from hotline.db import reset_caches

    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "nodata"))
    reset_caches()
    with pytest.raises(SpeechError, match="语音识别模型文件缺失"):
        recognize_file(SPEECH_DATA / "firered_IT0011W0001.wav")


def test_recognition_serialises_for_the_cli() -> None:
    result = Recognition(text="人工服务", words=["人工服务"], pinyin=["ren2", "gong1", "fu2", "wu4"])
    assert json.loads(json.dumps(result.as_dict(), ensure_ascii=False))["pinyin"][0] == "ren2"
