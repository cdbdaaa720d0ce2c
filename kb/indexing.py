"""Keeping the search index in step with the database (the source of truth).

Domain functions only *queue* the ids of documents they changed (`queue`; deleted documents are queued
by themselves). Just before the session commits, the queued documents are written to the change log in
that transaction (kb.feed.record); after the commit succeeded this process applies the log to its node's
index (kb.feed.Applier.catch_up), and every other node's follower does the same on its own index. A
rolled-back transaction never reaches the log or an index. A process that dies between its commit and
the index write leaves its node's position behind (the node's follower or next start catches up) and a
marker file: `ensure_index()` rebuilds the index from the database when it finds one (or when the index
and the database disagree on the number of documents).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from hotline.config import get_settings
from hotline.db import new_session
from kb import feed
from kb.feed import to_index_doc
from kb.models import Document
from kb.search import SearchIndex, open_index

log = logging.getLogger(__name__)
PENDING = "kb_index_pending"
READY = "kb_index_ready"
MARKER_PREFIX = "kb-pending-"

_open: dict[tuple[str, str], SearchIndex] = {}
_appliers: dict[tuple[str, str], feed.Applier] = {}
_behind = threading.Event()  # this process's last index write failed: catch up with its next commit
RETRY_PAUSES = (0.1, 0.3, 1.0)
BUNDLED_VECTORS = "embeddings.npz"  # the bundled documents' vectors (scripts/build_kb_embeddings.py)

__all__ = ["applier", "get_index", "needs_repair", "queue", "reindex", "start_follower", "to_index_doc"]


def _key() -> tuple[str, str]:
    settings = get_settings()
    return (str(settings.index_dir.resolve()), settings.search_engine)


def get_index() -> SearchIndex:
    """The index named by the settings (index_dir, search_engine), opened once per process."""
    settings = get_settings()
    key = _key()
    if key in _open and (_open[key].semantic is not None) != settings.search_semantic:
        _open.pop(key).close()  # the semantic signal turned on or off (tests switch it)
    if key not in _open:
        for old in _open.values():
            close = getattr(old, "close", None)
            if close:
                close()
        _open.clear()
        _behind.clear()
        settings.index_dir.mkdir(parents=True, exist_ok=True)
        _open[key] = open_index(
            settings.index_dir,
            engine=settings.search_engine,
            results_cached=settings.search_results_cached,
            semantic=settings.search_semantic,
            bundled_vectors=settings.data_dir / "kb" / BUNDLED_VECTORS,
            semantic_threads=settings.search_semantic_threads,
        )
    return _open[key]


def applier() -> feed.Applier:
    """This node's change-feed applier (its index as the settings name it)."""
    key = _key()
    if key not in _appliers:
        _appliers.clear()
        settings = get_settings()
        index = lambda: get_index()  # noqa: E731 - looked up at each use (tests replace it)
        _appliers[key] = feed.Applier(settings.index_dir, settings.search_engine, index, new_session)
    return _appliers[key]


def start_follower() -> feed.Follower | None:
    """Start this process's candidate for the node's follower (None when kb_feed_poll_seconds is 0)."""
    settings = get_settings()
    if settings.kb_feed_poll_seconds <= 0:
        return None
    follower = feed.Follower(applier(), settings.resolved_database_url, settings.kb_feed_poll_seconds)
    follower.start()
    return follower


def queue(session: Session, doc_ids: Iterable[int]) -> None:
    """Ask for these documents to be logged as changed and (re)written to the index once the
    transaction commits."""
    session.info.setdefault(PENDING, set()).update(doc_ids)


def _marker() -> Path:
    return get_settings().index_dir / f"{MARKER_PREFIX}{os.getpid()}"


@event.listens_for(Session, "before_flush")
def _deleted(session: Session, _context: Any, _instances: Any) -> None:
    gone = [obj.id for obj in session.deleted if isinstance(obj, Document)]
    if gone:
        queue(session, gone)


@event.listens_for(Session, "before_commit")
def _collect(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the transaction goes on
        return
    session.flush()  # what the commit would flush next: a deletion among it queues its document
    ids = session.info.pop(PENDING, set())
    if not ids:
        if _behind.is_set():
            session.info[READY] = True
        return
    marker = _marker()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(_started(os.getpid()))
    feed.record(session, ids)
    session.info[READY] = True


@event.listens_for(Session, "after_commit")
def _apply(session: Session) -> None:
    if session.in_nested_transaction() or not session.info.pop(READY, False):
        return
    for attempt, pause in enumerate(RETRY_PAUSES, start=1):
        try:
            applier().catch_up()
            break
        except Exception:  # e.g. another process holds the index writer for a moment
            if attempt == len(RETRY_PAUSES):
                # the database and the log are committed: this process catches up with its next commit
                # (and the node's follower meanwhile); the marker makes ensure_index() rebuild the index
                # should this process die first
                log.exception("search index update failed; will retry")
                _behind.set()
                return
            time.sleep(pause)
    _behind.clear()
    _marker().unlink(missing_ok=True)


@event.listens_for(Session, "after_rollback")
def _discard(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint rolled back: what the transaction queued before stays
        return
    session.info.pop(PENDING, None)
    session.info.pop(READY, None)


def reindex(session: Session) -> int:
    """Rebuild the whole index from the database; returns the number of documents indexed.

    The new index is built beside the live one and swapped in by one commit, so searches in every
    process keep finding documents meanwhile; other index writers wait for the swap. The node's
    position in the change log becomes the log's end as read before the documents."""
    count = applier().rebuild(session)
    _behind.clear()
    for marker in _stale_markers(include_own=True):
        marker.unlink(missing_ok=True)
    return count


def _started(pid: int) -> str:
    """When a process started (Linux: clock ticks since boot), "" when unknown: with the pid it names
    the process, so a marker is not taken for a live one's when the dead writer's pid was reused."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _writer_alive(pid: int, started: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return not started or started == _started(pid)


def _stale_markers(include_own: bool = False) -> list[Path]:
    """Markers left by processes that died between a commit and the index write."""
    directory = get_settings().index_dir
    if not directory.is_dir():
        return []
    stale = []
    for path in directory.glob(f"{MARKER_PREFIX}*"):
        pid = int(path.name.removeprefix(MARKER_PREFIX) or 0)
        try:
            started = path.read_text().strip()
        except OSError:  # removed meanwhile by its writer
            continue
        if (include_own and pid == os.getpid()) or not _writer_alive(pid, started):
            stale.append(path)
    return stale


def needs_repair(session: Session) -> bool:
    """True when a process died mid-update, the index and database disagree on the document count, or
    the documents' sentence vectors are wanted and missing."""
    if _stale_markers():
        return True
    index = get_index()
    count = index.count()
    if index.semantic is not None and count and not index.semantic.exists():
        return True  # the semantic signal was just turned on: the documents' vectors are made once
    return count != session.scalar(select(func.count(Document.id)))
