"""Lists the staff pages need, the deadline scan and the dashboard figures."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from casework import notices, staffnotices
from casework.calendar import LOCAL_TZ, WorkCalendar, local_date
from casework.cases import REVIEWED_CHANNELS, add_event
from casework.lifecycle import DEADLINE_STATUSES, DONE_STATUSES, OPEN_STATUSES, WITH_DEPARTMENT
from casework.models import Case, CaseEvent, Department, ExtensionRequest, Instruction, Urge
from hotline.db import utcnow


def timeline(session: Session, case: Case) -> list[CaseEvent]:
    stmt = select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.at, CaseEvent.id)
    return list(session.scalars(stmt))


ONLINE_RESPONSE = timedelta(
    minutes=3
)  # online messages are to be answered within 3 minutes (国办 2020 No.53)


def review_queue(session: Session) -> list[Case]:
    """Web/SMS submissions waiting for an agent, oldest first."""
    stmt = select(Case).where(Case.status == "pending_review").order_by(Case.created_at, Case.id)
    return list(session.scalars(stmt))


def waiting_too_long(cases: list[Case], now: datetime | None = None) -> list[Case]:
    """Those of the waiting submissions older than the 3 minutes an online request may wait."""
    now = now or utcnow()
    return [c for c in cases if now - c.created_at > ONLINE_RESPONSE]


def _overdue(now: datetime | None) -> tuple[ColumnElement[bool], ...]:
    return Case.status.in_(DEADLINE_STATUSES), Case.deadline < (now or utcnow())


def overdue_cases(session: Session, now: datetime | None = None, limit: int | None = None) -> list[Case]:
    """Open cases past their deadline, most overdue first (the first `limit` of them)."""
    stmt = select(Case).where(*_overdue(now)).order_by(Case.deadline, Case.id).limit(limit)
    return list(session.scalars(stmt))


def count_overdue(session: Session, now: datetime | None = None) -> int:
    """How many open cases are past their deadline."""
    return session.scalar(select(func.count(Case.id)).where(*_overdue(now))) or 0


def due_cases(session: Session, limit: int = 200) -> list[Case]:
    """Open cases that are overdue (red) or near their deadline (yellow, marked by the deadline scan),
    earliest deadline first."""
    stmt = (
        select(Case)
        .where(
            Case.status.in_(DEADLINE_STATUSES),
            or_(Case.deadline < utcnow(), Case.due_level.in_(("red", "yellow"))),
        )
        .order_by(Case.deadline, Case.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def due_level(case: Case) -> str | None:
    """red (overdue, even before the next scan), yellow (near the deadline) or None."""
    if case.status in DEADLINE_STATUSES and case.deadline is not None and case.deadline < utcnow():
        return "red"
    return case.due_level if case.status in DEADLINE_STATUSES else None


def supervised_cases(session: Session) -> list[Case]:
    stmt = select(Case).where(Case.supervised.is_(True)).order_by(Case.updated_at.desc(), Case.id.desc())
    return list(session.scalars(stmt))


def pending_extensions(session: Session) -> list[ExtensionRequest]:
    stmt = (
        select(ExtensionRequest)
        .where(ExtensionRequest.status == "pending")
        .order_by(ExtensionRequest.requested_at, ExtensionRequest.id)
    )
    return list(session.scalars(stmt))


def cases_for_department(
    session: Session, department: Department, *, include_done: bool = False
) -> list[Case]:
    """A department's cases, nearest deadline first (only those it has to work on, unless include_done)."""
    stmt = select(Case).where(Case.department_id == department.id)
    if not include_done:
        stmt = stmt.where(Case.status.in_(WITH_DEPARTMENT))
    return list(session.scalars(stmt.order_by(Case.deadline, Case.id)))


def pending_instructions(session: Session, department: Department) -> list[Instruction]:
    stmt = (
        select(Instruction)
        .join(Case, Instruction.case_id == Case.id)
        .where(Case.department_id == department.id, Instruction.acknowledged_at.is_(None))
        .order_by(Instruction.issued_at, Instruction.id)
    )
    return list(session.scalars(stmt))


def urges_for_department(session: Session, department: Department, *, unread_only: bool = True) -> list[Urge]:
    """In-app urging notices (催办) for a department."""
    stmt = select(Urge).where(Urge.department_id == department.id)
    if unread_only:
        stmt = stmt.where(Urge.read_at.is_(None))
    return list(session.scalars(stmt.order_by(Urge.at.desc(), Urge.id.desc())))


def scan_deadlines(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Mark open cases yellow (due today or the next working day, 即将到期) or red (overdue), once each,
    with a timeline entry and a reminder SMS to the department. Returns counts."""
    now = now or utcnow()
    calendar = WorkCalendar.load(session)
    today = local_date(now)
    soon_limit = datetime.combine(calendar.add_workdays(today, 1), time(23, 59, 59), LOCAL_TZ).astimezone(UTC)
    counts = {"scanned": 0, "yellow": 0, "red": 0, "newly_yellow": 0, "newly_red": 0}
    stmt = select(Case).where(Case.status.in_(DEADLINE_STATUSES), Case.deadline <= soon_limit)
    for case in session.scalars(stmt):
        counts["scanned"] += 1
        level = "red" if case.deadline is not None and case.deadline < now else "yellow"
        counts[level] += 1
        if case.due_level == level:
            continue
        case.due_level = level
        flag = "overdue" if level == "red" else "due_soon"
        case.flags = [f for f in case.flags or [] if f != "due_soon"] + [flag]
        add_event(
            session, case, actor="system", action=flag, comment=f"办理期限{notices.when(case.deadline)}"
        )
        notices.send(session, case, "overdue" if level == "red" else "reminder")
        if level == "red":
            staffnotices.notify(session, "overdue", case)
        counts[f"newly_{level}"] += 1
    session.flush()
    return counts


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), LOCAL_TZ).astimezone(UTC)
    return start, start + timedelta(days=1)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


REVIEW_ACTIONS = ("accepted_submission", "rejected_submission")


def online_response(session: Session, since: datetime, end: datetime) -> tuple[int, int]:
    """(answered within 3 minutes, due) for the web and SMS requests created in [since, end): an agent's
    acceptance or rejection of the submission is the answer; one still waiting counts once 3 minutes
    have passed."""
    first_review = (
        select(CaseEvent.case_id, func.min(CaseEvent.at).label("at"))
        .where(CaseEvent.action.in_(REVIEW_ACTIONS))
        .group_by(CaseEvent.case_id)
        .subquery()
    )
    rows = session.execute(
        select(Case.created_at, first_review.c.at)
        .outerjoin(first_review, first_review.c.case_id == Case.id)
        .where(Case.channel.in_(REVIEWED_CHANNELS), Case.created_at >= since, Case.created_at < end)
    ).all()
    now = utcnow()
    quick = due = 0
    for created, reviewed in rows:
        deadline = created + ONLINE_RESPONSE
        if reviewed is None and now < deadline:
            continue  # still within its 3 minutes
        due += 1
        if reviewed is not None and reviewed <= deadline:
            quick += 1
    return quick, due


def dashboard_kpis(session: Session, day: date | None = None) -> dict:
    """Figures for the supervisor dashboard. Rates are fractions 0..1 (None when nothing to rate)."""
    day = day or local_date(utcnow())
    start, end = _day_bounds(day)
    week_start, _ = _day_bounds(day - timedelta(days=day.weekday()))
    month_start, _ = _day_bounds(day - timedelta(days=29))
    today_cases = select(Case).where(Case.created_at >= start, Case.created_at < end).subquery()
    cases_today = session.scalar(select(func.count()).select_from(today_cases)) or 0
    cases_week = session.scalar(
        select(func.count(Case.id)).where(Case.created_at >= week_start, Case.created_at < end)
    )
    recent = select(Case.id).where(Case.created_at >= month_start, Case.created_at < end)
    answered = session.scalar(
        select(func.count(CaseEvent.id)).where(CaseEvent.action == "answered", CaseEvent.case_id.in_(recent))
    )
    referred = session.scalar(
        select(func.count(func.distinct(CaseEvent.case_id))).where(
            CaseEvent.action == "referred", CaseEvent.case_id.in_(recent)
        )
    )
    handled = (answered or 0) + (referred or 0)
    done = session.execute(
        select(Case.deadline, Case.replied_at, Case.closed_at).where(
            Case.id.in_(recent), Case.status.in_(DONE_STATUSES)
        )
    ).all()
    on_time = sum(1 for dl, rep, cl in done if dl is not None and (finished := rep or cl) is not None and finished <= dl)
    followed = session.scalar(
        select(func.count(func.distinct(CaseEvent.case_id))).where(
            CaseEvent.action == "followed_up", CaseEvent.case_id.in_(recent)
        )
    )
    phone = select(Case.id).where(Case.id.in_(recent), Case.channel == "phone")
    phone_total = session.scalar(select(func.count()).select_from(phone.subquery()))
    first_call = session.scalar(
        select(func.count(func.distinct(CaseEvent.case_id))).where(
            CaseEvent.action == "answered", CaseEvent.case_id.in_(phone)
        )
    )
    online_quick, online_due = online_response(session, month_start, end)
    sat = Counter(
        session.scalars(select(Case.satisfaction).where(Case.id.in_(recent), Case.satisfaction.is_not(None)))
    )
    by_category = dict(
        session.execute(
            select(Case.category, func.count(Case.id)).where(Case.id.in_(recent)).group_by(Case.category)
        ).all()
    )
    by_department = dict(
        session.execute(
            select(Department.name, func.count(Case.id))
            .join(Case, Case.department_id == Department.id)
            .where(Case.id.in_(recent))
            .group_by(Department.name)
        ).all()
    )
    rework_by_department = dict(
        session.execute(
            select(func.coalesce(Department.name, "未指定"), func.count(CaseEvent.id))
            .select_from(CaseEvent)
            .join(Case, Case.id == CaseEvent.case_id)
            .outerjoin(Department, Department.id == Case.department_id)
            .where(CaseEvent.action == "reworked", CaseEvent.at >= month_start, CaseEvent.at < end)
            .group_by(Department.name)
        ).all()
    )  # 不满意重办 (casework.workflow.rework) of the last 30 days, by the case's department
    daily = Counter(
        local_date(t).isoformat()
        for t in session.scalars(
            select(Case.created_at).where(Case.created_at >= month_start, Case.created_at < end)
        )
    )
    return {
        "day": day,
        "cases_today": cases_today,
        "cases_week": cases_week or 0,
        "direct_answer_rate": _rate(answered or 0, handled),
        "referral_rate": _rate(referred or 0, handled),
        "on_time_rate": _rate(on_time, len(done)),
        "followup_rate": _rate(followed or 0, len(done)),  # 回访 of the finished cases
        "first_call_rate": _rate(first_call or 0, phone_total or 0),  # phone cases answered on the call
        "online_response_rate": _rate(online_quick, online_due),  # web/SMS requests reviewed within 3 min
        "satisfaction_rate": _rate(sat["满意"] + sat["基本满意"], sum(sat.values())),
        "overdue": count_overdue(session),
        "open": session.scalar(select(func.count(Case.id)).where(Case.status.in_(OPEN_STATUSES))) or 0,
        "by_category": by_category,
        "by_department": by_department,
        "reworked": sum(rework_by_department.values()),
        "rework_by_department": rework_by_department,
        "daily_counts": sorted(daily.items()),
    }
