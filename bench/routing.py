#!/usr/bin/env python3
"""Accuracy of the routing model (casework/routing_model.py) on a fixed held-out split.

Usage: python bench/routing.py

The bundled training texts (data/casework/routing_train.jsonl) are split by a hash of the text: one in
five is held out, always the same ones, so figures can be compared between versions. The model is
trained as `hotline case route --retrain` trains it (bundled departments' remits and keywords, the
category-owning departments' messages), on the other four fifths, and scored on the held-out texts:
- category (the official tree's first level): accuracy, macro-F1, top-3 accuracy;
- department, on the held-out messages whose official reply names the handling unit: top-1 and top-3
  accuracy (few texts: read with care), and how often a preselected suggestion (confidence >=
  PRESELECT) was right;
plus the training time and the time of one suggestion.
"""

from __future__ import annotations

import hashlib
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sklearn.metrics import f1_score  # noqa: E402

from casework import routing_model as rm  # noqa: E402


def held_out(text: str) -> bool:
    return int(hashlib.sha1(text.encode()).hexdigest(), 16) % 5 == 0


def main() -> int:
    categories, departments = rm.bundled_examples()
    remits = rm.department_texts(None)
    owners = {c: name for name, cs in rm.category_owners().items() for c in cs}
    train_cat = [p for p in categories if not held_out(p[0])]
    test_cat = [p for p in categories if held_out(p[0])]
    train_dep = [p for p in departments if not held_out(p[0])]
    test_dep = [p for p in departments if held_out(p[0])]
    by_category = [(t, owners[c]) for t, c in train_cat if c in owners]

    started = time.perf_counter()
    category = rm.Classifier.fit([t for t, _ in train_cat], [c for _, c in train_cat])
    pairs = train_dep + by_category + remits
    department = rm.Classifier.fit([t for t, _ in pairs], [d for _, d in pairs])
    trained = time.perf_counter() - started

    guesses = [category.guess(t, 3) for t, _ in test_cat]
    truth = [c for _, c in test_cat]
    top1 = [g[0].name if g else "" for g in guesses]
    accuracy = statistics.mean(a == b for a, b in zip(top1, truth, strict=True))
    top3 = statistics.mean(c in {x.name for x in g} for g, c in zip(guesses, truth, strict=True))
    macro = f1_score(truth, top1, average="macro")
    print(
        f"category: {len(train_cat)} training / {len(test_cat)} held-out texts, {len(category.labels)} classes"
    )
    print(f"  accuracy {accuracy:.3f}  macro-F1 {macro:.3f}  top-3 accuracy {top3:.3f}")

    dguesses = [department.guess(t, 3) for t, _ in test_dep]
    dtruth = [d for _, d in test_dep]
    d1 = statistics.mean(bool(g) and g[0].name == d for g, d in zip(dguesses, dtruth, strict=True))
    d3 = statistics.mean(d in {x.name for x in g} for g, d in zip(dguesses, dtruth, strict=True))
    chosen = [
        (g[0].name == d)
        for g, d in zip(dguesses, dtruth, strict=True)
        if g and g[0].confidence >= rm.PRESELECT
    ]
    print(
        f"department: {len(pairs)} training texts, {len(test_dep)} held-out messages named in official replies"
    )
    print(
        f"  top-1 {d1:.3f}  top-3 {d3:.3f}  preselected {len(chosen)}/{len(test_dep)}, right {statistics.mean(chosen) if chosen else 0:.3f}"
    )

    sample = [t for t, _ in test_cat[:200]]
    started = time.perf_counter()
    for text in sample:
        category.guess(text, 3)
        department.guess(text, 3)
    per = (time.perf_counter() - started) / len(sample) * 1000
    print(f"training {trained:.1f} s; one suggestion (category + departments, with reasons) {per:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
