#!/usr/bin/env python3
"""Retrieval quality of kb.search on the bundled policy documents and the dev questions.

Usage: python bench/kb_quality.py [--engine tantivy|whoosh|all] [--corpus policies|all] [--baseline]
                                  [--semantic] [--errors]

Indexes data/kb/ncp_policies.jsonl (or every data/kb/*.jsonl with --corpus all, so FAQ entries and
law articles compete as distractors) into a temporary index, runs the questions of
data/eval/ncp_dev_queries.jsonl and prints MRR@10 and Recall@1/5/10 for the whole set and for two
fixed halves (split by a hash of the question) as an overfitting check.

It also runs the off-topic questions of data/eval/offtopic_queries.jsonl and reports how the best
hit's "answered" flag (relevance >= kb.search.schema.ANSWER_THRESHOLD) does: the precision of
"answered" (the right document is among the ANSWER_RANKS first hits) and of "not answered" (it is
not: off-topic questions have no right document), the shares of answerable dev questions answered
and of off-topic ones refused, and the threshold that is best on these questions (how the one in
the schema was chosen).
--baseline ranks by the body field only: no title/keyword/question fields, phrases, pinyin or re-ranking.
--as-of DATE (default 2020-03-01) searches as of that day: the dev questions were written against the
collection as it stood in early 2020. The bundled rows give no validity (a centre sets the COVID-era
notices' on the corpus page, docs/kb.md), so the date matters only for rows that carry one.
--errors classifies the dev questions whose document is not first (error_class) and prints the MRR@10
each class costs, then one line per question.
--semantic re-ranks by meaning too (kb.search.semantic: the documents' vectors from data/kb/embeddings.npz,
each question embedded as it is searched) and prints the time the questions' embeddings took.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hotline.textsim import bigrams  # noqa: E402
from kb.search import ENGINES, IndexDoc, SearchIndex, analysis, highlight, open_index  # noqa: E402
from kb.search import schema as search_schema  # noqa: E402

KB_DIR = ROOT / "data" / "kb"
QUERIES = ROOT / "data" / "eval" / "ncp_dev_queries.jsonl"
OFF_TOPIC = ROOT / "data" / "eval" / "offtopic_queries.jsonl"
ANSWER_RANKS = 3  # the few hits a results page and the IVR put first
AS_OF = date(2020, 3, 1)  # the day the dev questions' documents stood as they were asked about
COPY_SHARE = 0.8  # share of the larger document's character bigrams the other has: a copy
PASSAGE_SHARE = 0.8  # share of the answering passage's bigrams a document holds: it carries that passage
LONG_DOCUMENT = 3000  # characters
# Why a question's document is not first (error_class), in the order the rules are tried.
ERROR_CLASSES = {
    "copy": "only near-identical copies of the judged document rank above it",
    "shared passage": "a document ranked above it holds the judged document's answering passage",
    "vocabulary": "the judged document holds under half of the question (relevance < 0.5)",
    "long document": "a long judged document (> 3,000 characters) answers in one passage; a shorter one ranks first",
    "competitor": "another document answers the question as well (the question names no detail that tells them apart)",
}


def read_jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def load_documents(corpus: str) -> list[dict]:
    files = [KB_DIR / "ncp_policies.jsonl"] if corpus == "policies" else sorted(KB_DIR.glob("*.jsonl"))
    return [row for path in files for row in read_jsonl(path)]


def to_index_doc(n: int, row: dict) -> IndexDoc:
    valid = row.get("valid_until")
    return IndexDoc(
        id=n,
        external_id=row["external_id"],
        title=row["title"],
        category=row.get("category") or "",
        department=row.get("department") or "",
        keywords=list(row.get("keywords") or []),
        question=row.get("question") or "",
        answer=row.get("answer") or "",
        body=row.get("body") or "",
        published=True,
        valid_until=date.fromisoformat(valid) if valid else None,
    )


def half(question: str) -> str:
    return "A" if hashlib.sha1(question.encode()).digest()[0] % 2 == 0 else "B"


def metrics(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks) or 1
    return {
        "MRR@10": sum(1 / r for r in ranks if r and r <= 10) / n,
        "R@1": sum(1 for r in ranks if r and r <= 1) / n,
        "R@5": sum(1 for r in ranks if r and r <= 5) / n,
        "R@10": sum(1 for r in ranks if r and r <= 10) / n,
    }


def use_baseline() -> None:
    """Body-only BM25: the design's baseline method."""
    search_schema.TERM_BOOSTS = {search_schema.BODY_FIELD: 1.0}
    search_schema.PHRASE_BOOSTS = {}
    search_schema.PINYIN_BOOST = 0.0
    search_schema.POPULARITY_WEIGHT = 0.0
    search_schema.PLACE_PENALTY = 1.0  # no re-ranking of the candidates either
    search_schema.PASSAGE_WEIGHT = 0.0


def plain(row: dict) -> str:
    """A document's title and text as passages and snippets see them."""
    text = search_schema.answer_and_body(row.get("answer") or "", row.get("body") or "")
    return f"{row['title']}\n{highlight.plain_text(text)}"


def error_class(index: SearchIndex, question: str, judged: dict, above: list[dict]) -> str:
    """Why the judged document ranks below `above` (the hits before it, or the first ten when it is
    not among them): the first rule of ERROR_CLASSES that fits."""
    mine = bigrams(plain(judged))
    theirs = [bigrams(plain(row)) for row in above]
    if all(len(mine & other) >= COPY_SHARE * max(len(mine), len(other)) for other in theirs):
        return "copy"
    judge = index.relevance(analysis.fold_query(question))  # the question's weighted bigrams
    text = plain(judged)
    _, start = judge.passages.densest(text, search_schema.PASSAGE_WIDTH)
    passage = bigrams(text[start : start + search_schema.PASSAGE_WIDTH])
    if any(len(passage & other) >= PASSAGE_SHARE * len(passage) for other in theirs):
        return "shared passage"
    title, _, body = text.partition("\n")
    if judge.score(title, body) < search_schema.ANSWER_THRESHOLD:
        return "vocabulary"
    return "long document" if len(body) > LONG_DOCUMENT else "competitor"


def print_errors(errors: list[tuple[str, str, int | None, str, str]], questions: int) -> None:
    """errors: (class, half, rank, question, first hit's title) of each question not answered first."""
    lost = {name: 0.0 for name in ERROR_CLASSES}
    for name, _, rank, _, _ in errors:
        lost[name] += 1 - (1 / rank if rank and rank <= 10 else 0)
    for name, meaning in ERROR_CLASSES.items():
        count = {h: sum(1 for e in errors if e[0] == name and e[1] == h) for h in ("A", "B")}
        print(
            f"  {name:14s} {count['A'] + count['B']:3d} questions (A {count['A']}, B {count['B']})"
            f"  MRR@10 lost {lost[name] / questions:.3f}: {meaning}"
        )
    for name, half_name, rank, question, first in sorted(
        errors, key=lambda e: (list(ERROR_CLASSES).index(e[0]), e[2] or 99)
    ):
        print(f"    {name:14s} {half_name} rank {rank or '-':>2}  {question}  | first: {first[:40]}")


def answered_precision(judged: list[tuple[float, str]], threshold: float) -> dict[str, float]:
    """judged: (best hit's relevance, kind) per question, kind "right" (a dev question whose document
    is among the first ANSWER_RANKS hits), "wrong" (one whose document is not) or "off" (off-topic).
    Precision of "answered" (right ones among those answered) and of "not answered" (the others among
    those not answered); the shares of right dev questions answered and of off-topic ones not."""
    yes = [kind for relevance, kind in judged if relevance >= threshold]
    no = [kind for relevance, kind in judged if relevance < threshold]
    right = sum(kind == "right" for _, kind in judged) or 1
    off = sum(kind == "off" for _, kind in judged) or 1
    return {
        "answered": len(yes),
        "P(answered)": yes.count("right") / (len(yes) or 1),
        "not answered": len(no),
        "P(not answered)": (len(no) - no.count("right")) / (len(no) or 1),
        "dev answered": yes.count("right") / right,
        "off-topic refused": no.count("off") / off,
    }


def best_threshold(judged: list[tuple[float, str]]) -> float:
    """The threshold (to 0.05) with the best mean of the share of right dev questions answered and
    of off-topic ones refused (the higher threshold among equals)."""

    def balanced(t: float) -> float:
        p = answered_precision(judged, t)
        return round((p["dev answered"] + p["off-topic refused"]) / 2, 3)

    grid = [round(0.05 * i, 2) for i in range(1, 20)]
    return max(grid, key=lambda t: (balanced(t), t))


def evaluate(
    engine: str,
    docs: list[dict],
    questions: list[dict],
    off_topic: list[dict],
    semantic: bool = False,
    as_of: date = AS_OF,
    errors: bool = False,
) -> tuple[dict[str, dict[str, float]], list[tuple[float, str]]]:
    judged: list[tuple[float, str]] = []
    wrong: list[tuple[str, str, int | None, str, str]] = []  # see print_errors
    with tempfile.TemporaryDirectory() as tmp:
        index = open_index(  # every search computed
            Path(tmp), engine, results_cached=0, semantic=semantic, bundled_vectors=KB_DIR / "embeddings.npz"
        )
        started = time.perf_counter()
        index.upsert(to_index_doc(n, row) for n, row in enumerate(docs, 1))
        indexed = time.perf_counter() - started
        external = {n: row["external_id"] for n, row in enumerate(docs, 1)}
        by_external = {row["external_id"]: row for row in docs}
        ranks: dict[str, list[int | None]] = {"all": [], "A": [], "B": []}
        started = time.perf_counter()
        for item in questions:
            hits = index.search(item["question"], limit=10, semantic=semantic, today=as_of).hits
            found = [external[h.id] for h in hits]
            rank = found.index(item["external_id"]) + 1 if item["external_id"] in found else None
            ranks["all"].append(rank)
            ranks[half(item["question"])].append(rank)
            right = rank is not None and rank <= ANSWER_RANKS
            if errors and rank != 1 and found:
                above = [by_external[e] for e in found[: (rank or len(found) + 1) - 1]]
                name = error_class(index, item["question"], by_external[item["external_id"]], above)
                wrong.append((name, half(item["question"]), rank, item["question"], above[0]["title"]))
            judged.append((hits[0].relevance if hits else 0.0, "right" if right else "wrong"))
        searched = time.perf_counter() - started
        for item in off_topic:
            hits = index.search(item["question"], limit=1, semantic=semantic, today=as_of).hits
            judged.append((hits[0].relevance if hits else 0.0, "off"))
    if errors:
        print_errors(wrong, len(questions))
    print(
        f"  [{engine}] indexed {len(docs)} docs in {indexed:.1f} s; {len(questions)} queries in {searched:.1f} s"
        f" ({1000 * searched / max(1, len(questions)):.1f} ms each)"
    )
    return {name: metrics(r) for name, r in ranks.items()}, judged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="all", choices=[*ENGINES, "all"])
    parser.add_argument("--corpus", default="policies", choices=["policies", "all"])
    parser.add_argument("--baseline", action="store_true", help="body-only BM25 (the design's baseline)")
    parser.add_argument("--semantic", action="store_true", help="re-rank by meaning too (kb.search.semantic)")
    parser.add_argument("--errors", action="store_true", help="why questions' documents are not first")
    parser.add_argument(
        "--as-of",
        default=AS_OF.isoformat(),
        help="search as of this day (YYYY-MM-DD or 'today'; expired documents are left out)",
    )
    args = parser.parse_args(argv)
    as_of = date.today() if args.as_of == "today" else date.fromisoformat(args.as_of)
    if args.baseline:
        use_baseline()
    docs = load_documents(args.corpus)
    questions = list(read_jsonl(QUERIES))
    off_topic = list(read_jsonl(OFF_TOPIC))
    print(
        f"corpus={args.corpus} ({len(docs)} documents), {len(questions)} questions"
        f" + {len(off_topic)} off-topic"
        + (" [baseline: body-only BM25]" if args.baseline else "")
        + (" [semantic re-ranking]" if args.semantic else "")
        + f" as of {as_of}"
    )
    for engine in ENGINES if args.engine == "all" else [args.engine]:
        results, judged = evaluate(engine, docs, questions, off_topic, args.semantic, as_of, args.errors)
        for name, m in results.items():
            label = {"all": "all", "A": "half A", "B": "half B"}[name]
            print(f"  {engine:8s} {label:7s} " + "  ".join(f"{k} {v:.3f}" for k, v in m.items()))
        best = best_threshold(judged)
        for label, threshold in (("threshold", search_schema.ANSWER_THRESHOLD), ("best", best)):
            p = answered_precision(judged, threshold)
            print(
                f"  {engine:8s} {label} {threshold:.2f}: answered {p['answered']} (precision"
                f" {p['P(answered)']:.3f}), not answered {p['not answered']} (precision"
                f" {p['P(not answered)']:.3f}); dev answered {p['dev answered']:.3f},"
                f" off-topic refused {p['off-topic refused']:.3f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
