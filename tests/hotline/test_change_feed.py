"""Several nodes on one database: every node's search index follows the change log (kb.feed).

Node A is this process (its HOTLINE_HOME and index as the settings name them); node B is another index
directory on the same database with its own applier and follower, as another machine's `hotline serve`
would have (tests/hotline/test_change_feed_serve.py runs B as a real `hotline serve`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

import kb
from hotline import bootstrap
from hotline.config import get_settings
from hotline.db import new_session, reset_caches, session_scope
from kb import feed, indexing
from kb.models import Change, Document
from kb.search import SearchIndex, open_index
from tests.kb.helpers import doc_input, public_ids, published_document

QUERY = "公积金提取"


@dataclass
class OtherNode:
    """Another node's index on the shared database."""

    home: Path
    index: SearchIndex
    applier: feed.Applier

    def public_ids(self, query: str = QUERY) -> list[int]:
        return [hit.id for hit in self.index.search(query, public_only=True).hits]


def other_node(home: Path) -> OtherNode:
    engine = get_settings().search_engine
    index = open_index(home / "index", engine=engine)
    return OtherNode(home, index, feed.Applier(home / "index", engine, lambda: index, new_session))


def use_home(monkeypatch: pytest.MonkeyPatch, home: Path, database_url: str) -> None:
    monkeypatch.setenv("HOTLINE_HOME", str(home))
    monkeypatch.setenv("HOTLINE_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTLINE_SECRET_KEY", "test-secret-key")
    reset_caches()


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_db(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """One database (SQLite file or PostgreSQL) for two nodes; this process is node A. Yields its URL."""
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_database")
    else:
        url = f"sqlite:///{tmp_path / 'shared.db'}"
    use_home(monkeypatch, tmp_path / "a", url)
    bootstrap.init()
    yield url
    reset_caches()


def log_end() -> int:
    with session_scope() as s:
        return feed.log_position(s)


def logged() -> list[tuple[int, str]]:
    with session_scope() as s:
        return [(row.document_id, row.op) for row in s.execute(select(Change).order_by(Change.seq)).scalars()]


def within(seconds: float, condition: Callable[[], bool]) -> bool:
    """Whether the condition held at some point in the next `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_every_change_is_logged_in_the_transaction_that_made_it(shared_db: str) -> None:
    with pytest.raises(RuntimeError), session_scope() as s:
        kb.create_document(s, doc_input(), actor="alice")
        raise RuntimeError("the caller fails after the domain call")
    assert logged() == []  # a rolled-back transaction logs nothing
    doc_id = published_document()  # created, submitted, approved: three commits
    with session_scope() as s:
        kb.withdraw_document(s, doc_id, actor="bob")
    assert logged() == [(doc_id, "upsert")] * 4
    assert indexing.applier().position() == log_end()  # node A applied its own changes at once


def test_a_savepoint_rolled_back_keeps_what_its_transaction_changed_before(shared_db: str) -> None:
    with session_scope() as s:
        doc_id = kb.create_document(s, doc_input(), actor="alice").id
        with pytest.raises(kb.KbError), s.begin_nested():  # as kb.run_schedule skips a conflicting step
            kb.create_document(s, doc_input("居住证申领办事指南"), actor="alice")
            raise kb.KbError("这一步被跳过")
    assert logged()[0] == (doc_id, "upsert")  # (the savepoint's document is logged as gone)
    assert indexing.get_index().count() == 1
    assert public_ids(QUERY, include_unpublished=True, log_gaps=False) == [doc_id]


def test_postgresql_listeners_hear_the_seq_of_each_change(
    pg_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_home(monkeypatch, tmp_path / "a", pg_database)
    bootstrap.init()
    with psycopg.connect(feed.libpq_url(pg_database), autocommit=True) as conn:
        conn.execute(f"LISTEN {feed.CHANNEL}")
        with session_scope() as s:
            kb.create_document(s, doc_input(), actor="alice")
        heard = [n.payload for n in conn.notifies(timeout=5, stop_after=1)]
    assert heard == [str(log_end())]


def test_a_document_published_on_one_node_is_found_on_the_other_within_a_second(
    shared_db: str, tmp_path: Path
) -> None:
    b = other_node(tmp_path / "b")
    b.applier.catch_up()
    follower = feed.Follower(b.applier, shared_db, get_settings().kb_feed_poll_seconds)
    follower.start()
    try:
        assert within(5, lambda: follower.following)
        doc_id = published_document()
        assert within(1.0, lambda: b.public_ids() == [doc_id])
        with session_scope() as s:
            kb.withdraw_document(s, doc_id, actor="bob")
        # B's index itself no longer holds it as public (not only the database check of kb.search)
        assert within(1.0, lambda: b.public_ids() == [])
        assert within(1.0, lambda: b.applier.position() == log_end())
    finally:
        follower.stop()
    b.index.close()


def test_changes_are_applied_in_order_an_edit_then_a_delete_ends_deleted(
    shared_db: str, tmp_path: Path
) -> None:
    b = other_node(tmp_path / "b")
    b.applier.catch_up()
    doc_id = published_document()
    assert b.applier.catch_up() == log_end()
    assert b.public_ids() == [doc_id]
    with session_scope() as s:
        kb.update_document(s, doc_id, doc_input(body="职工可以申请提取住房公积金。"), actor="alice")
    with session_scope() as s:
        s.execute(update(Document).where(Document.id == doc_id).values(published_revision_id=None))
        s.delete(s.get(Document, doc_id))  # a deletion is logged without being queued by hand
    assert logged()[-2:] == [(doc_id, "upsert"), (doc_id, "delete")]
    assert b.applier.catch_up() == log_end()
    assert b.index.count() == 0
    assert b.index.search(QUERY, public_only=False).hits == []
    b.index.close()


def test_a_node_that_was_stopped_catches_up_before_it_reports_healthy(
    shared_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from web.app import create_app

    b_home = tmp_path / "b"
    b = other_node(b_home)
    b.applier.catch_up()  # B ran, and stopped
    b.index.close()
    titles = [f"住房公积金提取办理指南（第{n}版）" for n in (1, 2, 3)]
    published = [published_document(title) for title in titles]  # on A, while B is down

    use_home(monkeypatch, b_home, shared_db)  # B starts; its follower off, to look before it catches up
    monkeypatch.setenv("HOTLINE_KB_FEED_POLL_SECONDS", "0")
    reset_caches()
    with TestClient(create_app()) as client:
        behind = client.get("/healthz")
        assert behind.status_code == 503
        health = behind.json()
        assert health["status"] == "starting" and health["database"] and health["index"]
        assert health["lag"] == health["log_position"] - health["index_position"] > 0
        kb.ensure_index()  # what `hotline serve` does before its workers listen
        ready = client.get("/healthz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "ok" and ready.json()["lag"] == 0
    assert sorted(public_ids(QUERY, limit=10, log_gaps=False)) == sorted(published)


def test_an_index_without_a_position_or_past_the_log_is_rebuilt(sqlite_env: Path) -> None:
    doc_id = published_document()
    with session_scope() as s:  # changed behind the index's back
        s.execute(update(Document).where(Document.id == doc_id).values(body="办理居住证需要租房合同。"))
    applier = indexing.applier()
    applier.position_file.unlink()  # an index made before the change log existed
    kb.ensure_index()
    assert public_ids("租房合同", log_gaps=False) == [doc_id]
    assert applier.position() == log_end()

    with session_scope() as s:
        s.execute(update(Document).where(Document.id == doc_id).values(body="办理护照需要身份证。"))
    applier.position_file.write_text(f"{log_end() + 100}\n")  # the database lost the log's last entries
    assert applier.catch_up() == log_end()
    assert public_ids("护照", log_gaps=False) == [doc_id]


def test_a_node_has_one_follower_and_another_process_takes_over_when_it_stops(sqlite_env: Path) -> None:
    url = get_settings().resolved_database_url
    first, second = (feed.Follower(indexing.applier(), url, 0.05, takeover_seconds=0.1) for _ in range(2))
    first.start()
    try:
        assert within(5, lambda: first.following)
        second.start()
        time.sleep(0.5)
        assert not second.following  # the node's follower lock is held
        first.stop()
        assert within(5, lambda: second.following)
    finally:
        first.stop()
        second.stop()
