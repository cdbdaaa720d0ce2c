#!/usr/bin/env python3
"""TTS benchmark, per engine and voice: round-trip intelligibility (synthesise KB titles -> recognise with
the bundled sherpa pinyin recogniser -> pinyin error), time to first audio on a cache miss and a hit,
real-time factor, model load time and memory.

Each engine/voice runs in its own process (clean memory figures, a cold model). Examples:
    python3 bench/tts.py                      # kokoro zm_yunjian/zf_xiaobei/zf_xiaoyi, espeak; 40 titles
    python3 bench/tts.py --runs kokoro:zm_yunjian:2 --texts 20   # engine:voice:threads
    python3 bench/tts.py --ivr 30             # uncached documents read to a waiting caller (the IVR's path)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FALLBACK_TITLES = [
    "住房公积金提取办理指南",
    "社会保险缴费基数调整的通知",
    "居住证办理需要哪些材料",
    "新生儿医保参保登记",
]
DEFAULT_RUNS = [
    "kokoro:zm_yunjian:1",
    "kokoro:zm_yunjian:2",
    "kokoro:zf_xiaobei:1",
    "kokoro:zf_xiaoyi:1",
    "espeak:cmn:1",
]


def kb_titles(limit: int, seed: int = 1) -> list[str]:
    titles: list[str] = []
    for path in sorted((REPO / "data" / "kb").glob("*.jsonl")):
        with open(path, encoding="utf-8") as handle:
            titles += [json.loads(line)["title"] for line in handle if line.strip()]
    titles = [t for t in titles if 4 <= len(t) <= 40] or FALLBACK_TITLES
    random.Random(seed).shuffle(titles)
    return titles[:limit]


def kb_openings(limit: int, seed: int = 2) -> list[str]:
    """The first two sentences (at most 120 characters) of KB bodies, as plain text."""
    from speech import plain_text

    openings: list[str] = []
    for path in sorted((REPO / "data" / "kb").glob("*.jsonl")):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                body = plain_text(json.loads(line)["body"]).replace("\n", "")
                sentences = [s for s in body.split("。") if 8 <= len(s) <= 60][:2]
                if len(sentences) == 2:
                    openings.append("。".join(sentences) + "。")
    random.Random(seed).shuffle(openings)
    return openings[:limit]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MB."""
    fields = dict(
        line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def measure(engine: str, voice: str, threads: int, count: int) -> dict[str, object]:
    """One engine/voice in this process (HOTLINE_HOME is a fresh temporary folder)."""
    import soundfile

    from speech import recognize_file, synthesize, synthesize_sentences
    from speech.metrics import pinyin_errors
    from speech.normalize import normalize_for_speech

    texts = kb_titles(count)
    rss_start, _ = rss_mb()
    started = time.perf_counter()
    if engine == "kokoro":
        from speech import kokoro

        kokoro.session(threads)
        kokoro.phonemes("您好")  # jieba's dictionary
    load = time.perf_counter() - started
    synthesize("预热。", engine=engine, voice=voice, rate=8000)

    # reading a document: first audio on a cache miss (first clause first), the rest rendered ahead while
    # the first parts play (playback simulated from the audio durations: gap = a part not ready in time),
    # a whole first sentence on a miss, and a cache hit
    firsts, gaps, whole, hits = [], [], [], []
    for n, opening in enumerate(kb_openings(10)):
        started = time.perf_counter()
        ready, durations = [], []
        for path in synthesize_sentences(opening, engine=engine, voice=voice):
            ready.append(time.perf_counter() - started)
            durations.append(soundfile.info(str(path)).duration)
        firsts.append(ready[0])
        end = ready[0] + durations[0]
        gap = 0.0
        for at, seconds in zip(ready[1:], durations[1:], strict=True):
            gap += max(0.0, at - end)
            end = max(at, end) + seconds
        gaps.append(gap)
        sentence = f"第{n + 1}条：" + opening.split("。")[0] + "。"
        started = time.perf_counter()
        synthesize(sentence, engine=engine, voice=voice)
        whole.append(time.perf_counter() - started)
        started = time.perf_counter()
        synthesize(sentence, engine=engine, voice=voice)
        hits.append(time.perf_counter() - started)

    # round trip at 16 and 8 kHz, and the real-time factor of the 16 kHz renderings
    result: dict[str, object] = {}
    render_time = audio_seconds = 0.0
    for rate in (16000, 8000):
        errors = total = 0
        for text in texts:
            started = time.perf_counter()
            path = synthesize(text, engine=engine, voice=voice, rate=rate)
            if rate == 16000:
                render_time += time.perf_counter() - started
                audio_seconds += soundfile.info(str(path)).duration
            e, n = pinyin_errors(normalize_for_speech(text), recognize_file(path).pinyin)
            errors += e
            total += n
        result[f"pinyin_error_{rate // 1000}k"] = round(errors / total, 3)
    rss_end, peak = rss_mb()
    result.update(
        engine=engine,
        voice=voice,
        threads=threads,
        titles=len(texts),
        load_s=round(load, 2),
        first_audio_miss_p50_ms=round(statistics.median(firsts) * 1000),
        first_audio_miss_max_ms=round(max(firsts) * 1000),
        gap_total_s=round(sum(gaps), 2),
        sentence_miss_p50_ms=round(statistics.median(whole) * 1000),
        cache_hit_p50_us=round(statistics.median(hits) * 1e6),
        rtf=round(render_time / audio_seconds, 3),
        rss_mb=round(rss_end),
        rss_added_mb=round(rss_end - rss_start),
        peak_rss_mb=round(peak),
    )
    return result


def ivr_reading(count: int) -> None:
    """`count` KB documents nobody has heard (empty cache) read as the IVR reads them to a caller who
    pressed their key: the title prompt then the first section, through selfservice.channel.SpokenParts
    (quick parts, the TTS pool's priorities and threads, the settings' engine); first audio after the
    key, and silence between parts with playback simulated from each part's length."""
    import asyncio

    import soundfile

    import speech
    from hotline.config import get_settings
    from selfservice.channel import SpokenParts
    from selfservice.menu import load_menu

    menu = load_menu()
    docs: list[tuple[str, str]] = []
    for path in sorted((REPO / "data" / "kb").glob("*.jsonl")):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                body = speech.plain_text(row["body"]).split("\n")[0][:200]
                if 6 <= len(row["title"]) <= 40 and len(body) >= 40:
                    docs.append((menu.say("document_title", title=row["title"]), body))
    random.Random(3).shuffle(docs)
    speech.warm_up()

    async def read(texts: tuple[str, str]) -> tuple[float, float, int]:
        parts = SpokenParts(list(texts), 8000)
        started = time.perf_counter()
        first, end, gap, count = 0.0, 0.0, 0.0, 0
        try:
            while count < 4:  # the first four parts: the title and the section's opening
                await parts.wait(30.0)
                item = parts.take()
                if item is None:
                    break
                now = time.perf_counter() - started
                seconds = soundfile.info(str(item[1])).duration
                if count == 0:
                    first, end = now, now + seconds
                else:
                    gap += max(0.0, now - end)
                    end = max(now, end) + seconds
                count += 1
                await asyncio.sleep(max(0.0, end - seconds - (time.perf_counter() - started)))  # it plays
        finally:
            parts.close()
        return first, gap, count

    firsts, gaps = [], []
    for texts in docs[:count]:
        first, gap, _ = asyncio.run(read(texts))
        firsts.append(first)
        gaps.append(gap)
        time.sleep(2.0)  # a part rendered ahead for this reading ends: the next caller finds an idle pool
    settings = get_settings()
    print(
        f"[ivr reading, {settings.tts_engine}, urgent threads {settings.tts_urgent_threads}] {len(firsts)} "
        f"uncached documents: first audio after the key p50 {statistics.median(firsts) * 1000:.0f} ms, p99 "
        f"{percentile(firsts, 0.99) * 1000:.0f} ms, max {max(firsts) * 1000:.0f} ms; silence between the first "
        f"four parts: {sum(g > 0.05 for g in gaps)} of {len(gaps)} readings, {sum(gaps):.2f} s in all; "
        f"load {os.getloadavg()[0]:.1f}",
        flush=True,
    )


def edge_fallback() -> None:
    from speech import synthesize

    started = time.perf_counter()
    synthesize("在线语音不可用时的回退测试。", engine="edge")
    print(
        f"[edge] offline here: fell back to kokoro after {(time.perf_counter() - started) * 1000:.0f} ms "
        "(including loading the model)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=40, help="KB titles for the round trip")
    parser.add_argument("--runs", nargs="*", default=DEFAULT_RUNS, help="engine:voice:threads ...")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # engine:voice:threads, in a child process
    parser.add_argument("--ivr", type=int, metavar="N", help="only: N uncached documents read as the IVR does")
    args = parser.parse_args()
    if args.ivr:
        os.environ["HOTLINE_HOME"] = tempfile.mkdtemp(prefix="hotline-bench-tts-")
        ivr_reading(args.ivr)
        return
    if args.one:
        os.environ["HOTLINE_HOME"] = tempfile.mkdtemp(prefix="hotline-bench-tts-")
        engine, voice, threads = args.one.split(":")
        os.environ["HOTLINE_TTS_THREADS"] = threads
        print(json.dumps(measure(engine, voice, int(threads), args.texts)))
        return
    rows = []
    for run in args.runs:
        done = subprocess.run(
            [sys.executable, __file__, "--one", run, "--texts", str(args.texts)],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        )
        row = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(
            f"[{row['engine']} {row['voice']} {row['threads']} thr] {row['titles']} KB titles: pinyin error "
            f"{row['pinyin_error_16k']:.3f} (16 kHz) / {row['pinyin_error_8k']:.3f} (8 kHz); first audio on a "
            f"miss p50 {row['first_audio_miss_p50_ms']} ms (max {row['first_audio_miss_max_ms']}), gaps while "
            f"reading 10 openings {row['gap_total_s']} s, whole sentence {row['sentence_miss_p50_ms']} ms, cache hit {row['cache_hit_p50_us']} us; RTF "
            f"{row['rtf']}; load {row['load_s']} s; RSS {row['rss_mb']} MB (+{row['rss_added_mb']}, peak "
            f"{row['peak_rss_mb']})",
            flush=True,
        )
    os.environ["HOTLINE_HOME"] = tempfile.mkdtemp(prefix="hotline-bench-tts-")
    os.environ["HOTLINE_TTS_ENGINE"] = "kokoro"
    edge_fallback()


if __name__ == "__main__":
    main()
