"""eSpeak NG through ctypes: the library and voice data bundled in PyPI's espeakng-loader (1.52)."""

from __future__ import annotations

import ctypes
import threading
from functools import lru_cache

import numpy as np

from speech.errors import SpeechError

AUDIO_OUTPUT_SYNCHRONOUS = 2
ESPEAK_CHARS_UTF8 = 1
ESPEAK_RATE = 1
POS_CHARACTER = 1
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
_lock = threading.Lock()
_chunks: list[np.ndarray] = []


@_CALLBACK
def _collect(wav: ctypes.POINTER(ctypes.c_short), count: int, _events: ctypes.c_void_p) -> int:  # type: ignore[valid-type]
    if count > 0 and wav:
        _chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
    return 0


@lru_cache(maxsize=1)
def _library() -> tuple[ctypes.CDLL, int]:
    """Load and initialise libespeak-ng once; returns (library, sample rate)."""
    try:
        import espeakng_loader
    except ImportError as exc:
        raise SpeechError(
            "离线语音合成不可用：未安装 espeakng-loader（pip install espeakng-loader）"
        ) from exc
    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_Synth.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.c_void_p,
        ctypes.c_void_p,
    ]
    rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0)
    if rate <= 0:
        raise SpeechError("离线语音合成初始化失败（espeak-ng 数据目录无效）")
    lib.espeak_SetSynthCallback(_collect)
    return lib, rate


def synthesize(text: str, *, voice: str = "cmn", words_per_minute: int = 160) -> tuple[np.ndarray, int]:
    """Speak text with an eSpeak NG voice; returns (int16 samples, sample rate)."""
    with _lock:
        lib, rate = _library()
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise SpeechError(f"espeak-ng 没有名为 {voice} 的声音")
        lib.espeak_SetParameter(ESPEAK_RATE, words_per_minute, 0)
        data = text.encode("utf-8") + b"\0"
        _chunks.clear()
        status = lib.espeak_Synth(data, len(data), 0, POS_CHARACTER, 0, ESPEAK_CHARS_UTF8, None, None)
        if status != 0:
            raise SpeechError(f"espeak-ng 合成失败（错误码 {status}）")
        samples = np.concatenate(_chunks) if _chunks else np.zeros(0, dtype=np.int16)
        _chunks.clear()
    return samples.astype(np.int16), rate
