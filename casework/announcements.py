"""Business announcements (业务公告): a supervisor or administrator sends one text by SMS and/or fax to
groups of recipients — all handling departments, chosen departments, staff with a phone, a pasted list of
numbers — through the outbox (casework.notices.announce: the sender's caps, refusals audited). Each
announcement is a row of case_announcements; its messages are the outbox rows with ref
"announcement:<id>", so the list of past announcements counts their delivery from the outbox and the
SMS delivery reports (casework.outbox.record_delivery_report)."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.errors import CaseError
from casework.models import Announcement, Department, OutboxMessage
from casework.notices import announce
from hotline import audit
from hotline.models import User
from hotline.users import contact_number

GROUPS = {
    "departments": "全部承办单位",
    "chosen": "指定承办单位",
    "staff": "有手机号码的工作人员",
    "numbers": "其他号码",
}
CHANNELS = {"sms": "短信", "fax": "传真"}
MAX_TEXT = 500
MAX_NUMBERS = 500  # pasted numbers
AUDIT_ACTION = "announcement_sent"
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_SPLIT = re.compile(r"[\s,，;；、]+")


@dataclass
class Recipients:
    """The numbers an announcement goes to, per channel (no number twice on one channel)."""

    sms: list[str] = field(default_factory=list)
    fax: list[str] = field(default_factory=list)

    def add(self, channel: str, number: str | None) -> None:
        target = self.sms if channel == "sms" else self.fax
        if number and number not in target:
            target.append(number)


@dataclass(frozen=True)
class Delivery:
    """What became of an announcement's messages (outbox status and delivery reports)."""

    total: int = 0
    pending: int = 0  # waiting in the outbox (or being sent)
    sent: int = 0  # handed to the SMS gateway or the fax spool
    delivered: int = 0  # confirmed by the SMS delivery report
    failed: int = 0  # given up, or reported failed or rejected


def parse_numbers(text: str) -> list[str]:
    """The numbers of a pasted list (one a line, or separated by commas, spaces, 、); CaseError names the
    ones that are not numbers."""
    numbers: list[str] = []
    bad: list[str] = []
    for item in _SPLIT.split(text or ""):
        if not item:
            continue
        try:
            number = contact_number(item)
        except ValueError:
            bad.append(item[:20])
            continue
        if number and number not in numbers:
            numbers.append(number)
    if bad:
        raise CaseError("以下号码格式不正确：" + "、".join(bad[:10]) + ("等" if len(bad) > 10 else ""))
    if len(numbers) > MAX_NUMBERS:
        raise CaseError(f"一次最多填写{MAX_NUMBERS}个号码。")
    return numbers


def recipients(
    session: Session,
    *,
    groups: Collection[str],
    department_ids: Sequence[int] = (),
    numbers: Sequence[str] = (),
    channels: Collection[str],
) -> Recipients:
    """Who gets the announcement on each chosen channel: departments by their SMS and fax numbers, staff
    by their phone (SMS), pasted mobile numbers by SMS and the other pasted numbers by fax."""
    found = Recipients()
    departments: list[Department] = []
    if "departments" in groups:
        departments = list(
            session.scalars(select(Department).where(Department.active).order_by(Department.id))
        )
    elif "chosen" in groups and department_ids:
        stmt = select(Department).where(Department.id.in_(list(department_ids)), Department.active)
        departments = list(session.scalars(stmt.order_by(Department.id)))
    for department in departments:
        if "sms" in channels:
            found.add("sms", department.sms_number)
        if "fax" in channels:
            found.add("fax", department.fax)
    if "staff" in groups and "sms" in channels:
        phones = select(User.phone).where(User.active, User.phone.is_not(None)).order_by(User.id)
        for phone in session.scalars(phones):
            found.add("sms", phone)
    if "numbers" in groups:
        for number in numbers:
            channel = "sms" if _MOBILE.match(number) else "fax"
            if channel in channels:
                found.add(channel, number)
    return found


def send_announcement(
    session: Session,
    *,
    text: str,
    channels: Collection[str],
    groups: Collection[str],
    department_ids: Sequence[int] = (),
    numbers_text: str = "",
    actor: str,
) -> Announcement:
    """Queue the announcement to the chosen groups (CaseError in Chinese when there is nothing to send);
    audited. The current origin (the staff member, casework.acting_as) counts it against its caps."""
    text = (text or "").strip()
    if not text:
        raise CaseError("请填写公告内容。")
    if len(text) > MAX_TEXT:
        raise CaseError(f"公告内容不能超过{MAX_TEXT}字。")
    channels = [c for c in CHANNELS if c in channels]
    if not channels:
        raise CaseError("请选择发送方式（短信或传真）。")
    groups = [g for g in GROUPS if g in groups]
    if not groups:
        raise CaseError("请选择接收对象。")
    if "chosen" in groups and "departments" not in groups and not department_ids:
        raise CaseError("请选择要通知的承办单位。")
    numbers = parse_numbers(numbers_text) if "numbers" in groups else []
    if "numbers" in groups and not numbers:
        raise CaseError("请填写接收号码。")
    found = recipients(
        session, groups=groups, department_ids=department_ids, numbers=numbers, channels=channels
    )
    if not found.sms and not found.fax:
        raise CaseError("所选接收对象没有可用的短信或传真号码。")
    row = Announcement(
        text=text,
        channels=",".join(channels),
        audience="、".join(GROUPS[g] for g in groups)[:500],
        created_by=actor,
    )
    session.add(row)
    session.flush()
    ref = f"announcement:{row.id}"
    queued = announce(session, numbers=found.sms, text=text, ref=ref, channel="sms")
    queued += announce(session, numbers=found.fax, text=text, ref=ref, channel="fax")
    row.queued = len(queued)
    row.refused = len(found.sms) + len(found.fax) - len(queued)
    audit.record(
        session,
        actor=actor,
        action=AUDIT_ACTION,
        entity="announcement",
        entity_id=row.id,
        comment=text[:200],
        detail={"channels": channels, "groups": groups, "sms": len(found.sms), "fax": len(found.fax),
                "queued": row.queued, "refused": row.refused},
    )  # fmt: skip
    session.flush()
    return row


def _outcome(message: OutboxMessage) -> str:
    if message.delivered_at is not None:
        return "delivered"
    if message.status == "failed" or (message.last_error or "").startswith("DLR:"):
        return "failed"
    return "sent" if message.status == "sent" else "pending"


def delivery(session: Session, announcement_ids: Sequence[int]) -> dict[int, Delivery]:
    """Delivery counts per announcement, from its outbox messages."""
    refs = {f"announcement:{i}": i for i in announcement_ids}
    counts: dict[int, dict[str, int]] = {i: {} for i in announcement_ids}
    if refs:
        for message in session.scalars(select(OutboxMessage).where(OutboxMessage.ref.in_(list(refs)))):
            tally = counts[refs[str(message.ref)]]
            outcome = _outcome(message)
            tally[outcome] = tally.get(outcome, 0) + 1
            tally["total"] = tally.get("total", 0) + 1
    return {i: Delivery(**c) for i, c in counts.items()}


def recent(session: Session, limit: int = 50) -> list[tuple[Announcement, Delivery]]:
    """The latest announcements, newest first, with their delivery counts."""
    rows = list(session.scalars(select(Announcement).order_by(Announcement.id.desc()).limit(limit)))
    counts = delivery(session, [r.id for r in rows])
    return [(r, counts[r.id]) for r in rows]
