"""The change feed: every node's search index follows one ordered log of document changes.

Writing: kb.indexing queues the documents a transaction changed; just before it commits, `record` writes
one `kb_changes` row per document (op "upsert", or "delete" when its row is gone) in that transaction,
and on PostgreSQL `NOTIFY hotline_kb_changes, '<seq>'` (delivered by the commit). Rows are numbered in
commit order, so a reader that has seen seq N has seen every change before it: on PostgreSQL a writer
takes a transaction-scoped advisory lock before numbering (held until its commit, a few milliseconds),
on SQLite there is one writing transaction at a time anyway.

Applying: a node (the processes sharing one HOTLINE_HOME, hence one index directory) applies the log in
seq order from its position, a number kept in `<index>/feed-position.<engine>` and written after the
index commit that applied it (`Applier.catch_up`, one process at a time under `<index>/feed-apply.lock`).
An entry names a document; the applier indexes its current row (deletes it when the row is gone), so
an entry applied twice, or applied with a newer row, does no harm. Who applies:
- the process that committed the change, right after its commit (kb.indexing): its own changes are
  searchable on its node before its request returns;
- `Follower`: one thread per node (in the process holding `<index>/feed-follower.lock`; another takes
  over when it dies) applying what other nodes write: LISTEN on PostgreSQL with a catch-up every second
  as fallback, a poll on SQLite; it warms the index first (`Applier.warm`), so the first change after a
  start is applied as fast as the rest;
- `kb.ensure_index()` at every start and every `hotline` command: `hotline serve` catches up before its
  workers listen.
The node's other processes see the index commit before their next search (the engines' refresh()), and
the results cache is keyed by that commit.

An index without a position (made before the log existed, or copied from another machine) is rebuilt
from the database and takes the end of the log as its position: nothing says which changes it holds.
An empty index on an empty knowledge base takes the position without a rebuild. A position past the end
of the log (a database restored or failed over to a replica that lost the last commits) also rebuilds.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import func, insert, make_url, select, text
from sqlalchemy.orm import Session

from hotline.db import utcnow
from hotline.locks import try_lock
from kb.models import Change, Document
from kb.search import IndexDoc, SearchIndex

log = logging.getLogger(__name__)
CHANNEL = "hotline_kb_changes"
ADVISORY_LOCK = 0x6B62_6368  # "kbch": numbers the log in commit order (PostgreSQL)
APPLY_LOCK = "feed-apply.lock"
FOLLOWER_LOCK = "feed-follower.lock"
BATCH = 1000  # log entries applied per index commit
CHUNK = 500  # ids per IN (...)
FALLBACK_SECONDS = 1.0  # a follower on PostgreSQL catches up this often even without a notification
LISTEN_WAKE = 0.25  # ... and looks whether it is asked to stop this often
TAKEOVER_SECONDS = 3.0  # a process without the follower lock tries to take it this often


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


def chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def record(session: Session, doc_ids: Iterable[int]) -> int | None:
    """Log these documents as changed, in the caller's transaction; returns the last seq written.
    Called last before the commit (kb.indexing): on PostgreSQL it holds the log's lock until then."""
    ids = sorted(set(doc_ids))
    if not ids:
        return None
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
    present: set[int] = set()
    for chunk in chunks(ids):
        present.update(session.scalars(select(Document.id).where(Document.id.in_(chunk))))
    now = utcnow()
    rows = [{"document_id": i, "op": "upsert" if i in present else "delete", "at": now} for i in ids]
    session.execute(insert(Change), rows)
    last = log_position(session)
    if postgres:
        session.execute(text("SELECT pg_notify(:channel, :seq)"), {"channel": CHANNEL, "seq": str(last)})
    return last


def log_position(session: Session) -> int:
    """The seq of the last committed change (0: none yet)."""
    return session.scalar(select(func.max(Change.seq))) or 0


def index_docs(session: Session, ids: list[int]) -> list[IndexDoc]:
    """The indexed form of these documents' current rows (documents gone are left out)."""
    docs: list[IndexDoc] = []
    for chunk in chunks(sorted(ids)):
        rows = session.scalars(select(Document).where(Document.id.in_(chunk)).order_by(Document.id))
        docs.extend(to_index_doc(d) for d in rows)
    return docs


def position_file(directory: Path, engine: str) -> Path:
    return directory / f"feed-position.{engine}"


def read_position(path: Path) -> int | None:
    """The seq a node's index has applied up to; None when unknown (no file, or not a number)."""
    try:
        return int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


class Applier:
    """Keeps one index (a node's) in step with the change log. `index` opens the index, `sessions`
    a database session (read only here)."""

    def __init__(
        self,
        directory: Path,
        engine: str,
        index: Callable[[], SearchIndex],
        sessions: Callable[[], Session],
    ) -> None:
        self.directory = Path(directory)
        self.position_file = position_file(self.directory, engine)
        self._index = index
        self._sessions = sessions

    def position(self) -> int | None:
        return read_position(self.position_file)

    def catch_up(self) -> int:
        """Apply the log after this node's position, in order, BATCH entries per index commit;
        returns the new position. Any process of the node may call it: one applies at a time."""
        with self._exclusive():
            position = self.position()
            while True:
                with self._reading() as session:
                    end = log_position(session)
                    if position is None or position > end:
                        return self._start(session, position, end)
                    entries = list(
                        session.execute(
                            select(Change.seq, Change.document_id)
                            .where(Change.seq > position)
                            .order_by(Change.seq)
                            .limit(BATCH)
                        )
                    )
                    if not entries:
                        return position
                    ids = sorted({e.document_id for e in entries})
                    docs = index_docs(session, ids)
                index = self._index()
                if docs:
                    index.upsert(docs)
                gone = set(ids) - {d.id for d in docs}
                if gone:
                    index.delete(gone)
                position = entries[-1].seq
                self._write(position)

    def warm(self) -> None:
        """Open the index, load its analysers and run the queries applying a change runs, once: what
        the first change after a start would otherwise wait for (~0.2 s idle, ~1 s on a busy machine)."""
        self._index().warm()
        with self._reading() as session:
            log_position(session)
            index_docs(session, [0])  # no such document: the statement is compiled and run

    def rebuild(self, session: Session) -> int:
        """Rebuild the index from the database (read in `session`) and take the log's end as the
        position; returns the number of documents indexed."""
        with self._exclusive():
            return self._rebuild(session)

    def _start(self, session: Session, position: int | None, end: int) -> int:
        """The position of an index that has none (or one past the end of the log)."""
        if (
            position is None
            and self._index().count() == 0
            and not session.scalar(select(func.count(Document.id)))
        ):
            self._write(end)  # nothing indexed, nothing to index
            return end
        log.warning(
            "search index at %s: position %s, log at %d; rebuilding it from the database",
            self.directory,
            "unknown" if position is None else position,
            end,
        )
        self._rebuild(session)
        return self.position() or 0

    def _rebuild(self, session: Session) -> int:
        end = log_position(session)  # read first: the documents read next are at least this new
        ids = list(session.scalars(select(Document.id).order_by(Document.id)))

        def all_docs() -> Iterator[IndexDoc]:
            for chunk in chunks(ids):
                yield from index_docs(session, chunk)

        self._index().rebuild(all_docs())
        self._write(end)
        return len(ids)

    def _write(self, position: int) -> None:
        """Written after the index commit; replaced atomically (readers never see half a number)."""
        tmp = self.position_file.with_name(
            f".{self.position_file.name}.{os.getpid()}.{threading.get_ident()}"
        )
        tmp.write_text(f"{position}\n")
        os.replace(tmp, self.position_file)

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / APPLY_LOCK, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
            yield

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
        finally:
            session.close()


def libpq_url(database_url: str) -> str:
    """A SQLAlchemy PostgreSQL URL ("postgresql+psycopg://...") as libpq takes it: the connection
    parameters SQLAlchemy's psycopg dialect would use, so a URL that names several servers
    (`?host=db1:5432&host=db2:5432&target_session_attrs=read-write`, docs/deployment.md) reaches the
    one that takes writes here too."""
    from psycopg.conninfo import make_conninfo
    from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

    _, params = PGDialect_psycopg().create_connect_args(make_url(database_url))
    return make_conninfo(**params)


class Follower:
    """The node's follower thread: applies what other nodes write (see the module's docstring).
    Every web worker starts one; only the one holding the node's follower lock follows, the others
    wait to take over. `poll_seconds`: how often SQLite is looked at."""

    def __init__(
        self,
        applier: Applier,
        database_url: str,
        poll_seconds: float,
        takeover_seconds: float = TAKEOVER_SECONDS,
    ) -> None:
        self.applier = applier
        self.database_url = database_url
        self.poll_seconds = poll_seconds
        self.takeover_seconds = takeover_seconds
        self.following = False  # whether this process holds the lock
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="kb-feed", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stopped.is_set():
            lock = try_lock(self.applier.directory / FOLLOWER_LOCK)
            if lock is None:
                self._stopped.wait(self.takeover_seconds)
                continue
            try:
                self.following = True
                started = time.monotonic()
                try:
                    self.applier.warm()
                except Exception:  # the database away for a moment: the first change warms it
                    log.exception("warming the search index for the change feed failed")
                log.info("process %d applies the search index change feed (index warmed in %.2f s)",
                         os.getpid(), time.monotonic() - started)  # fmt: skip
                if make_url(self.database_url).get_backend_name() == "postgresql":
                    self._listen()
                else:
                    self._poll()
            finally:
                self.following = False
                lock.close()

    def _step(self) -> None:
        try:
            self.applier.catch_up()
        except Exception:  # the database or the index away for a moment: the next round tries again
            log.exception("applying the search index change feed failed")

    def _poll(self) -> None:
        while not self._stopped.is_set():
            self._step()
            self._stopped.wait(self.poll_seconds)

    def _listen(self) -> None:
        import psycopg

        while not self._stopped.is_set():
            try:
                with psycopg.connect(
                    libpq_url(self.database_url), autocommit=True, connect_timeout=5
                ) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    due = 0.0  # catch up at once: what was committed before the LISTEN
                    notified = False
                    while not self._stopped.is_set():
                        if notified or time.monotonic() >= due:
                            self._step()
                            due = time.monotonic() + FALLBACK_SECONDS
                        notified = any(True for _ in conn.notifies(timeout=LISTEN_WAKE, stop_after=1))
            except psycopg.Error:
                log.warning("change feed: no LISTEN connection; catching up every second meanwhile")
                self._step()
                self._stopped.wait(FALLBACK_SECONDS)
