#!/usr/bin/env python3
"""TTS benchmark: time to first audio on a cache miss, real-time factor per engine, cache-hit cost, and a
round trip (synthesise KB titles -> recognise -> pinyin/character error) as a crude intelligibility score."""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import soundfile

REPO = Path(__file__).resolve().parent.parent
FALLBACK_TITLES = [
    "住房公积金提取办理指南",
    "社会保险缴费基数调整的通知",
    "居住证办理需要哪些材料",
    "新生儿医保参保登记",
]


def kb_titles(limit: int, seed: int = 1) -> list[str]:
    titles: list[str] = []
    for path in sorted((REPO / "data" / "kb").glob("*.jsonl")):
        with open(path, encoding="utf-8") as handle:
            titles += [json.loads(line)["title"] for line in handle if line.strip()]
    titles = [t for t in titles if 4 <= len(t) <= 40] or FALLBACK_TITLES
    random.Random(seed).shuffle(titles)
    return titles[:limit]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def first_audio(texts: list[str], engine: str) -> None:
    from speech import synthesize, synthesize_sentences

    waits, renders, audio = [], [], 0.0
    for text in texts:
        started = time.perf_counter()
        first = next(synthesize_sentences(text + "。请问还有什么可以帮您？", engine=engine))
        waits.append(time.perf_counter() - started)
        started = time.perf_counter()
        path = synthesize(text + "，谢谢。", engine=engine)
        renders.append(time.perf_counter() - started)
        audio += soundfile.info(str(path)).duration
        del first
    hits = []
    for text in texts:
        started = time.perf_counter()
        synthesize(text + "，谢谢。", engine=engine)
        hits.append(time.perf_counter() - started)
    print(
        f"[{engine}] first audio on a cache miss over {len(texts)} texts: "
        f"p50 {statistics.median(waits) * 1000:.1f} ms, p99 {percentile(waits, 0.99) * 1000:.1f} ms; "
        f"RTF {sum(renders) / audio:.4f}; cache hit p50 {statistics.median(hits) * 1e6:.0f} us"
    )


def round_trip(texts: list[str]) -> None:
    from speech import recognize_file, synthesize
    from speech.metrics import char_errors, pinyin_errors
    from speech.normalize import normalize_for_speech

    for rate in (16000, 8000):
        py = [0, 0]
        cer = [0, 0]
        for text in texts:
            result = recognize_file(synthesize(text, rate=rate))
            spoken = normalize_for_speech(text)
            for total, (e, n) in (
                (py, pinyin_errors(spoken, result.pinyin)),
                (cer, char_errors(spoken, result.text)),
            ):
                total[0] += e
                total[1] += n
        print(
            f"[round trip espeak -> sherpa, {rate} Hz] {len(texts)} KB titles: "
            f"pinyin error {py[0] / py[1]:.3f}, CER {cer[0] / cer[1]:.3f}"
        )


def edge_fallback() -> None:
    from speech import synthesize

    started = time.perf_counter()
    synthesize("在线语音不可用时的回退测试。", engine="edge")
    print(f"[edge] offline here: fell back to espeak after {(time.perf_counter() - started) * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=60)
    args = parser.parse_args()
    os.environ["HOTLINE_HOME"] = tempfile.mkdtemp(prefix="hotline-bench-tts-")
    texts = kb_titles(args.texts)
    first_audio(texts, "espeak")
    edge_fallback()
    round_trip(texts)


if __name__ == "__main__":
    main()
