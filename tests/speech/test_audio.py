"""Audio input validation, resampling, and G.711 (checked against libsndfile's own codec)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile

from speech import SpeechError, decode_g711, g711_bytes, recognize_file, write_g711_wav
from speech.audio import StreamResampler, read_wav, resample, write_wav
from speech.g711 import alaw_decode, alaw_encode, mulaw_decode, mulaw_encode


def _wav(path: Path, *, rate: int = 16000, channels: int = 1, width: int = 2, frames: int = 1600) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(b"\x01" * frames * channels * width)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_text("这不是音频") or p, "不是有效的 WAV"),
        (lambda p: _wav(p, frames=0), "音频为空"),
        (lambda p: _wav(p, channels=2), "单声道"),
        (lambda p: _wav(p, rate=11025), "不支持的采样率 11025"),
        (lambda p: _wav(p, width=1), "16 位"),
        (lambda p: p, "找不到音频文件"),
    ],
    ids=["not-wav", "empty", "stereo", "rate", "8-bit", "missing"],
)
def test_bad_audio_is_a_clear_error(tmp_path: Path, speech_home: Path, make, message: str) -> None:
    path = tmp_path / "in.wav"
    make(path)
    with pytest.raises(SpeechError, match=message):
        read_wav(path)
    with pytest.raises(SpeechError, match=message):
        recognize_file(path)


@pytest.mark.parametrize(("src", "dst"), [(8000, 16000), (22050, 8000), (16000, 8000), (24000, 16000)])
def test_resample_keeps_a_tone(src: int, dst: int) -> None:
    t = np.arange(src) / src
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    out = resample(tone.astype(np.float32), src, dst)
    assert out.size == dst
    expected = 0.5 * np.sin(2 * np.pi * 440 * np.arange(dst) / dst)
    assert np.abs(out[100:-100] - expected[100:-100]).max() < 1e-3


def test_resample_removes_what_the_lower_rate_cannot_carry() -> None:
    t = np.arange(16000) / 16000
    out = resample((0.5 * np.sin(2 * np.pi * 6000 * t)).astype(np.float32), 16000, 8000)
    assert np.abs(out[100:-100]).max() < 0.01  # 6 kHz is above the 4 kHz Nyquist of 8 kHz audio


def test_stream_resampler_matches_whole_signal_across_chunk_seams() -> None:
    rng = np.random.default_rng(7)
    signal = rng.uniform(-0.5, 0.5, 8000 * 2).astype(np.float32)
    stream = StreamResampler(8000, 16000)
    parts, i = [], 0
    while i < signal.size:
        size = int(rng.integers(1, 1500))
        parts.append(stream.process(signal[i : i + size]))
        i += size
    streamed, whole = np.concatenate(parts), resample(signal, 8000, 16000)
    assert whole.size - 64 <= streamed.size <= whole.size
    np.testing.assert_allclose(streamed, whole[: streamed.size], atol=1e-6)


@pytest.mark.parametrize(("encode", "decode"), [(mulaw_encode, mulaw_decode), (alaw_encode, alaw_decode)])
def test_g711_round_trip(encode, decode) -> None:
    pcm = np.arange(-32768, 32768, 7, dtype=np.int32).astype(np.int16)
    coded = encode(pcm)
    assert len(coded) == pcm.size  # one byte per sample
    back = decode(coded).astype(np.int32)
    loud = np.abs(pcm.astype(np.int32)) > 1024
    rel = np.abs(back - pcm)[loud] / np.abs(pcm.astype(np.int32))[loud]
    assert rel.max() < 0.07  # companding keeps ~6% relative precision
    assert np.abs(back - pcm)[~loud].max() <= 32
    assert decode(encode(back.astype(np.int16))).tolist() == back.tolist()  # decoded values are fixed points


@pytest.mark.parametrize(("law", "subtype"), [("ulaw", "ULAW"), ("alaw", "ALAW")])
def test_g711_wav_decodes_identically_in_libsndfile(tmp_path: Path, law: str, subtype: str) -> None:
    rng = np.random.default_rng(3)
    pcm = (rng.normal(0, 6000, 8000)).clip(-32768, 32767).astype(np.int16)
    src = write_wav(tmp_path / "pcm.wav", pcm, 8000)
    out = write_g711_wav(src, tmp_path / f"{law}.wav", law)
    info = soundfile.info(str(out))
    assert (info.samplerate, info.channels, info.subtype, info.frames) == (8000, 1, subtype, 8000)
    theirs, _ = soundfile.read(str(out), dtype="int16")
    assert theirs.tolist() == decode_g711(g711_bytes(src, law), law).tolist()
