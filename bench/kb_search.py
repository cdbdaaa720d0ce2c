#!/usr/bin/env python3
"""Search engine performance: indexing throughput, index size, query latency, HTTP req/s.

Usage: python bench/kb_search.py [--sizes 10000,100000] [--engines tantivy,whoosh] [--whoosh-max 10000]
                                 [--queries 500] [--http] [--http-seconds 10] [--concurrency 16]
                                 [--workers 2] [--rate 300]

Documents are generated from the bundled corpus (data/kb/*.jsonl): the real texts are cut into
passages of a few sentences and recombined (seeded, reproducible) into N documents with a title,
category, department and popularity, 5% of them drafts. Queries are a fixed mix of the dev
questions (data/eval/) and 2-3 word keyword queries drawn from titles. Latency is in-process
`SearchIndex.search(q, limit=10)` with snippets and did-you-mean, one query at a time.
--http starts `hotline serve --workers N --no-sip` on loopback (fresh HOTLINE_HOME: the bundled KB is
loaded) and drives GET /api/search?q=... through the query set at the given concurrency with `wrk`
(compiled, one thread: it leaves the CPU to the server; script bench/kb_search_wrk.lua), or with an
asyncio httpx client when wrk is not installed. It also reports the server's CPU time per request
(all its processes, from /proc). --rate R holds the load at about R requests a second (wrk only: each
connection pauses between requests, the pause set from the cycle time the warm-up measured) instead of
as fast as the server answers; the load test of docs/security.md is `--sizes "" --http --rate 300 --concurrency 32`.
The server answers a repeated search on the same index commit from its results cache (HOTLINE_SEARCH_RESULTS_CACHED):
the 500 queries repeat, so after the first round the load is mostly hits; --no-cache computes every search.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.search import IndexDoc, analysis, open_index  # noqa: E402

KB_DIR = ROOT / "data" / "kb"
QUESTIONS = ROOT / "data" / "eval" / "ncp_dev_queries.jsonl"
CATEGORIES = ["政策法规", "办事指南", "常见问题", "通知公告", "典型案例"]
SENTENCE_END = re.compile(r"(?<=[。！？；])")


def read_jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def passages() -> tuple[list[str], list[str]]:
    """Real text cut into passages of ~120-400 characters, and the departments found."""
    out: list[str] = []
    departments: set[str] = set()
    for path in sorted(KB_DIR.glob("*.jsonl")):
        for row in read_jsonl(path):
            if row.get("department"):
                departments.add(row["department"])
            text = " ".join(p for p in (row.get("question"), row.get("answer"), row.get("body")) if p)
            current = ""
            for sentence in SENTENCE_END.split(" ".join(text.split())):
                current += sentence
                if len(current) >= 120:
                    out.append(current[:400])
                    current = ""
            if len(current) >= 40:
                out.append(current)
    return out, sorted(departments) or ["市政府办公厅"]


def generate(n: int, seed: int = 12345) -> Iterator[IndexDoc]:
    """N reproducible documents recombined from the bundled corpus."""
    texts, departments = passages()
    rng = random.Random(seed)
    for i in range(1, n + 1):
        parts = [rng.choice(texts) for _ in range(rng.randint(1, 4))]
        first = re.split(r"[，。；：！？,;:]", parts[0].strip())[0]
        title = f"{first[:30]}（{i}）"
        yield IndexDoc(
            id=i,
            external_id=f"bench-{i}",
            title=title,
            category=rng.choice(CATEGORIES),
            department=rng.choice(departments),
            keywords=[],
            body="\n".join(parts),
            published=rng.random() >= 0.05,
            popularity=int(rng.paretovariate(1.5)) - 1,
        )


def query_set(count: int, seed: int = 7) -> list[str]:
    """Half real questions, half short keyword queries from generated titles."""
    rng = random.Random(seed)
    questions = [r["question"] for r in read_jsonl(QUESTIONS)]
    rng.shuffle(questions)
    keyword_queries = []
    for doc in generate(2000, seed=99):
        words = [w for w in analysis.words(doc.title) if len(w) >= 2]
        if len(words) >= 2:
            keyword_queries.append(" ".join(rng.sample(words, min(len(words), rng.randint(2, 3)))))
    rng.shuffle(keyword_queries)
    return questions[: count // 2] + keyword_queries[: count - count // 2]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def bench_engine(engine: str, n: int, queries: list[str]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        index = open_index(Path(tmp), engine, results_cached=0)  # every search computed
        started = time.perf_counter()
        index.upsert(generate(n))
        index_s = time.perf_counter() - started
        assert index.count() == n
        for q in queries[:20]:  # warm caches (jieba, pinyin, searcher)
            index.search(q)
        latencies = []
        started = time.perf_counter()
        for q in queries:
            t0 = time.perf_counter()
            index.search(q, limit=10)
            latencies.append((time.perf_counter() - t0) * 1000)
        wall = time.perf_counter() - started
        return {
            "docs": n,
            "index_docs_per_s": n / index_s,
            "index_mb": dir_size(Path(tmp)) / 1e6,
            "p50_ms": statistics.median(latencies),
            "p99_ms": percentile(latencies, 99),
            "qps": len(queries) / wall,
        }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def load(
    url: str, queries: list[str], seconds: float, concurrency: int
) -> tuple[int, int, list[float]]:
    import httpx

    done = errors = 0
    latencies: list[float] = []
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def worker(k: int) -> None:
            nonlocal done, errors
            i = k
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                r = await client.get("/api/search", params={"q": queries[i % len(queries)]})
                latencies.append((time.perf_counter() - t0) * 1000)
                if r.status_code == 200:
                    done += 1
                else:
                    errors += 1
                i += concurrency

        await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return done, errors, latencies


WRK_SCRIPT = Path(__file__).resolve().parent / "kb_search_wrk.lua"


def process_tree_cpu(root: int) -> float:
    """CPU seconds (user + system) used so far by a process and all its descendants (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(stat.parent.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    tree, total, grew = {root}, 0.0, True
    while grew:
        grew = False
        for pid, (ppid, _) in stats.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    for pid in tree:
        total += stats.get(pid, (0, 0.0))[1]
    return total


def run_wrk(
    url: str, paths_file: Path, seconds: float, concurrency: int, pause_ms: int = 0
) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s", "--timeout", "30s", "-s", str(WRK_SCRIPT), url]
        + ["--", str(paths_file), str(pause_ms)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRK "))
    r = json.loads(line[4:])
    return {
        "requests": r["requests"],
        "req_per_s": r["requests"] / (r["duration_us"] / 1e6),
        "errors": r["errors"],
        "p50_ms": r["p50_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
    }


def run_httpx(url: str, queries: list[str], seconds: float, concurrency: int) -> dict[str, float]:
    done, errors, latencies = asyncio.run(load(url, queries, seconds, concurrency))
    return {
        "requests": done + errors,
        "req_per_s": done / seconds,
        "errors": errors,
        "p50_ms": statistics.median(latencies),
        "p99_ms": percentile(latencies, 99),
    }


def bench_http(
    queries: list[str], seconds: float, concurrency: int, workers: int, rate: float = 0, cache: bool = True
) -> dict[str, float | str]:
    import httpx

    home = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    port = free_port()
    env = {**os.environ, "HOTLINE_HOME": str(home)}
    env.pop("HOTLINE_DATABASE_URL", None)
    if not cache:
        env["HOTLINE_SEARCH_RESULTS_CACHED"] = "0"
    server = subprocess.Popen(
        [sys.executable, "-c", "from hotline.cli import app; app()", "serve", "--no-sip"]
        + ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    paths_file = home / "paths.txt"
    paths_file.write_text("".join(f"/api/search?{urlencode({'q': q})}\n" for q in queries))
    wrk = shutil.which("wrk")
    try:
        deadline = time.time() + 600
        while True:
            try:
                if httpx.get(f"{url}/api/search", params={"q": "公积金"}, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.time() > deadline:
                raise SystemExit("hotline serve did not come up")
            time.sleep(1)

        if rate and not wrk:
            raise SystemExit("--rate needs wrk (apt-get install wrk)")
        interval_ms = concurrency * 1000 / rate if rate else 0
        pause_ms = round(interval_ms)

        def run(secs: float) -> dict[str, float]:
            if wrk:
                return run_wrk(url, paths_file, secs, concurrency, pause_ms)
            return run_httpx(url, queries, secs, concurrency)

        warm = run(3)  # warm-up: every worker has opened the index and compiled its queries
        if rate:  # a connection's cycle is its pause plus the latency (and wrk's timer) at this load
            overhead_ms = concurrency * 1000 / warm["req_per_s"] - pause_ms
            pause_ms = max(0, round(interval_ms - overhead_ms))
        cpu_before = process_tree_cpu(server.pid)
        r: dict[str, float | str] = {**run(seconds)}
        r["server_cpu_ms"] = (process_tree_cpu(server.pid) - cpu_before) * 1000 / max(1, float(r["requests"]))
        r["client"] = "wrk" if wrk else "httpx"
        r["pause_ms"] = pause_ms
        return r
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--engines", default="tantivy,whoosh")
    parser.add_argument("--whoosh-max", type=int, default=10000, help="skip whoosh above this size (slow)")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--http", action="store_true", help="also measure GET /api/search of hotline serve")
    parser.add_argument("--http-seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="web worker processes of hotline serve")
    parser.add_argument(
        "--rate", type=float, default=0, help="requests a second to hold (0: as fast as served)"
    )
    parser.add_argument(
        "--no-cache", action="store_true", help="turn the server's results cache off (every search computed)"
    )
    args = parser.parse_args(argv)
    queries = query_set(args.queries)
    print(f"{len(queries)} queries (top-10 with snippets); cpus={os.cpu_count()}")
    for n in [int(s) for s in args.sizes.split(",") if s]:
        for engine in [e for e in args.engines.split(",") if e]:
            if engine == "whoosh" and n > args.whoosh_max:
                print(f"  {engine:8s} {n:>7,} docs: skipped (--whoosh-max {args.whoosh_max})")
                continue
            r = bench_engine(engine, n, queries)
            print(
                f"  {engine:8s} {n:>7,} docs: index {r['index_docs_per_s']:,.0f} docs/s, {r['index_mb']:.1f} MB; "
                f"query p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, {r['qps']:,.0f} q/s",
                flush=True,
            )
    if args.http:
        r = bench_http(
            queries, args.http_seconds, args.concurrency, args.workers, args.rate, not args.no_cache
        )
        held = f", held at {args.rate:g} req/s (pause {r['pause_ms']} ms)" if args.rate else ""
        held += ", results cache off" if args.no_cache else ", results cache on"
        print(
            f"  HTTP GET /api/search (hotline serve --workers {args.workers}, bundled KB, {r['client']}, "
            f"concurrency {args.concurrency}{held}, {args.http_seconds:g} s): {r['req_per_s']:,.0f} req/s, "
            f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, errors {r['errors']}, "
            f"server CPU {r['server_cpu_ms']:.2f} ms/request"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
