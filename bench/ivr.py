#!/usr/bin/env python3
"""IVR benchmark with real media: N concurrent calls through the live channel (selfservice.live_channel,
the code the SIP line and the browser page share) in one process, as `hotline serve` carries them. Each
caller's audio flows in real time (20 ms frames: silence, or a real recording of a question) into live
barge-in detection and streaming recognition; prompts and document parts are rendered by the real TTS
(Kokoro by default) and "played" in real time (a prompt lasts as long as its audio). Half the callers key
into a policy document and listen, half ask a question by voice.

Prints, per concurrency level, with a warm cache (menu prompts and most-read documents rendered as at the
SIP line's start, and one round of calls before: the listings and answers heard once), as the first
callers after a start meet it ("started": the cache emptied, then what the SIP line renders when it
starts, no call before: the answers to spoken questions are new) and a cold one (cache emptied before
each level, the voice model loaded: every prompt rendered while callers wait):
  key -> first audio of the next prompt (p50/p99), end of speech -> first answer audio (p50/p99),
  key -> first audio of a document (its first part), the silence between a document's parts (the time
  a part was handed over after the previous one ended), CPU per call and per second of call.

Usage: python3 bench/ivr.py [--calls 4,8,12] [--seconds 25]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path[0] = str(REPO)  # the packages, not bench/casework.py & co.
QUESTION = REPO / "data" / "speech" / "wenet_BAC009S0724W0121.wav"  # 广州市房地产中介协会分析
KB = REPO / "tests" / "selfservice" / "data" / "kb.jsonl"
OFFICE_HOURS = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
RATE = 8000
WARM_CACHE = Path(tempfile.gettempdir()) / "hotline-bench-ivr-cache"
FRAME = RATE // 50  # 20 ms
LONG_DOC = {  # the policies' first document: sections of several sentences (parts handed over back to back)
    "external_id": "bench-ivr-long",
    "title": "城市夜间照明设施维护办法",
    "category": "政策法规",
    "body": "## 第一条\n为了规范城市道路和公共场所夜间照明设施的维护，方便市民夜间出行，制定本办法。"
    "路灯不亮、灯杆倾斜或者电缆外露的，市民可以拨打热线反映，也可以在网上提交诉求。"
    "维护单位接到派单后，应当在二十四小时内到达现场，主干道的故障应当在四小时内处置。\n"
    "## 第二条\n对于因施工造成的照明中断，施工单位应当设置临时照明，并在施工结束后及时恢复。",
}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def make_line_class():  # noqa: ANN201 - defined after HOTLINE_HOME is set
    from selfservice.channel import read_wav_mono
    from selfservice.live_channel import LiveChannel

    class BenchLine(LiveChannel):
        """A live line in memory: the caller's audio grows in real time, prompts play for their length."""

        name = "bench"
        sample_rate = RATE

        def __init__(self) -> None:
            super().__init__("13800138000")
            self.audio = bytearray()
            self.prompts: list[tuple[float, str | None, float]] = []  # (start, text, seconds)
            self.playing_until = 0.0
            self.gaps: list[float] = []  # silence before a queued part
            self.key_at: float | None = None
            self.key_latencies: list[float] = []
            self.doc_latencies: list[float] = []
            self.speech_end: float | None = None
            self.speech_latencies: list[float] = []
            self.reading = False

        def audio_position(self) -> int:
            return len(self.audio)

        def read_audio(self, start: int, end: int) -> bytes:
            return bytes(self.audio[start:end])

        async def start_prompt(self, text: str | None, audio: Path, *, queued: bool = False) -> float:
            now = time.monotonic()
            seconds = read_wav_mono(audio, RATE).size / RATE
            if queued:
                start = max(now, self.playing_until)
                self.gaps.append(max(0.0, now - self.playing_until))
            else:
                start = now
                if self.key_at is not None:
                    (self.doc_latencies if self.reading else self.key_latencies).append(now - self.key_at)
                    self.key_at = None
                if self.speech_end is not None:
                    self.speech_latencies.append(now - self.speech_end)
                    self.speech_end = None
            self.playing_until = start + seconds
            self.prompts.append((start, text, seconds))
            return seconds

        async def stop_prompt(self) -> None:
            self.playing_until = time.monotonic()

        def press(self, key: str, *, reading: bool = False) -> None:
            self.key_at, self.reading = time.monotonic(), reading
            self.on_digit(key)

        async def transfer(self, target: str) -> None:
            self.transferred_to = target

        async def hangup(self) -> None:
            self.ended.set()

    return BenchLine


async def feed(line, voice: np.ndarray | None, at: float, until: float) -> None:  # noqa: ANN001
    """The caller's microphone in real time: silence, with `voice` starting `at` seconds into the call."""
    start = time.monotonic()
    sent = 0
    speech_end = None if voice is None else int(at * RATE) + voice.size
    while not line.ended.is_set() and time.monotonic() - start < until:
        due = int((time.monotonic() - start) * RATE) // FRAME * FRAME
        if due > sent:
            chunk = np.zeros(due - sent, dtype=np.int16)
            if voice is not None:
                lo, hi = sent - int(at * RATE), due - int(at * RATE)
                part = voice[max(lo, 0) : max(hi, 0)]
                if part.size:
                    chunk[max(-lo, 0) : max(-lo, 0) + part.size] = part
            line.audio += chunk.astype("<i2").tobytes()
            if speech_end is not None and sent < speech_end <= due:
                line.speech_end = time.monotonic()  # the last of the utterance is on the line
            sent = due
        await asyncio.sleep(0.02)


async def keys_caller(line, seconds: float) -> None:  # noqa: ANN001
    """Policies (1) while the welcome plays, the first document (1), listen, the next part (3), main (#)."""
    await asyncio.sleep(1.5)
    line.press("1")
    await asyncio.sleep(2.0)
    line.press("1", reading=True)
    await asyncio.sleep(seconds / 2)
    line.press("3", reading=True)
    await asyncio.sleep(5.0)
    line.press("#")
    await asyncio.sleep(3.0)
    line.on_hangup()


async def one_call(line_class, menu, voice: np.ndarray, spoken: bool, seconds: float):  # noqa: ANN001, ANN201
    from selfservice.engine import Dialog

    line = line_class()
    dialog = asyncio.create_task(Dialog(line, menu, clock=lambda: OFFICE_HOURS).run())
    if spoken:  # the question, said over the main menu (barge-in), then listen to the answer
        audio = asyncio.create_task(feed(line, voice, 4.0, seconds))
        await asyncio.sleep(seconds)
        line.on_hangup()
    else:
        audio = asyncio.create_task(feed(line, None, 0.0, seconds + 20))
        await keys_caller(line, seconds)
    await dialog
    audio.cancel()
    return line


async def run_level(line_class, menu, voice: np.ndarray, calls: int, seconds: float) -> list:  # noqa: ANN001
    return await asyncio.gather(
        *(one_call(line_class, menu, voice, i % 2 == 1, seconds) for i in range(calls))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", default="4,8,12", help="concurrency levels, comma-separated")
    parser.add_argument("--seconds", type=float, default=25.0, help="length of a call")
    args = parser.parse_args()
    os.environ["HOTLINE_HOME"] = tempfile.mkdtemp(prefix="hotline-bench-ivr-")
    import speech
    from hotline import bootstrap
    from hotline.config import get_settings
    from hotline.db import session_scope, utcnow
    from kb import Document
    from kb.importer import import_file
    from selfservice import channel as channel_module
    from selfservice.channel import read_wav_mono
    from selfservice.engine import prerender_documents
    from selfservice.menu import load_menu

    bootstrap.init()
    cache_dir = get_settings().audio_cache_dir
    shutil.rmtree(cache_dir)
    cache_dir.symlink_to(WARM_CACHE, target_is_directory=True)  # kept between runs: rendered once
    WARM_CACHE.mkdir(parents=True, exist_ok=True)
    assert not import_file(KB, publish=True).errors
    extra = Path(os.environ["HOTLINE_HOME"]) / "long.jsonl"
    extra.write_text(json.dumps(LONG_DOC, ensure_ascii=False) + "\n", encoding="utf-8")
    assert not import_file(extra, publish=True).errors
    with session_scope() as s:
        doc = s.query(Document).filter(Document.external_id == LONG_DOC["external_id"]).one()
        doc.published_at, doc.views = utcnow() + timedelta(days=1), 100  # first of the listing, most read
    menu = load_menu()
    voice = read_wav_mono(QUESTION, RATE)
    line_class = make_line_class()
    speech.warm_up()
    speech.open_stream(RATE).finish()  # the recogniser loaded
    cores = os.cpu_count() or 1
    print(f"cores: {cores}, TTS: {get_settings().tts_engine}, call length {args.seconds:.0f} s")
    speech.prerender(menu.fixed_texts(), rate=RATE)  # as the SIP line does at start
    prerender_documents(menu, 20, RATE)
    asyncio.run(run_level(line_class, menu, voice, 2, args.seconds))  # the listings and answers heard once
    for cache in ("warm", "started", "cold"):
        for calls in (int(c) for c in args.calls.split(",")):
            if cache != "warm":  # an empty cache (the model stays loaded): every prompt rendered on first use
                cache_dir.unlink() if cache_dir.is_symlink() else shutil.rmtree(cache_dir)
                cache_dir.mkdir()
                channel_module._RENDERED.clear()
            if cache == "started":  # ... but what the SIP line renders when it starts, no call before
                speech.prerender(menu.fixed_texts(), rate=RATE)
                prerender_documents(menu, 20, RATE)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            lines = asyncio.run(run_level(line_class, menu, voice, calls, args.seconds))
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            keys = [x for ln in lines for x in ln.key_latencies]
            docs = [x for ln in lines for x in ln.doc_latencies]
            said = [x for ln in lines for x in ln.speech_latencies]
            gaps = [x for ln in lines for x in ln.gaps]
            call_seconds = sum(ln.audio_position() for ln in lines) / 2 / RATE
            print(
                f"{cache} cache, {calls} calls: key->prompt p50 {pct(keys, 0.5):.0f} p99 {pct(keys, 0.99):.0f} ms"
                f" (n={len(keys)}); key->document p50 {pct(docs, 0.5):.0f} p99 {pct(docs, 0.99):.0f} ms"
                f" (n={len(docs)}); speech end->answer p50 {pct(said, 0.5):.0f} p99 {pct(said, 0.99):.0f} ms"
                f" (n={len(said)}); gap between parts max {max(gaps, default=0) * 1000:.0f} ms"
                f" (n={len(gaps)}, >50 ms: {sum(g > 0.05 for g in gaps)}); CPU {cpu / calls:.2f} s/call,"
                f" {cpu / call_seconds:.3f} core per call (wall {wall:.0f} s)"
            )


if __name__ == "__main__":
    main()
