"""The database is the source of truth: index writes follow commits, and a broken index is repaired."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

import kb
from hotline.config import REPO_ROOT
from hotline.db import session_scope
from kb import indexing
from kb.importer import BATCH
from kb.models import Document, Revision
from tests.kb.helpers import doc_input, public_ids, published_document

LAWS = REPO_ROOT / "data" / "kb" / "laws.jsonl"
HOTLINE = [sys.executable, "-c", "from hotline.cli import app; app()"]


def test_rolled_back_transaction_never_reaches_the_index(sqlite_env):
    with pytest.raises(RuntimeError), session_scope() as s:
        kb.create_document(s, doc_input(), actor="alice")
        raise RuntimeError("caller fails after the domain call")
    assert indexing.get_index().count() == 0
    with session_scope() as s:
        assert kb.search(s, "公积金", include_unpublished=True, log_gaps=False).hits == []


def raw_public_total(query: str) -> int:
    return indexing.get_index().search(query, public_only=True).total


def test_failed_index_write_is_retried_with_the_next_commit(sqlite_env, monkeypatch):
    doc_id = published_document()

    def broken_upsert(docs):  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    monkeypatch.setattr(indexing.get_index(), "upsert", broken_upsert)
    with session_scope() as s:
        kb.withdraw_document(s, doc_id, actor="bob")
    monkeypatch.undo()
    # the commit stands; the index still has the document, a marker says the index is behind,
    # and search already hides it because every hit is checked against the database
    assert raw_public_total("公积金提取") == 1
    assert list(sqlite_env.joinpath("index").glob(f"{indexing.MARKER_PREFIX}*"))
    with session_scope() as s:
        assert kb.get_document_row(s, doc_id).status == "withdrawn"
        assert kb.search(s, "公积金提取").hits == []
    # that commit carried the retry
    assert raw_public_total("公积金提取") == 0
    assert not list(sqlite_env.joinpath("index").glob(f"{indexing.MARKER_PREFIX}*"))


def test_marker_of_a_dead_process_makes_ensure_index_rebuild(sqlite_env):
    doc_id = published_document()
    with session_scope() as s:  # a committed change whose index write never happened
        s.execute(update(Document).where(Document.id == doc_id).values(body="办理居住证需要租房合同。"))
    kb.ensure_index()  # counts agree and no marker: nothing to repair
    assert public_ids("租房合同", log_gaps=False) == []
    (sqlite_env / "index" / f"{indexing.MARKER_PREFIX}999999999").touch()
    kb.ensure_index()
    assert public_ids("租房合同", log_gaps=False) == [doc_id]
    assert not list(sqlite_env.joinpath("index").glob(f"{indexing.MARKER_PREFIX}*"))


def test_reindex_rebuilds_a_lost_index(sqlite_env):
    doc_id = published_document()
    indexing.get_index().clear()
    assert public_ids("公积金提取") == []
    with session_scope() as s:
        assert kb.reindex(s) == 1
    assert public_ids("公积金提取") == [doc_id]


def _db_count(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM kb_documents").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_kill_9_mid_import_leaves_consistent_db_and_repairable_index(sqlite_env):
    total_lines = sum(1 for _ in LAWS.open(encoding="utf-8"))
    proc = subprocess.Popen(
        [*HOTLINE, "kb", "import", str(LAWS), "--publish"],
        cwd=REPO_ROOT,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db = sqlite_env / "hotline.db"
    deadline = time.monotonic() + 120
    try:
        while _db_count(db) == 0 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the import finished before it could be killed"

    with session_scope() as s:
        n_docs = s.scalar(select(func.count(Document.id)))
        assert 0 < n_docs < total_lines and n_docs % BATCH == 0  # whole batches only
        assert s.scalar(select(func.count(Revision.id))) == n_docs
        assert s.scalar(select(func.count(Document.id)).where(Document.published_revision_id.is_(None))) == 0
        assert s.scalar(select(func.count(Document.id)).where(Document.live.is_(False))) == 0
        last = s.scalar(select(Document).order_by(Document.id.desc()).limit(1))
        last_title = last.title

    with session_scope() as s:
        assert kb.reindex(s) == n_docs
    assert indexing.get_index().count() == n_docs
    with session_scope() as s:
        assert last_title in [h.title for h in kb.search(s, last_title, limit=5).hits]

    # importing again completes the job without duplicates
    result = subprocess.run(
        [*HOTLINE, "kb", "import", str(LAWS), "--publish"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert f"created={total_lines - n_docs} updated=0 unchanged={n_docs} failed=0" in result.stdout
    assert f"{total_lines}/{total_lines}" in result.stderr  # the progress bar of a long import
    kb.ensure_index()
    assert indexing.get_index().count() == total_lines
