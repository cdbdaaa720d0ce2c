"""Node B as a real `hotline serve` (two web workers) on the PostgreSQL database that node A (this
process) writes to: B catches up before it reports healthy, follows A's changes within a second in
both workers, and drains on `hotline node drain`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotline import bootstrap
from hotline.config import REPO_ROOT
from hotline.db import session_scope
from kb import feed
from tests.conftest import free_port
from tests.hotline.test_change_feed import use_home
from tests.kb.helpers import published_document

NODE_B = "node-b"


def node_env(home: Path, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "HOTLINE_HOME": str(home),
        "HOTLINE_DATABASE_URL": database_url,
        "HOTLINE_SECRET_KEY": "test-secret-key",
        "HOTLINE_NODE_NAME": NODE_B,
    }


@contextmanager
def serving(
    home: Path, database_url: str, log: Path
) -> Iterator[tuple[str, list[tuple[int, dict[str, Any]]]]]:
    """`hotline serve` for node B; yields its URL and the /healthz answers up to its first 200."""
    hotline = shutil.which("hotline")
    assert hotline, "the hotline console command is not installed (pip install -e .)"
    port = free_port()
    cmd = [hotline, "serve", "--no-sip", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    with log.open("a") as out:
        proc = subprocess.Popen(cmd, env=node_env(home, database_url), stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        yield url, until_healthy(url, proc, log)
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def until_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> list[tuple[int, dict[str, Any]]]:
    answers: list[tuple[int, dict[str, Any]]] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"hotline serve exited with {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            response = httpx.get(url + "/healthz", timeout=2.0)
        except httpx.HTTPError:  # not listening yet: the parent catches up before the workers start
            time.sleep(0.1)
            continue
        answers.append((response.status_code, response.json()))
        if response.status_code == 200:
            return answers
        time.sleep(0.05)
    pytest.fail("node B did not become healthy")


def found_on(url: str, title: str) -> list[int]:
    """Document ids node B's search finds for the title (a new connection each time: any worker)."""
    hits = httpx.get(url + "/api/search", params={"q": title}, timeout=10.0).json()["hits"]
    return [hit["id"] for hit in hits if hit["title"] == title]


def within(seconds: float, url: str, title: str, doc_id: int) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found_on(url, title) == [doc_id]:
            return True
        time.sleep(0.02)
    return False


def hotline_cli(home: Path, database_url: str, *args: str) -> str:
    result = subprocess.run(
        ["hotline", *args],
        env=node_env(home, database_url),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def log_end() -> int:
    with session_scope() as s:
        return feed.log_position(s)


def test_a_serving_node_follows_catches_up_and_drains(
    pg_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_home(monkeypatch, tmp_path / "a", pg_database)
    bootstrap.init()
    first = published_document("住房公积金提取办理指南")
    b_home, log = tmp_path / "b", tmp_path / "node-b.log"

    with serving(b_home, pg_database, log) as (url, answers):
        assert answers[-1][1]["lag"] == 0 and answers[-1][1]["node"] == NODE_B
        assert found_on(url, "住房公积金提取办理指南") == [first]

        title = "居住证申领办事指南"
        doc_id = published_document(title)  # on A, while B serves
        assert within(1.0, url, title, doc_id), "node B did not find A's new document within a second"
        assert all(found_on(url, title) == [doc_id] for _ in range(6))  # whichever worker answers

        hotline_cli(b_home, pg_database, "node", "drain")
        draining = httpx.get(url + "/healthz", timeout=5.0)
        assert draining.status_code == 503 and draining.json()["status"] == "draining"
        status = json.loads(hotline_cli(b_home, pg_database, "node", "status", "--json"))
        assert status["node"] == NODE_B and status["draining"] is True
        assert status["role"] == "postgresql-primary"
        assert status["lag"] == 0 and status["index_position"] == log_end()
        hotline_cli(b_home, pg_database, "node", "undrain")
        assert httpx.get(url + "/healthz", timeout=5.0).status_code == 200

    titles = [f"社会保障卡补办指南（第{n}版）" for n in (1, 2, 3)]
    published = [published_document(t) for t in titles]  # on A, while B is down

    with serving(b_home, pg_database, log) as (url, answers):
        # B never said it was healthy before it had applied them
        assert all(code == 503 and body["status"] == "starting" for code, body in answers[:-1])
        assert answers[-1][1]["lag"] == 0 and answers[-1][1]["index_position"] == log_end()
        assert [found_on(url, t) for t in titles] == [[doc] for doc in published]
