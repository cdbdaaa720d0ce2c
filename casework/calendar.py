"""Working days (holiday calendar with make-up workdays) and case deadlines.

Handling periods in working days, counted from registration (sign-off from referral):
咨询 2, 求助 5, 投诉 10, 举报 15, 建议 15, 表扬 5; urgent cases 1/2/3/5/5/2; 签收 within 1 working day.
Override with a JSON file `<HOTLINE_HOME>/casework_deadlines.json` of the same shape as DEFAULT_PERIODS.
A deadline is the end (23:59:59 Beijing time) of the last working day.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.models import Holiday
from hotline.config import get_settings

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
DEFAULT_PERIODS: dict[str, dict[str, int]] = {
    "normal": {"咨询": 2, "求助": 5, "投诉": 10, "举报": 15, "建议": 15, "表扬": 5},
    "urgent": {"咨询": 1, "求助": 2, "投诉": 3, "举报": 5, "建议": 5, "表扬": 2},
    "sign": {"*": 1},
}


def periods() -> dict[str, dict[str, int]]:
    """The configured handling periods (defaults, overridden by casework_deadlines.json)."""
    path = get_settings().home / "casework_deadlines.json"
    merged = {k: dict(v) for k, v in DEFAULT_PERIODS.items()}
    if path.exists():
        for key, values in json.loads(path.read_text()).items():
            merged.setdefault(key, {}).update({k: int(v) for k, v in values.items()})
    return merged


def handling_days(category: str, urgency: str) -> int:
    table = periods()
    return table["urgent" if urgency == "urgent" else "normal"].get(category, 5)


def sign_days() -> int:
    return periods()["sign"].get("*", 1)


class WorkCalendar:
    """Which days are working days: Monday-Friday, minus holidays, plus make-up working days."""

    def __init__(self, exceptions: dict[date, bool]):
        self.exceptions = exceptions

    @classmethod
    def load(cls, session: Session) -> WorkCalendar:
        return cls({h.day: h.workday for h in session.scalars(select(Holiday))})

    def is_workday(self, day: date) -> bool:
        if day in self.exceptions:
            return self.exceptions[day]
        return day.weekday() < 5

    def add_workdays(self, start: date, days: int) -> date:
        """The `days`-th working day after `start` (start itself does not count)."""
        day, left = start, max(days, 0)
        while left:
            day += timedelta(days=1)
            if self.is_workday(day):
                left -= 1
        return day

    def workdays_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end` (0 when end <= start)."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            count += self.is_workday(day)
        return count

    def deadline(self, start: datetime, days: int) -> datetime:
        """End of the `days`-th working day after `start`, as an aware UTC datetime."""
        local_day = local_date(start)
        last = self.add_workdays(local_day, days)
        return datetime.combine(last, time(23, 59, 59), LOCAL_TZ).astimezone(UTC)


def local_date(moment: datetime) -> date:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(LOCAL_TZ).date()


def aware(moment: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back; all stored times are UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def set_holiday(session: Session, day: date, *, workday: bool, name: str = "") -> Holiday:
    """Add or change a calendar exception (holiday or make-up working day)."""
    row = session.get(Holiday, day) or Holiday(day=day)
    row.workday, row.name = workday, name
    session.add(row)
    session.flush()
    return row
