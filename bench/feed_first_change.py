#!/usr/bin/env python3
"""The change feed's first change after a process starts: how long a node's first `Applier.catch_up`
takes against its second, with the index warmed first (`Applier.warm`, what the follower does when it
starts) and without.

A home on SQLite with a small knowledge base and one published document; then, per run, a fresh process
sets the index position one change back, applies it (the first change), sets it back again and applies
it once more (the second). Prints one line per run.

Usage: python3 bench/feed_first_change.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMALL_KB = ROOT / "tests" / "selfservice" / "data" / "kb.jsonl"


def setup(root: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from hotline import bootstrap
    from hotline.cluster.local import probe_document
    from kb.importer import import_file

    bootstrap.init(load_bundled=True)
    probe = root / "probe.jsonl"
    probe.write_text(json.dumps(probe_document("探针"), ensure_ascii=False) + "\n")
    import_file(probe, publish=True, actor="bench")


def measure(warm: bool) -> None:
    sys.path.insert(0, str(ROOT))
    from kb import indexing

    applier = indexing.applier()
    started = time.perf_counter()
    if warm:
        applier.warm()
    warmed = time.perf_counter() - started
    applied = []
    for _ in range(2):
        applier._write((applier.position() or 1) - 1)  # one change back
        started = time.perf_counter()
        applier.catch_up()
        applied.append(time.perf_counter() - started)
    label = f"warmed in {warmed:.3f} s" if warm else "not warmed"
    print(f"{label:>18}: first change {applied[0]:.3f} s, second {applied[1]:.3f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--measure", choices=("cold", "warm"), help=argparse.SUPPRESS)  # the child
    args = parser.parse_args()
    if args.measure:
        measure(args.measure == "warm")
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sys.path.insert(0, str(ROOT))
        from hotline.cluster.local import data_dir_with_kb

        os.environ.update(HOTLINE_HOME=str(root / "home"), HOTLINE_DATA_DIR=str(data_dir_with_kb(root, SMALL_KB)))
        setup(root)
        for _ in range(args.runs):
            for mode in ("cold", "warm"):
                subprocess.run([sys.executable, __file__, "--measure", mode], check=True)


if __name__ == "__main__":
    main()
