"""Department portal (部门办理): the unit's own cases; accept (签收), reply (办结反馈), return (退回),
ask for an extension (延期申请), acknowledge supervision instructions (批示); on the cases the unit assists
on (协办, casework/assisting.py) it reads the case and gives its opinion (协办意见), nothing else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

import casework
from casework import assisting, attachments
from casework.models import Case
from hotline.models import User
from web.routes.attachments import Files
from web.routes.casepages import case_action, case_or_404
from web.security import SessionDep, require_roles
from web.templating import pop_flash, render

router = APIRouter(prefix="/department")
Staff = Annotated[User, Depends(require_roles("department"))]


def my_department(db: Session, user: User) -> Any:
    """The department the logged-in staff member works for."""
    department = casework.department_by_name(db, user.department) if user.department else None
    if department is None:
        raise HTTPException(status_code=403, detail="您的账号未关联承办部门，请联系管理员。")
    return department


ASSIST_ONLY = "本单位是该工单的协办单位，可以查看工单并提出协办意见；签收、答复、退回和延期由主办单位办理。"


def my_case(db: Session, user: User, case_number: str, *, assisting_too: bool = False) -> Any:
    """A case the user's department leads (主办), or with `assisting_too` one it assists on (协办); an
    assisting department asking for the lead's actions is refused (403); other departments' cases do not
    exist for them."""
    case = case_or_404(db, case_number)
    department = my_department(db, user)
    if case.department_id == department.id:
        return case
    if assisting.assists(case, department.name):
        if assisting_too:
            return case
        raise HTTPException(status_code=403, detail=ASSIST_ONLY)
    raise HTTPException(status_code=404, detail="工单不存在。")


def caller_view(case: Any, *, lead: bool = True) -> str:
    """The handling (lead) department sees the citizen's number to contact them first (先联系后办理), an
    assisting one the masked number, and nobody sees callers who asked for confidentiality."""
    if case.confidential:
        return "hidden"
    return "full" if lead else "masked"


@router.get("")
def portal(request: Request, db: SessionDep, user: Staff) -> Response:
    department = my_department(db, user)
    todo = casework.cases_for_department(db, department)
    done = [c for c in casework.cases_for_department(db, department, include_done=True) if c not in todo]
    ctx = {
        "department": department,
        "todo": todo,
        "done": done,
        "assisting": casework.cases_assisted_by(db, department),
        "urges": casework.urges_for_department(db, department),
        "pending_instructions": casework.pending_instructions(db, department),
        "flash": pop_flash(request),
    }
    return render(request, "department/portal.html", ctx)


@router.get("/cases/{case_number}")
def case_page(request: Request, db: SessionDep, user: Staff, case_number: str) -> Response:
    case = my_case(db, user, case_number, assisting_too=True)
    lead = case.department_id == my_department(db, user).id
    ctx = {
        "case": case,
        "lead": lead,
        "caller": caller_view(case, lead=lead),
        "timeline": casework.timeline(db, case),
        "flash": pop_flash(request),
    }
    return render(request, "department/case.html", ctx)


def _act(
    request: Request,
    db: Session,
    user: User,
    case_number: str,
    action: Callable[[Case], object],
    message: str,
    done: str | None = None,
) -> Response:
    """A case action of the user's own department (web.routes.casepages.case_action)."""
    my_case(db, user, case_number)
    return case_action(request, db, case_number, action, done=done, message=message)


@router.post("/cases/{case_number}/accept")
def accept(request: Request, db: SessionDep, user: Staff, case_number: str) -> Response:
    return _act(
        request,
        db,
        user,
        case_number,
        lambda case: casework.accept(db, case, actor=user.username),
        "已签收，请在办理时限内办结反馈。",
    )


@router.post("/cases/{case_number}/start")
def start_work(request: Request, db: SessionDep, user: Staff, case_number: str) -> Response:
    return _act(
        request,
        db,
        user,
        case_number,
        lambda case: casework.start_work(db, case, actor=user.username),
        "已开始办理。",
    )


@router.post("/cases/{case_number}/reply")
def reply(
    request: Request,
    db: SessionDep,
    user: Staff,
    case_number: str,
    files: Files,
    reply: Annotated[str, Form()] = "",
) -> Response:
    """办结反馈, with the documents and photos of the result (attached to the case, audited)."""

    def action(case: Case) -> None:
        casework.reply(db, case, actor=user.username, reply=reply.strip())
        attachments.add_files(db, case, files, purpose="reply", actor=user.username, role="department")

    return _act(request, db, user, case_number, action, "办结反馈已提交，等待热线中心审核。")


@router.post("/cases/{case_number}/return")
def return_case(
    request: Request, db: SessionDep, user: Staff, case_number: str, reason: Annotated[str, Form()] = ""
) -> Response:
    return _act(
        request,
        db,
        user,
        case_number,
        lambda case: casework.return_case(db, case, actor=user.username, reason=reason.strip()),
        f"工单 {case_number} 已退回热线中心重新派单。",
        done="/department",
    )


@router.post("/cases/{case_number}/extension")
def extension(
    request: Request,
    db: SessionDep,
    user: Staff,
    case_number: str,
    days: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    def action(case: Case) -> None:
        if not days.strip().isdigit() or not 1 <= int(days) <= 30:
            raise casework.CaseError("延期天数应为1至30的整数。")
        casework.request_extension(db, case, actor=user.username, days=int(days), reason=reason.strip())

    return _act(request, db, user, case_number, action, "延期申请已提交，等待督办人员审批。")


@router.post("/cases/{case_number}/acknowledge")
def acknowledge(
    request: Request,
    db: SessionDep,
    user: Staff,
    case_number: str,
    instruction_id: Annotated[int, Form()],
    comment: Annotated[str, Form()] = "",
) -> Response:
    return _act(
        request,
        db,
        user,
        case_number,
        lambda case: casework.acknowledge_instruction(
            db, case, instruction_id, actor=user.username, comment=comment.strip()
        ),
        "已确认领导批示。",
    )


@router.post("/cases/{case_number}/instruction-report")
def report_on_instruction(
    request: Request,
    db: SessionDep,
    user: Staff,
    case_number: str,
    instruction_id: Annotated[int, Form()],
    text: Annotated[str, Form()] = "",
) -> Response:
    """落实情况: how the department carries out an acknowledged 批示."""
    return _act(
        request,
        db,
        user,
        case_number,
        lambda case: casework.report_on_instruction(db, case, instruction_id, actor=user.username, text=text),
        "批示落实情况已反馈。",
    )


@router.post("/cases/{case_number}/opinion")
def opinion(
    request: Request, db: SessionDep, user: Staff, case_number: str, opinion: Annotated[str, Form()] = ""
) -> Response:
    """协办意见 of an assisting department, for the lead department's reply."""
    department = my_department(db, user)
    my_case(db, user, case_number, assisting_too=True)
    return case_action(
        request,
        db,
        case_number,
        lambda case: casework.add_opinion(db, case, department, actor=user.username, opinion=opinion),
        message="协办意见已提交，主办单位将在答复时参考。",
    )
