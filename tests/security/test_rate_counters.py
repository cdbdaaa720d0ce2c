"""hotline.attempts counters: one atomic count per attempt, fixed windows, taking an attempt back,
pruning old counters (both databases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from hotline import attempts
from hotline.db import session_scope
from hotline.models import RateCounter

WINDOW = timedelta(minutes=5)


def test_counts_windows_take_back_and_pruning(hotline_env: Path) -> None:
    start = datetime.now(UTC)
    with session_scope() as s:
        assert [attempts.hit(s, "t:a", WINDOW, now=start + timedelta(seconds=i)) for i in range(3)] == [
            1,
            2,
            3,
        ]
        assert attempts.hit_all(s, {"t:a": 3, "t:b": 3}, WINDOW, now=start) == ["t:a"]
        attempts.take_back(s, ["t:a"])
        assert attempts.count(s, "t:a", WINDOW, now=start) == 3
        assert attempts.count(s, "t:a", WINDOW, now=start + WINDOW) == 0  # the window has ended
        assert attempts.hit(s, "t:a", WINDOW, now=start + WINDOW + timedelta(seconds=1)) == 1  # a new one
        attempts.hit(s, "t:old", WINDOW, now=start - timedelta(days=2))
        attempts.prune(s, now=start)
        keys = s.scalars(select(RateCounter.key).order_by(RateCounter.key)).all()
        assert keys == ["t:a", "t:b"]
        attempts.clear(s, "t:b")
        assert s.scalar(select(func.count()).select_from(RateCounter)) == 1
