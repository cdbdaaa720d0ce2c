"""Figures for the leaders' dashboard over a period: each department's on-time and satisfaction ranking,
and the cases by day, hour, category, district and channel (each row carries the case-list filter that
shows its cases)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import ClassVar

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from casework.calendar import LOCAL_TZ, local_date
from casework.lifecycle import DONE_STATUSES, OPEN_STATUSES
from casework.models import Case, CaseEvent, Department
from casework.search import CHANNEL_LABELS
from hotline.db import utcnow

SATISFIED = ("满意", "基本满意")


@dataclass(frozen=True)
class Period:
    """Beijing days `first` .. `last`, inclusive."""

    first: date
    last: date

    @classmethod
    def ending(cls, last: date, days: int) -> Period:
        return cls(last - timedelta(days=days - 1), last)

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        start = datetime.combine(self.first, time(0), LOCAL_TZ)
        return start, datetime.combine(self.last + timedelta(days=1), time(0), LOCAL_TZ)

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    def filter(self) -> dict[str, str]:
        """The case list's date filter for this period."""
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


@dataclass
class Row:
    """One line of a table or bar of a chart: its label, value and the case-list filter behind it."""

    label: str
    value: int
    filter: dict[str, str] = field(default_factory=dict)


@dataclass
class DepartmentFigures:
    """One department's work in the period (cases referred to it that were created in the period)."""

    department_id: int
    name: str
    received: int = 0
    done: int = 0
    on_time: int = 0
    rated: int = 0
    satisfied: int = 0
    reworked: int = 0
    open_overdue: int = 0

    @property
    def on_time_rate(self) -> float | None:
        return round(self.on_time / self.done, 4) if self.done else None

    @property
    def satisfaction_rate(self) -> float | None:
        return round(self.satisfied / self.rated, 4) if self.rated else None


def _in_period(period: Period) -> list[ColumnElement[bool]]:
    start, end = period.bounds
    return [Case.created_at >= start, Case.created_at < end]


def department_ranking(session: Session, period: Period) -> list[DepartmentFigures]:
    """Departments with cases in the period, best on-time rate first (then satisfaction, then volume);
    a department with nothing finished yet comes last."""
    now = utcnow()
    figures: dict[int, DepartmentFigures] = {}
    stmt = (
        select(
            Department.id,
            Department.name,
            Case.status,
            Case.deadline,
            Case.replied_at,
            Case.closed_at,
            Case.satisfaction,
        )
        .join(Case, Case.department_id == Department.id)
        .where(*_in_period(period))
    )
    for dept_id, name, status, deadline, replied, closed, satisfaction in session.execute(stmt):
        row = figures.setdefault(dept_id, DepartmentFigures(dept_id, name))
        row.received += 1
        if status in DONE_STATUSES:
            row.done += 1
            finished = replied or closed
            row.on_time += deadline is not None and finished is not None and finished <= deadline
        elif status in OPEN_STATUSES and deadline is not None and deadline < now:
            row.open_overdue += 1
        if satisfaction:
            row.rated += 1
            row.satisfied += satisfaction in SATISFIED
    reworks = session.execute(
        select(Case.department_id, func.count(CaseEvent.id))
        .join(Case, Case.id == CaseEvent.case_id)
        .where(CaseEvent.action == "reworked", *_in_period(period))
        .group_by(Case.department_id)
    )
    for owner, count in reworks:
        if owner is not None and owner in figures:
            figures[owner].reworked = count
    return sorted(
        figures.values(),
        key=lambda f: (
            f.on_time_rate is None,
            -(f.on_time_rate or 0),
            -(f.satisfaction_rate or 0),
            -f.received,
        ),
    )


def by_day(session: Session, period: Period) -> list[Row]:
    """Cases created on each day of the period (days without cases included)."""
    counts = Counter(
        local_date(t) for t in session.scalars(select(Case.created_at).where(*_in_period(period)))
    )
    return [
        Row(d.strftime("%m-%d"), counts[d], {"from": d.isoformat(), "to": d.isoformat()}) for d in period.days
    ]


def by_hour(session: Session, period: Period) -> list[Row]:
    """Cases by the hour of the day they came in (Beijing time), over the period."""
    counts = Counter(
        t.astimezone(LOCAL_TZ).hour
        for t in session.scalars(select(Case.created_at).where(*_in_period(period)))
    )
    return [Row(f"{h:02d}时", counts[h], period.filter()) for h in range(24)]


def by_column(session: Session, period: Period, column: str) -> list[Row]:
    """Cases of the period by category, district or channel, largest first."""
    attribute = {"category": Case.category, "district": Case.district, "channel": Case.channel}[column]
    stmt = select(attribute, func.count(Case.id)).where(*_in_period(period)).group_by(attribute)
    rows = []
    for value, count in session.execute(stmt):
        label = (CHANNEL_LABELS.get(value, value) if column == "channel" else value) if value else "未填写"
        rows.append(Row(label, count, {**period.filter(), column: value} if value else period.filter()))
    return sorted(rows, key=lambda r: (-r.value, r.label))


@dataclass
class Dashboard:
    """Everything the leaders' statistics page shows for a period."""

    period: Period
    total: int
    ranking: list[DepartmentFigures]
    by_day: list[Row]
    by_hour: list[Row]
    by_category: list[Row]
    by_district: list[Row]
    by_channel: list[Row]

    CHARTS: ClassVar[dict[str, str]] = {
        "by_day": "每日",
        "by_hour": "分时段",
        "by_category": "类别",
        "by_district": "区域",
        "by_channel": "渠道",
    }

    def chart(self, key: str) -> list[Row]:
        return list(getattr(self, key))


def dashboard(session: Session, period: Period) -> Dashboard:
    """The figures of a period."""
    return Dashboard(
        period=period,
        total=session.scalar(select(func.count(Case.id)).where(*_in_period(period))) or 0,
        ranking=department_ranking(session, period),
        by_day=by_day(session, period),
        by_hour=by_hour(session, period),
        by_category=by_column(session, period, "category"),
        by_district=by_column(session, period, "district"),
        by_channel=by_column(session, period, "channel"),
    )
