#!/usr/bin/env python3
"""Cluster benchmark: several hotline nodes on this machine (hotline.cluster.local: one PostgreSQL
database, nodes on 127.0.0.2, 127.0.0.3 ..., HAProxy, Kamailio's dispatcher).

Measures
- search req/s through HAProxy with 1, 2 ... N nodes in the rotation (the others in maintenance), the
  latency p50/p99 and the CPU each request costs the nodes (all their processes, from /proc) and HAProxy.
  The nodes share this machine's cores: the figure to size a cluster with is the CPU per request;
- the change feed's lag under a burst of publishes on the first node: for each change, from its row in
  kb_changes (written in the publishing transaction) to the moment the last node's /healthz reports an
  index position at or past it (polled every 10 ms): p50, p99, max;
- failover times: web (kill -9 of a node under load: until HAProxy takes it out; failed requests; the
  slowest request around the kill), calls (kill -9 of a node: how long each of 4 calls placed one after
  another from that moment waits for its answer (a call tried on a dead process first waits for the
  2 s no-reply timer); when Kamailio has left the dead node's processes out), database (the primary
  stopped hard, the streaming replica promoted at once: until every node is healthy again and a
  publish is found on the other node).

Prints a summary, and one JSON line last.

Usage: python3 bench/cluster.py [--nodes 3] [--seconds 10] [--concurrency 16] [--burst 1000]
                                [--kb FILE] [--cache] [--skip calls,db]
(--kb: the knowledge base the cluster starts with; default the bundled one, ~1 min to import.)
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HOTLINE_TTS_ENGINE", "espeak")  # the nodes' prompts rendered at start: quickly

from kb_search import percentile, process_tree_cpu, query_set, run_wrk  # noqa: E402

from hotline.cluster.local import LocalCluster, probe_document, publish_and_find  # noqa: E402


def bench_search(cluster: LocalCluster, seconds: float, concurrency: int, queries: list[str]) -> list[dict]:
    assert cluster.proxy is not None and cluster.proxy.process is not None
    paths = cluster.root / "paths.txt"
    paths.write_text("".join(f"/api/search?{urlencode({'q': q})}\n" for q in queries))
    results = []
    for count in range(1, len(cluster.nodes) + 1):
        active = cluster.nodes[:count]
        for node in cluster.nodes:
            cluster.proxy.set_state(node.name, "ready" if node in active else "maint")
        cluster.wait_proxy_sees(
            lambda s, a=active: all(s[n.name] == "UP" for n in a) and sum(v == "UP" for v in s.values()) == len(a),
            20,
        )
        run_wrk(cluster.url, paths, 3, concurrency)  # warm-up: each node's index open, queries compiled
        before = {n.name: process_tree_cpu(n.process.pid) for n in active if n.process}
        proxy_before = process_tree_cpu(cluster.proxy.process.pid)
        r = run_wrk(cluster.url, paths, seconds, concurrency)
        node_cpu = sum(process_tree_cpu(n.process.pid) - before[n.name] for n in active if n.process)
        requests = max(1.0, float(r["requests"]))
        results.append(
            {
                "nodes": count,
                "req_per_s": round(r["req_per_s"], 1),
                "p50_ms": round(r["p50_ms"], 1),
                "p99_ms": round(r["p99_ms"], 1),
                "errors": int(r["errors"]),
                "node_cpu_ms_per_req": round(node_cpu * 1000 / requests, 2),
                "haproxy_cpu_ms_per_req": round(
                    (process_tree_cpu(cluster.proxy.process.pid) - proxy_before) * 1000 / requests, 3
                ),
            }
        )
    for node in cluster.nodes:
        cluster.proxy.set_state(node.name, "ready")
    return results


def bench_feed_lag(cluster: LocalCluster, burst: int) -> dict:
    """Publish `burst` documents one by one on the first node; the lag of each change on the last node."""
    from sqlalchemy import text

    from hotline.db import session_scope
    from kb.importer import import_stream

    source, target = cluster.nodes[0], cluster.nodes[-1]
    start_position = int(target.healthz()[1].get("log_position") or 0)
    polls: list[tuple[float, int]] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            body = target.healthz(timeout=2)[1]
            if "index_position" in body:
                polls.append((time.time(), int(body["index_position"])))
            time.sleep(0.01)

    poller = threading.Thread(target=poll)
    poller.start()
    started = time.monotonic()
    try:
        with cluster.acting_as(source):
            for i in range(burst):
                line = json.dumps(probe_document(f"批量发布{i:04d}号事项"), ensure_ascii=False) + "\n"
                import_stream(io.BytesIO(line.encode()), publish=True, actor="bench")
            publish_seconds = time.monotonic() - started
            with session_scope() as session:
                changes = session.execute(
                    text("SELECT seq, at FROM kb_changes WHERE seq > :p ORDER BY seq"), {"p": start_position}
                ).all()
        last = changes[-1][0] if changes else start_position
        deadline = time.monotonic() + 300
        while (not polls or polls[-1][1] < last) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        poller.join()
    lags = []
    for seq, at in changes:
        seen = next((t for t, position in polls if position >= seq), None)
        if seen is not None:
            lags.append(max(0.0, seen - at.timestamp()) * 1000)
    return {
        "publishes": burst,
        "changes": len(changes),
        "publish_s": round(publish_seconds, 1),
        "lag_p50_ms": round(statistics.median(lags), 1) if lags else None,
        "lag_p99_ms": round(percentile(lags, 99), 1) if lags else None,
        "lag_max_ms": round(max(lags), 1) if lags else None,
        "unseen": len(changes) - len(lags),
    }


def bench_web_failover(cluster: LocalCluster, clients: int = 8) -> dict:
    import httpx

    victim = cluster.nodes[-1]
    done: list[tuple[float, float, bool]] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=cluster.url, timeout=30) as client:
            while not stop.is_set():
                t0 = time.monotonic()
                try:
                    ok = client.get("/api/search", params={"q": "公积金提取"}).status_code == 200
                except httpx.HTTPError:
                    ok = False
                done.append((t0, time.monotonic(), ok))

    threads = [threading.Thread(target=load) for _ in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(2)
    victim.kill()
    killed = time.monotonic()
    cluster.wait_proxy_sees(lambda s: s[victim.name].startswith("DOWN"), 30)
    down_after = time.monotonic() - killed
    time.sleep(2)
    stop.set()
    for thread in threads:
        thread.join()
    around = [end - start for start, end, _ in done if end >= killed and start <= killed + down_after]
    result = {
        "down_after_s": round(down_after, 2),
        "failed": sum(not ok for _, _, ok in done),
        "failed_after_kill": sum(not ok for start, _, ok in done if start >= killed),
        "slowest_around_kill_ms": round(max(around, default=0) * 1000, 1),
        "requests": len(done),
    }
    cluster.restart(victim)
    return result


def bench_call_failover(cluster: LocalCluster, workdir: Path, calls: int = 4) -> dict:
    """Kill the first node; place `calls` calls one after another at once (round robin: some reach a
    process of the dead node first and are passed on when it does not answer)."""
    from tests.selfservice.baresip import Baresip
    from tests.selfservice.callcentre import tone_wav

    victim = cluster.nodes[0]
    cluster.wait_dispatcher(lambda s: all(f.startswith("A") for f in s.values()), 20)
    voice = tone_wav(workdir / "caller.wav", 600.0, seconds=20, lead=4)
    caller = Baresip(workdir / "caller", voice, number="13900009999")
    answered: list[float] = []
    try:
        victim.kill()
        killed = time.monotonic()
        for _ in range(calls):
            started = time.monotonic()
            caller.dial(cluster.sip_uri)
            answered.append(time.monotonic() - started)
            caller.hangup()
            caller.wait_event("CALL_CLOSED", 10)
        cluster.wait_dispatcher(lambda s: all(s[u].startswith("I") for u in cluster.media_of(victim)), 30)
        dropped_after = time.monotonic() - killed
    finally:
        caller.stop()
    cluster.restart(victim)
    return {
        "calls_after_kill": calls,
        "call_answer_max_s": round(max(answered), 2),
        "call_answer_s": [round(a, 2) for a in answered],
        "node_dropped_after_s": round(dropped_after, 2),
    }


def bench_db_failover(workdir: Path, kb: Path | None) -> dict:
    from hotline.cluster.pgpair import PostgresPair

    with PostgresPair() as pair:
        pair.create_database("hotline")
        with LocalCluster(workdir, nodes=2, sip=False, kb_file=kb, database_url=pair.url("hotline")) as cluster:
            pair.fail_primary()
            failed = time.monotonic()
            pair.promote()
            promoted_after = time.monotonic() - failed
            for node in cluster.nodes:
                node.wait_healthy(120)
            healthy_after = time.monotonic() - failed
            first, second = cluster.nodes
            publish_and_find(cluster, first, second, "主库切换检查", timeout=30)
            writing_after = time.monotonic() - failed
    return {
        "promoted_after_s": round(promoted_after, 2),
        "nodes_healthy_after_s": round(healthy_after, 2),
        "publish_found_after_s": round(writing_after, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10, help="each search measurement")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--burst", type=int, default=1000, help="documents published one by one for the lag")
    parser.add_argument("--kb", type=Path, default=None, help="knowledge base to start with (default: bundled)")
    parser.add_argument("--cache", action="store_true", help="keep the nodes' search results cache on")
    parser.add_argument("--skip", default="", help="comma-separated: search,feed,web,calls,db")
    args = parser.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if not shutil.which("wrk"):
        raise SystemExit("bench/cluster.py needs wrk (scripts/install installs it)")
    out: dict = {"cpus": len(os.sched_getaffinity(0)), "nodes": args.nodes}
    work = Path(tempfile.mkdtemp(prefix="hotline-bench-cluster-"))
    env = {} if args.cache else {"HOTLINE_SEARCH_RESULTS_CACHED": "0"}
    try:
        print(f"starting {args.nodes} nodes (cpus={out['cpus']}) ...", flush=True)
        with LocalCluster(
            work / "cluster", nodes=args.nodes, sip="calls" not in skip, kb_file=args.kb, max_calls=2, env=env
        ) as cluster:
            time.sleep(3)  # the nodes' start-up work (prompts) done
            if "search" not in skip:
                out["search"] = bench_search(cluster, args.seconds, args.concurrency, query_set(args.queries))
                for r in out["search"]:
                    print(
                        f"  search through HAProxy, {r['nodes']} node(s): {r['req_per_s']:.0f} req/s, "
                        f"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, errors {r['errors']}, "
                        f"{r['node_cpu_ms_per_req']} ms node CPU + {r['haproxy_cpu_ms_per_req']} ms HAProxy CPU per request",
                        flush=True,
                    )
            if "feed" not in skip:
                out["feed"] = feed = bench_feed_lag(cluster, args.burst)
                print(
                    f"  change feed: {feed['publishes']} publishes in {feed['publish_s']} s; lag on the last node "
                    f"p50 {feed['lag_p50_ms']} ms, p99 {feed['lag_p99_ms']} ms, max {feed['lag_max_ms']} ms",
                    flush=True,
                )
            if "web" not in skip:
                out["web_failover"] = web = bench_web_failover(cluster)
                print(
                    f"  web failover: node out of HAProxy after {web['down_after_s']} s; failed requests "
                    f"{web['failed']} ({web['failed_after_kill']} started after the kill) of {web['requests']}; "
                    f"slowest around the kill {web['slowest_around_kill_ms']} ms",
                    flush=True,
                )
            if "calls" not in skip:
                out["call_failover"] = calls = bench_call_failover(cluster, work)
                print(
                    f"  call failover: {calls['calls_after_kill']} calls placed one after another from the kill answered "
                    f"after {calls['call_answer_s']} s; Kamailio left the dead node out after "
                    f"{calls['node_dropped_after_s']} s",
                    flush=True,
                )
        if "db" not in skip:
            out["db_failover"] = db = bench_db_failover(work / "db", args.kb)
            print(
                f"  database failover: replica promoted {db['promoted_after_s']} s after the primary died; "
                f"nodes healthy after {db['nodes_healthy_after_s']} s; publish found after {db['publish_found_after_s']} s",
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
