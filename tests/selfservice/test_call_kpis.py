"""The dashboard's call figures count the calls of a local (Asia/Shanghai) day, at any hour."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from hotline.db import session_scope
from selfservice import records
from selfservice.models import CallRecord

DAY = date(2026, 11, 26)
# (UTC start, outcome): 16:30 UTC on the 25th is 00:30 on the 26th in Beijing; 15:59 UTC is still the 25th
CALLS = [
    (datetime(2026, 11, 25, 16, 30, tzinfo=UTC), "self_served"),
    (datetime(2026, 11, 25, 23, 0, tzinfo=UTC), "abandoned"),
    (datetime(2026, 11, 26, 15, 59, tzinfo=UTC), "transferred"),
    (datetime(2026, 11, 25, 15, 59, tzinfo=UTC), "abandoned"),  # the local 25th
    (datetime(2026, 11, 26, 16, 0, tzinfo=UTC), "abandoned"),  # the local 27th
]


def test_a_local_day_counts_its_calls_whatever_their_utc_date(hotline_env: Path) -> None:
    with session_scope() as db:
        for n, (started, outcome) in enumerate(CALLS):
            records.start_call(db, call_id=f"c{n}", channel="sip", caller_number="13812345678")
            records.finish_call(db, f"c{n}", outcome=outcome)
            db.scalars(select(CallRecord).filter_by(call_id=f"c{n}")).one().started_at = started
    with session_scope() as db:
        assert records.call_outcomes(db, DAY) == {"self_served": 1, "abandoned": 1, "transferred": 1}
        assert records.self_service_rate(db, DAY) == pytest.approx(1 / 3)
