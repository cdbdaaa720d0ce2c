"""WAV reading with validation, writing, and polyphase resampling in numpy."""

from __future__ import annotations

import io
import uuid
import wave
from functools import lru_cache
from math import gcd
from pathlib import Path

import numpy as np

from speech.errors import SpeechError

SUPPORTED_RATES = (8000, 16000, 22050, 24000, 44100, 48000)


def read_wav(source: str | Path | bytes) -> tuple[np.ndarray, int]:
    """Read a mono 16-bit PCM WAV; returns (int16 samples, sample rate) or raises SpeechError."""
    name = "音频数据" if isinstance(source, bytes) else str(source)
    try:
        handle = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")  # noqa: SIM115
    except FileNotFoundError as exc:
        raise SpeechError(f"找不到音频文件：{name}") from exc
    except OSError as exc:
        raise SpeechError(f"无法读取音频文件：{name}（{exc.strerror}）") from exc
    with handle:
        try:
            with wave.open(handle, "rb") as wav:
                channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
                frames = wav.readframes(wav.getnframes())
        except (wave.Error, EOFError) as exc:
            raise SpeechError(f"不是有效的 WAV 文件（需要单声道 16 位 PCM）：{name}") from exc
    if channels != 1:
        raise SpeechError(f"音频须为单声道，此文件有 {channels} 个声道：{name}")
    if width != 2:
        raise SpeechError(f"音频须为 16 位 PCM，此文件为 {width * 8} 位：{name}")
    if rate not in SUPPORTED_RATES:
        rates = "/".join(str(r) for r in SUPPORTED_RATES)
        raise SpeechError(f"不支持的采样率 {rate} Hz（支持 {rates} Hz）：{name}")
    # a truncated file ends early, maybe mid-sample: what is there is read, a half sample dropped
    samples = np.frombuffer(frames[: len(frames) - len(frames) % 2], dtype="<i2")
    if samples.size == 0:
        raise SpeechError(f"音频为空（没有采样点）：{name}")
    return samples.astype(np.int16), rate


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    """Encode int16 (or float in [-1, 1]) mono samples as a 16-bit PCM WAV."""
    pcm = to_int16(samples)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.astype("<i2").tobytes())
    return buffer.getvalue()


def write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    """Write a WAV atomically (temporary file, then rename) so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")  # unique: concurrent writers never collide
    tmp.write_bytes(wav_bytes(samples, rate))
    tmp.replace(path)
    return path


def to_int16(samples: np.ndarray) -> np.ndarray:
    if samples.dtype == np.int16:
        return samples
    return (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype(np.int16)


def to_float(samples: np.ndarray) -> np.ndarray:
    """int16 -> float32 in [-1, 1)."""
    if samples.dtype == np.int16:
        return samples.astype(np.float32) / 32768.0
    return samples.astype(np.float32)


@lru_cache(maxsize=16)
def _polyphase_filter(up: int, down: int, half_width: int = 16) -> np.ndarray:
    """Kaiser-windowed sinc low-pass at the lower Nyquist, scaled for zero-stuffing by `up`."""
    cutoff = 1.0 / max(up, down)
    taps = 2 * half_width * max(up, down) + 1
    n = np.arange(taps) - (taps - 1) / 2
    h = np.sinc(cutoff * n) * np.kaiser(taps, 8.0)
    h = h / h.sum() * up
    padded = np.zeros(-(-taps // up) * up)
    padded[:taps] = h
    return padded


def _polyphase(x: np.ndarray, offset: int, first: int, last: int, up: int, down: int) -> np.ndarray:
    """Outputs first..last-1 of resampling by up/down; x holds input samples from absolute index offset."""
    h = _polyphase_filter(up, down)
    delay = 16 * max(up, down)
    j = np.arange(h.size // up)
    out = np.empty(max(0, last - first), dtype=np.float32)
    for start in range(first, last, 8192):
        # output n sits at n*down on the upsampled grid; tap phase + j*up meets input sample base - j
        pos = np.arange(start, min(start + 8192, last), dtype=np.int64) * down + delay
        phase, base = pos % up, pos // up
        src_idx = base[:, None] - j[None, :] - offset
        valid = (src_idx >= 0) & (src_idx < x.size)
        values = np.where(valid, x[np.clip(src_idx, 0, max(x.size - 1, 0))], 0.0)
        out[start - first : start - first + pos.size] = (values * h[phase[:, None] + j[None, :] * up]).sum(
            axis=1
        )
    return out


def _ratio(src_rate: int, dst_rate: int) -> tuple[int, int]:
    g = gcd(src_rate, dst_rate)
    return dst_rate // g, src_rate // g


def resample(samples: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Rational polyphase resampling of a whole signal (float32 out); no scipy needed."""
    x = to_float(samples).astype(np.float64)
    if src_rate == dst_rate or x.size == 0:
        return x.astype(np.float32)
    up, down = _ratio(src_rate, dst_rate)
    return _polyphase(x, 0, 0, (x.size * up) // down, up, down)


class StreamResampler:
    """The same resampler for audio that arrives in chunks, without seams between them."""

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        self.up, self.down = _ratio(src_rate, dst_rate)
        self._history = _polyphase_filter(self.up, self.down).size // self.up
        self._buffer = np.zeros(0, dtype=np.float64)
        self._offset = 0  # absolute index of _buffer[0]
        self._next = 0  # next output index

    def process(self, samples: np.ndarray) -> np.ndarray:
        if self.up == self.down:
            return to_float(samples)
        self._buffer = np.concatenate([self._buffer, to_float(samples).astype(np.float64)])
        total = self._offset + self._buffer.size
        delay = 16 * max(self.up, self.down)
        last = max(self._next, -(-(total * self.up - delay) // self.down))
        out = _polyphase(self._buffer, self._offset, self._next, last, self.up, self.down)
        self._next = last
        keep = min(self._buffer.size, self._history + 1)
        self._offset = total - keep
        self._buffer = self._buffer[self._buffer.size - keep :]
        return out
