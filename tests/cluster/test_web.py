"""Two nodes behind HAProxy on one PostgreSQL database: what one node publishes the other finds within a
second; a node killed under load costs only the requests it had in flight; a node that was down catches
up with the change feed before HAProxy sends it anything."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpx
import pytest

from hotline.cluster.local import LocalCluster, probe_document, publish, publish_and_find

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


def test_a_document_published_on_one_node_is_found_on_the_other_within_a_second(cluster: LocalCluster) -> None:
    first, second = cluster.nodes
    # each node's first change after its start opens its index writer: not what a reader meets later
    publish_and_find(cluster, first, second, "松柏岭护林员招募", timeout=10)
    publish_and_find(cluster, second, first, "月牙泉节水补贴", timeout=10)
    assert publish_and_find(cluster, first, second, "琥珀湾夜航补贴", timeout=5) < 1.0
    assert publish_and_find(cluster, second, first, "青石巷古井修缮", timeout=5) < 1.0
    # and through HAProxy, whichever node answers
    for _ in range(4):
        hits = httpx.get(cluster.url + "/api/search", params={"q": "琥珀湾夜航补贴"}, timeout=5).json()["hits"]
        assert hits and hits[0]["title"] == "琥珀湾夜航补贴办理指南"


@dataclass
class Request:
    started: float
    ended: float
    ok: bool


def load(url: str, stop: threading.Event, out: list[Request]) -> None:
    """One client of the web load: searches one after another on a kept-alive connection."""
    queries = ["公积金提取", "社保卡补办", "居住证", "医保报销"]
    with httpx.Client(base_url=url, timeout=10) as client:
        i = 0
        while not stop.is_set():
            started = time.monotonic()
            try:
                ok = client.get("/api/search", params={"q": queries[i % len(queries)]}).status_code == 200
            except httpx.HTTPError:
                ok = False
            out.append(Request(started, time.monotonic(), ok))
            i += 1


def test_killing_a_node_under_load_fails_only_the_requests_it_had_in_flight(cluster: LocalCluster) -> None:
    victim, survivor = cluster.nodes
    clients = 6
    stop = threading.Event()
    done: list[Request] = []
    threads = [threading.Thread(target=load, args=(cluster.url, stop, done)) for _ in range(clients)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.5)
        assert sum(r.ok for r in done) > 10, "the load runs through HAProxy"
        victim.kill()  # kill -9 of the whole node
        dead_at = time.monotonic()
        states = cluster.wait_proxy_sees(lambda s: s[victim.name].startswith("DOWN"), 5)
        down_after = time.monotonic() - dead_at
        time.sleep(2.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)
    failed = [r for r in done if not r.ok]
    assert all(r.started < dead_at for r in failed), "only requests already in flight when the node died fail"
    assert len(failed) <= clients
    after = [r for r in done if r.started >= dead_at]
    assert len(after) > 20 and all(r.ok for r in after)
    assert states[survivor.name] == "UP"
    assert down_after < 3.0, f"HAProxy took {down_after:.1f} s to take the dead node out"


def test_a_node_that_was_down_catches_up_before_haproxy_sends_it_requests(cluster: LocalCluster) -> None:
    first, second = cluster.nodes
    second.stop()
    cluster.wait_proxy_sees(lambda s: s[second.name].startswith("DOWN"), 5)
    words = ["银杏坡停车证", "白鹭洲渡船月票", "梧桐里加装电梯"]
    docs = [probe_document(word) for word in words]
    publish(cluster, first, docs)  # while the second node is down

    second.start()
    deadline = time.monotonic() + 180
    misses = []
    while second.healthz()[0] != 200 or cluster.proxy_state(second) != "UP":
        # meanwhile the portal (through HAProxy) finds all three on every request
        misses += portal_misses(cluster, words, docs)
        assert second.running, f"the node ended; see {second.log_path}"
        assert time.monotonic() < deadline, "the node did not become healthy"
    status, health = second.healthz()
    assert status == 200 and health.get("lag") == 0
    for word, doc in zip(words, docs, strict=True):  # its own index has them the moment it is healthy
        assert second.search_titles(word)[:1] == [doc["title"]]
    for _ in range(3):  # and HAProxy now sends it requests too
        misses += portal_misses(cluster, words, docs)
    assert misses == []


def portal_misses(cluster: LocalCluster, words: list[str], docs: list[dict]) -> list[str]:
    """The words whose document the portal's search (through HAProxy) did not put first."""
    misses = []
    for word, doc in zip(words, docs, strict=True):
        hits = httpx.get(cluster.url + "/api/search", params={"q": word}, timeout=5).json()["hits"]
        if not hits or hits[0]["title"] != doc["title"]:
            misses.append(word)
    return misses


def test_the_browser_voice_stays_on_the_node_that_served_its_page(cluster: LocalCluster) -> None:
    from websockets.sync.client import connect

    assert cluster.proxy is not None
    with httpx.Client(base_url=cluster.url, timeout=10) as browser:
        assert browser.get("/voice").status_code == 200
        node = browser.cookies["hotline_node"]  # HAProxy's voice cookie: the node that served the page
    before = {name: int(row["stot"]) for name, row in cluster.proxy.servers("voice").items()}
    for _ in range(3):
        with connect(cluster.url.replace("http://", "ws://") + "/voice/ws", open_timeout=10,
                     additional_headers={"Cookie": f"hotline_node={node}"}) as call:  # fmt: skip
            assert call.recv(timeout=30)  # answered: the first prompt (or its audio)
    after = {name: int(row["stot"]) for name, row in cluster.proxy.servers("voice").items()}
    assert {name: after[name] - before[name] for name in after} == {n.name: 3 if n.name == node else 0 for n in cluster.nodes}
    # the pages and the API are not sticky: they go round the nodes
    spread = {name: int(row["stot"]) for name, row in cluster.proxy.servers("nodes").items()}
    with httpx.Client(base_url=cluster.url, timeout=10, cookies={"hotline_node": node}) as browser:
        for _ in range(6):
            assert browser.get("/api/categories").status_code == 200
    assert all(int(row["stot"]) - spread[name] >= 2 for name, row in cluster.proxy.servers("nodes").items())
