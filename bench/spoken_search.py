#!/usr/bin/env python3
"""Spoken knowledge-base search end to end, as a caller meets it on the phone: each dev question is spoken
by the TTS voice, sent through G.711 at 8 kHz, recognised by the bundled recogniser and searched with
kb.search (channel "ivr", as the IVR does). Prints top-1 / top-3 for the typed question and the spoken
one, and the recogniser's character error rate against the question.

Usage: python3 bench/spoken_search.py [--questions 40] [--engine kokoro|espeak] [--voice zm_yunjian]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
QUERIES = ROOT / "data" / "eval" / "ncp_dev_queries.jsonl"
DOCUMENTS = ROOT / "data" / "kb" / "ncp_policies.jsonl"


def char_errors(hyp: str, ref: str) -> int:
    prev = list(range(len(ref) + 1))
    for i, h in enumerate(hyp, 1):
        cur = [i] + [0] * len(ref)
        for j, r in enumerate(ref, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (h != r))
        prev = cur
    return prev[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=40, help="the first N dev questions (every 15th)")
    parser.add_argument("--engine", default="kokoro")
    parser.add_argument("--voice", default=None)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="hotline-bench-spoken-"))
    os.environ["HOTLINE_HOME"] = str(home)
    os.environ["HOTLINE_TTS_ENGINE"] = args.engine

    import numpy as np

    import kb
    import speech
    from hotline import bootstrap
    from hotline.db import session_scope
    from kb.importer import import_file
    from speech.audio import write_wav

    bootstrap.init()
    import_file(DOCUMENTS, publish=True)
    rows = [json.loads(line) for line in QUERIES.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = rows[::15][: args.questions]  # spread over the set, the same questions every run
    typed1 = typed3 = spoken1 = spoken3 = 0
    errors = chars = 0
    seconds = []
    for n, row in enumerate(rows):
        question, wanted = row["question"], row["external_id"]
        wav = speech.synthesize(question, engine=args.engine, voice=args.voice, rate=8000)
        line = speech.decode_g711(speech.g711_bytes(wav))  # what the phone line delivers
        heard = home / f"q{n}.wav"
        write_wav(heard, line.astype(np.int16), 8000)
        started = time.perf_counter()
        text = speech.recognize_file(heard).text
        with session_scope() as session:
            typed = [h.external_id for h in kb.search(session, question, limit=3, channel="ivr").hits]
            spoken = [h.external_id for h in kb.search(session, text, limit=3, channel="ivr").hits] if text else []
        seconds.append(time.perf_counter() - started)
        typed1 += typed[:1] == [wanted]
        typed3 += wanted in typed
        spoken1 += spoken[:1] == [wanted]
        spoken3 += wanted in spoken
        ref = "".join(ch for ch in question if "\u4e00" <= ch <= "\u9fff")
        hyp = "".join(ch for ch in text if "\u4e00" <= ch <= "\u9fff")
        errors += char_errors(hyp, ref)
        chars += len(ref)
    count = len(rows) or 1
    result = {
        "questions": len(rows),
        "engine": args.engine,
        "voice": args.voice or "default",
        "typed_top1": round(typed1 / count, 3),
        "typed_top3": round(typed3 / count, 3),
        "spoken_top1": round(spoken1 / count, 3),
        "spoken_top3": round(spoken3 / count, 3),
        "asr_cer": round(errors / max(chars, 1), 3),
        "recognise_and_search_p50_ms": round(sorted(seconds)[len(seconds) // 2] * 1000) if seconds else None,
    }
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
