"""Registering cases, looking them up, and the citizen's progress query (rate-limited, no hints)."""

from __future__ import annotations

import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from casework import lifecycle, notices, search, staffnotices
from casework.calendar import DEFAULT_PERIODS, LOCAL_TZ, WorkCalendar, categories, handling_days
from casework.errors import CaseError, CaseQueryLocked, CaseQueryRejected
from casework.lifecycle import OPEN_STATUSES
from casework.models import Case, CaseEvent, CaseSequence, Department
from hotline import attempts, audit
from hotline.config import get_settings
from hotline.db import changed_rows, utcnow

CHANNELS = ("phone", "voicemail", "web", "sms", "email", "fax")
NUMBERLESS_CHANNELS = ("email", "fax")  # a mail or a fax may come without a telephone number
CATEGORIES = tuple(DEFAULT_PERIODS["normal"])  # the national six; administrators may add more (categories())
URGENCIES = ("normal", "urgent")
REVIEWED_CHANNELS = ("web", "sms", "email", "fax")  # land in the agents' review queue first
MAX_FAILURES = 3
LOCK_WINDOW = timedelta(minutes=15)
CASE_FAILURES_PER_DAY = 30  # failures on one case from all callers that lock it for everyone
CASE_WINDOW = timedelta(days=1)
ATTEMPT_SCOPE = "case_query:"  # failures counted in hotline.attempts under this prefix
_PHONE_CHARS = re.compile(r"[\s()\-]")
# Query passwords are 6 digits (keyed on a phone): 10^6 of them. Online guessing is stopped by the
# limits above; the hash is sized for a stolen database: argon2id, 64 MiB and 3 passes (0.1-0.15 s a
# check on one core) make trying all 10^6 passwords of one case about 1.5 CPU-days, case by case
# (each has its own salt). docs/security.md. Hashes of the earlier, lighter parameters (8 MiB, 2
# passes) still verify (argon2 reads the parameters from the hash) and a successful query replaces them.
_hasher = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=1)


@lru_cache(maxsize=1)
def _checks() -> threading.BoundedSemaphore:
    """At most `password_checks_at_once` case-password hashes (64 MiB each) at once in this process."""
    return threading.BoundedSemaphore(max(1, get_settings().password_checks_at_once))


def hash_secret(secret: str) -> str:
    with _checks():
        return _hasher.hash(secret)


def verify_secret(hashed: str, secret: str) -> bool:
    try:
        with _checks():
            return _hasher.verify(hashed, secret)
    except (VerifyMismatchError, InvalidHashError):
        return False


@dataclass(frozen=True)
class ProgressView:
    """What a citizen may see of a case: no names, no internal notes."""

    case_number: str
    status_label: str
    last_update_text: str
    updated_at: datetime


@dataclass(frozen=True)
class CallerInfo:
    count: int
    open: int
    last_contact: datetime | None


def add_event(
    session: Session,
    case: Case,
    *,
    actor: str,
    action: str,
    comment: str = "",
    to_status: str | None = None,
    detail: dict | None = None,
) -> CaseEvent:
    """Timeline entry + audit entry (+ status change), in the caller's transaction."""
    event = CaseEvent(
        case_id=case.id,
        actor=actor,
        action=action,
        comment=comment,
        from_status=case.status,
        to_status=to_status,
    )
    session.add(event)
    if to_status:
        case.status = to_status
    case.updated_at = utcnow()
    audit.record(
        session, actor=actor, action=f"case.{action}", entity="case", entity_id=case.case_number,
        comment=comment, detail=detail,
    )  # fmt: skip
    return event


def _next_case_number(session: Session, now: datetime) -> str:
    """Date (Beijing time) + 5-digit daily sequence, e.g. 2026112500015; safe under concurrency."""
    day = now.astimezone(LOCAL_TZ).strftime("%Y%m%d")
    for _ in range(5):
        if changed_rows(
            session, update(CaseSequence).where(CaseSequence.day == day).values(last=CaseSequence.last + 1)
        ):
            last = session.scalar(select(CaseSequence.last).where(CaseSequence.day == day))
            return f"{day}{last:05d}"
        try:
            with session.begin_nested():
                session.add(CaseSequence(day=day, last=1))
            return f"{day}00001"
        except IntegrityError:
            continue
    raise CaseError("工单编号生成失败，请重试。")


def normalize_number(number: str) -> str:
    return _PHONE_CHARS.sub("", number or "")


def create_case(
    session: Session,
    *,
    channel: str,
    caller_number: str,
    content: str,
    category: str = "咨询",
    topic: str = "",
    name: str | None = None,
    contact: str | None = None,
    address: str | None = None,
    district: str | None = None,
    urgency: str = "normal",
    actor: str = "system",
    audio_path: str | None = None,
    confidential: bool = False,
    now: datetime | None = None,
    client_key: str = "",
) -> tuple[Case, str]:
    """Register a case; returns it and its plain 6-digit query password (only the hash is stored).
    Web and SMS submissions wait in the review queue (status pending_review). client_key: the
    anonymous submitter (`web:<address>`), limited to an hourly number of cases (hotline.attempts)."""
    content = (content or "").strip()
    caller_number = normalize_number(caller_number)
    if channel not in CHANNELS:
        raise CaseError(f"不支持的受理渠道：{channel}")
    known = categories(session)
    if category not in known:
        raise CaseError("诉求类别应为：" + "、".join(known))
    if urgency not in URGENCIES:
        raise CaseError("紧急程度应为一般或紧急。")
    if not content and not audio_path:
        raise CaseError("请填写诉求内容。")
    if len(content) > 5000:
        raise CaseError("诉求内容不能超过5000字。")
    if (not caller_number and channel not in NUMBERLESS_CHANNELS) or len(caller_number) > 32:
        raise CaseError("请提供正确的联系电话。")
    if not attempts.allow(session, "case", client_key):
        raise CaseError("提交次数过多，请稍后再试，或拨打12345热线。")
    now = now or utcnow()
    password = f"{secrets.randbelow(10**6):06d}"
    password_hash = hash_secret(password)  # before the case number's row lock: hashing takes ~0.1 s
    status = "pending_review" if channel in REVIEWED_CHANNELS else "registered"
    calendar = WorkCalendar.load(session)
    case = Case(
        case_number=_next_case_number(session, now),
        password_hash=password_hash,
        channel=channel,
        caller_number=caller_number,
        name=(name or "").strip()[:64] or None,
        contact=(contact or "").strip()[:64] or None,
        confidential=confidential,
        category=category,
        topic=(topic or "").strip()[:200],
        content=content,
        address=(address or "").strip()[:255] or None,
        district=(district or "").strip()[:64] or None,
        urgency=urgency,
        status=status,
        deadline=calendar.deadline(now, handling_days(category, urgency)),
        flags=[],
        audio_path=audio_path,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    case.search_text = search.case_index_text(case)
    session.add(case)
    session.flush()
    add_event(session, case, actor=actor, action="submitted" if status == "pending_review" else "registered")
    if status == "registered":
        notices.registration(session, case, password)
    else:
        staffnotices.notify(session, "submission", case)
    session.flush()
    return case, password


def get_case(session: Session, case_number: str) -> Case | None:
    return session.scalar(select(Case).where(Case.case_number == str(case_number).strip()))


def cases_for_caller(session: Session, number: str, limit: int = 20) -> list[Case]:
    """A caller's cases, newest first (uses the caller_number index); none for no number (a mail or a
    fax without one)."""
    if not normalize_number(number):
        return []
    stmt = (
        select(Case)
        .where(Case.caller_number == normalize_number(number))
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def repeat_caller(session: Session, number: str) -> CallerInfo:
    """How often this number has called before: cases in total, still open, last contact."""
    number = normalize_number(number)
    if not number:
        return CallerInfo(count=0, open=0, last_contact=None)
    total, open_count, last = session.execute(
        select(
            func.count(Case.id),
            func.count(Case.id).filter(Case.status.in_(OPEN_STATUSES)),
            func.max(Case.created_at),
        ).where(Case.caller_number == number)
    ).one()
    return CallerInfo(count=total or 0, open=open_count or 0, last_contact=last)


def progress_limits(case_number: str, caller_key: str) -> dict[str, int]:
    """The rate-limit keys of a progress query (per LOCK_WINDOW) with their limits: this case from
    this caller, and this caller over all cases (scanning sequential case numbers)."""
    case_key, caller = f"{ATTEMPT_SCOPE}case:{case_number[:40]}", f"{ATTEMPT_SCOPE}caller:{caller_key[:80]}"
    return {f"{case_key}:{caller[len(ATTEMPT_SCOPE) :]}": MAX_FAILURES, caller: MAX_FAILURES}


def check_progress(
    session: Session, case_number: str, password: str, *, caller_key: str, now: datetime | None = None
) -> ProgressView:
    """A citizen's progress query. The attempt is counted before the password is checked, atomically
    (hotline.attempts.hit_all; the caller must commit even when this raises), and taken back when it
    succeeds: after 3 failures within 15 minutes a caller is locked out of that case, and out of
    every case (CaseQueryLocked). The lock is the caller's: the citizen asking from another address
    or phone is not locked out by someone else's guesses, unless a case collects more than
    CASE_FAILURES_PER_DAY failures in a day from all callers. A wrong number and a wrong password give
    the same CaseQueryRejected."""
    now = now or utcnow()
    case_number, password = str(case_number).strip(), str(password).strip()
    limits = progress_limits(case_number, caller_key)
    case_day_key = f"{ATTEMPT_SCOPE}case:{case_number[:40]}"
    over = attempts.hit_all(session, limits, LOCK_WINDOW, now=now)
    if over or attempts.count(session, case_day_key, CASE_WINDOW, now=now) >= CASE_FAILURES_PER_DAY:
        raise CaseQueryLocked("查询失败次数过多，请15分钟后再试。")
    case = get_case(session, case_number) if case_number.isdigit() else None
    valid = case is not None and case.status != "merged" and verify_secret(case.password_hash, password)
    if case is None:
        hash_secret(password)  # same cost as a real check: timing gives no hint either
    if case is None or not valid:
        attempts.hit(session, case_day_key, CASE_WINDOW, now=now)
        raise CaseQueryRejected("工单编号或查询密码不正确。")
    attempts.take_back(session, limits)
    if _hasher.check_needs_rehash(case.password_hash):  # made with the earlier, lighter parameters
        case.password_hash = hash_secret(password)
    return ProgressView(
        case_number=case.case_number,
        status_label=case.status_label,
        last_update_text=lifecycle.citizen_text(case),
        updated_at=case.updated_at,
    )


def department_by_name(session: Session, name: str) -> Department | None:
    return session.scalar(select(Department).where(Department.name == name))
