"""Supervisor pages (督查督办): KPI dashboard, overdue list, urging (催办), supervision with
instructions (督办/批示), extension decisions and the daily brief (每日要情) with PDF download."""

from __future__ import annotations

import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

import casework
import selfservice
from casework import announcements as casework_announcements
from casework import briefissues
from casework.calendar import FIRST_DAY, LAST_DAY
from hotline.models import User
from web.routes.casepages import LOCAL_TZ, all_departments, case_action, case_or_404
from web.security import SessionDep, refused, require_roles
from web.templating import flash, pop_flash, render

router = APIRouter(prefix="/supervisor")
Supervisor = Annotated[User, Depends(require_roles("supervisor", "leader"))]
# Leaders read dashboards and briefs; only supervisors urge, supervise and decide extensions.
Acting = Annotated[User, Depends(require_roles("supervisor"))]
# 批示 (with supervision) by supervisors and leaders, its usual authors (casework.lifecycle INSTRUCTING)
Instructing = Annotated[User, Depends(require_roles("supervisor", "leader"))]


def today() -> date:
    return datetime.now(LOCAL_TZ).date()


def parse_day(value: str | None) -> date:
    if not value:
        return today()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise HTTPException(status_code=422, detail="日期格式应为 YYYY-MM-DD。") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise HTTPException(status_code=422, detail=f"日期应在 {FIRST_DAY} 至 {LAST_DAY} 之间。")
    return day


def bars(
    counts: dict[str, int] | list[tuple[str, int]] | None, limit: int = 10, *, by_value: bool = True
) -> list[dict[str, Any]]:
    """Rows for a CSS bar chart: label, value and width in percent of the largest value
    (largest first, or in the given order, e.g. by day)."""
    items = list(counts.items() if isinstance(counts, dict) else counts or [])
    if by_value:
        items.sort(key=lambda kv: kv[1], reverse=True)
    items = items[:limit] if by_value else items[-limit:]
    top = max((v for _, v in items), default=0) or 1
    return [{"label": k, "value": v, "width": round(100 * v / top)} for k, v in items]


@router.get("")
def dashboard(request: Request, db: SessionDep, user: Supervisor) -> Response:
    day = today()
    kpis = casework.dashboard_kpis(db, day)
    ctx = {
        "day": day,
        "kpis": kpis,
        "ivr_rate": selfservice.self_service_rate(db, day),
        "calls": selfservice.call_centre_kpis(db, day),
        "calls_by_agent": selfservice.kpis_by_agent(db, day),
        "calls_by_hour": [h for h in selfservice.kpis_by_hour(db, day) if h["offered"]],
        "by_category": bars(kpis.get("by_category")),
        "by_department": bars(kpis.get("by_department")),
        "rework_by_department": bars(kpis.get("rework_by_department")),
        "trend": bars(kpis.get("daily_counts"), limit=31, by_value=False),
        "overdue": casework.due_cases(db, limit=10),
    }
    return render(request, "supervisor/dashboard.html", ctx)


@router.get("/wallboard")
def wallboard(request: Request, db: SessionDep, user: Supervisor, fragment: bool = False) -> Response:
    """Callers waiting, the longest wait, agents by state and today's calls; refreshed every 2 s."""
    from hotline.db import utcnow
    from selfservice.acd import AGENT_STATES, seconds_since
    from selfservice.models import AgentSeat

    now = utcnow()
    rows = db.execute(
        select(AgentSeat, User).join(User, User.id == AgentSeat.user_id).where(AgentSeat.state != "offline")
        .order_by(AgentSeat.extension)
    ).all()
    agents = [
        {
            "name": u.display_name or u.username,
            "extension": seat.extension,
            "state": AGENT_STATES[seat.state],
            "reason": seat.reason,
            "seconds": seconds_since(seat.state_since, now),
        }
        for seat, u in rows
    ]
    ctx = {"board": selfservice.wallboard(db), "states": AGENT_STATES, "agents": agents}
    return render(request, "supervisor/wallboard.html", ctx, block="board" if fragment else None)


@router.get("/overdue")
def overdue(request: Request, db: SessionDep, user: Supervisor) -> Response:
    ctx = {"cases": casework.due_cases(db), "flash": pop_flash(request)}
    return render(request, "supervisor/overdue.html", ctx)


@router.get("/supervised")
def supervised(request: Request, db: SessionDep, user: Supervisor) -> Response:
    return render(request, "supervisor/supervised.html", {"cases": casework.supervised_cases(db)})


@router.get("/extensions")
def extensions(request: Request, db: SessionDep, user: Supervisor) -> Response:
    ctx = {"requests": casework.pending_extensions(db), "flash": pop_flash(request)}
    return render(request, "supervisor/extensions.html", ctx)


@router.get("/cases/{case_number}")
def case_page(request: Request, db: SessionDep, user: Supervisor, case_number: str) -> Response:
    case = case_or_404(db, case_number)
    ctx = {
        "case": case,
        "timeline": casework.timeline(db, case),
        "departments": [d for d in all_departments(db) if d.active],
        "flash": pop_flash(request),
    }
    return render(request, "supervisor/case.html", ctx)


@router.post("/cases/{case_number}/urge")
def urge(
    request: Request, db: SessionDep, user: Acting, case_number: str, message: Annotated[str, Form()] = ""
) -> Response:
    return case_action(
        request,
        db,
        case_number,
        lambda case: casework.urge(db, case, actor=user.username, message=message.strip()),
        message="催办通知已发送给承办部门。",
    )


@router.post("/cases/{case_number}/supervise")
def supervise(
    request: Request,
    db: SessionDep,
    user: Instructing,
    case_number: str,
    instruction: Annotated[str, Form()] = "",
) -> Response:
    return case_action(
        request,
        db,
        case_number,
        lambda case: casework.supervise(db, case, actor=user.username, instruction=instruction.strip()),
        message="已列入督办，批示已送达承办部门。",
    )


def _department(db: Session, value: str) -> Any:
    department = db.get(casework.Department, int(value)) if value.isdigit() and len(value) < 10 else None
    if department is None:
        raise casework.CaseError("请选择协办单位。")
    return department


@router.post("/cases/{case_number}/assist")
def add_assist(
    request: Request,
    db: SessionDep,
    user: Acting,
    case_number: str,
    department_id: Annotated[str, Form()] = "",
) -> Response:
    """Add an assisting department (协办) to a case being handled (audited; the department is told)."""
    return case_action(
        request,
        db,
        case_number,
        lambda case: casework.add_assist(db, case, _department(db, department_id), actor=user.username),
        message="已增加协办单位并通知该单位。",
    )


@router.post("/cases/{case_number}/remove-assist")
def remove_assist(
    request: Request,
    db: SessionDep,
    user: Acting,
    case_number: str,
    department_id: Annotated[str, Form()] = "",
) -> Response:
    return case_action(
        request,
        db,
        case_number,
        lambda case: casework.remove_assist(db, case, _department(db, department_id), actor=user.username),
        message="已移除协办单位。",
    )


def _decide(db: Session, case: Any, actor: str, granted: str, comment: str) -> None:
    if granted not in ("0", "1"):
        raise casework.CaseError("请选择同意或不同意。")
    casework.decide_extension(db, case, actor=actor, granted=granted == "1", comment=comment)


@router.post("/cases/{case_number}/extension")
def decide_extension(
    request: Request,
    db: SessionDep,
    user: Acting,
    case_number: str,
    granted: Annotated[str, Form()],
    comment: Annotated[str, Form()] = "",
) -> Response:
    return case_action(
        request,
        db,
        case_number,
        lambda case: _decide(db, case, user.username, granted, comment.strip()),
        message="延期申请已批准。" if granted == "1" else "延期申请未获批准。",
        done="/supervisor/extensions",
    )


@router.get("/brief")
def brief_page(request: Request, db: SessionDep, user: Supervisor, date: str = "") -> Response:
    day, shown = parse_day(date), pop_flash(request)
    try:
        briefissues.check_day(day)  # a day that has not begun has no brief
    except casework.CaseError as refusal:
        day, shown = today(), {"kind": "error", "text": str(refusal)}
    return render(request, "supervisor/brief.html", {"day": day, "flash": shown})


@router.get("/brief/view")
def brief_view(db: SessionDep, user: Supervisor, date: str = "") -> Response:
    """The daily brief as casework renders it (a complete, escaped HTML document)."""
    brief = casework.daily_brief(db, parse_day(date))
    return HTMLResponse(casework.render_daily_brief_html(brief))


@router.get("/brief.pdf")
def brief_pdf(db: SessionDep, user: Supervisor, date: str = "") -> Response:
    day = parse_day(date)
    brief = casework.daily_brief(db, day)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "brief.pdf"
        casework.render_daily_brief_pdf(brief, path)
        content = path.read_bytes()
    filename = f"daily-brief-{day.isoformat()}.pdf"
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# -- business announcements (业务公告): SMS / fax to recipient groups (casework.announcements) ----------
@router.get("/announcements")
def announcements_page(request: Request, db: SessionDep, user: Acting) -> Response:
    return _announcements(request, db)


def _announcements(
    request: Request, db: Session, *, form: dict[str, Any] | None = None, error: str = "", status: int = 200
) -> Response:
    ctx = {
        "announcements": casework_announcements.recent(db),
        "departments": [d for d in all_departments(db) if d.active],
        "groups": casework_announcements.GROUPS,
        "channels": casework_announcements.CHANNELS,
        "max_text": casework_announcements.MAX_TEXT,
        "form": form or {"channels": ["sms"], "groups": ["departments"]},
        "error": error,
        "flash": pop_flash(request),
    }
    return render(request, "supervisor/announcements.html", ctx, status_code=status)


@router.post("/announcements")
def send_announcement(
    request: Request,
    db: SessionDep,
    user: Acting,
    text: Annotated[str, Form(max_length=5000)] = "",
    channels: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies the default
    groups: Annotated[list[str], Form()] = [],  # noqa: B006
    department_ids: Annotated[list[int], Form()] = [],  # noqa: B006
    numbers: Annotated[str, Form(max_length=20000)] = "",
) -> Response:
    """Queue an announcement; a refused one comes back to the form with the message and what was typed."""
    with refused(db, casework.CaseError) as refusal:
        row = casework_announcements.send_announcement(
            db, text=text, channels=channels, groups=groups, department_ids=department_ids,
            numbers_text=numbers, actor=user.username,
        )  # fmt: skip
    if refusal:
        form = {"text": text, "channels": channels, "groups": groups, "department_ids": department_ids,
                "numbers": numbers}  # fmt: skip
        return _announcements(request, db, form=form, error=refusal.message, status=422)
    message = f"公告已提交发送：{row.queued}条。"
    if row.refused:
        message += f"{row.refused}个号码因格式或当日发送上限未发送（已记录）。"
    flash(request, "ok", message)
    return RedirectResponse("/supervisor/announcements", status_code=303)
