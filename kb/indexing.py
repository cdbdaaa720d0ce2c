"""Keeping the search index in step with the database (the source of truth).

Domain functions only *queue* the ids of documents they changed (`queue`). Just before the session
commits, the queued documents are read back; after the commit succeeded they are written to the index.
A rolled-back transaction never reaches the index. A process that dies between commit and index write
leaves a marker file, and `ensure_index()` rebuilds the index from the database when it finds one
(or when the index and the database disagree on the number of documents).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from hotline.config import get_settings
from kb.models import Document
from kb.search import IndexDoc, SearchIndex, open_index

log = logging.getLogger(__name__)
PENDING = "kb_index_pending"
READY = "kb_index_ready"
MARKER_PREFIX = "kb-pending-"
CHUNK = 500

_open: dict[tuple[str, str], SearchIndex] = {}
_retry: set[int] = set()  # documents whose index write failed in this process
RETRY_PAUSES = (0.1, 0.3, 1.0)


def get_index() -> SearchIndex:
    """The index named by the settings (index_dir, search_engine), opened once per process."""
    settings = get_settings()
    key = (str(settings.index_dir.resolve()), settings.search_engine)
    if key not in _open:
        for old in _open.values():
            close = getattr(old, "close", None)
            if close:
                close()
        _open.clear()
        _retry.clear()
        settings.index_dir.mkdir(parents=True, exist_ok=True)
        _open[key] = open_index(
            settings.index_dir, engine=settings.search_engine, results_cached=settings.search_results_cached
        )
    return _open[key]


def to_index_doc(doc: Document) -> IndexDoc:
    return IndexDoc(
        id=doc.id,
        external_id=doc.external_id,
        title=doc.title,
        category=doc.category,
        department=doc.department or "",
        keywords=list(doc.keywords or []),
        question=doc.question or "",
        answer=doc.answer or "",
        body=doc.body,
        published=doc.live,
        valid_until=doc.valid_until,
        popularity=doc.views,
    )


def queue(session: Session, doc_ids: Iterable[int]) -> None:
    """Ask for these documents to be (re)written to the index once the transaction commits."""
    session.info.setdefault(PENDING, set()).update(doc_ids)


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _marker() -> Path:
    return get_settings().index_dir / f"{MARKER_PREFIX}{os.getpid()}"


@event.listens_for(Session, "before_commit")
def _collect(session: Session) -> None:
    ids = session.info.pop(PENDING, set())
    if _retry:
        ids = ids | _retry
    if not ids:
        return
    session.flush()
    docs: list[IndexDoc] = []
    for chunk in _chunks(sorted(ids)):
        docs.extend(to_index_doc(d) for d in session.scalars(select(Document).where(Document.id.in_(chunk))))
    marker = _marker()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(_started(os.getpid()))
    session.info[READY] = docs


@event.listens_for(Session, "after_commit")
def _apply(session: Session) -> None:
    docs = session.info.pop(READY, None)
    if docs is None:
        return
    for attempt, pause in enumerate(RETRY_PAUSES, start=1):
        try:
            index = get_index()
            for start in range(0, len(docs), CHUNK):
                index.upsert(docs[start : start + CHUNK])
            break
        except Exception:  # e.g. another process holds the index writer for a moment
            if attempt == len(RETRY_PAUSES):
                # the database is committed: retry with the next commit of this process, and the
                # marker makes ensure_index() rebuild the index should this process die first
                log.exception("search index update failed; will retry")
                _retry.update(d.id for d in docs)
                return
            time.sleep(pause)
    _retry.difference_update(d.id for d in docs)
    if not _retry:
        _marker().unlink(missing_ok=True)


@event.listens_for(Session, "after_rollback")
def _discard(session: Session) -> None:
    session.info.pop(PENDING, None)
    session.info.pop(READY, None)


def reindex(session: Session) -> int:
    """Rebuild the whole index from the database; returns the number of documents indexed.

    The new index is built beside the live one and swapped in by one commit, so searches in every
    process keep finding documents meanwhile; other index writers wait for the swap."""
    index = get_index()
    ids = list(session.scalars(select(Document.id).order_by(Document.id)))

    def all_docs() -> Iterator[IndexDoc]:
        for chunk in _chunks(ids):
            rows = session.scalars(select(Document).where(Document.id.in_(chunk)).order_by(Document.id))
            yield from (to_index_doc(d) for d in rows)

    index.rebuild(all_docs())
    _retry.clear()
    for marker in _stale_markers(include_own=True):
        marker.unlink(missing_ok=True)
    return len(ids)


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
    """True when a process died mid-update or the index and database disagree on the document count."""
    if _stale_markers():
        return True
    return get_index().count() != session.scalar(select(func.count(Document.id)))
