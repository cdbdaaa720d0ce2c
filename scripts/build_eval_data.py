#!/usr/bin/env python3
"""Build the retrieval-quality dev set (data/eval/ncp_dev_queries.jsonl) from the shared raw data.

Usage: python scripts/build_eval_data.py [--source /work/shared/data] [--out data/eval]

Each line of ncp_policy_qa/dev_queries.jsonl ({"question", "docid"}) becomes
{"question": ..., "external_id": "ncp-<docid>"}: the id under which scripts/build_kb_data.py
bundles that policy document in data/kb/ncp_policies.jsonl. Questions are copied unchanged,
in order; a question whose document is not in the bundled KB is an error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build(source: Path, out: Path, kb_file: Path) -> int:
    bundled = {json.loads(line)["external_id"] for line in kb_file.open(encoding="utf-8") if line.strip()}
    rows = []
    for n, line in enumerate((source / "ncp_policy_qa" / "dev_queries.jsonl").open(encoding="utf-8"), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        external_id = f"ncp-{item['docid']}"
        if external_id not in bundled:
            raise SystemExit(f"dev_queries.jsonl line {n}: document {external_id} is not in {kb_file}")
        rows.append({"question": item["question"].strip(), "external_id": external_id})
    out.mkdir(parents=True, exist_ok=True)
    target = out / "ncp_dev_queries.jsonl"
    tmp = target.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(target)
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "eval")
    parser.add_argument("--kb", type=Path, default=ROOT / "data" / "kb" / "ncp_policies.jsonl")
    args = parser.parse_args(argv)
    count = build(args.source, args.out, args.kb)
    print(f"wrote {count} questions to {args.out / 'ncp_dev_queries.jsonl'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
