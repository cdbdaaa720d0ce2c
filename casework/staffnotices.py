"""Live notices for staff (站内提醒): something arrived that a staff member should look at — a new case
for their department, an urge (催办), a leader's instruction (批示), an overdue case, a case returned to
the centre, a department's reply waiting for review, a submission waiting, an extension to decide.

A notice is a row of staff_notices written in the same transaction as the case action that causes it
(casework.workflow._apply, casework.cases.create_case, casework.queries.scan_deadlines). It is addressed
to one user, to a department's staff or to a role (the centre's agents, the supervisors): a notice to a
department or a role is a shared in-tray, read by one of them, read for all of them; acting on the case
(the actions in `settled_by`) reads it too. The web shows the unread count in the navigation and a toast
when one arrives (web/routes/staffevents.py: server-sent events, each connection polls this table).

Urgent kinds also go by SMS to the staff member's own phone (User.phone) when their setting
(User.notice_sms) is on, through the outbox with its caps (casework.outbox).

To add a kind: a Kind in KINDS (who hears it, its text, what raises and what settles it); when an action of
the life cycle raises it, name the action in `raised_by`; otherwise call notify() where it happens."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, false, func, or_, select, update
from sqlalchemy.orm import Session

from casework.errors import CaseError
from casework.models import Case, Department, StaffNotice
from hotline.db import changed_rows, utcnow
from hotline.masking import mask_phone
from hotline.models import User

log = logging.getLogger("hotline.staffnotices")

DEPARTMENT, AGENTS, SUPERVISORS = "department", "agent", "supervisor"
ASSISTING = "assisting"  # the case's assisting departments (协办, casework/assisting.py), each its own notice
GROUP_ROLES = (AGENTS, SUPERVISORS)  # roles that hear notices addressed to the role
COUNT_CAP = 99  # the navigation shows "99+" beyond
CHANNEL_LABELS = {"web": "网上", "sms": "短信", "email": "邮件", "fax": "传真"}


@dataclass(frozen=True)
class Kind:
    """A kind of notice: its label, who hears it (the handling department: DEPARTMENT, falling back to the
    agents when the case has none; or a role), its text (format fields: number, category, department,
    channel, message), whether it is urgent (SMS to the staff's phones), the life-cycle actions that
    raise it and those that settle it (mark the case's unread notices of this kind read)."""

    key: str
    label: str
    to: str
    text: str
    urgent: bool = False
    raised_by: tuple[str, ...] = ()
    settled_by: tuple[str, ...] = ()


KINDS: dict[str, Kind] = {
    k.key: k
    for k in (
        Kind("new_case", "新工单", DEPARTMENT, "新工单{number}（{category}）已转派本单位，请及时签收。",
             raised_by=("refer",), settled_by=("accept", "return_case")),
        Kind("urge", "催办", DEPARTMENT, "催办：工单{number}（{category}）：{message}",
             urgent=True, raised_by=("urge",), settled_by=("reply", "return_case")),
        Kind("instruction", "批示", DEPARTMENT, "工单{number}有新的领导批示，请确认并落实。",
             urgent=True, raised_by=("supervise",),
             settled_by=("acknowledge_instruction", "reply", "return_case")),
        Kind("overdue", "超期", DEPARTMENT, "工单{number}（{category}）已超过办理期限，请立即办理并说明原因。",
             urgent=True, settled_by=("reply", "return_case", "answer_directly", "merge")),
        Kind("rework", "重办", DEPARTMENT, "工单{number}市民不满意，已退回重办：{message}",
             raised_by=("rework",), settled_by=("reply", "return_case")),
        Kind("returned", "退回", AGENTS, "工单{number}已被{department}退回，请重新分派。退回理由：{message}",
             raised_by=("return_case",), settled_by=("refer", "merge")),
        Kind("reply_review", "待审核", AGENTS, "{department}已反馈工单{number}的办理结果，请审核。",
             raised_by=("reply",), settled_by=("approve_reply", "reject_reply")),
        Kind("submission", "待受理", AGENTS, "新的{channel}留言（工单{number}，{category}）等待受理。",
             settled_by=("accept_submission", "reject_submission", "merge")),
        Kind("extension", "延期申请", SUPERVISORS, "{department}申请延长工单{number}的办理期限，请审批。",
             raised_by=("request_extension",), settled_by=("decide_extension",)),
        Kind("assist", "协办", ASSISTING, "工单{number}（{category}）由{department}主办，请本单位协办并提出协办意见。",
             raised_by=("refer", "add_assist"),
             settled_by=("add_opinion", "remove_assist", "reply", "return_case", "merge")),
    )
}  # fmt: skip
URGENT_KINDS = tuple(k.key for k in KINDS.values() if k.urgent)
SMS_SIGNATURE = "【12345热线】"


@dataclass(frozen=True)
class Listener:
    """Whose notices a logged-in user hears: their own, their department's (department staff) and
    their roles' (agents, supervisors; leaders hear the supervisors')."""

    user_id: int
    username: str
    department_id: int | None
    roles: tuple[str, ...]

    def where(self) -> ColumnElement[bool]:
        terms = [StaffNotice.user_id == self.user_id]
        if self.department_id is not None:
            terms.append(StaffNotice.department_id == self.department_id)
        if self.roles:
            terms.append(StaffNotice.role.in_(self.roles))
        return or_(*terms)


def listener_for(session: Session, user: User) -> Listener:
    """The listener of a user (roles as held, not admin's all: an administrator hears what is theirs)."""
    mine = user.role_set
    department_id = None
    if "department" in mine and user.department:
        department_id = session.scalar(select(Department.id).where(Department.name == user.department))
    roles = [r for r in GROUP_ROLES if r in mine]
    if "leader" in mine and SUPERVISORS not in roles:
        roles.append(SUPERVISORS)
    return Listener(user.id, user.username, department_id, tuple(roles))


# -- writing ------------------------------------------------------------------------------------


def notify(
    session: Session, kind: str, case: Case | None, *, department: Department | None = None,
    user: User | None = None, message: str = "", unit: Department | None = None,
) -> StaffNotice:  # fmt: skip
    """Add a notice of `kind` about `case` (to `user` when given, to the assisting department `unit` for
    ASSISTING kinds, else as the kind says), in the caller's transaction; urgent kinds also queue SMS to
    the recipients' phones."""
    spec = KINDS[kind]
    handling = department or (case.department if case is not None else None)
    text = spec.text.format(
        number=case.case_number if case else "",
        category=case.category if case else "",
        channel=CHANNEL_LABELS.get(case.channel, "") if case else "",
        department=handling.name if handling else "承办单位",
        message=message.strip()[:200],
    ).strip()
    row = StaffNotice(kind=kind, case_id=case.id if case else None, text=text, created_at=utcnow())
    if user is not None:
        row.user_id = user.id
    elif spec.to == ASSISTING and unit is not None:
        row.department_id = unit.id
    elif spec.to == DEPARTMENT and case is not None and case.department_id is not None:
        row.department_id = case.department_id
    else:
        row.role = AGENTS if spec.to == DEPARTMENT else spec.to
    session.add(row)
    session.flush()
    if spec.urgent:
        _sms(session, row, case)
    return row


def on_transition(
    session: Session, case: Case, action: str, *, previous_department: Department | None = None,
    message: str = "", unit: Department | None = None,
) -> None:  # fmt: skip
    """What a life-cycle action (casework.workflow) means for the staff's in-trays: it settles the case's
    notices it answers and raises the kinds that name it. `previous_department`: the handling department
    before the action (a returned case has none after it); `unit`: the assisting department the action is
    about (add_opinion, add_assist, remove_assist): only its notices are settled or raised."""
    from casework.assisting import assisting_departments

    settle(session, case, action, department=unit)
    for spec in KINDS.values():
        if action not in spec.raised_by:
            continue
        handling = case.department or previous_department
        if spec.to == ASSISTING:
            for helper in [unit] if unit is not None else assisting_departments(case):
                notify(session, spec.key, case, department=handling, message=message, unit=helper)
        else:
            notify(session, spec.key, case, department=handling, message=message)


def settle(
    session: Session, case: Case, action: str, *, by: str = "", department: Department | None = None
) -> int:
    """Mark the case's unread notices that `action` answers read (only those to `department` when given);
    returns how many."""
    kinds = [k.key for k in KINDS.values() if action in k.settled_by]
    if not kinds:
        return 0
    stmt = update(StaffNotice).where(
        StaffNotice.case_id == case.id, StaffNotice.kind.in_(kinds), StaffNotice.read_at.is_(None)
    )
    if department is not None:
        stmt = stmt.where(StaffNotice.department_id == department.id)
    return changed_rows(
        session,
        stmt.values(read_at=utcnow(), read_by=(by or f"action:{action}")[:64])
        .execution_options(synchronize_session=False),
    )


def _sms(session: Session, notice: StaffNotice, case: Case | None) -> None:
    """The urgent notice by SMS to each recipient who has a phone and wants it. Refused messages (caps,
    audited by the outbox) do not stop the case work."""
    from casework.notices import queue_sms

    stmt = select(User).where(User.active.is_(True), User.phone.is_not(None), User.notice_sms.is_(True))
    if notice.user_id is not None:
        stmt = stmt.where(User.id == notice.user_id)
    elif notice.department_id is not None:
        name = session.scalar(select(Department.name).where(Department.id == notice.department_id))
        stmt = stmt.where(User.department == name)
    else:
        return  # notices to a whole role stay in the page: no SMS to every agent
    for user in session.scalars(stmt):
        if notice.department_id is not None and not user.has_role("department"):
            continue
        phone = (user.phone or "").strip()
        if not phone:
            continue
        try:
            queue_sms(session, to=phone, text=SMS_SIGNATURE + notice.text, kind=notice.kind,
                      ref=case.case_number if case else None)  # fmt: skip
        except CaseError as refused:
            log.warning("staff notice SMS to %s not queued: %s", mask_phone(phone), refused)


# -- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoticeView:
    id: int
    kind: str
    label: str
    text: str
    case_number: str | None
    created_at: datetime
    read: bool
    urgent: bool
    audience: str  # "department", a role, or "user"


def _views(session: Session, rows: Sequence[StaffNotice]) -> list[NoticeView]:
    ids = {r.case_id for r in rows if r.case_id is not None}
    numbers: dict[int, str] = {}
    if ids:
        numbers = dict(session.execute(select(Case.id, Case.case_number).where(Case.id.in_(ids))).all())
    return [
        NoticeView(
            id=r.id,
            kind=r.kind,
            label=KINDS[r.kind].label if r.kind in KINDS else r.kind,
            text=r.text,
            case_number=numbers.get(r.case_id) if r.case_id is not None else None,
            created_at=r.created_at,
            read=r.read_at is not None,
            urgent=r.kind in URGENT_KINDS,
            audience=r.role or ("department" if r.department_id is not None else "user"),
        )
        for r in rows
    ]


def unread_count(session: Session, who: Listener, cap: int = COUNT_CAP) -> int:
    """The listener's unread notices, counted up to cap + 1."""
    limited = (
        select(StaffNotice.id).where(who.where(), StaffNotice.read_at.is_(None)).limit(cap + 1).subquery()
    )
    return session.scalar(select(func.count()).select_from(limited)) or 0


def latest_id(session: Session) -> int:
    return session.scalar(select(func.max(StaffNotice.id))) or 0


def since(session: Session, who: Listener, after_id: int, limit: int = 50) -> list[NoticeView]:
    """The listener's notices with an id above `after_id`, oldest first."""
    rows = session.scalars(
        select(StaffNotice)
        .where(who.where(), StaffNotice.id > after_id)
        .order_by(StaffNotice.id)
        .limit(limit)
    ).all()
    return _views(session, rows)


def inbox(
    session: Session, who: Listener, *, unread_only: bool = False, limit: int = 100
) -> list[NoticeView]:
    """The listener's notices, newest first."""
    stmt = select(StaffNotice).where(who.where())
    if unread_only:
        stmt = stmt.where(StaffNotice.read_at.is_(None))
    rows = session.scalars(stmt.order_by(StaffNotice.id.desc()).limit(limit)).all()
    return _views(session, rows)


def mark_read(session: Session, who: Listener, notice_id: int | None = None) -> int:
    """Mark one of the listener's notices read (or all of them when notice_id is None); returns how many
    changed. A notice not addressed to the listener is left alone."""
    stmt = update(StaffNotice).where(who.where(), StaffNotice.read_at.is_(None))
    if notice_id is not None:
        stmt = stmt.where(StaffNotice.id == notice_id)
    values = {"read_at": utcnow(), "read_by": who.username[:64]}
    return changed_rows(session, stmt.values(**values).execution_options(synchronize_session=False))


def get(session: Session, who: Listener, notice_id: int) -> NoticeView | None:
    """One of the listener's notices (None when it is not theirs)."""
    row = session.scalar(select(StaffNotice).where(who.where(), StaffNotice.id == notice_id))
    return _views(session, [row])[0] if row is not None else None


def still_listening(session: Session, user_id: int, session_version: object) -> bool:
    """The account is still active with the same session version (logout, password change and disabling
    end a live stream too)."""
    row = session.execute(
        select(User.active, User.session_version).where(User.id == user_id, User.active.is_not(false()))
    ).first()
    return row is not None and row.session_version == session_version
