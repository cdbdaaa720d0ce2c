"""Text to speech: engines behind one interface, a disk cache, sentence streaming and prompt pre-rendering.

Engines: "kokoro" (offline default: Kokoro-82M v1.0 with its Mandarin voice packs, speech/kokoro.py),
"espeak" (the light offline fallback: eSpeak NG 1.52 bundled in PyPI's espeakng-loader) and "edge"
(Microsoft's online neural voices via edge-tts; on any error or after settings.edge_tts_timeout seconds
it falls back to the offline engine). If the Kokoro model cannot be loaded, eSpeak speaks and a warning
is logged: a caller never hears silence. Why Kokoro is the default: docs/speech.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from speech import espeak, executors, kokoro
from speech.audio import SUPPORTED_RATES, resample, to_int16, write_wav
from speech.errors import SpeechError
from speech.normalize import normalize_for_speech, split_sentences

log = logging.getLogger(__name__)
FALLBACK_ENGINE = "espeak"  # always there, never falls back itself
OFFLINE_ENGINES = ("kokoro", "espeak")
ENGINES = ("kokoro", "espeak", "edge")
RETRY_ONLINE_AFTER = 60.0  # seconds an online engine is skipped after a failure
_online_down_until: dict[str, float] = {}
_rendering: dict[Path, threading.Lock] = {}  # cache files being rendered in this process
_rendering_guard = threading.Lock()
OFFLINE_ENGINE = FALLBACK_ENGINE  # old name


class TtsEngine(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def default_voice(self) -> str: ...

    @property
    def cache_key(self) -> str:
        """What, besides voice, rate and text, makes this engine's audio differ (cache file names)."""

    def render(self, text: str, voice: str) -> tuple[np.ndarray, int]:
        """Speak already normalised text; returns (samples, sample rate)."""


@lru_cache(maxsize=1)
def _lexicon_tag() -> str:
    from speech.lexicon import PRONUNCIATIONS

    return hashlib.sha256(repr(sorted(PRONUNCIATIONS.items())).encode()).hexdigest()[:8]


@dataclass(frozen=True)
class KokoroEngine:
    """The neural offline voice (speech/kokoro.py); speed 1.0 is the voice's normal rate."""

    speed: float = 1.0
    threads: int = 1
    name: str = "kokoro"
    default_voice: str = kokoro.DEFAULT_VOICE

    @property
    def cache_key(self) -> str:
        # a changed reading in the lexicon or the G2P renders the texts again
        return f"kokoro-v1.0-int8|g2p{kokoro.G2P_VERSION}-{_lexicon_tag()}|speed{self.speed:g}"

    def check_voice(self, voice: str) -> None:
        kokoro.voice_pack(voice)

    def render(self, text: str, voice: str) -> tuple[np.ndarray, int]:
        audio = kokoro.synthesize(text, voice=voice, speed=self.speed, threads=self.threads)
        return audio, kokoro.SAMPLE_RATE


@dataclass(frozen=True)
class EspeakEngine:
    name: str = "espeak"
    default_voice: str = "cmn"
    words_per_minute: int = 130

    @property
    def cache_key(self) -> str:
        return self.name

    def render(self, text: str, voice: str) -> tuple[np.ndarray, int]:
        return espeak.synthesize(text, voice=voice, words_per_minute=self.words_per_minute)


@dataclass(frozen=True)
class EdgeEngine:
    """Online neural voices; raises on any failure (the caller falls back)."""

    timeout: float
    name: str = "edge"
    default_voice: str = "zh-CN-XiaoxiaoNeural"

    @property
    def cache_key(self) -> str:
        return self.name

    def render(self, text: str, voice: str) -> tuple[np.ndarray, int]:
        import soundfile

        mp3 = _run_in_thread(self._fetch(text, voice), self.timeout)
        if not mp3:
            raise SpeechError("edge-tts 没有返回音频")
        samples, rate = soundfile.read(io.BytesIO(mp3), dtype="int16")
        return samples, rate

    async def _fetch(self, text: str, voice: str) -> bytes:
        import edge_tts

        communicate = edge_tts.Communicate(text, voice, connect_timeout=int(self.timeout) + 1)
        chunks = [chunk["data"] async for chunk in communicate.stream() if chunk["type"] == "audio"]
        return b"".join(chunks)


def _run_in_thread(coro, timeout: float) -> bytes:  # noqa: ANN001 - a coroutine
    """Run a coroutine on its own event loop (callers may be inside one), bounded by `timeout`."""
    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["value"] = asyncio.run(asyncio.wait_for(coro, timeout))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    if thread.is_alive():
        raise TimeoutError(f"edge-tts did not answer within {timeout} s")
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result["value"]  # type: ignore[return-value]


def get_engine(name: str | None = None, *, speed: float | None = None) -> TtsEngine:
    from hotline.config import get_settings

    settings = get_settings()
    name = name or settings.tts_engine
    if name == "kokoro":
        return KokoroEngine(speed=speed or settings.tts_speed, threads=settings.tts_threads)
    if name == "espeak":
        return EspeakEngine()
    if name == "edge":
        return EdgeEngine(timeout=settings.edge_tts_timeout)
    raise SpeechError(f"未知的语音合成引擎 {name!r}（可选：{'、'.join(ENGINES)}）")


def _fallback(engine: TtsEngine) -> TtsEngine:
    """The engine that speaks when `engine` fails: for an online one the configured offline engine
    (Kokoro unless eSpeak is configured), for Kokoro eSpeak."""
    from hotline.config import get_settings

    configured = get_settings().tts_engine
    if engine.name not in OFFLINE_ENGINES and configured in OFFLINE_ENGINES:
        return get_engine(configured)
    if engine.name not in OFFLINE_ENGINES:
        return get_engine("kokoro")
    return EspeakEngine()


def _cache_path(engine: str, voice: str, rate: int, text: str) -> Path:
    from hotline.config import get_settings

    key = hashlib.sha256(f"{engine}\x1f{voice}\x1f{rate}\x1f{text}".encode()).hexdigest()[:40]
    return get_settings().audio_cache_dir / key[:2] / f"{key}.wav"


def _render_cached(spoken: str, engine: TtsEngine, voice: str | None, rate: int) -> Path:
    if rate not in SUPPORTED_RATES:
        rates = "/".join(str(r) for r in SUPPORTED_RATES)
        raise SpeechError(f"不支持的输出采样率 {rate} Hz（支持 {rates} Hz）")
    voice = voice or _default_voice(engine)
    path = _cache_path(engine.cache_key, voice, rate, spoken)
    if path.exists():
        return path
    check_voice = getattr(engine, "check_voice", None)
    if check_voice is not None:
        check_voice(voice)  # a wrong voice name is the caller's error, not a reason to fall back
    with _rendering_guard:
        lock = _rendering.setdefault(path, threading.Lock())
    try:
        with lock:  # calls starting together ask for the same prompt: render it once in this process
            if path.exists():
                return path
            return _render(spoken, engine, voice, rate, path)
    finally:
        with _rendering_guard:
            _rendering.pop(path, None)


def _render(spoken: str, engine: TtsEngine, voice: str, rate: int, path: Path) -> Path:
    if engine.name not in OFFLINE_ENGINES and time.monotonic() < _online_down_until.get(engine.name, 0.0):
        return _render_cached(spoken, _fallback(engine), None, rate)  # failed a moment ago: don't wait again
    try:
        samples, source_rate = engine.render(spoken, voice)
    except Exception as exc:  # noqa: BLE001 - any failure of a better engine means: speak with the fallback
        if engine.name == FALLBACK_ENGINE:
            raise
        if engine.name not in OFFLINE_ENGINES:
            _online_down_until[engine.name] = time.monotonic() + RETRY_ONLINE_AFTER
        fallback = _fallback(engine)
        log.warning(
            "TTS engine %s failed (%s: %s); falling back to %s",
            engine.name,
            type(exc).__name__,
            exc,
            fallback.name,
        )
        return _render_cached(spoken, fallback, None, rate)
    if samples.size == 0:
        raise SpeechError("语音合成没有产生音频")
    audio = resample(samples, source_rate, rate) if source_rate != rate else samples
    return write_wav(path, to_int16(audio), rate)


def _default_voice(engine: TtsEngine) -> str:
    from hotline.config import get_settings

    configured = get_settings().tts_voice
    return configured if configured and engine.name == get_settings().tts_engine else engine.default_voice


def synthesize(
    text: str,
    *,
    engine: str | None = None,
    voice: str | None = None,
    rate: int = 8000,
    speed: float | None = None,
) -> Path:
    """Speak text into a cached mono 16-bit WAV at `rate` Hz; returns its path.

    engine, voice and speed default to the settings (HOTLINE_TTS_ENGINE, _VOICE, _SPEED)."""
    spoken = normalize_for_speech(text)
    if not spoken.strip("，。？！ \n"):
        raise SpeechError("没有可朗读的文字")
    return _render_cached(spoken, get_engine(engine, speed=speed), voice, rate)


def cached(
    text: str, *, engine: str | None = None, voice: str | None = None, rate: int = 8000, speed: float | None = None
) -> Path | None:
    """The WAV `synthesize` would return if it is in the cache already, else None (nothing is rendered)."""
    tts = get_engine(engine, speed=speed)
    path = _cache_path(tts.cache_key, voice or _default_voice(tts), rate, normalize_for_speech(text))
    return path if path.exists() else None


def _job_for(spoken: str, rate: int, priority: int = executors.BACKGROUND) -> tuple[TtsEngine, Path]:
    """The engine for a render at `priority` and the cache file it writes: what a caller waits for or
    is about to hear (NOW, AHEAD) is rendered on HOTLINE_TTS_URGENT_THREADS threads (Kokoro), the rest
    on HOTLINE_TTS_THREADS; the cache file does not depend on the thread count."""
    tts = get_engine()
    if isinstance(tts, KokoroEngine) and priority < executors.BACKGROUND:
        tts = _urgent(tts)
    return tts, _cache_path(tts.cache_key, _default_voice(tts), rate, spoken)


def _urgent(tts: KokoroEngine) -> KokoroEngine:
    """The engine for renders a caller waits for or is about to hear (HOTLINE_TTS_URGENT_THREADS)."""
    from hotline.config import get_settings

    return replace(tts, threads=max(tts.threads, get_settings().tts_urgent_threads))


def cached_part(part: str, *, rate: int = 8000) -> Path | None:
    """The WAV of one of `sentence_parts` (already normalised) if it is in the cache, else None."""
    path = _job_for(part, rate)[1]
    return path if path.exists() else None


def quick_parts(text: str, *, rate: int = 8000, longest: int = 24) -> list[str]:
    """`sentence_parts(text, quick=True)` for a text a caller waits for and nothing of which is cached,
    but that begins with words that are: the longest such beginning (up to `longest` characters, e.g. a
    template's fixed words rendered at start: "您是想咨询") is its first part, played at once while the
    rest, in quick parts, is rendered (unless its own quick parts were cached by a caller before)."""
    spoken = normalize_for_speech(text)
    quick = _parts(spoken, quick=True)
    if not quick or cached_part(quick[0], rate=rate):
        return quick
    for n in range(min(longest, len(spoken) - 1), 1, -1):
        if cached_part(spoken[:n], rate=rate) and (rest := _parts(spoken[n:], quick=True)):
            return [spoken[:n], *rest]
    return quick


async def render(spoken: str, *, rate: int = 8000, priority: int = executors.NOW) -> Path:
    """Speak already normalised text (a part, or a whole prompt) into a cached WAV, in the TTS pool at
    `priority` (speech.executors): a cached one is answered without a thread hop; the same text asked
    for by several calls at once is rendered once; cancelling the awaiting task drops a render that
    has not started."""
    tts, path = _job_for(spoken, rate, priority)
    if path.exists():
        return path
    return await executors.tts_pool.run(_render_cached, spoken, tts, None, rate, priority=priority, key=path)


def _render_in_pool(spoken: str, rate: int, priority: int) -> Path:
    """`render` for a thread that is not on an event loop (prerendering)."""
    tts, path = _job_for(spoken, rate, priority)
    if path.exists():
        return path
    return executors.tts_pool.call(_render_cached, spoken, tts, None, rate, priority=priority, key=path)


def sentence_parts(text: str, *, quick: bool = False) -> list[str]:
    """Text normalised for speech, in the parts it is spoken in one by one: the first clause first
    ("您好，"), then parts that grow with what has been said (speech.normalize.split_sentences; quick:
    shorter parts for a text that is not in the cache while a caller waits)."""
    return _parts(normalize_for_speech(text), quick=quick)


def _parts(spoken: str, *, quick: bool) -> list[str]:
    """`sentence_parts` of text already normalised for speech (parts with something to say)."""
    return [s for s in split_sentences(spoken, first_clause=True, quick=quick) if s.strip("，。？！ ")]


def synthesize_part(
    part: str,
    *,
    engine: str | None = None,
    voice: str | None = None,
    rate: int = 8000,
    speed: float | None = None,
) -> Path:
    """Speak one of `sentence_parts` (already normalised) into a cached WAV."""
    return _render_cached(part, get_engine(engine, speed=speed), voice, rate)


def synthesize_sentences(
    text: str,
    *,
    engine: str | None = None,
    voice: str | None = None,
    rate: int = 8000,
    speed: float | None = None,
    ahead: int = 1,
) -> Iterator[Path]:
    """Speak text part by part (`sentence_parts`): each WAV is yielded as soon as it is rendered, and up
    to `ahead` parts after it are rendered meanwhile (one background thread) so that the next part is
    ready when the listener has heard this one. Closing the generator stops rendering after the part in
    progress. (The IVR's channels do the same in asyncio: selfservice.channel.SpokenParts.)"""
    tts = get_engine(engine, speed=speed)
    parts = sentence_parts(text)
    if not parts:
        raise SpeechError("没有可朗读的文字")
    if ahead <= 0 or len(parts) == 1:
        for part in parts:
            yield _render_cached(part, tts, voice, rate)
        return
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tts-ahead")
    pending: deque[Future[Path]] = deque()
    queue = iter(parts)
    try:
        for part in queue:
            pending.append(pool.submit(_render_cached, part, tts, voice, rate))
            if len(pending) > ahead:
                break
        while pending:
            path = pending.popleft().result()
            following = next(queue, None)
            if following is not None:
                pending.append(pool.submit(_render_cached, following, tts, voice, rate))
            yield path
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=False)


def warm_up(engine: str | None = None) -> None:
    """Load the engine's model and dictionaries now (Kokoro: ~1-2 s, once per process), e.g. when a
    worker starts, so that the first caller does not wait for it."""
    tts = get_engine(engine)
    if isinstance(tts, KokoroEngine):
        kokoro.session(tts.threads)
        kokoro.session(_urgent(tts).threads)
        kokoro.phonemes("您好")


def prerender(
    prompts: Iterable[str],
    *,
    engine: str | None = None,
    voice: str | None = None,
    rate: int = 8000,
    speed: float | None = None,
) -> dict[str, Path]:
    """Render (or find in the cache) every prompt, e.g. all menu prompts at start-up. With the
    configured engine and voice, renders go through the TTS pool behind any caller's (BACKGROUND)."""
    if engine is None and voice is None and speed is None:
        spoken = {prompt: normalize_for_speech(prompt) for prompt in prompts}
        if any(not text.strip("，。？！ \n") for text in spoken.values()):
            raise SpeechError("没有可朗读的文字")
        return {prompt: _render_in_pool(text, rate, executors.BACKGROUND) for prompt, text in spoken.items()}
    return {
        prompt: synthesize(prompt, engine=engine, voice=voice, rate=rate, speed=speed) for prompt in prompts
    }


def prerender_part(part: str, *, rate: int = 8000) -> Path:
    """Render one of `sentence_parts` into the cache ahead of any caller (BACKGROUND in the TTS pool)."""
    return _render_in_pool(part, rate, executors.BACKGROUND)
