"""Agent console (坐席工作台): incoming-call panel, KB answers by SMS, case registration and dispatch,
review queue of web submissions, call-back list."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

import casework
import kb
from casework import attachments, followup, queues, search
from hotline import audit
from hotline.masking import mask_phone
from hotline.models import User
from selfservice import acd, records
from web.routes.attachments import Files
from web.routes.casepages import (
    SATISFACTION,
    CaseFields,
    CaseForm,
    all_departments,
    case_action,
    case_or_404,
    read_case_form,
)
from web.routes.phone import current_menu, phone_bar
from web.security import SessionDep, refused, require_roles, seal, unseal
from web.templating import back_to, flash, pop_flash, render

router = APIRouter(prefix="/agent")
Agent = Annotated[User, Depends(require_roles("agent"))]
SMS_MAX_CHARS = 300

try:  # the IVR's call records, when the selfservice package provides them
    from selfservice import call_context, recent_calls
except ImportError:  # pragma: no cover - depends on the IVR package's progress
    call_context = recent_calls = None  # type: ignore[assignment]


def _ivr_calls(db: Session, number: str | None = None, limit: int = 10) -> list[Any]:
    if recent_calls is None:
        return []
    return list(recent_calls(db, caller_number=number, limit=limit))


def _transfers(db: Session) -> list[Any]:
    """Recent calls the IVR handed over to an agent."""
    return [c for c in _ivr_calls(db, limit=50) if c.outcome == "transferred"][:10]


def _ivr_context(db: Session, call_id: str | None) -> dict | None:
    if call_context is None or not call_id:
        return None
    try:
        context = call_context(db, call_id)
    except (LookupError, ValueError):
        return None
    record = records.get_call(db, call_id)
    if context and record is not None:
        items = {i.key: (i.action, i.category) for i in current_menu().menu}
        context["path_words"] = records.path_in_words(record, items)
    return context


def _caller_panel(db: Session, number: str, call_id: str | None = None) -> dict[str, Any]:
    number = "".join(ch for ch in number if ch.isdigit() or ch == "-")
    if not number:
        return {"number": "", "history": [], "calls": [], "repeat": None, "ivr": _ivr_context(db, call_id)}
    return {
        "number": number,
        "history": casework.cases_for_caller(db, number, limit=20),
        "calls": [c for c in _ivr_calls(db, number, limit=11) if c.call_id != call_id][:10],
        "repeat": casework.repeat_caller(db, number),
        "ivr": _ivr_context(db, call_id),
    }


@router.get("")
def console(request: Request, db: SessionDep, user: Agent, number: str = "", call_id: str = "") -> Response:
    ctx = {
        **phone_bar(db, user, shown=call_id),
        "caller": _caller_panel(db, number, call_id or None),
        "form": CaseForm({"caller_number": number, "category": "咨询"}),
        "call_id": call_id,
        "categories": casework.categories(db),
        "transfers": _transfers(db),
        "queue_size": len(casework.review_queue(db)),
        "flash": pop_flash(request),
    }
    return render(request, "agent/console.html", ctx)


@router.get("/caller")
def caller(request: Request, db: SessionDep, user: Agent, number: str = "", call_id: str = "") -> Response:
    """htmx fragment: the caller's history, repeat-caller flag and IVR context."""
    ctx = {"caller": _caller_panel(db, number, call_id or None)}
    return render(request, "agent/console.html", ctx, block="caller_panel")


@router.get("/kb")
def kb_search(request: Request, db: SessionDep, user: Agent, q: str = "") -> Response:
    """htmx fragment: instant knowledge-base search for the agent."""
    q = q.strip()[:100]
    hits = []
    if q:
        results = kb.search(db, q, limit=8, channel="agent")  # gaps logged: committed by the unit of work
        # SearchHit.snippet is escaped HTML with <mark> highlights (kb contract), not raw user text.
        hits = [{"hit": h, "snippet": Markup(h.snippet)} for h in results.hits]
    return render(request, "agent/console.html", {"q": q, "hits": hits}, block="kb_results")


@router.post("/sms")
def send_answer(
    request: Request,
    db: SessionDep,
    user: Agent,
    doc_id: Annotated[int, Form()],
    to: Annotated[str, Form()] = "",
    number: Annotated[str, Form()] = "",
) -> Response:
    """Queue the chosen knowledge-base answer as an SMS to the caller (audited). The console's
    buttons send the caller panel's `number` field; `to` names a number explicitly."""
    to = "".join(ch for ch in (to or number) if ch.isdigit())
    doc = kb.get_document(db, doc_id)
    ctx: dict[str, Any] = {"doc_id": doc_id, "sent": False}
    if doc is None:
        ctx["error"] = "该知识已下线或不存在。"
    elif not (len(to) == 11 and to.startswith("1")):
        ctx["error"] = "请先在来电面板输入来电人的手机号码。"
    else:
        text = f"【12345】{doc.title}：{doc.answer or ' '.join(doc.sections) or doc.body}"
        if len(text) > SMS_MAX_CHARS:
            text = text[: SMS_MAX_CHARS - 1] + "…"
        message = casework.queue_sms(db, to=to, text=text, kind="kb_answer", ref=f"kb:{doc_id}")
        audit.record(
            db,
            actor=user.username,
            action="sms_kb_answer",
            entity="kb_document",
            entity_id=doc_id,
            detail={"to": mask_phone(to), "outbox_id": getattr(message, "id", None)},
        )
        ctx.update(sent=True, to=to)
    return render(request, "agent/sms_result.html", ctx)  # htmx swaps 2xx only


@router.post("/cases")
def register(
    request: Request, db: SessionDep, user: Agent, fields: Annotated[CaseFields, Form()], files: Files
) -> Response:
    form = read_case_form(fields.model_dump(), phone_field="caller_number")
    call_id = fields.call_id[:64]
    if form.ok:
        v = form.values
        with refused(db, casework.CaseError) as refusal:
            stored = attachments.store(files)  # what the caller sent in, checked by content
            recording = acd.recording_path_of(db, call_id) if call_id else None
            case, _password = casework.create_case(
                db,
                channel="phone",
                caller_number=v["caller_number"],
                content=v["content"],
                category=v["category"],
                topic=v["topic"],
                name=v["name"] or None,
                contact=v["caller_number"],
                address=v["address"] or None,
                district=v["district"] or None,
                urgency=v["urgency"],
                actor=user.username,
                confidential=bool(v["confidential"]),
                audio_path=recording,
            )
            if call_id:
                acd.link_case(db, call_id, case.case_number)  # the call's recording is the case's
            attachments.attach(db, case, stored, purpose="case", actor=user.username, role="agent")
        if refusal:
            field = "attachments" if isinstance(refusal.error, attachments.AttachmentRefused) else "content"
            form.errors[field] = refusal.message
        else:
            request.session["new_password"] = {case.case_number: seal(_password)}  # never plain in the cookie
            return RedirectResponse(f"/agent/cases/{case.case_number}", status_code=303)
    ctx = {
        **phone_bar(db, user, shown=call_id),
        "caller": _caller_panel(db, form.values.get("caller_number", ""), call_id or None),
        "form": form,
        "call_id": call_id,
        "categories": casework.categories(db),
        "transfers": _transfers(db),
        "queue_size": len(casework.review_queue(db)),
    }
    return render(request, "agent/console.html", ctx, status_code=422)


@router.get("/cases/{case_number}")
def case_page(request: Request, db: SessionDep, user: Agent, case_number: str) -> Response:
    case = case_or_404(db, case_number)
    sealed = (request.session.pop("new_password", None) or {}).get(case.case_number)
    new_password = unseal(sealed) if sealed else None
    ctx = {
        "case": case,
        "password": new_password,
        "duplicates": casework.find_duplicates(db, case),
        "suggestions": casework.suggest_department(db, f"{case.topic or ''} {case.content}"),
        "departments": all_departments(db),
        "timeline": casework.timeline(db, case),
        "history": [c for c in casework.cases_for_caller(db, case.caller_number) if c.id != case.id],
        "flash": pop_flash(request),
        "satisfaction": SATISFACTION,
        "survey": {"waiting": followup.waiting_for_answer(case), "mobile": bool(followup.survey_number(case))},
    }
    return render(request, "agent/case.html", ctx)


def _department_by_id(db: Session, department_id: int) -> Any:
    department = db.get(casework.Department, department_id)
    if department is None:
        raise casework.CaseError("请选择承办部门。")
    return department


@router.post("/cases/{case_number}/refer")
def refer(
    request: Request,
    db: SessionDep,
    user: Agent,
    case_number: str,
    department_id: Annotated[int, Form()],
    note: Annotated[str, Form()] = "",
    assist_ids: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """转派: the lead department (主办) and the assisting ones ticked (协办, casework/assisting.py)."""

    def action(case: Any) -> None:
        department = _department_by_id(db, department_id)
        helpers = [_assisting_by_id(db, value) for value in dict.fromkeys(assist_ids or [])]
        casework.refer(db, case, department, actor=user.username, note=note.strip(), assisting=helpers)

    message = "已转派承办部门" + ("，并通知协办单位。" if assist_ids else "。")
    return case_action(request, db, case_number, action, message=message)


def _assisting_by_id(db: Session, value: str) -> Any:
    department = db.get(casework.Department, int(value)) if value.isdigit() and len(value) < 10 else None
    if department is None:
        raise casework.CaseError("请选择有效的协办单位。")
    return department


@router.post("/cases/{case_number}/answer")
def answer(
    request: Request, db: SessionDep, user: Agent, case_number: str, answer: Annotated[str, Form()] = ""
) -> Response:
    return case_action(
        request,
        db,
        case_number,
        lambda case: casework.answer_directly(db, case, actor=user.username, answer=answer.strip()),
        message="已直接答复并办结。",
    )


@router.post("/cases/{case_number}/merge")
def merge(
    request: Request, db: SessionDep, user: Agent, case_number: str, keep: Annotated[str, Form()]
) -> Response:
    """Merge this case (the duplicate) into the earlier case `keep`."""
    kept = case_or_404(db, keep.strip())
    return case_action(
        request,
        db,
        case_number,
        lambda case: casework.merge_cases(db, kept, case, actor=user.username),
        done=f"/agent/cases/{kept.case_number}",
        message=f"已将工单 {case_number} 合并到本工单。",
    )


@router.post("/cases/{case_number}/accept-submission")
def accept_submission(request: Request, db: SessionDep, user: Agent, case_number: str) -> Response:
    return case_action(
        request,
        db,
        case_number,
        lambda case: casework.accept_submission(db, case, actor=user.username),
        message="已受理该网上留言。",
    )


@router.post("/cases/{case_number}/reject-submission")
def reject_submission(
    request: Request, db: SessionDep, user: Agent, case_number: str, reason: Annotated[str, Form()] = ""
) -> Response:
    return case_action(
        request,
        db,
        case_number,
        lambda case: casework.reject_submission(db, case, actor=user.username, reason=reason.strip()),
        done="/agent/review",
        message=f"工单 {case_number} 已作为无效诉求退回。",
    )


@router.post("/cases/{case_number}/review")
def review(
    request: Request,
    db: SessionDep,
    user: Agent,
    case_number: str,
    approved: Annotated[str, Form()],
    comment: Annotated[str, Form()] = "",
) -> Response:
    return case_action(
        request,
        db,
        case_number,
        lambda case: casework.review(
            db, case, actor=user.username, approved=approved == "1", comment=comment.strip()
        ),
        message="审核意见已保存。",
    )


FOLLOW_UP_LIST = "/agent/followups"


def _back(to: str) -> str | None:
    """Where a 回访 action goes back to: the 回访 list when posted from it, else the case page."""
    return FOLLOW_UP_LIST if to == "list" else None


@router.post("/cases/{case_number}/follow-up")
def follow_up(
    request: Request,
    db: SessionDep,
    user: Agent,
    case_number: str,
    satisfaction: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    """The 回访 result; 不满意 sends the case back to its department for rework (casework.follow_up)."""
    message = "回访结果已记录。"
    if satisfaction == "不满意":
        message = "回访结果已记录：不满意，工单已退回承办部门重办。"
    return case_action(
        request,
        db,
        case_number,
        lambda case: casework.follow_up(
            db, case, actor=user.username, satisfaction=satisfaction, comment=comment.strip()
        ),
        done=_back(back),
        message=message,
    )


@router.post("/cases/{case_number}/survey")
def send_survey(
    request: Request, db: SessionDep, user: Agent, case_number: str, back: Annotated[str, Form()] = ""
) -> Response:
    """短信回访: the survey SMS to the citizen's mobile; the answer is recorded when it comes back."""
    case = case_or_404(db, case_number)
    if casework.send_survey(db, case, actor=user.username):
        flash(request, "ok", f"已向市民发送工单 {case.case_number} 的短信回访，回复后自动记录。")
    else:
        flash(request, "error", "该市民没有手机号码，或该号码今日接收短信已达上限，请电话回访。")
    return RedirectResponse(_back(back) or f"/agent/cases/{case.case_number}", status_code=303)


@router.get("/followups")
def followups(request: Request, db: SessionDep, user: Agent, page: int = 1) -> Response:
    """待回访: the cases whose reply the centre approved, each with the reply, the SMS survey's state
    and the 回访 form."""
    view = queues.view_of("agent", "follow_up")
    result = search.page_of(db, queues.statement(view, queues.scope_for(user.username)), max(1, page))
    ctx = {
        "result": result,
        "satisfaction": SATISFACTION,
        "waiting": {c.case_number for c in result.cases if followup.waiting_for_answer(c)},
        "mobile": {c.case_number for c in result.cases if followup.survey_number(c)},
        "flash": pop_flash(request),
    }
    return render(request, "agent/followups.html", ctx)


@router.post("/cases/{case_number}/close")
def close(request: Request, db: SessionDep, user: Agent, case_number: str) -> Response:
    return case_action(
        request,
        db,
        case_number,
        lambda case: casework.close(db, case, actor=user.username),
        message="工单已办结归档。",
    )


@router.get("/review")
def review_page(request: Request, db: SessionDep, user: Agent) -> Response:
    cases = casework.review_queue(db)
    ctx = {"cases": cases, "late": len(casework.waiting_too_long(cases)), "flash": pop_flash(request)}
    return render(request, "agent/review.html", ctx)


@router.get("/callbacks")
def callbacks(request: Request, db: SessionDep, user: Agent) -> Response:
    """Calls waiting for a call-back (abandoned in the queue, or asked for while waiting), and the
    voicemails left in the IVR."""
    voicemails = [c for c in _ivr_calls(db, limit=100) if getattr(c, "outcome", "") == "voicemail"]
    numbers = [c.case_number for c in voicemails if c.case_number]
    cases = list(db.scalars(select(casework.Case).where(casework.Case.case_number.in_(numbers))))
    ctx = {
        "due": acd.callbacks_due(db),
        "voicemails": voicemails,
        "voicemail_cases": {case.case_number: case for case in cases},  # the transcript and the recording
        "results": acd.CALLBACK_RESULTS,
        "seat": acd.seat_of(db, user.id),
        "flash": pop_flash(request),
    }
    return render(request, "agent/callbacks.html", ctx)


@router.post("/callbacks/{call_id}/dial", dependencies=[back_to("/agent/callbacks")])
def dial_back(request: Request, db: SessionDep, user: Agent, call_id: str) -> Response:
    """回拨: the agent's phone rings first, then the citizen's (the media node places both calls)."""
    acd.request_dial_back(db, user, call_id[:64])  # refuses (AcdError) a call that does not exist
    flash(request, "ok", "正在回拨：请先接听您的话机，随后将呼叫来电人。")
    call = acd.get_call(db, call_id[:64])
    number = call.caller_number if call is not None else ""
    return RedirectResponse(f"/agent?{urlencode({'number': number, 'call_id': call_id[:64]})}", status_code=303)


@router.post("/callbacks/{call_id}/result", dependencies=[back_to("/agent/callbacks")])
def callback_result(
    request: Request, db: SessionDep, user: Agent, call_id: str, result: Annotated[str, Form()]
) -> Response:
    acd.record_callback(db, user, call_id[:64], result)
    flash(request, "ok", f"已记录回拨结果：{acd.CALLBACK_RESULTS[result]}。")
    return RedirectResponse("/agent/callbacks", status_code=303)
