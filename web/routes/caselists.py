"""Work queues and case search for each staff role: the role's saved views with counts, filters,
full-text search (casework.search), pages and the Excel export of what is listed.

/agent/queues, /department/queues (the unit's own cases only), /supervisor/cases; add `.xlsx` for the
export."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

import casework
from casework import queues, search
from casework.search import CaseFilter
from hotline.db import session_scope, utcnow
from hotline.models import User
from selfservice import acd
from web.routes.casepages import all_departments
from web.routes.department import my_department
from web.security import SessionDep, require_roles
from web.templating import render, templates

router = APIRouter()
Agent = Annotated[User, Depends(require_roles("agent"))]
Staff = Annotated[User, Depends(require_roles("department"))]
Supervisor = Annotated[User, Depends(require_roles("supervisor", "leader"))]
PATHS = {"agent": "/agent/queues", "department": "/department/queues", "supervisor": "/supervisor/cases"}
CASE_PAGES = {"agent": "/agent/cases/", "department": "/department/cases/", "supervisor": "/supervisor/cases/"}
FILTER_FIELDS = ("q", "status", "department", "category", "district", "channel", "from", "to", "overdue",
                 "supervised")  # fmt: skip
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def queue_links(user: User | None) -> list[tuple[str, str]]:
    """The queue pages of the user's roles, for the navigation."""
    if user is None:
        return []
    roles = {"agent": ("agent",), "department": ("department",), "supervisor": ("supervisor", "leader")}
    return [(role, PATHS[role]) for role, names in roles.items() if user.has_role(*names)]


def queue_todo(user: User, role: str) -> int:
    """What waits for the user in the role's queues (the navigation's count)."""
    with session_scope() as db:
        department = None
        if role == "department":
            department = casework.department_by_name(db, user.department or "")
            if department is None:
                return 0
        scope = queues.scope_for(user.username, department)
        return sum(queues.counts(db, role, scope, queues.TODO[role]).values())


templates.env.globals.update(queue_links=queue_links, queue_todo=queue_todo)


def _day(value: str, what: str, errors: list[str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(f"{what}格式不正确，请按“2026-11-30”填写。")
        return None


def read_filter(params: dict[str, str], errors: list[str]) -> CaseFilter:
    """The filter typed into the form; a bad value is reported in `errors` and ignored."""
    department = params.get("department", "").strip()
    if department and not department.isdigit():
        errors.append("请选择有效的承办部门。")
        department = ""
    status = params.get("status", "").strip()
    if status and status not in casework.STATUS_LABELS:
        errors.append("请选择有效的工单状态。")
        status = ""
    return CaseFilter(
        q=params.get("q", "").strip()[:100],
        status=status,
        department_id=int(department) if department and len(department) < 10 else None,
        category=params.get("category", "").strip()[:8],
        district=params.get("district", "").strip()[:64],
        channel=params.get("channel", "").strip()[:16],
        date_from=_day(params.get("from", "").strip(), "开始日期", errors),
        date_to=_day(params.get("to", "").strip(), "结束日期", errors),
        overdue=params.get("overdue") == "1",
        supervised=params.get("supervised") == "1",
    )


def _listing(request: Request, db: Session, user: User, role: str, department: Any = None) -> dict[str, Any]:
    params = {k: v for k, v in request.query_params.items() if k in (*FILTER_FIELDS, "view", "page")}
    errors: list[str] = []
    filters = read_filter(params, errors)
    if department is not None:
        filters.department_id = None  # the view keeps a department to its own cases
    scope = queues.scope_for(user.username, department, utcnow())
    view = queues.view_of(role, params.get("view", ""))
    stmt = search.filtered(db, filters, queues.statement(view, scope), now=scope.now)
    page = params.get("page", "1")
    return {
        "role": role,
        "view": view,
        "views": queues.VIEWS[role],
        "counts": queues.counts(db, role, scope),
        "params": params,
        "filters": filters,
        "errors": errors,
        "stmt": stmt,
        "page_number": int(page) if page.isdigit() and len(page) < 7 else 1,
    }


def _page(request: Request, db: Session, user: User, role: str, department: Any = None) -> Response:
    ctx = _listing(request, db, user, role, department)
    result = search.page_of(db, ctx.pop("stmt"), ctx.pop("page_number"))
    keep = {k: v for k, v in ctx["params"].items() if k != "page" and v}
    ctx.update(
        result=result,
        path=PATHS[role],
        case_page=CASE_PAGES[role],
        caller="full" if role == "agent" else "masked",
        query=urlencode(keep),
        statuses=casework.STATUS_LABELS,
        categories=casework.categories(db),
        channels=search.CHANNEL_LABELS,
        departments=all_departments(db) if department is None else [],
        callbacks=len(acd.callbacks_due(db)) if role == "agent" else None,
    )
    return render(request, "cases/list.html", ctx)


def _export(request: Request, db: Session, user: User, role: str, department: Any = None) -> Response:
    ctx = _listing(request, db, user, role, department)
    cases = search.all_of(db, ctx["stmt"])
    body = search.export_xlsx(cases, full_phone=role == "agent")
    name = f"cases-{role}-{ctx['view'].key}-{utcnow():%Y%m%d%H%M}.xlsx"
    return Response(body, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/agent/queues")
def agent_queues(request: Request, db: SessionDep, user: Agent) -> Response:
    return _page(request, db, user, "agent")


@router.get("/agent/queues.xlsx")
def agent_export(request: Request, db: SessionDep, user: Agent) -> Response:
    return _export(request, db, user, "agent")


@router.get("/department/queues")
def department_queues(request: Request, db: SessionDep, user: Staff) -> Response:
    return _page(request, db, user, "department", my_department(db, user))


@router.get("/department/queues.xlsx")
def department_export(request: Request, db: SessionDep, user: Staff) -> Response:
    return _export(request, db, user, "department", my_department(db, user))


@router.get("/supervisor/cases")
def supervisor_cases(request: Request, db: SessionDep, user: Supervisor) -> Response:
    return _page(request, db, user, "supervisor")


@router.get("/supervisor/cases.xlsx")
def supervisor_export(request: Request, db: SessionDep, user: Supervisor) -> Response:
    return _export(request, db, user, "supervisor")
