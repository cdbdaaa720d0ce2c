"""G.711 mu-law and A-law codecs in numpy (audioop left the standard library in Python 3.13)."""

from __future__ import annotations

import numpy as np

_MULAW_BIAS = 0x84
_MULAW_CLIP = 32635


def _segment(values: np.ndarray) -> np.ndarray:
    """Exponent (segment number 0..7) of non-negative values already shifted for the codec."""
    seg = np.zeros(values.shape, dtype=np.int32)
    for boundary in range(1, 8):
        seg += values >= (1 << (boundary + 7))
    return seg


def mulaw_encode(samples: np.ndarray) -> bytes:
    """16-bit PCM -> G.711 mu-law bytes (ITU-T G.711, as in Sun's g711.c)."""
    pcm = np.asarray(samples, dtype=np.int32)
    sign = np.where(pcm < 0, 0x80, 0x00)
    magnitude = np.minimum(np.abs(pcm), _MULAW_CLIP) + _MULAW_BIAS
    seg = _segment(magnitude)
    mantissa = (magnitude >> (seg + 3)) & 0x0F
    code = ~(sign | (seg << 4) | mantissa) & 0xFF
    return code.astype(np.uint8).tobytes()


def mulaw_decode(data: bytes) -> np.ndarray:
    """G.711 mu-law bytes -> int16 PCM."""
    code = ~np.frombuffer(data, dtype=np.uint8).astype(np.int32) & 0xFF
    seg = (code >> 4) & 0x07
    magnitude = (((code & 0x0F) << 3) + _MULAW_BIAS) << seg
    pcm = np.where(code & 0x80, _MULAW_BIAS - magnitude, magnitude - _MULAW_BIAS)
    return pcm.astype(np.int16)


def alaw_encode(samples: np.ndarray) -> bytes:
    """16-bit PCM -> G.711 A-law bytes."""
    pcm = np.asarray(samples, dtype=np.int32) >> 3  # A-law works on 13 bits
    sign = np.where(pcm >= 0, 0x80, 0x00)
    magnitude = np.where(pcm >= 0, pcm, -pcm - 1)
    magnitude = np.minimum(magnitude, 0x0FFF)
    seg = np.zeros(magnitude.shape, dtype=np.int32)
    for boundary in range(1, 8):
        seg += magnitude >= (1 << (boundary + 4))
    mantissa = np.where(seg == 0, magnitude >> 1, magnitude >> seg) & 0x0F
    code = (sign | (seg << 4) | mantissa) ^ 0x55
    return code.astype(np.uint8).tobytes()


def alaw_decode(data: bytes) -> np.ndarray:
    """G.711 A-law bytes -> int16 PCM."""
    code = np.frombuffer(data, dtype=np.uint8).astype(np.int32) ^ 0x55
    seg = (code >> 4) & 0x07
    mantissa = code & 0x0F
    magnitude = np.where(seg == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << np.maximum(seg - 1, 0))
    pcm = np.where(code & 0x80, magnitude, -magnitude)
    return pcm.astype(np.int16)
