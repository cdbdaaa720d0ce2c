"""The case life cycle's actions. Each one checks the transition table (casework/lifecycle.py), changes
the status with a conditional update (UPDATE ... WHERE status = the status it read: of two staff acting
at once, one wins and the other gets CaseChanged, so nothing is done or sent twice), records the
timeline and audit entry, and queues the notices the table names. Refused actions raise
IllegalTransition (Chinese message)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from casework import assisting as handling
from casework import lifecycle, notices, staffnotices
from casework.calendar import WorkCalendar, handling_days, sign_days
from casework.cases import add_event
from casework.errors import CaseChanged, CaseError, IllegalTransition
from casework.models import Case, Department, ExtensionRequest, HandlingUnit, Instruction, Urge
from hotline.db import changed_rows, utcnow

SATISFACTION = ("满意", "基本满意", "不满意")
SURVEY_FLAG = "survey"  # the case waits for the citizen's answer to the SMS survey (casework/followup.py)
STALE = "该工单状态已变化，请刷新。"


def _apply(
    session: Session,
    case: Case,
    action: str,
    *,
    actor: str,
    comment: str = "",
    event: str | None = None,
    changes: dict[str, object] | None = None,
    message: str = "",
    unit: Department | None = None,
    then: Callable[[], object] | None = None,
) -> None:
    """Run one row of the transition table on the case: check it, claim the status change, set the
    `changes` on the case, run `then` (writes that must follow the claim: the loser of a race never gets
    there), record the event (`event` overrides the table's) and queue the notices. `unit`: the
    assisting department (协办) the action is about (its notices go to it alone)."""
    transition = lifecycle.check(case, action)
    previous_department = case.department
    if transition.target is not None:
        claimed = changed_rows(
            session,
            update(Case)
            .where(Case.id == case.id, Case.status == case.status)
            .values(status=transition.target)
            .execution_options(synchronize_session=False),
        )
        if claimed != 1:
            raise CaseChanged(STALE)
    for name, value in (changes or {}).items():
        setattr(case, name, value)
    if then is not None:
        then()
    add_event(session, case, actor=actor, action=event or transition.event, comment=comment,
              to_status=transition.target)  # fmt: skip
    for kind in transition.notices:
        notices.send(session, case, kind, message=message, event=event or transition.event, unit=unit)
    staffnotices.on_transition(session, case, action, previous_department=previous_department,
                              message=message or comment, unit=unit)  # fmt: skip
    session.flush()


def _text(value: str | None, what: str, limit: int = 5000) -> str:
    value = (value or "").strip()
    if not value:
        raise CaseError(f"请填写{what}。")
    if len(value) > limit:
        raise CaseError(f"{what}不能超过{limit}字。")
    return value


def accept_submission(session: Session, case: Case, *, actor: str) -> Case:
    """An agent accepts a web/SMS submission from the review queue."""
    _apply(session, case, "accept_submission", actor=actor)
    return case


def reject_submission(session: Session, case: Case, *, actor: str, reason: str) -> Case:
    lifecycle.check(case, "reject_submission")
    reason = _text(reason, "不予受理的理由", 1000)
    _apply(session, case, "reject_submission", actor=actor, comment=reason, changes={"closed_at": utcnow()})
    return case


def answer_directly(session: Session, case: Case, *, actor: str, answer: str) -> Case:
    """The agent answers on the spot (e.g. from the knowledge base): the case is closed."""
    lifecycle.check(case, "answer_directly")
    answer = _text(answer, "答复内容")
    _apply(session, case, "answer_directly", actor=actor, comment=answer,
           changes={"answer": answer, "closed_at": utcnow()})  # fmt: skip
    return case


def refer(
    session: Session, case: Case, department: Department, *, actor: str, note: str = "",
    assisting: Sequence[Department | None] = (),
) -> Case:  # fmt: skip
    """Refer (转派) to a handling department (主办: it must sign within the sign-off period and replies),
    with the assisting departments (协办, casework/assisting.py) that see the case and give their opinion;
    a case referred again gets exactly the assisting departments given now."""
    lifecycle.check(case, "refer")
    if department is None or not department.active:
        raise CaseError("请选择有效的承办部门。")
    helpers = handling.choose(department, assisting)
    now = utcnow()
    changes = {
        "department": department,
        "department_id": department.id,
        "referred_at": now,
        "sign_deadline": WorkCalendar.load(session).deadline(now, sign_days()),
    }
    parts = [f"协办单位：{'、'.join(d.name for d in helpers)}"] if helpers else []
    parts += [note.strip()] if note and note.strip() else []
    # "转派至<lead>：..." (the citizen's timeline reads the lead's name before the first "：")
    comment = f"转派至{department.name}" + (f"：{'；'.join(parts)}" if parts else "")
    _apply(session, case, "refer", actor=actor, comment=comment, changes=changes,
           then=lambda: handling.set_units(session, case, department, helpers, actor=actor))  # fmt: skip
    return case


def accept(session: Session, case: Case, *, actor: str) -> Case:
    """The department signs for the case (签收)."""
    _apply(session, case, "accept", actor=actor)
    return case


def start_work(session: Session, case: Case, *, actor: str, note: str = "") -> Case:
    _apply(session, case, "start_work", actor=actor, comment=note.strip())
    return case


def reply(session: Session, case: Case, *, actor: str, reply: str) -> Case:
    """The department reports its result (办结反馈); the centre reviews it next."""
    lifecycle.check(case, "reply")
    text = _text(reply, "办理结果")
    _apply(session, case, "reply", actor=actor, comment=text,
           changes={"reply_text": text, "replied_at": utcnow()})  # fmt: skip
    return case


def return_case(session: Session, case: Case, *, actor: str, reason: str) -> Case:
    """The department returns a case that is not its remit (退回), with a reason."""
    lifecycle.check(case, "return_case")
    reason = _text(reason, "退回理由", 1000)
    _apply(session, case, "return_case", actor=actor, comment=reason,
           changes={"department_id": None, "department": None},
           then=lambda: handling.set_units(session, case, None, None, actor=actor))  # fmt: skip
    return case


def request_extension(
    session: Session, case: Case, *, actor: str, days: int, reason: str
) -> ExtensionRequest:
    lifecycle.check(case, "request_extension")
    if not isinstance(days, int) or not 1 <= days <= 30:
        raise CaseError("延期天数应为1至30个工作日。")
    reason = _text(reason, "延期理由", 1000)
    if _pending_extension(session, case) is not None:
        raise CaseError("该工单已有待审批的延期申请。")
    request = ExtensionRequest(case_id=case.id, days=days, reason=reason, requested_by=actor)
    session.add(request)
    _apply(session, case, "request_extension", actor=actor, comment=f"{days}个工作日：{reason}")
    return request


def _pending_extension(session: Session, case: Case) -> ExtensionRequest | None:
    stmt = select(ExtensionRequest).where(
        ExtensionRequest.case_id == case.id, ExtensionRequest.status == "pending"
    )
    return session.scalar(stmt)


def decide_extension(session: Session, case: Case, *, actor: str, granted: bool, comment: str = "") -> Case:
    """A supervisor grants (deadline moves by the working days asked) or refuses the pending request."""
    lifecycle.check(case, "decide_extension")
    request = _pending_extension(session, case)
    if request is None:
        raise CaseError("该工单没有待审批的延期申请。")
    request.status = "granted" if granted else "refused"
    request.decided_by, request.decided_at, request.comment = actor, utcnow(), (comment or "").strip()
    changes: dict[str, object] = {}
    if granted:
        base = case.deadline or utcnow()
        changes = {
            "deadline": WorkCalendar.load(session).deadline(base, request.days),
            "due_level": None,
            "flags": [f for f in case.flags or [] if f not in ("due_soon", "overdue")] + ["extended"],
        }
    event = "extension_granted" if granted else "extension_refused"
    _apply(session, case, "decide_extension", actor=actor, comment=request.comment, event=event,
           changes=changes)  # fmt: skip
    return case


def review(session: Session, case: Case, *, actor: str, approved: bool, comment: str = "") -> Case:
    """The centre reviews the department's reply: approved, or sent back for more work."""
    if approved:
        _apply(session, case, "approve_reply", actor=actor, comment=comment.strip())
    else:
        lifecycle.check(case, "reject_reply")
        reason = _text(comment, "退回重办的意见", 1000)
        _apply(session, case, "reject_reply", actor=actor, comment=reason)
    return case


def follow_up(session: Session, case: Case, *, actor: str, satisfaction: str, comment: str = "") -> Case:
    """The follow-up visit (回访) records the citizen's satisfaction; 不满意 sends the case back to its
    department for rework (rework). The same for the agent's form, an SMS answer and an online rating."""
    lifecycle.check(case, "follow_up")
    if satisfaction not in SATISFACTION:
        raise CaseError("满意度应为：满意、基本满意或不满意。")
    comment = (comment or "").strip()[:1000]
    if satisfaction == "不满意":
        return rework(session, case, actor=actor, comment=comment)
    flags = [f for f in case.flags or [] if f != SURVEY_FLAG]
    text = satisfaction + (f"：{comment}" if comment else "")
    _apply(session, case, "follow_up", actor=actor, comment=text,
           changes={"satisfaction": satisfaction, "flags": flags})  # fmt: skip
    return case


def rework(session: Session, case: Case, *, actor: str, comment: str = "") -> Case:
    """重办: the citizen is not satisfied with the reviewed result; the case goes back to its department
    (in progress) with the citizen's comment and a new handling deadline, counted per department
    (casework.queries.dashboard_kpis)."""
    lifecycle.check(case, "rework")
    comment = (comment or "").strip()[:1000]
    days = handling_days(case.category, case.urgency, session)
    flags = [f for f in case.flags or [] if f not in ("due_soon", "overdue", SURVEY_FLAG, "reworked")]
    changes: dict[str, object] = {
        "satisfaction": "不满意",
        "deadline": WorkCalendar.load(session).deadline(utcnow(), days),
        "due_level": None,
        "flags": [*flags, "reworked"],
    }
    _apply(session, case, "rework", actor=actor, comment="不满意" + (f"：{comment}" if comment else ""),
           changes=changes, message=comment or "无")  # fmt: skip
    return case


def close(session: Session, case: Case, *, actor: str, comment: str = "") -> Case:
    _apply(session, case, "close", actor=actor, comment=comment.strip(), changes={"closed_at": utcnow()})
    return case


def urge(session: Session, case: Case, *, actor: str, message: str = "") -> Urge:
    """催办: an in-app notice and an SMS to the handling department."""
    lifecycle.check(case, "urge")
    message = (message or "").strip()[:500]
    row = Urge(
        case_id=case.id, department_id=case.department_id, message=message or "请抓紧办理。", actor=actor
    )
    session.add(row)
    flags = case.flags or []
    _apply(session, case, "urge", actor=actor, comment=row.message, message=message,
           changes={"flags": flags if "urged" in flags else [*flags, "urged"]})  # fmt: skip
    return row


def supervise(session: Session, case: Case, *, actor: str, instruction: str) -> Instruction:
    """督办: mark the case supervised and attach a leader's instruction (批示) for the department."""
    lifecycle.check(case, "supervise")
    text = _text(instruction, "批示内容", 2000)
    row = Instruction(case_id=case.id, text=text, issued_by=actor)
    session.add(row)
    _apply(session, case, "supervise", actor=actor, comment=text, message=text, changes={"supervised": True})
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
    staffnotices.settle(session, case, "acknowledge_instruction")
    session.flush()
    return row


def add_opinion(
    session: Session, case: Case, department: Department | None, *, actor: str, opinion: str
) -> HandlingUnit:
    """协办意见: an assisting department's opinion for the lead department (staff only: on the case pages
    and the timeline, never the citizen's). A later opinion replaces the shown one; each stays on the
    timeline. Only a department assisting on the case may give one."""
    lifecycle.check(case, "add_opinion")
    unit = handling.unit_of(case, department)
    if unit is None or department is None:
        raise CaseError("本单位不是该工单的协办单位，不能提出协办意见。")
    text = _text(opinion, "协办意见", 2000)
    unit.opinion, unit.opinion_at, unit.opinion_by = text, utcnow(), actor
    _apply(session, case, "add_opinion", actor=actor, comment=f"{department.name}：{text}", unit=department)
    return unit


def add_assist(session: Session, case: Case, department: Department | None, *, actor: str) -> Case:
    """A supervisor adds an assisting department (协办) to a case being handled; it is told at once."""
    lifecycle.check(case, "add_assist")
    if case.department is None:
        raise CaseError("该工单尚无主办单位。")
    [chosen] = handling.choose(case.department, [department])
    if handling.unit_of(case, chosen) is not None:
        raise CaseError(f"“{chosen.name}”已是该工单的协办单位。")
    if len(handling.assisting_units(case)) >= handling.MAX_ASSISTING:
        raise CaseError(f"协办单位最多{handling.MAX_ASSISTING}个。")
    _apply(session, case, "add_assist", actor=actor, comment=chosen.name, unit=chosen,
           then=lambda: handling.add_assisting(session, case, chosen, actor=actor))  # fmt: skip
    return case


def remove_assist(session: Session, case: Case, department: Department | None, *, actor: str) -> Case:
    """A supervisor removes an assisting department; its opinion stays on the timeline."""
    lifecycle.check(case, "remove_assist")
    unit = handling.unit_of(case, department)
    if unit is None or department is None:
        raise CaseError("该部门不是该工单的协办单位。")
    _apply(session, case, "remove_assist", actor=actor, comment=department.name, unit=department,
           then=lambda: handling.drop_assisting(session, case, department))  # fmt: skip
    return case


def merge_cases(session: Session, keep: Case, duplicate: Case, *, actor: str) -> Case:
    """Fold a duplicate into the case that is kept; the duplicate ends as 'merged'."""
    if keep.id == duplicate.id:
        raise CaseError("不能将工单与自身合并。")
    if keep.status == "merged":
        raise IllegalTransition(f"工单{keep.case_number}已被合并，不能作为保留工单。")
    _apply(session, duplicate, "merge", actor=actor, comment=f"并入工单{keep.case_number}",
           changes={"merged_into_id": keep.id, "closed_at": utcnow()})  # fmt: skip
    add_event(
        session, keep, actor=actor, action="merged_duplicate", comment=f"合并重复工单{duplicate.case_number}"
    )
    session.flush()
    return keep


def overdue_now(case: Case, now: datetime | None = None) -> bool:
    return case.deadline is not None and case.deadline < (now or utcnow())
