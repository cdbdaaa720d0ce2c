"""Failed attempts are counted in the database: the login limit holds across processes (web workers),
and the upgrade keeps the progress-query failures recorded before the shared table existed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import text

from hotline import attempts, migrate
from hotline.config import REPO_ROOT
from hotline.db import get_engine, reset_caches, session_scope
from tests.conftest import make_user

FAIL_LOGINS_IN_ANOTHER_PROCESS = """
from fastapi.testclient import TestClient
from web.app import create_app

with TestClient(create_app()) as client:
    token = client.get("/api/session").json()["csrf_token"]
    for _ in range({n}):
        form = {{"username": "agent1", "password": "wrong", "csrf_token": token}}
        print(client.post("/login", data=form).status_code)
"""


def fail_logins_elsewhere(n: int) -> list[int]:
    """`n` wrong-password logins by another process (its own app, engine and memory)."""
    script = FAIL_LOGINS_IN_ANOTHER_PROCESS.format(n=n)
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, env=dict(os.environ), capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return [int(line) for line in out.stdout.split()]


def test_login_limit_holds_across_processes(client: TestClient) -> None:
    make_user("agent1", ["agent"])
    assert fail_logins_elsewhere(3) == [401] * 3
    token = client.get("/api/session").json()["csrf_token"]
    wrong = {"username": "agent1", "password": "wrong", "csrf_token": token}
    assert [client.post("/login", data=wrong).status_code for _ in range(2)] == [401, 401]
    assert fail_logins_elsewhere(1) == [429]  # 5 failures in two processes: blocked in both
    right = {"username": "agent1", "password": "correct-horse", "csrf_token": token}
    blocked = client.post("/login", data=right, follow_redirects=False)
    assert blocked.status_code == 429 and "尝试次数过多" in blocked.text


def test_one_address_trying_many_usernames_is_stopped(sqlite_client: TestClient) -> None:
    """Password spraying: a few guesses for each of many accounts from one address."""
    from web.security import LOGIN_MAX_FAILURES_PER_ADDRESS

    make_user("agent1", ["agent"])
    token = sqlite_client.get("/api/session").json()["csrf_token"]
    codes = [
        sqlite_client.post(
            "/login", data={"username": f"user{n}", "password": "123456", "csrf_token": token}
        ).status_code
        for n in range(LOGIN_MAX_FAILURES_PER_ADDRESS + 1)
    ]
    assert codes == [401] * LOGIN_MAX_FAILURES_PER_ADDRESS + [429]
    right = {"username": "agent1", "password": "correct-horse", "csrf_token": token}
    assert sqlite_client.post("/login", data=right, follow_redirects=False).status_code == 429


def test_a_successful_login_clears_the_count(client: TestClient) -> None:
    make_user("agent1", ["agent"])
    assert fail_logins_elsewhere(4) == [401] * 4
    token = client.get("/api/session").json()["csrf_token"]
    right = {"username": "agent1", "password": "correct-horse", "csrf_token": token}
    assert client.post("/login", data=right, follow_redirects=False).status_code == 303
    assert fail_logins_elsewhere(4) == [401] * 4


def test_attempts_window_and_pruning(hotline_env: Path) -> None:
    window = timedelta(minutes=5)
    start = datetime.now(UTC)
    with session_scope() as s:
        for i in range(3):
            attempts.record_failure(s, ["t:a", "t:b"], window, now=start + timedelta(seconds=i))
    with session_scope() as s:
        assert attempts.blocked(s, "t:a", 3, window)
        assert not attempts.blocked(s, "t:a", 3, window, now=start + timedelta(minutes=6))
        attempts.record_failure(s, ["t:a"], window, now=start + timedelta(minutes=6))
        assert s.scalar(text("SELECT count(*) FROM failed_attempts WHERE key = 't:a'")) == 1  # pruned
        attempts.clear(s, "t:b")
        assert attempts.failures(s, "t:b", window) == 0
        attempts.record_failure(s, ["t:once"], window, now=start + timedelta(minutes=7))  # never again
        attempts.record_failure(s, ["t:c"], window, now=start + timedelta(days=2))
        remaining = s.scalars(text("SELECT key FROM failed_attempts ORDER BY key")).all()
        assert remaining == ["t:c"]  # t:a and t:once, over a day old, are gone too


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """A data directory whose database has no tables yet."""
    monkeypatch.setenv("HOTLINE_HOME", str(tmp_path / "home"))
    if request.param == "postgresql":
        monkeypatch.setenv("HOTLINE_DATABASE_URL", request.getfixturevalue("pg_database"))
    else:
        monkeypatch.delenv("HOTLINE_DATABASE_URL", raising=False)
    reset_caches()
    (tmp_path / "home").mkdir()
    yield
    reset_caches()


def test_upgrade_keeps_recorded_progress_query_failures(empty_database: None) -> None:
    cfg = migrate.alembic_config()
    command.upgrade(cfg, "casework_0001")  # the schema before the shared table
    now = datetime.now(UTC)
    with get_engine().begin() as conn:
        for key in ("case:2026112500001", "case:2026112500001", "case:2026112500001", "caller:ip:9"):
            conn.execute(
                text("INSERT INTO case_query_attempts (key, at) VALUES (:k, :at)"), {"k": key, "at": now}
            )
    migrate.upgrade()
    with session_scope() as s:
        assert attempts.failures(s, "case_query:case:2026112500001", timedelta(minutes=15)) == 3
    command.downgrade(cfg, "casework_0001")  # the table is back (later revisions come down too)
    with get_engine().connect() as conn:
        keys = sorted(conn.execute(text("SELECT key FROM case_query_attempts")).scalars())
        assert keys == ["caller:ip:9"] + ["case:2026112500001"] * 3
        assert conn.execute(text("SELECT count(*) FROM failed_attempts")).scalar() == 0
