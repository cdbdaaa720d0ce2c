#!/usr/bin/env python3
"""IVR benchmark: N concurrent simulated calls (in-process asyncio, real dialog engine, real TTS cache
and ASR) mixing DTMF and speech. Prints prompt start latency after a key, end-of-speech to first
answer audio (p50/p99), CPU per call, and the concurrent calls the machine carries in real time.

Usage: python3 bench/ivr.py [--calls 8] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import wave
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parent.parent
QUESTION = REPO / "data" / "speech" / "wenet_BAC009S0724W0121.wav"  # 广州市房地产中介协会分析
KB = REPO / "tests" / "selfservice" / "data" / "kb.jsonl"
OFFICE_HOURS = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
SCRIPTS = [  # keys through a category into a document, and a spoken question read out
    "press 2\npress 1\npress 3\npress 2\npress *\npress #\nhangup",
    f"say {QUESTION}\npress 1\npress 3\npress #\nhangup",
]


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def make_channel_class():  # noqa: ANN201 - defined after HOTLINE_HOME is set
    from selfservice.simulator import SimulatedChannel

    class BenchChannel(SimulatedChannel):
        """The simulator, also timing end-of-speech to answer and adding up the call's audio time."""

        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            self.speech_latencies: list[float] = []
            self.audio_seconds = 0.0
            self._speech_end: float | None = None

        async def gather(self, **kwargs: object):  # noqa: ANN202
            if not self.pending_digits and self.steps and self.steps[0].kind == "say":
                self.audio_seconds += wav_seconds(Path(self.steps[0].value))
                self._speech_end = time.perf_counter()  # the whole utterance has arrived
            got = await super().gather(**kwargs)
            if got.kind != "digits":
                self._input_at = None  # key latency counts keys only
            return got

        async def play(
            self, text: str | None = None, *, audio: Path | None = None, speech_barge_in: bool = False
        ) -> None:
            if text is not None and not self.pending_digits:
                audio = await self.prompt_audio(text)
                self.audio_seconds += wav_seconds(audio)
            start = self._speech_end
            await super().play(
                None if audio is not None and text is not None else text,
                audio=audio,
                speech_barge_in=speech_barge_in,
            )
            if start is not None:
                self.speech_latencies.append(time.perf_counter() - start)
                self._speech_end = None

    return BenchChannel


async def one_call(channel_class, script: str):  # noqa: ANN001, ANN201
    from selfservice.engine import Dialog
    from selfservice.menu import load_menu
    from selfservice.simulator import parse_script

    channel = channel_class(parse_script(script, REPO), "13800138000")
    await Dialog(channel, load_menu(), clock=lambda: OFFICE_HOURS).run()
    return channel


async def run(calls: int, channel_class) -> list:  # noqa: ANN001
    return await asyncio.gather(*(one_call(channel_class, SCRIPTS[i % 2]) for i in range(calls)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=8, help="concurrent calls per round")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    os.environ["HOTLINE_HOME"] = tempfile.mkdtemp(prefix="hotline-bench-ivr-")
    from hotline import bootstrap
    from kb.importer import import_file

    bootstrap.init()
    assert not import_file(KB, publish=True).errors
    channel_class = make_channel_class()
    asyncio.run(run(2, channel_class))  # warm-up: models loaded, prompts in the TTS cache
    keys, speech_lat, audio, cpu, wall = [], [], 0.0, 0.0, 0.0
    for _ in range(args.rounds):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        channels = asyncio.run(run(args.calls, channel_class))
        cpu += time.process_time() - cpu0
        wall += time.perf_counter() - wall0
        for ch in channels:
            keys += ch.prompt_latencies
            speech_lat += ch.speech_latencies
            audio += ch.audio_seconds
    total = args.calls * args.rounds
    cores = os.cpu_count() or 1
    per_call_cpu = cpu / total
    per_call_audio = audio / total
    print(f"calls: {total} ({args.calls} concurrent x {args.rounds} rounds), cores: {cores}")
    print(
        f"prompt start after a key: p50 {pct(keys, 0.5):.1f} ms, p99 {pct(keys, 0.99):.1f} ms (n={len(keys)})"
    )
    print(
        f"end of speech -> first answer audio: p50 {pct(speech_lat, 0.5):.0f} ms, "
        f"p99 {pct(speech_lat, 0.99):.0f} ms (n={len(speech_lat)})"
    )
    print(f"CPU per call: {per_call_cpu:.2f} s for {per_call_audio:.1f} s of call audio (wall {wall:.1f} s)")
    print(f"CPU share of one real-time call: {per_call_cpu / per_call_audio:.3f} core")
    print(f"concurrent real-time calls on {cores} cores: {int(cores * per_call_audio / per_call_cpu)}")


if __name__ == "__main__":
    main()
