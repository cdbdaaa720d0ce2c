#!/usr/bin/env python3
"""ASR benchmark: accuracy on the real recordings (16 kHz and 8 kHz), real-time factor, memory per
stream, and how many concurrent real-time streams the machine sustains. Prints the figures."""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SPEECH_DATA = REPO / "data" / "speech"
CHUNK_SECONDS = 0.1


def recordings() -> list[tuple[Path, str]]:
    with open(SPEECH_DATA / "transcripts.tsv", encoding="utf-8") as handle:
        return [(SPEECH_DATA / r["file"], r["transcript"]) for r in csv.DictReader(handle, delimiter="\t")]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _recognize(path: Path, engine: str):  # noqa: ANN202 - speech.Recognition
    """The streaming recognisers as the IVR runs them; whisper as voicemail transcription runs it."""
    from speech import Recognition, recognize_file
    from speech.metrics import reference_pinyin
    from speech.whisper import transcribe

    if engine != "whisper":
        return recognize_file(path, engine=engine)
    text = transcribe(path, engine="whisper").text
    return Recognition(text=text, pinyin=reference_pinyin(text, tones=True))


def accuracy(engine: str) -> None:
    from speech.audio import read_wav, resample, to_int16, write_wav
    from speech.metrics import char_errors, pinyin_errors

    for rate in (16000, 8000):
        totals = {"pinyin": [0, 0], "pinyin+tone": [0, 0], "CER": [0, 0]}
        audio = decode = 0.0
        with tempfile.TemporaryDirectory() as tmp:
            for path, text in recordings():
                samples, source_rate = read_wav(path)
                if rate != source_rate:
                    path = write_wav(
                        Path(tmp) / path.name, to_int16(resample(samples, source_rate, rate)), rate
                    )
                started = time.perf_counter()
                result = _recognize(path, engine)
                decode += time.perf_counter() - started
                audio += samples.size / source_rate
                for key, (e, n) in {
                    "pinyin": pinyin_errors(text, result.pinyin),
                    "pinyin+tone": pinyin_errors(text, result.pinyin, tones=True),
                    "CER": char_errors(text, result.text),
                }.items():
                    totals[key][0] += e
                    totals[key][1] += n
        rates = ", ".join(f"{k} error {e / n:.3f}" for k, (e, n) in totals.items())
        print(
            f"[{engine} {rate} Hz] {len(recordings())} recordings, {audio:.1f} s: {rates}; RTF {decode / audio:.3f}"
        )


def _worker(streams: int, seconds: float, queue: multiprocessing.Queue) -> None:
    """Decode `streams` telephone streams in lockstep, 100 ms chunks, as fast as possible."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from speech import open_stream
    from speech.asr import Endpointing

    samples = np.concatenate([_phone_audio(p) for p, _ in recordings()])[: int(seconds * 8000)]
    before = rss_mb()  # Python, numpy and the libraries, before the model
    recognizers = [open_stream(8000, endpointing=Endpointing(max_seconds=3600)) for _ in range(streams)]
    chunk = int(8000 * CHUNK_SECONDS)
    started = time.perf_counter()
    for start in range(0, samples.size, chunk):
        pcm = samples[start : start + chunk].tobytes()
        for recognizer in recognizers:
            recognizer.accept_pcm(pcm)
    for recognizer in recognizers:
        recognizer.finish()
    now = rss_mb()  # with every stream still open
    queue.put((time.perf_counter() - started, samples.size / 8000, now - before, now))


def _phone_audio(path: Path) -> np.ndarray:
    from speech.audio import read_wav, resample, to_int16

    samples, rate = read_wav(path)
    return to_int16(resample(samples, rate, 8000))


def concurrency(processes: int, seconds: float) -> None:
    """Run P processes x K streams; a load is real time while wall time <= audio time."""
    print(f"[concurrency] {processes} processes, {seconds:.0f} s of 8 kHz audio per stream")
    best = 0
    for per_process in (1, 8, 16, 24, 32):
        queue: multiprocessing.Queue = multiprocessing.Queue()
        workers = [
            multiprocessing.Process(target=_worker, args=(per_process, seconds, queue))
            for _ in range(processes)
        ]
        for w in workers:
            w.start()
        results = [queue.get() for _ in workers]
        for w in workers:
            w.join()
        wall = max(r[0] for r in results)
        audio = results[0][1]
        grown, peak = max(r[2] for r in results), max(r[3] for r in results)
        total = per_process * processes
        real_time = wall <= audio
        best = total if real_time else best
        print(
            f"  {total:3d} streams: wall {wall:6.1f} s for {audio:.1f} s audio "
            f"(RTF per stream {wall / audio / per_process:.3f}), RSS {peak:.0f} MB per process "
            f"({grown:.1f} MB for the model + {per_process} open streams)"
            f"{'  real time' if real_time else '  SLOWER than real time'}"
        )
        if not real_time:
            break
    print(f"[concurrency] max concurrent real-time streams measured: {best}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="sherpa", help="sherpa, vosk or whisper (voicemail)")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="audio per stream in the concurrency test"
    )
    parser.add_argument("--skip-concurrency", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("HOTLINE_HOME", tempfile.mkdtemp(prefix="hotline-bench-"))
    accuracy(args.engine)
    if not args.skip_concurrency:
        concurrency(args.processes, args.seconds)


if __name__ == "__main__":
    main()
