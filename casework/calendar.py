"""Working days (holiday calendar with make-up workdays), case deadlines and the service hours: the one
calendar that the deadlines and the IVR (agents on duty) both read, edited on the admin pages.

Handling periods in working days, counted from registration (sign-off from referral):
咨询 2, 求助 5, 投诉 10, 举报 15, 建议 15, 表扬 5; urgent cases 1/2/3/5/5/2; 签收 within 1 working day.
Administrators override them (site setting `case_deadlines`, same shape as DEFAULT_PERIODS).
A deadline is the end (23:59:59 Beijing time) of the last working day.
Agents are on duty on working days of the service week (`service_hours`, ISO weekdays; holidays off,
make-up working days on) from `open` to `close`, local time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.errors import CaseError
from casework.models import Holiday
from hotline import audit, sitesettings
from hotline.config import local_timezone
from hotline.db import session_scope

LOCAL_TZ = local_timezone()  # the one local time zone (settings: HOTLINE_TIME_ZONE)
# the days a report may be asked for (a brief's local-day bounds overflow at years 1 and 9999)
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
DEFAULT_PERIODS: dict[str, dict[str, int]] = {
    "normal": {"咨询": 2, "求助": 5, "投诉": 10, "举报": 15, "建议": 15, "表扬": 5},
    "urgent": {"咨询": 1, "求助": 2, "投诉": 3, "举报": 5, "建议": 5, "表扬": 2},
    "sign": {"*": 1},
}


PERIOD_KINDS = {"normal": "普通", "urgent": "紧急"}
MAX_PERIOD = 60  # working days
MAX_CATEGORY = 8  # characters (cases.category)


def _setting(session: Session | None, key: str) -> dict | None:
    if session is not None:
        return sitesettings.read(session, key)
    with session_scope() as own:
        return sitesettings.read(own, key)


def periods(session: Session | None = None) -> dict[str, dict[str, int]]:
    """The handling periods: DEFAULT_PERIODS, overridden by the administrators' settings (read in
    `session`, or in a short transaction of its own)."""
    merged = {k: dict(v) for k, v in DEFAULT_PERIODS.items()}
    for key, values in (_setting(session, sitesettings.CASE_DEADLINES) or {}).items():
        merged.setdefault(key, {}).update({k: int(v) for k, v in values.items()})
    return merged


def categories(session: Session | None = None) -> tuple[str, ...]:
    """The case categories (诉求类别): the national six and those the administrators added, in order."""
    return tuple(periods(session)["normal"])


def set_periods(session: Session, values: dict[str, dict[str, int]], *, actor: str) -> None:
    """Store the handling periods (every category, normal and urgent, and the sign-off days), audited."""
    current = periods(session)
    _store(
        session, {kind: {c: values.get(kind, {}).get(c) for c in current[kind]} for kind in current}, actor
    )


def _store(session: Session, table: dict[str, dict[str, Any]], actor: str) -> None:
    for days in (d for kind in table.values() for d in kind.values()):
        if not isinstance(days, int) or not 1 <= days <= MAX_PERIOD:
            raise CaseError(f"办理时限应为 1 至 {MAX_PERIOD} 个工作日的整数。")
    sitesettings.write(session, sitesettings.CASE_DEADLINES, table, actor=actor)


def add_category(session: Session, name: str, *, normal: int, urgent: int, actor: str) -> None:
    """A new case category with its handling periods (working days), audited."""
    name = (name or "").strip()
    if not 1 <= len(name) <= MAX_CATEGORY or any(ch.isspace() or not ch.isprintable() for ch in name):
        raise CaseError(f"类别名称应为1至{MAX_CATEGORY}个字，不含空格。")
    table = periods(session)
    if name in table["normal"]:
        raise CaseError(f"类别“{name}”已存在。")
    table["normal"][name], table["urgent"][name] = normal, urgent
    _store(session, table, actor)


def remove_category(session: Session, name: str, *, actor: str) -> None:
    """Drop a category the administrators added (the national six stay); its cases keep it."""
    table = periods(session)
    if name in DEFAULT_PERIODS["normal"]:
        raise CaseError(f"“{name}”是国家标准规定的诉求类别，不能删除。")
    if name not in table["normal"]:
        raise CaseError(f"类别“{name}”不存在。")
    _store(
        session,
        {kind: {k: v for k, v in values.items() if k != name} for kind, values in table.items()},
        actor,
    )


def handling_days(category: str, urgency: str, session: Session | None = None) -> int:
    table = periods(session)
    return table["urgent" if urgency == "urgent" else "normal"].get(category, 5)


def sign_days(session: Session | None = None) -> int:
    return periods(session)["sign"].get("*", 1)


@dataclass(frozen=True)
class ServiceHours:
    """When agents are on duty: local opening and closing times on the service week's working days."""

    open: time = time(8, 0)
    close: time = time(20, 0)
    weekdays: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7)  # ISO weekdays

    def as_setting(self) -> dict:
        return {
            "open": self.open.strftime("%H:%M"),
            "close": self.close.strftime("%H:%M"),
            "weekdays": list(self.weekdays),
        }


def service_hours(session: Session | None = None) -> ServiceHours:
    stored = _setting(session, sitesettings.SERVICE_HOURS)
    if not stored:
        return ServiceHours()
    return ServiceHours(
        time.fromisoformat(stored["open"]), time.fromisoformat(stored["close"]), tuple(stored["weekdays"])
    )


def set_service_hours(session: Session, hours: ServiceHours, *, actor: str) -> None:
    if not hours.open < hours.close:
        raise CaseError("开始时间应早于结束时间。")
    if not hours.weekdays or any(d not in range(1, 8) for d in hours.weekdays):
        raise CaseError("请至少选择一个值班日（周一至周日）。")
    hours = ServiceHours(hours.open, hours.close, tuple(sorted(set(hours.weekdays))))
    sitesettings.write(session, sitesettings.SERVICE_HOURS, hours.as_setting(), actor=actor)


def agents_on_duty(moment: datetime, session: Session | None = None) -> bool:
    """Are agents on duty at this moment: a working day of the service week (a holiday is off, a
    make-up working day on) within the service hours."""
    if session is None:
        with session_scope() as own:
            return agents_on_duty(moment, own)
    hours = service_hours(session)
    local = moment.astimezone(LOCAL_TZ)
    exception = session.get(Holiday, local.date())
    on_duty = exception.workday if exception is not None else local.isoweekday() in hours.weekdays
    return on_duty and hours.open <= local.time().replace(tzinfo=None) < hours.close


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
    """The Beijing date of an aware moment."""
    return moment.astimezone(LOCAL_TZ).date()


def set_holiday(
    session: Session, day: date, *, workday: bool, name: str = "", actor: str = "system"
) -> Holiday:
    """Add or change a calendar exception (holiday or make-up working day), audited."""
    row = session.get(Holiday, day) or Holiday(day=day)
    row.workday, row.name = workday, name.strip()[:32]
    session.add(row)
    audit.record(
        session,
        actor=actor,
        action="holiday_set",
        entity="holiday",
        entity_id=day.isoformat(),
        detail={"workday": workday, "name": row.name},
    )
    session.flush()
    return row


def remove_holiday(session: Session, day: date, *, actor: str) -> None:
    """Drop a calendar exception (the day counts by its weekday again), audited."""
    row = session.get(Holiday, day)
    if row is None:
        raise CaseError("该日期不在节假日表中。")
    session.delete(row)
    audit.record(session, actor=actor, action="holiday_removed", entity="holiday", entity_id=day.isoformat())
    session.flush()


def holidays(session: Session) -> list[Holiday]:
    return list(session.scalars(select(Holiday).order_by(Holiday.day)))
