"""Telephone audio files: 8 kHz G.711 (mu-law / A-law) WAVs from and to 16-bit PCM."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from speech.audio import read_wav, resample, to_int16
from speech.errors import SpeechError
from speech.g711 import alaw_decode, alaw_encode, mulaw_decode, mulaw_encode

FORMAT_TAGS = {"alaw": 6, "ulaw": 7}
TELEPHONE_RATE = 8000


def g711_bytes(wav_path: Path, law: str = "ulaw") -> bytes:
    """A WAV file's audio as raw 8 kHz G.711 bytes (what goes into RTP payloads)."""
    samples, rate = read_wav(wav_path)
    if rate != TELEPHONE_RATE:
        samples = to_int16(resample(samples, rate, TELEPHONE_RATE))
    return _encoder(law)(samples)


def write_g711_wav(wav_path: Path, out: Path, law: str = "ulaw") -> Path:
    """Convert a PCM WAV into an 8 kHz G.711 WAV (format tag 6 A-law / 7 mu-law, with a fact chunk)."""
    payload = g711_bytes(wav_path, law)
    fmt = struct.pack("<HHIIHHH", FORMAT_TAGS[law], 1, TELEPHONE_RATE, TELEPHONE_RATE, 1, 8, 0)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    chunks += b"fact" + struct.pack("<II", 4, len(payload))
    chunks += b"data" + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) % 2 else b"")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)
    return out


def decode_g711(payload: bytes, law: str = "ulaw") -> np.ndarray:
    """Raw G.711 bytes -> int16 PCM at 8 kHz."""
    if law == "ulaw":
        return mulaw_decode(payload)
    if law == "alaw":
        return alaw_decode(payload)
    raise SpeechError(f"未知的 G.711 编码 {law!r}（可选：ulaw、alaw）")


def _encoder(law: str):  # noqa: ANN202
    if law == "ulaw":
        return mulaw_encode
    if law == "alaw":
        return alaw_encode
    raise SpeechError(f"未知的 G.711 编码 {law!r}（可选：ulaw、alaw）")
