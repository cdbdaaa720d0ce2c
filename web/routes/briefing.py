"""The daily brief as a document (每日要情, casework.briefissues): staff mark a case for the day's brief
from its page (报要情); the compiler (a supervisor) chooses, orders and summarises the marked cases and
issues the brief to the leaders."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from casework import briefissues
from hotline.models import User
from web.routes.casepages import case_action
from web.routes.supervisor import Acting, Supervisor, parse_day
from web.security import SessionDep, require_roles
from web.templating import flash, pop_flash, render

router = APIRouter()
Marking = Annotated[User, Depends(require_roles("agent", "supervisor", "leader"))]


def _mark(request: Request, db: SessionDep, user: User, case_number: str, reason: str) -> Response:
    return case_action(
        request,
        db,
        case_number,
        lambda case: briefissues.mark(db, case, reason=reason, actor=user.username),
        message="已报送今日要情。",
    )


@router.post("/agent/cases/{case_number}/brief-mark")
def agent_mark(
    request: Request, db: SessionDep, user: Marking, case_number: str, reason: Annotated[str, Form()] = ""
) -> Response:
    return _mark(request, db, user, case_number, reason)


@router.post("/supervisor/cases/{case_number}/brief-mark")
def supervisor_mark(
    request: Request, db: SessionDep, user: Supervisor, case_number: str, reason: Annotated[str, Form()] = ""
) -> Response:
    return _mark(request, db, user, case_number, reason)


@router.get("/supervisor/brief/compile")
def compile_page(request: Request, db: SessionDep, user: Supervisor, date: str = "") -> Response:
    day = parse_day(date)
    briefissues.check_day(day)
    issue = briefissues.issue_of(db, day)
    marks = briefissues.marks(db, day)
    order = {case_id: n for n, case_id in enumerate(issue.case_ids, 1)} if issue else {}
    marks.sort(key=lambda m: (order.get(m.case_id, len(order) + 1), m.marked_at))
    ctx = {"day": day, "issue": issue, "marks": marks, "order": order, "flash": pop_flash(request)}
    return render(request, "supervisor/brief_compile.html", ctx)


@router.post("/supervisor/brief/compile")
def compile_issue(
    request: Request,
    db: SessionDep,
    user: Acting,
    date: str = "",
    case: Annotated[list[int], Form()] = [],  # noqa: B006 - the marked cases listed, in page order
    order: Annotated[list[str], Form()] = [],  # noqa: B006 - their places (1, 2, ...), same order
    include: Annotated[list[int], Form()] = [],  # noqa: B006 - the ones ticked
    summary: Annotated[str, Form(max_length=briefissues.MAX_SUMMARY)] = "",
) -> Response:
    """Save the compiler's choice: the ticked marked cases by their places, and the summary."""
    day = parse_day(date)
    places = {c: int(p) if p.isdigit() and len(p) < 4 else 999 for c, p in zip(case, order, strict=False)}
    chosen = sorted((places.get(c, 999), n, c) for n, c in enumerate(include))
    briefissues.compile_issue(db, day, summary=summary, case_ids=[c for *_, c in chosen], actor=user.username)
    flash(request, "ok", "本期要情已保存。")
    return RedirectResponse(f"/supervisor/brief/compile?date={day.isoformat()}", status_code=303)


@router.post("/supervisor/brief/issue")
def issue_brief(request: Request, db: SessionDep, user: Acting, date: str = "") -> Response:
    day = parse_day(date)
    sent = briefissues.issue(db, day, actor=user.username)
    flash(request, "ok", f"本期要情已编发，已短信通知 {sent} 位领导。")
    return RedirectResponse(f"/supervisor/brief?date={day.isoformat()}", status_code=303)
