"""The case life cycle: every action checks the current status, records the timeline and audit
entry, and queues the notices it implies. Refused actions raise IllegalTransition (Chinese message).

pending_review -> registered (accept_submission) | rejected (reject_submission)
registered -> closed (answer_directly) | referred (refer)
referred -> accepted (accept, 签收) | returned (return_case, 退回)
accepted -> in_progress (start_work) ; accepted/in_progress -> replied (reply) | returned
returned -> referred (refer again)
replied -> reviewed (review approved) | in_progress (review refused: back to the department)
reviewed -> followed_up (follow_up, 回访) -> closed (close); reviewed -> closed (citizen unreachable)
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework import notices
from casework.calendar import WorkCalendar, aware, sign_days
from casework.cases import FINAL_STATUSES, add_event
from casework.errors import CaseError, IllegalTransition
from casework.models import STATUS_LABELS, Case, Department, ExtensionRequest, Instruction, Urge
from hotline.db import utcnow

SATISFACTION = ("满意", "基本满意", "不满意")
WITH_DEPARTMENT = ("referred", "accepted", "in_progress")
ACTION_NAMES = {
    "accept_submission": "受理",
    "reject_submission": "不予受理",
    "answer_directly": "直接答复",
    "refer": "转派",
    "accept": "签收",
    "start_work": "开始办理",
    "reply": "办结反馈",
    "return_case": "退回",
    "request_extension": "申请延期",
    "review": "审核",
    "follow_up": "回访",
    "close": "办结归档",
    "urge": "催办",
    "supervise": "督办",
    "merge": "合并",
}


def _require(case: Case, action: str, allowed: tuple[str, ...]) -> None:
    if case.status not in allowed:
        raise IllegalTransition(
            f"工单{case.case_number}当前状态为“{STATUS_LABELS.get(case.status, case.status)}”，"
            f"不能{ACTION_NAMES[action]}。"
        )


def _text(value: str | None, what: str, limit: int = 5000) -> str:
    value = (value or "").strip()
    if not value:
        raise CaseError(f"请填写{what}。")
    if len(value) > limit:
        raise CaseError(f"{what}不能超过{limit}字。")
    return value


def accept_submission(session: Session, case: Case, *, actor: str) -> Case:
    """An agent accepts a web/SMS submission from the review queue; the citizen gets the registration SMS
    without the password (it was shown on the submission page)."""
    _require(case, "accept_submission", ("pending_review",))
    add_event(session, case, actor=actor, action="accepted_submission", to_status="registered")
    session.flush()
    return case


def reject_submission(session: Session, case: Case, *, actor: str, reason: str) -> Case:
    _require(case, "reject_submission", ("pending_review",))
    reason = _text(reason, "不予受理的理由", 1000)
    add_event(session, case, actor=actor, action="rejected_submission", comment=reason, to_status="rejected")
    case.closed_at = utcnow()
    session.flush()
    return case


def answer_directly(session: Session, case: Case, *, actor: str, answer: str) -> Case:
    """The agent answers on the spot (e.g. from the knowledge base): the case is closed."""
    _require(case, "answer_directly", ("registered",))
    case.answer = _text(answer, "答复内容")
    add_event(session, case, actor=actor, action="answered", comment=case.answer, to_status="closed")
    case.closed_at = utcnow()
    notices.closing(session, case)
    session.flush()
    return case


def refer(session: Session, case: Case, department: Department, *, actor: str, note: str = "") -> Case:
    """Refer (转派) to a handling department: it must sign within the sign-off period."""
    _require(case, "refer", ("registered", "returned"))
    if department is None or not department.active:
        raise CaseError("请选择有效的承办部门。")
    now = utcnow()
    case.department = department
    case.department_id = department.id
    case.referred_at = now
    case.sign_deadline = WorkCalendar.load(session).deadline(now, sign_days())
    comment = f"转派至{department.name}" + (f"：{note.strip()}" if note and note.strip() else "")
    add_event(session, case, actor=actor, action="referred", comment=comment, to_status="referred")
    notices.referral(session, case, department)
    session.flush()
    return case


def accept(session: Session, case: Case, *, actor: str) -> Case:
    """The department signs for the case (签收)."""
    _require(case, "accept", ("referred",))
    add_event(session, case, actor=actor, action="accepted", to_status="accepted")
    session.flush()
    return case


def start_work(session: Session, case: Case, *, actor: str, note: str = "") -> Case:
    _require(case, "start_work", ("accepted",))
    add_event(session, case, actor=actor, action="started", comment=note.strip(), to_status="in_progress")
    session.flush()
    return case


def reply(session: Session, case: Case, *, actor: str, reply: str) -> Case:
    """The department reports its result (办结反馈); the centre reviews it next."""
    _require(case, "reply", ("accepted", "in_progress"))
    case.reply_text = _text(reply, "办理结果")
    case.replied_at = utcnow()
    add_event(session, case, actor=actor, action="replied", comment=case.reply_text, to_status="replied")
    session.flush()
    return case


def return_case(session: Session, case: Case, *, actor: str, reason: str) -> Case:
    """The department returns a case that is not its remit (退回), with a reason."""
    _require(case, "return_case", WITH_DEPARTMENT)
    reason = _text(reason, "退回理由", 1000)
    add_event(session, case, actor=actor, action="returned", comment=reason, to_status="returned")
    case.department_id = None
    case.department = None
    session.flush()
    return case


def request_extension(
    session: Session, case: Case, *, actor: str, days: int, reason: str
) -> ExtensionRequest:
    _require(case, "request_extension", WITH_DEPARTMENT)
    if not isinstance(days, int) or not 1 <= days <= 30:
        raise CaseError("延期天数应为1至30个工作日。")
    reason = _text(reason, "延期理由", 1000)
    if _pending_extension(session, case) is not None:
        raise CaseError("该工单已有待审批的延期申请。")
    request = ExtensionRequest(case_id=case.id, days=days, reason=reason, requested_by=actor)
    session.add(request)
    add_event(session, case, actor=actor, action="extension_requested", comment=f"{days}个工作日：{reason}")
    session.flush()
    return request


def _pending_extension(session: Session, case: Case) -> ExtensionRequest | None:
    stmt = select(ExtensionRequest).where(
        ExtensionRequest.case_id == case.id, ExtensionRequest.status == "pending"
    )
    return session.scalar(stmt)


def decide_extension(session: Session, case: Case, *, actor: str, granted: bool, comment: str = "") -> Case:
    """A supervisor grants (deadline moves by the working days asked) or refuses the pending request."""
    request = _pending_extension(session, case)
    if request is None:
        raise CaseError("该工单没有待审批的延期申请。")
    request.status = "granted" if granted else "refused"
    request.decided_by, request.decided_at, request.comment = actor, utcnow(), (comment or "").strip()
    if granted:
        calendar = WorkCalendar.load(session)
        base = aware(case.deadline) or utcnow()
        case.deadline = calendar.deadline(base, request.days)
        case.due_level = None
        case.flags = [f for f in case.flags or [] if f not in ("due_soon", "overdue")] + ["extended"]
    action = "extension_granted" if granted else "extension_refused"
    add_event(session, case, actor=actor, action=action, comment=request.comment)
    session.flush()
    return case


def review(session: Session, case: Case, *, actor: str, approved: bool, comment: str = "") -> Case:
    """The centre reviews the department's reply: approved, or sent back for more work."""
    _require(case, "review", ("replied",))
    if approved:
        add_event(
            session, case, actor=actor, action="reviewed", comment=comment.strip(), to_status="reviewed"
        )
    else:
        reason = _text(comment, "退回重办的意见", 1000)
        add_event(
            session, case, actor=actor, action="review_rejected", comment=reason, to_status="in_progress"
        )
    session.flush()
    return case


def follow_up(session: Session, case: Case, *, actor: str, satisfaction: str, comment: str = "") -> Case:
    """The follow-up visit (回访) records the citizen's satisfaction."""
    _require(case, "follow_up", ("reviewed",))
    if satisfaction not in SATISFACTION:
        raise CaseError("满意度应为：满意、基本满意或不满意。")
    case.satisfaction = satisfaction
    if satisfaction == "不满意":
        case.flags = [*(case.flags or []), "dissatisfied"]
    text = satisfaction + (f"：{comment.strip()}" if comment and comment.strip() else "")
    add_event(session, case, actor=actor, action="followed_up", comment=text, to_status="followed_up")
    session.flush()
    return case


def close(session: Session, case: Case, *, actor: str, comment: str = "") -> Case:
    _require(case, "close", ("reviewed", "followed_up"))
    add_event(session, case, actor=actor, action="closed", comment=comment.strip(), to_status="closed")
    case.closed_at = utcnow()
    notices.closing(session, case)
    session.flush()
    return case


def urge(session: Session, case: Case, *, actor: str, message: str = "") -> Urge:
    """催办: an in-app notice and an SMS to the handling department."""
    _require(case, "urge", WITH_DEPARTMENT)
    message = (message or "").strip()[:500]
    row = Urge(
        case_id=case.id, department_id=case.department_id, message=message or "请抓紧办理。", actor=actor
    )
    session.add(row)
    if "urged" not in (case.flags or []):
        case.flags = [*(case.flags or []), "urged"]
    add_event(session, case, actor=actor, action="urged", comment=row.message)
    notices.urge(session, case, message)
    session.flush()
    return row


def supervise(session: Session, case: Case, *, actor: str, instruction: str) -> Instruction:
    """督办: mark the case supervised and attach a leader's instruction (批示) for the department."""
    if case.status in FINAL_STATUSES:
        raise IllegalTransition(f"工单{case.case_number}已{case.status_label}，不能督办。")
    text = _text(instruction, "批示内容", 2000)
    row = Instruction(case_id=case.id, text=text, issued_by=actor)
    session.add(row)
    case.supervised = True
    add_event(session, case, actor=actor, action="supervised", comment=text)
    notices.instruction(session, case)
    session.flush()
    session.refresh(case, ["instructions"])
    return row


def acknowledge_instruction(
    session: Session, case: Case, instruction_id: int, *, actor: str, comment: str = ""
) -> Instruction:
    """The department confirms it has read an instruction (and may say what it does about it)."""
    row = session.get(Instruction, instruction_id)
    if row is None or row.case_id != case.id:
        raise CaseError("批示不存在。")
    if row.acknowledged_at is not None:
        raise CaseError("该批示已确认。")
    row.acknowledged_by, row.acknowledged_at, row.response = actor, utcnow(), (comment or "").strip()[:2000]
    add_event(session, case, actor=actor, action="instruction_acknowledged", comment=row.response)
    session.flush()
    return row


def merge_cases(session: Session, keep: Case, duplicate: Case, *, actor: str) -> Case:
    """Fold a duplicate into the case that is kept; the duplicate ends as 'merged'."""
    if keep.id == duplicate.id:
        raise CaseError("不能将工单与自身合并。")
    if keep.status == "merged":
        raise IllegalTransition(f"工单{keep.case_number}已被合并，不能作为保留工单。")
    _require(duplicate, "merge", ("pending_review", "registered", "returned", "referred"))
    duplicate.merged_into_id = keep.id
    duplicate.closed_at = utcnow()
    add_event(
        session,
        duplicate,
        actor=actor,
        action="merged",
        comment=f"并入工单{keep.case_number}",
        to_status="merged",
    )
    add_event(
        session, keep, actor=actor, action="merged_duplicate", comment=f"合并重复工单{duplicate.case_number}"
    )
    session.flush()
    return keep


def overdue_now(case: Case, now: datetime | None = None) -> bool:
    deadline = aware(case.deadline)
    return deadline is not None and deadline < (now or utcnow())
