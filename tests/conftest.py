"""Shared fixtures: a fresh HOTLINE_HOME per test, on SQLite and (for `hotline_env`) PostgreSQL too."""

from __future__ import annotations

import os
import re
import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from hotline import bootstrap
from hotline.cluster.local import free_udp_ports
from hotline.db import reset_caches, session_scope
from hotline.users import create_user

PG_ADMIN_DSN = os.environ.get("HOTLINE_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
# The voice in tests: users get Kokoro (the default, ~0.5-1 s a prompt on 2 cores), but most tests run IVR
# dialogs on a fresh HOTLINE_HOME that would render every prompt again, and they test the dialog, not the
# voice. They speak with eSpeak (same TTS interface, ~60 ms a prompt). The tests of the voice itself run the
# real Kokoro: tests/speech/test_kokoro.py (engine, round-trip intelligibility at 8 kHz, fallback, the
# `hotline tts` command end to end, an IVR call). HOTLINE_TTS_ENGINE=kokoro scripts/test gives the other tests Kokoro.
os.environ.setdefault("HOTLINE_TTS_ENGINE", "espeak")


def _postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_DSN, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@pytest.fixture(scope="session")
def postgres_ok() -> bool:
    ok = _postgres_available()
    if not ok and os.environ.get("HOTLINE_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL required but not reachable at {PG_ADMIN_DSN}")
    return ok


@pytest.fixture
def pg_database(postgres_ok: bool) -> Iterator[str]:
    """A throw-away PostgreSQL database; yields its SQLAlchemy URL."""
    if not postgres_ok:
        pytest.skip("PostgreSQL not reachable")
    name = "hotline_t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = re.sub(r"/[^/]*$", f"/{name}", PG_ADMIN_DSN)
    yield base.replace("postgresql://", "postgresql+psycopg://", 1)
    reset_caches()
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _use_home(monkeypatch: pytest.MonkeyPatch, home: Path, database_url: str | None) -> None:
    monkeypatch.setenv("HOTLINE_HOME", str(home))
    monkeypatch.setenv("HOTLINE_SECRET_KEY", "test-secret-key")
    if database_url:
        monkeypatch.setenv("HOTLINE_DATABASE_URL", database_url)
    else:
        monkeypatch.delenv("HOTLINE_DATABASE_URL", raising=False)
    reset_caches()


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An initialised HOTLINE_HOME on SQLite; yields the home directory."""
    home = tmp_path / "home"
    _use_home(monkeypatch, home, None)
    bootstrap.init()
    yield home
    reset_caches()


@pytest.fixture(params=["sqlite", "postgresql"])
def hotline_env(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """An initialised HOTLINE_HOME, once on SQLite and once on PostgreSQL."""
    home = tmp_path / "home"
    url = request.getfixturevalue("pg_database") if request.param == "postgresql" else None
    _use_home(monkeypatch, home, url)
    bootstrap.init()
    yield home
    reset_caches()


@pytest.fixture
def client(hotline_env: Path) -> Iterator[TestClient]:
    """A web client on a fresh app (both database backends)."""
    from web.app import create_app

    with TestClient(create_app()) as c:
        yield c


@pytest.fixture
def sqlite_client(sqlite_env: Path) -> Iterator[TestClient]:
    from web.app import create_app

    with TestClient(create_app()) as c:
        yield c


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A free local port: TCP by default, UDP with socket.SOCK_DGRAM."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(count: int) -> int:
    """The first of `count` consecutive free local UDP ports (a media node's PJSIP processes)."""
    return free_udp_ports("127.0.0.1", count)


def make_user(username: str, roles: list[str], password: str = "correct-horse", **kw: str) -> None:
    with session_scope() as session:
        create_user(session, username, password, roles, **kw)


def login(client: TestClient, username: str, password: str = "correct-horse") -> str:
    """Log in through the form; returns the CSRF token to send with later unsafe requests."""
    token = client.get("/api/session").json()["csrf_token"]
    resp = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert resp.status_code == 303, resp.text
    return client.get("/api/session").json()["csrf_token"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    """Voicemail transcripts are written by a background worker (selfservice.voicemail): let a test's
    finish before its database is taken down, so none is written into the next test's database."""
    voicemail = sys.modules.get("selfservice.voicemail")
    if voicemail is not None:
        voicemail.drain()
    yield
