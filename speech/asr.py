"""Speech recognition: streaming recognisers behind one interface (sherpa-onnx pinyin zipformer, Vosk).

Audio arrives as 16-bit mono PCM at 8 kHz (telephone), 16 kHz (web) or another supported rate and is
resampled (numpy polyphase, seamless across chunks) to the models' 16 kHz. Endpointing: the utterance ends after `end_silence` seconds of silence
following speech, or after `no_speech_timeout` seconds without any speech, or at `max_seconds`.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from speech.audio import SUPPORTED_RATES, StreamResampler, read_wav, to_float
from speech.errors import SpeechError
from speech.grammar import match_grammar
from speech.lexicon import load_lexicon, pinyin_to_words
from speech.syllables import join_tokens, toneless

SHERPA_MODEL = "sherpa-zipformer-pinyin-3.3M"
MODEL_RATE = 16000
ENGINES = ("sherpa", "vosk")


@dataclass
class Recognition:
    """What was said: `text` (best Chinese rendering), `words`, and `pinyin` syllables (tone3, e.g. "zheng4")."""

    text: str
    words: list[str] = field(default_factory=list)
    pinyin: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"text": self.text, "words": self.words, "pinyin": self.pinyin}


@dataclass(frozen=True)
class Endpointing:
    end_silence: float = 0.8
    no_speech_timeout: float = 5.0
    max_seconds: float = 20.0


class StreamingRecognizer(ABC):
    """Feed PCM as it arrives; poll `endpoint_detected`; `finish()` gives the Recognition."""

    def __init__(self, sample_rate: int, grammar: list[str] | None) -> None:
        if sample_rate not in SUPPORTED_RATES:
            rates = "/".join(str(r) for r in SUPPORTED_RATES)
            raise SpeechError(f"不支持的采样率 {sample_rate} Hz（支持 {rates} Hz）")
        self.sample_rate = sample_rate
        self.grammar = [w.strip() for w in grammar if w.strip()] if grammar else None
        self.seconds = 0.0
        self._odd_byte = b""
        self._resampler = StreamResampler(sample_rate, MODEL_RATE)
        self._finished: Recognition | None = None

    def accept_pcm(self, data: bytes) -> None:
        """Append 16-bit little-endian mono PCM (any chunk size)."""
        if self._finished is not None:
            raise SpeechError("识别已结束，不能再送入音频")
        data = self._odd_byte + data
        cut = len(data) - len(data) % 2
        self._odd_byte = data[cut:]
        samples = np.frombuffer(data[:cut], dtype="<i2")
        if samples.size:
            self.seconds += samples.size / self.sample_rate
            self._accept(self._resampler.process(to_float(samples.astype(np.int16))))

    @property
    @abstractmethod
    def endpoint_detected(self) -> bool:
        """True once the caller stopped speaking, never spoke within the timeout, or spoke too long."""

    @property
    @abstractmethod
    def heard_speech(self) -> bool:
        """True once anything was recognised."""

    @property
    def timed_out(self) -> bool:
        """Endpoint without any speech: the caller said nothing."""
        return self.endpoint_detected and not self.heard_speech

    def finish(self) -> Recognition:
        """Flush the audio and return the result (idempotent)."""
        if self._finished is None:
            self._finished = self._finish()
        return self._finished

    @abstractmethod
    def _accept(self, samples: np.ndarray) -> None:
        """Take float32 samples at MODEL_RATE."""

    @abstractmethod
    def _finish(self) -> Recognition: ...


def _from_syllables(syllables: list[str], grammar: list[str] | None, model_dir: Path) -> Recognition:
    plain = [toneless(s) if not s.isupper() else s.lower() for s in syllables]
    if grammar is not None:
        words = match_grammar(plain, grammar)
    else:
        words = pinyin_to_words(plain, load_lexicon(model_dir / "lexicon.tsv"))
    return Recognition(text="".join(words), words=words, pinyin=syllables)


class SherpaRecognizer(StreamingRecognizer):
    """sherpa-onnx streaming zipformer with pinyin output; grammar by phrase matching on the pinyin."""

    def __init__(
        self, sample_rate: int, grammar: list[str] | None, model_dir: Path, endpointing: Endpointing
    ):
        super().__init__(sample_rate, grammar)
        self.model_dir = model_dir
        self._recognizer = _sherpa_recognizer(model_dir, endpointing)
        self._stream = self._recognizer.create_stream()
        self._endpoint = False
        self._max_seconds = endpointing.max_seconds

    def _accept(self, samples: np.ndarray) -> None:
        self._stream.accept_waveform(MODEL_RATE, samples)
        while self._recognizer.is_ready(self._stream):
            self._recognizer.decode_stream(self._stream)
        if not self._endpoint:
            self._endpoint = self._recognizer.is_endpoint(self._stream) or self.seconds >= self._max_seconds

    @property
    def endpoint_detected(self) -> bool:
        return self._endpoint

    @property
    def heard_speech(self) -> bool:
        return bool(self._recognizer.get_result_all(self._stream).tokens)

    def _finish(self) -> Recognition:
        tail = np.zeros(MODEL_RATE // 2, dtype=np.float32)  # lets the last syllable out
        self._stream.accept_waveform(MODEL_RATE, tail)
        self._stream.input_finished()
        while self._recognizer.is_ready(self._stream):
            self._recognizer.decode_stream(self._stream)
        tokens = list(self._recognizer.get_result_all(self._stream).tokens)
        return _from_syllables(join_tokens(tokens), self.grammar, self.model_dir)


@lru_cache(maxsize=4)
def _sherpa_recognizer(model_dir: Path, endpointing: Endpointing):  # noqa: ANN202 - sherpa_onnx type
    import sherpa_onnx

    files = {
        "tokens": model_dir / "tokens.txt",
        "encoder": model_dir / "encoder.int8.onnx",
        "decoder": model_dir / "decoder.onnx",
        "joiner": model_dir / "joiner.int8.onnx",
    }
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise SpeechError(f"语音识别模型文件缺失：{', '.join(missing)}（运行 scripts/build_speech_data.py）")
    return sherpa_onnx.OnlineRecognizer.from_transducer(
        **{k: str(v) for k, v in files.items()},
        num_threads=1,
        sample_rate=16000,
        feature_dim=80,
        decoding_method="greedy_search",
        model_type="zipformer2",
        enable_endpoint_detection=True,
        rule1_min_trailing_silence=endpointing.no_speech_timeout,
        rule2_min_trailing_silence=endpointing.end_silence,
        rule3_min_utterance_length=endpointing.max_seconds,
    )


class VoskRecognizer(StreamingRecognizer):
    """Vosk (Kaldi) with its own endpointer; grammar through Vosk's phrase list."""

    def __init__(
        self, sample_rate: int, grammar: list[str] | None, model_path: Path | None, endpointing: Endpointing
    ):
        super().__init__(sample_rate, grammar)
        import vosk

        model = _vosk_model(model_path)
        if self.grammar:
            phrases = json.dumps(vosk_grammar(self.grammar), ensure_ascii=False)
            self._recognizer = vosk.KaldiRecognizer(model, MODEL_RATE, phrases)
        else:
            self._recognizer = vosk.KaldiRecognizer(model, MODEL_RATE)
        self._recognizer.SetWords(True)
        self._endpointing = endpointing
        self._segments: list[str] = []
        self._partial = ""
        self._endpoint = False

    def _accept(self, samples: np.ndarray) -> None:
        pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
        if self._recognizer.AcceptWaveform(pcm):
            text = json.loads(self._recognizer.Result()).get("text", "")
            if text:
                self._segments.append(text)
                self._endpoint = True
            self._partial = ""
        else:
            self._partial = json.loads(self._recognizer.PartialResult()).get("partial", "")
        if not self._segments and not self._partial and self.seconds >= self._endpointing.no_speech_timeout:
            self._endpoint = True
        if self.seconds >= self._endpointing.max_seconds:
            self._endpoint = True

    @property
    def endpoint_detected(self) -> bool:
        return self._endpoint

    @property
    def heard_speech(self) -> bool:
        return bool(self._segments or self._partial)

    def _finish(self) -> Recognition:
        final = json.loads(self._recognizer.FinalResult()).get("text", "")
        return vosk_recognition(" ".join([*self._segments, final]), self.grammar)


def vosk_recognition(result_text: str, grammar: list[str] | None) -> Recognition:
    """Vosk's space-separated result as a Recognition; in grammar mode the words are the grammar phrases."""
    words = [w for w in result_text.split() if w != "[unk]"]
    pinyin = _pinyin_of(words)
    if grammar and pinyin:  # Chinese phrases were split into words for Vosk: give back the phrases
        words = match_grammar([toneless(s) for s in pinyin], grammar)
    return Recognition(text=_join_words(words), words=words, pinyin=pinyin)


def vosk_grammar(phrases: list[str]) -> list[str]:
    """Vosk's phrase list: Chinese phrases as jieba words and, as a fallback for words missing from the
    model's vocabulary (Vosk ignores those phrases), as single characters; other phrases as they are."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    entries: list[str] = []
    for phrase in phrases:
        if any(_is_cjk(ch) for ch in phrase):
            entries.append(" ".join(jieba.lcut(phrase, HMM=False)))
            entries.append(" ".join(ch for ch in phrase if not ch.isspace()))
        else:
            entries.append(phrase)
    return [*dict.fromkeys(entries), "[unk]"]


def _join_words(words: list[str]) -> str:
    """Chinese words join without spaces; other scripts keep them."""
    text = ""
    for word in words:
        if text and not (_is_cjk(text[-1]) and _is_cjk(word[0])):
            text += " "
        text += word
    return text


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def _pinyin_of(words: list[str]) -> list[str]:
    from pypinyin import Style, lazy_pinyin

    return lazy_pinyin("".join(w for w in words if all(_is_cjk(c) for c in w)), style=Style.TONE3)


@lru_cache(maxsize=2)
def _vosk_model(model_path: Path | None):  # noqa: ANN202 - vosk type
    import vosk

    if model_path is None:
        raise SpeechError(
            "未配置 Vosk 模型：请下载 vosk-model-small-cn-0.22 并设置 HOTLINE_VOSK_MODEL_PATH 为其目录"
        )
    if not (Path(model_path) / "am").is_dir() and not (Path(model_path) / "conf").is_dir():
        raise SpeechError(f"Vosk 模型目录不存在或不完整：{model_path}")
    vosk.SetLogLevel(-2)
    try:
        return vosk.Model(str(model_path))
    except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
        raise SpeechError(f"无法加载 Vosk 模型：{model_path}（{exc}）") from exc


def open_stream(
    sample_rate: int,
    *,
    grammar: list[str] | None = None,
    engine: str | None = None,
    endpointing: Endpointing | None = None,
) -> StreamingRecognizer:
    """A new streaming recogniser for 16-bit mono PCM at `sample_rate` (8000 or 16000 typically)."""
    from hotline.config import get_settings

    settings = get_settings()
    name = engine or settings.asr_engine
    endpointing = endpointing or Endpointing()
    if name == "sherpa":
        return SherpaRecognizer(
            sample_rate, grammar, settings.data_dir / "models" / SHERPA_MODEL, endpointing
        )
    if name == "vosk":
        return VoskRecognizer(sample_rate, grammar, settings.vosk_model_path, endpointing)
    raise SpeechError(f"未知的语音识别引擎 {name!r}（可选：{'、'.join(ENGINES)}）")


def recognize_file(
    path: str | Path, *, grammar: list[str] | None = None, engine: str | None = None
) -> Recognition:
    """Recognise a whole mono 16-bit WAV file; raises SpeechError on unusable audio."""
    samples, rate = read_wav(Path(path))
    stream = open_stream(rate, grammar=grammar, engine=engine, endpointing=Endpointing(max_seconds=3600.0))
    chunk = rate // 10
    pcm = samples.astype("<i2").tobytes()
    for start in range(0, len(pcm), chunk * 2):
        stream.accept_pcm(pcm[start : start + chunk * 2])
    return stream.finish()
