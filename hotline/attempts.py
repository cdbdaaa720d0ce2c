"""Rate limits, counted in the database so every process sees the same count.

Two kinds of count under keys "<scope>:<what>" (`login:addr:<ip>`, `sms:to:<number>`, ...):
- `hit` / `hit_all`: an attempt is counted *before* it is checked, by one atomic upsert on
  `rate_counters` that returns the new count. Concurrent attempts each get their own count (the row
  lock on PostgreSQL, the write lock on SQLite), so at most `limit` of them are let through however
  many arrive at once. Windows are fixed: they start with the first attempt and end `window` later.
- `record_failure` / `blocked`: failures as rows in `failed_attempts`, a sliding window (older code
  and data; a failure is counted only after the check, so concurrent checks can exceed the limit).
Like every domain function these flush but never commit: the caller commits, also when it then
refuses the request. A caller that must count before a costly check commits right after `hit_all`.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hotline.db import utcnow
from hotline.models import FailedAttempt, RateCounter

MAX_KEY = 160
RETENTION = timedelta(days=1)  # no limit looks further back; older failures of any key are dropped


def _key(key: str) -> str:
    return key[:MAX_KEY]


def failures(session: Session, key: str, window: timedelta, *, now: datetime | None = None) -> int:
    """Failed attempts under `key` within the last `window`."""
    since = (now or utcnow()) - window
    stmt = select(func.count(FailedAttempt.id)).where(
        FailedAttempt.key == _key(key), FailedAttempt.at >= since
    )
    return session.scalar(stmt) or 0


def blocked(
    session: Session, key: str, limit: int, window: timedelta, *, now: datetime | None = None
) -> bool:
    """True when `limit` or more attempts failed under `key` within `window`."""
    return failures(session, key, window, now=now) >= limit


def record_failure(
    session: Session, keys: Iterable[str], window: timedelta, *, now: datetime | None = None
) -> None:
    """Count one failure under each key; older entries of these keys (outside `window`), and entries of
    any key older than RETENTION (keys that never fail again), are dropped."""
    now = now or utcnow()
    keys = [_key(k) for k in keys]
    session.execute(delete(FailedAttempt).where(FailedAttempt.key.in_(keys), FailedAttempt.at < now - window))
    session.execute(delete(FailedAttempt).where(FailedAttempt.at < now - max(window, RETENTION)))
    session.add_all([FailedAttempt(key=key, at=now) for key in keys])
    session.flush()


def clear(session: Session, key: str) -> None:
    """Forget the failures and attempts under `key` (e.g. after a successful login)."""
    session.execute(delete(FailedAttempt).where(FailedAttempt.key == _key(key)))
    session.execute(delete(RateCounter).where(RateCounter.key == _key(key)))
    session.flush()


# Anonymous writes per client (the web client's address) and hour; past these a write is refused (a
# case, a feedback answer) or not counted (a document view, a search gap). Staff, the CLI and phone
# calls pass no client and are not limited here.
ANONYMOUS_WRITES = {"case": 10, "feedback": 20, "view": 300, "gap": 60}
ANONYMOUS_WINDOW = timedelta(hours=1)


def allow(session: Session, what: str, client: str, *, now: datetime | None = None) -> bool:
    """Count one anonymous write of kind `what` (a key of ANONYMOUS_WRITES) by `client`; False when it
    is past the hourly limit. Counted in the caller's transaction: a refused write that the caller
    rolls back leaves the count where the accepted ones put it, so the refusal holds."""
    if not client:
        return True
    limits = {f"anon:{what}:{client}": ANONYMOUS_WRITES[what]}
    return not hit_all(session, limits, ANONYMOUS_WINDOW, now=now)


PRUNE_ONE_IN = 50  # one in this many hit_all calls also drops expired counters of every key


def _insert(session: Session) -> postgresql.Insert | sqlite.Insert:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(RateCounter)
    return sqlite.insert(RateCounter)


def hit(session: Session, key: str, window: timedelta, *, now: datetime | None = None) -> int:
    """Count one attempt under `key` and return the count of its window, this attempt included: one
    INSERT .. ON CONFLICT DO UPDATE .. RETURNING, so two concurrent attempts never get the same count
    (the second waits for the first's row lock, until the first commits). A window that has ended
    starts again with this attempt."""
    now = now or utcnow()
    expired = RateCounter.window_start <= literal(now - window, RateCounter.window_start.type)
    start = literal(now, RateCounter.window_start.type)
    stmt = (
        _insert(session)
        .values(key=_key(key), window_start=now, count=1)
        .on_conflict_do_update(
            index_elements=[RateCounter.key],
            set_={
                "count": case((expired, 1), else_=RateCounter.count + 1),
                "window_start": case((expired, start), else_=RateCounter.window_start),
            },
        )
        .returning(RateCounter.count)
    )
    return int(session.execute(stmt).scalar_one())


def hit_all(
    session: Session, limits: Mapping[str, int], window: timedelta, *, now: datetime | None = None
) -> list[str]:
    """Count one attempt under every key (in key order: concurrent callers lock rows in the same
    order) and return the keys whose count went past their limit (empty when all are within)."""
    over = [key for key in sorted(limits) if hit(session, key, window, now=now) > limits[key]]
    if random.randrange(PRUNE_ONE_IN) == 0:  # last: no lock is taken after it (no deadlock)
        prune(session, now=now)
    session.flush()
    return over


def take_back(session: Session, keys: Iterable[str]) -> None:
    """Un-count one attempt under each key (a refused message that was not sent, a login that
    succeeded): the count is what was let through."""
    session.execute(
        update(RateCounter)
        .where(RateCounter.key.in_([_key(k) for k in keys]), RateCounter.count > 0)
        .values(count=RateCounter.count - 1)
        .execution_options(synchronize_session=False)
    )
    session.flush()


def count(session: Session, key: str, window: timedelta, *, now: datetime | None = None) -> int:
    """The attempts counted under `key` in its current window (0 when it has ended)."""
    since = (now or utcnow()) - window
    row = session.execute(
        select(RateCounter.count).where(RateCounter.key == _key(key), RateCounter.window_start > since)
    ).first()
    return int(row[0]) if row else 0


def prune(session: Session, *, now: datetime | None = None) -> None:
    """Drop counters whose window began more than RETENTION ago (no limit counts that far back).
    Rows another transaction holds are left for next time (never waits for a lock)."""
    cutoff = (now or utcnow()) - RETENTION
    old = select(RateCounter.key).where(RateCounter.window_start < cutoff).limit(500)
    if session.get_bind().dialect.name == "postgresql":
        old = old.with_for_update(skip_locked=True)
    session.execute(
        delete(RateCounter).where(RateCounter.key.in_(old)).execution_options(synchronize_session=False)
    )
