"""The daily brief as a document (每日要情): staff mark the day's important cases (报要情) with a one-line
reason; the compiler (a supervisor) chooses and orders them and writes the summary; issuing it tells the
leaders by SMS. The figures, hot topics and lists around them are casework.brief's."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from casework.calendar import LOCAL_TZ
from casework.errors import CaseError
from casework.models import BriefIssue, BriefMark, Case
from casework.notices import SIGNATURE, queue_sms
from casework.outbox import OutboundRefused
from hotline import audit, sitesettings
from hotline.db import utcnow
from hotline.models import User

if TYPE_CHECKING:
    from casework import brief

MAX_REASON = 200
MAX_SUMMARY = 5000
DEFAULT_ISSUER = "12345政务服务便民热线中心"  # sitesettings "brief" {"issuer": ...} overrides it


def today() -> date:
    return datetime.now(LOCAL_TZ).date()


def check_day(day: date) -> None:
    """A brief is of a day that has begun."""
    if day > today():
        raise CaseError("不能编制未来日期的每日要情。")


def issuer(session: Session) -> str:
    """The issuing unit named in the brief's header."""
    stored = sitesettings.read(session, "brief") or {}
    return str(stored.get("issuer") or DEFAULT_ISSUER)


def mark(session: Session, case: Case, *, reason: str, actor: str, day: date | None = None) -> BriefMark:
    """Mark a case for the day's brief (once a day; marking again changes the reason)."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise CaseError("请用一句话写明报要情的理由。")
    if len(reason) > MAX_REASON:
        raise CaseError(f"报要情理由不能超过{MAX_REASON}个字。")
    day = day or today()
    check_day(day)
    found = session.scalar(select(BriefMark).where(BriefMark.case_id == case.id, BriefMark.day == day))
    if found is None:
        found = BriefMark(case_id=case.id, day=day, reason=reason, marked_by=actor, marked_at=utcnow())
        session.add(found)
    else:
        found.reason, found.marked_by, found.marked_at = reason, actor, utcnow()
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="case.brief_marked",
        entity="case",
        entity_id=case.case_number,
        comment=reason,
    )
    return found


def marks(session: Session, day: date) -> list[BriefMark]:
    """The day's marked cases, in the order they were marked."""
    return list(
        session.scalars(
            select(BriefMark).where(BriefMark.day == day).order_by(BriefMark.marked_at, BriefMark.id)
        )
    )


def issue_of(session: Session, day: date) -> BriefIssue | None:
    return session.scalar(select(BriefIssue).where(BriefIssue.day == day))


def compile_issue(
    session: Session, day: date, *, summary: str, case_ids: list[int], actor: str
) -> BriefIssue:
    """Save the compiler's choice for the day: the summary and the marked cases to include, in order.
    The first save gives the issue its number (期号: the year's issues so far plus one)."""
    check_day(day)
    summary = (summary or "").strip()
    if len(summary) > MAX_SUMMARY:
        raise CaseError(f"本期摘要不能超过{MAX_SUMMARY}个字。")
    marked = {m.case_id for m in marks(session, day)}
    chosen = list(dict.fromkeys(case_ids))
    if any(case_id not in marked for case_id in chosen):
        raise CaseError("只能编入当日报要情的工单。")
    found = issue_of(session, day)
    if found is None:
        year_start, next_year = date(day.year, 1, 1), date(day.year + 1, 1, 1)
        count = session.scalar(
            select(func.count(BriefIssue.id)).where(BriefIssue.day >= year_start, BriefIssue.day < next_year)
        )
        found = BriefIssue(day=day, number=(count or 0) + 1, compiled_by=actor)
        session.add(found)
    found.summary, found.case_ids, found.compiled_by, found.updated_at = summary, chosen, actor, utcnow()
    session.flush()
    audit.record(
        session, actor=actor, action="brief.compiled", entity="brief", entity_id=day.isoformat(),
        detail={"number": found.number, "cases": chosen},
    )  # fmt: skip
    return found


def issue(session: Session, day: date, *, actor: str) -> int:
    """Issue the compiled brief to the leaders: an SMS to each active leader with a phone. Returns how many
    SMS were queued (the outbox's caps may refuse some: audited there)."""
    found = issue_of(session, day)
    if found is None:
        raise CaseError("请先保存本期要情，再编发。")
    found.issued_at, found.issued_by = utcnow(), actor
    leaders = session.scalars(select(User).where(User.active.is_(True), User.phone.is_not(None)))
    text = f"{SIGNATURE}第{found.number}期每日要情（{day.month}月{day.day}日）已编发，请登录系统查阅。"
    sent = 0
    for leader in leaders:
        if "leader" not in leader.role_set:
            continue
        try:
            queue_sms(
                session, to=leader.phone or "", text=text, kind="brief", ref=f"brief:{day.isoformat()}",
                message_id=f"brief-{day.isoformat()}-{leader.id}",
            )  # fmt: skip
            sent += 1
        except OutboundRefused:
            continue
    audit.record(
        session, actor=actor, action="brief.issued", entity="brief", entity_id=day.isoformat(),
        detail={"number": found.number, "sms": sent},
    )  # fmt: skip
    session.flush()
    return sent


def header(session: Session, day: date, found: BriefIssue | None = None) -> brief.Header:
    """What the brief's header says for the day."""
    from casework.brief import Header

    found = found if found is not None else issue_of(session, day)
    if found is None:
        return Header(None, issuer(session))
    return Header(
        found.number, issuer(session), found.summary, found.compiled_by, found.issued_at is not None
    )
