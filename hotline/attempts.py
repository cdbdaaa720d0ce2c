"""Rate limits on failed attempts, counted in the database so every process sees the same count.

Keys are "<scope>:<what>" (`login:<ip>:<username>`, `case_query:case:<number>`, ...). Like every domain
function these flush but never commit: the caller commits, also when it then refuses the request.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from hotline.db import utcnow
from hotline.models import FailedAttempt

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
    """Forget the failures under `key` (e.g. after a successful login)."""
    session.execute(delete(FailedAttempt).where(FailedAttempt.key == _key(key)))
    session.flush()
