"""Citizen case pages: submit a request online, query progress with case number + password."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection

import casework
from casework import attachments
from casework import progress as citizen_progress
from hotline.masking import mask_phones_in_text
from web.routes.attachments import Files, open_for_citizen
from web.routes.casepages import CaseFields, CaseForm, read_case_form
from web.security import SessionDep, refused, seal, unseal
from web.templating import render

router = APIRouter()

CASE_NUMBER_RE = re.compile(r"^\d{6,20}$")
PASSWORD_RE = re.compile(r"^\d{4,6}$")
NO_STORE = {"Cache-Control": "no-store"}


def client_key(request: HTTPConnection) -> str:
    """Who is asking, for per-caller rate limits on the web."""
    return "web:" + (request.client.host if request.client else "-")


MAX_PREFILL = 500  # characters of a question carried over from a search (/submit?content=...)


@router.get("/submit")
def submit_form(request: Request, content: str = "") -> Response:
    """The request form; a search without an answer links here with its question as `content`."""
    values = {"category": "咨询", "content": " ".join(content.split())[:MAX_PREFILL]}
    return render(request, "citizen/submit.html", {"form": CaseForm(values), "categories": casework.categories()})


@router.post("/submit")
def submit(request: Request, db: SessionDep, fields: Annotated[CaseFields, Form()], files: Files) -> Response:
    form = read_case_form(fields.model_dump())
    stored: list[attachments.StoredFile] = []
    if form.ok:
        try:
            stored = attachments.store(files)  # photos and documents, checked by their content
        except attachments.AttachmentRefused as exc:
            form.errors["attachments"] = str(exc)
    if not form.ok:
        ctx = {"form": form, "categories": casework.categories()}
        return render(request, "citizen/submit.html", ctx, status_code=422)
    v = form.values
    with refused(db, casework.CaseError) as refusal:
        case, password = casework.create_case(
            db,
            channel="web",
            caller_number=v["phone"],
            content=v["content"],
            category=v["category"],
            topic=v["topic"],
            name=v["name"] or None,
            contact=v["phone"],
            address=v["address"] or None,
            district=v["district"] or None,
            actor="citizen:web",
            confidential=bool(v["confidential"]),
            client_key=client_key(request),
        )
        attachments.attach(db, case, stored, purpose="submission", actor="citizen", role="citizen")
    if refusal:
        form.errors["content"] = refusal.message
        return render(
            request, "citizen/submit.html", {"form": form, "categories": casework.categories()}, status_code=422
        )
    response = render(
        request, "citizen/submitted.html", {"case_number": case.case_number, "password": password}
    )
    response.headers.update(NO_STORE)
    return response


@router.get("/progress")
def progress_form(request: Request) -> Response:
    return render(request, "citizen/progress.html", {"case_number": "", "error": None, "view": None})


@router.post("/progress")
def progress(
    request: Request,
    db: SessionDep,
    case_number: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    """A progress query; failed attempts are counted in the database (the unit of work commits them
    with the page that says so)."""
    number, password = case_number.strip(), password.strip()
    ctx: dict[str, object] = {"case_number": number, "error": None, "view": None}
    status = 200
    if not CASE_NUMBER_RE.match(number) or not PASSWORD_RE.match(password):
        ctx["error"] = "请输入正确格式的工单编号（数字）和4至6位数字查询密码。"
        status = 422
    else:
        try:
            view = casework.check_progress(db, number, password, caller_key=client_key(request))
            ctx["view"] = view
            ctx["update_text"] = mask_phones_in_text(view.last_update_text or "")
            ctx["attachments"] = open_for_citizen(request, db, view.case_number)
            ctx.update(case_details(request, db, view.case_number))
        except casework.CaseQueryLocked:
            ctx["error"] = "查询失败次数过多，请15分钟后再试，或拨打12345咨询。"
            status = 429
        except casework.CaseQueryRejected:
            ctx["error"] = "工单编号或查询密码不正确，请核对后重试。"
            status = 404
    response = render(request, "citizen/progress.html", ctx, status_code=status)
    response.headers.update(NO_STORE)
    return response


# -- the progress page's timeline, reply and online rating (casework.progress) ---------------------
PROGRESS_CASE = "progress_case"  # the case this visitor gave the password of (sealed, SEALED_SECONDS)


def case_details(request: Request, db: Session, case_number: str) -> dict[str, object]:
    """After a successful progress query: the public timeline, the approved reply and whether the
    citizen may rate; the right to rate this case is kept sealed in the session for a while."""
    case = casework.get_case(db, case_number)
    if case is None:
        return {}
    request.session[PROGRESS_CASE] = seal(case.case_number)
    return {"details": citizen_progress.citizen_view(db, case), "ratings": citizen_progress.RATINGS}


@router.post("/progress/rating")
def rate(
    request: Request,
    db: SessionDep,
    case_number: Annotated[str, Form()] = "",
    satisfaction: Annotated[str, Form()] = "",
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """The satisfaction rating from the progress page: only for the case whose password this visitor
    gave within SEALED_SECONDS; recorded once as the case's 回访 result."""
    ctx: dict[str, object]
    number = unseal(request.session.get(PROGRESS_CASE))
    case = casework.get_case(db, number) if number and number == case_number.strip() else None
    if case is None:
        error = "请先输入工单编号和查询密码查询办理进度，再进行评价。"
        ctx = {"case_number": "", "view": None, "error": error}
        return render(request, "citizen/progress.html", ctx, status_code=403)
    ctx = {"case_number": case.case_number, "error": None}
    status = 200
    with refused(db, casework.CaseError) as refusal:
        citizen_progress.rate_online(db, case, satisfaction=satisfaction, comment=comment)
    if refusal:  # not waiting for a rating (any more), or a rating not on the list
        case = casework.get_case(db, case.case_number)
        ctx["rating_error"] = refusal.message
        status = 409
    else:
        ctx["rated"] = "感谢您的评价！" + ("您的意见已转热线中心跟进。" if satisfaction == "不满意" else "")
    assert case is not None
    view = citizen_progress.progress_view(case)
    ctx["view"] = view
    ctx["update_text"] = mask_phones_in_text(view.last_update_text)
    ctx.update(case_details(request, db, case.case_number))
    response = render(request, "citizen/progress.html", ctx, status_code=status)
    response.headers.update(NO_STORE)
    return response
