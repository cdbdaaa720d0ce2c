"""Text to speech: valid audio at the asked rate, the cache, sentence streaming, edge-tts fallback."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

import speech
from hotline.db import reset_caches
from speech import SpeechError, espeak, recognize_file, synthesize, synthesize_sentences
from speech import tts as tts_module


def _duration(path: Path) -> float:
    info = soundfile.info(str(path))
    assert info.channels == 1 and info.subtype == "PCM_16"
    return info.frames / info.samplerate


@pytest.mark.parametrize("rate", [8000, 16000, 24000])
def test_synthesize_gives_mono_16bit_wav_at_the_rate(speech_home: Path, rate: int) -> None:
    text = "您好，这里是市民服务热线。"
    path = synthesize(text, rate=rate)
    assert soundfile.info(str(path)).samplerate == rate
    seconds = _duration(path)
    assert 0.15 * 11 <= seconds <= 0.6 * 11  # 11 syllables at a plausible speaking rate
    samples, _ = soundfile.read(str(path), dtype="int16")
    assert np.abs(samples).max() > 3000  # not silence
    assert path.is_relative_to(speech_home / "audio-cache")


def test_numbers_are_read_as_normalised(speech_home: Path) -> None:
    # 12345 read digit by digit is five syllables; the same digits as an amount are nine (一万二千三百四十五)
    hotline = _duration(synthesize("12345"))
    amount = _duration(synthesize("12345元"))
    assert amount > hotline * 1.4
    assert synthesize("12345") == synthesize("幺二三四五")  # the cache key is the spoken text


def test_cache_hit_does_not_call_the_engine(speech_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = synthesize("请问还有什么可以帮您？")
    mtime = first.stat().st_mtime_ns

    def engine_must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("engine called on a cache hit")

    monkeypatch.setattr(espeak, "synthesize", engine_must_not_run)
    assert synthesize("请问还有什么可以帮您？") == first
    assert first.stat().st_mtime_ns == mtime
    assert synthesize("请问还有什么可以帮您？", rate=8000) == first
    with pytest.raises(AssertionError):
        synthesize("请问还有什么可以帮您？", rate=16000)  # another rate is another entry


def test_synthesize_sentences_yields_first_sentence_before_rendering_the_rest(
    speech_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = espeak.synthesize

    def counting(text: str, **kwargs: object):
        calls.append(text)
        return real(text, **kwargs)

    monkeypatch.setattr(espeak, "synthesize", counting)
    stream = synthesize_sentences("第一句话。第二句话比较长一些。第三句话！", rate=16000, ahead=0)
    first = next(stream)
    assert calls == ["第一句话。"]
    rest = list(stream)
    assert len(rest) == 2 and calls[1:] == ["第二句话比较长一些。", "第三句话！"]
    assert _duration(first) < _duration(rest[0])


def test_synthesize_sentences_speaks_the_first_clause_first_and_renders_ahead(
    speech_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = espeak.synthesize

    def counting(text: str, **kwargs: object):
        calls.append(text)
        return real(text, **kwargs)

    monkeypatch.setattr(espeak, "synthesize", counting)
    text = "您好，这里是12345市民服务热线。请问有什么可以帮您？谢谢。"  # 3, 15, then 13 <= 18 characters
    stream = synthesize_sentences(text, rate=8000)
    first = next(stream)
    assert calls[0] == "您好，"
    assert first == synthesize("您好，")
    assert [first, *stream] == [
        synthesize(part) for part in ("您好，", "这里是12345市民服务热线。", "请问有什么可以帮您？谢谢。")
    ]
    assert calls == ["您好，", "这里是幺二三四五市民服务热线。", "请问有什么可以帮您？谢谢。"]


def test_closing_the_sentence_stream_stops_rendering(speech_home: Path) -> None:
    stream = synthesize_sentences("第一句。" + "".join(f"第{n}句话。" for n in range(2, 30)), rate=8000)
    next(stream)
    stream.close()  # the caller hung up
    time.sleep(0.3)
    assert len(list((speech_home / "audio-cache").rglob("*.wav"))) <= 3


def test_prerender_renders_each_prompt_once(speech_home: Path) -> None:
    prompts = ["欢迎致电12345热线。", "查询政策法规请按1。", "转人工服务请按0。"]
    paths = speech.prerender(prompts)
    assert list(paths) == prompts and len(set(paths.values())) == 3
    assert speech.prerender(prompts) == paths


def test_bad_requests_are_clear_errors(speech_home: Path) -> None:
    with pytest.raises(SpeechError, match="没有可朗读的文字"):
        synthesize("  。，")
    with pytest.raises(SpeechError, match="不支持的输出采样率"):
        synthesize("你好", rate=12345)
    with pytest.raises(SpeechError, match="未知的语音合成引擎"):
        synthesize("你好", engine="nope")
    with pytest.raises(SpeechError, match="没有名为"):
        synthesize("你好", voice="no-such-voice")
    assert not list((speech_home / "audio-cache").rglob("*.wav"))  # nothing half-written


def test_round_trip_menu_phrases(speech_home: Path) -> None:
    """Synthesise at phone rate, recognise in grammar mode: the offline voice is intelligible enough."""
    menu = [
        "政策法规",
        "办事指南",
        "人工服务",
        "办理进度",
        "留言",
        "是",
        "不是",
        "第一个",
        "第二个",
        "第三个",
    ]
    for said, expected in [
        ("我要人工服务", "人工服务"),
        ("办事指南", "办事指南"),
        ("不是", "不是"),
        ("第二个", "第二个"),
    ]:
        result = recognize_file(synthesize(said, rate=8000), grammar=menu)
        assert result.words == [expected], (said, result)


@pytest.fixture(autouse=True)
def _online_engines_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tts_module, "_online_down_until", {})


def test_edge_tts_offline_falls_back_to_espeak_quickly(speech_home: Path) -> None:
    """The real edge-tts client, with no internet here: it fails and the offline voice speaks."""
    started = time.monotonic()
    path = synthesize("您好，请讲。", engine="edge")
    elapsed = time.monotonic() - started
    assert elapsed < 5.0 + 2.0  # bounded by settings.edge_tts_timeout
    assert path == synthesize("您好，请讲。", engine="espeak")  # cached under the engine that spoke
    assert _duration(path) > 0.5


def _fake_edge_mp3(seconds: float = 1.0, rate: int = 24000) -> bytes:
    """Named fake of the online service: an MP3 like edge-tts returns (24 kHz mono)."""
    t = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    soundfile.write(buffer, 0.3 * np.sin(2 * np.pi * 300 * t), rate, format="MP3")
    return buffer.getvalue()


def test_edge_tts_success_path_with_fake_service(speech_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def fake_edge_service(self, text: str, voice: str) -> bytes:
        assert voice == "zh-CN-XiaoxiaoNeural"
        return _fake_edge_mp3()

    monkeypatch.setattr(tts_module.EdgeEngine, "_fetch", fake_edge_service)
    path = synthesize("在线语音", engine="edge", rate=16000)
    assert path != synthesize("在线语音", engine="espeak", rate=16000)
    assert soundfile.info(str(path)).samplerate == 16000
    assert 0.9 <= _duration(path) <= 1.2


def test_edge_tts_timeout_falls_back(speech_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    monkeypatch.setenv("HOTLINE_EDGE_TTS_TIMEOUT", "0.5")
    reset_caches()

    asked: list[str] = []

    async def hanging_edge_service(self, text: str, voice: str) -> bytes:
        asked.append(text)
        await asyncio.sleep(30)
        return b""

    monkeypatch.setattr(tts_module.EdgeEngine, "_fetch", hanging_edge_service)
    started = time.monotonic()
    path = synthesize("请稍候。", engine="edge")
    assert time.monotonic() - started < 2.0
    assert path == synthesize("请稍候。", engine="espeak")
    # for a minute the failed service is not asked again: the next prompt does not wait for it
    assert synthesize("下一句。", engine="edge") == synthesize("下一句。", engine="espeak")
    assert asked == ["请稍候。"]


def test_concurrent_requests_for_one_prompt_give_one_complete_file(
    speech_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    calls: list[str] = []
    real = espeak.synthesize

    def slow_counting(text: str, **kwargs: object):
        calls.append(text)
        time.sleep(0.2)
        return real(text, **kwargs)

    monkeypatch.setattr(espeak, "synthesize", slow_counting)

    with ThreadPoolExecutor(max_workers=4) as pool:
        paths = list(pool.map(lambda _: synthesize("同时请求同一句提示。", rate=16000), range(8)))
    assert len(set(paths)) == 1
    assert soundfile.info(str(paths[0])).frames > 16000
    assert [p.name for p in paths[0].parent.iterdir()] == [paths[0].name]  # no temporary files left
    assert len(calls) == 1  # rendered once, the other requests waited for it
