"""Editors' and reviewers' pages for the knowledge base (/editor) and their JSON API (/api/kb)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Form, HTTPException, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy.orm import Session

import kb
from casework.calendar import LOCAL_TZ
from hotline.masking import mask_phones_in_text
from hotline.models import User
from web.apimodels import (
    STAFF_KB,
    DocumentPage,
    GapOut,
    HistoryEntryOut,
    Ok,
    RevisionOut,
    SimilarOut,
    StaffDocumentOut,
    StaffSearchOut,
    SynonymGroupOut,
)
from web.routes.public import as_dict, render_markdown
from web.security import SessionDep, refused, require_roles
from web.templating import back_to, flash, local_time, pop_flash, render

router = APIRouter()
Staff = Annotated[User, Depends(require_roles("editor", "reviewer"))]
Reviewer = Annotated[User, Depends(require_roles("reviewer"))]

PER_PAGE = 20
FEEDBACK_PER_PAGE = 50
FEEDBACK_ON_DOCUMENT = 20  # the newest on a document's page (the list has them all)
FIELDS = (
    "title",
    "category",
    "department",
    "keywords",
    "question",
    "answer",
    "body",
    "source_url",
    "published_at",
    "valid_until",
    "review_due",
)
FIELD_LABELS = {
    "title": "标题",
    "category": "分类",
    "department": "部门",
    "keywords": "关键词",
    "question": "问题",
    "answer": "答案",
    "body": "正文",
    "source_url": "来源链接",
    "published_at": "发布日期",
    "valid_until": "有效期至",
    "review_due": "复核日期",
}
STATUS_LABELS = kb.STATUS_NAMES  # the badges; the list's filter adds review_due
FILTER_LABELS = {**kb.STATUS_NAMES, "review_due": "待复核"}
HISTORY_LABELS = {
    "kb.create": "新建",
    "kb.import": "导入",
    "kb.update": "修改",
    "kb.submit": "提交审核",
    "kb.approve": "审核通过并发布",
    "kb.reject": "退回",
    "kb.withdraw": "撤回",
    "kb.publish": "定时发布",
    "kb.schedule": "设置定时下线",
}
_SPLIT_WORDS = re.compile(r"[,，、;；\s]+")


def split_words(text: str) -> list[str]:
    """'公积金，住房公积金 ' -> ['公积金', '住房公积金']"""
    return [w for w in _SPLIT_WORDS.split(text or "") if w]


def _pydantic_message(error: ErrorDetails) -> str:
    kind = error.get("type", "")
    if kind in {"missing", "string_too_short"}:
        return "此项必填。"
    if kind.startswith(("date", "datetime")):
        return "日期格式应为 YYYY-MM-DD。"
    if kind in {"string_too_long", "too_long"}:
        limit = (error.get("ctx") or {}).get("max_length")
        return f"内容过长（最多 {limit} {'个' if kind == 'too_long' else '字'}）。" if limit else "内容过长。"
    if kind == "control_characters":
        return str(error["msg"]) + "。"
    if kind == "literal_error" or kind == "enum":
        return "请从列表中选择。"
    return "格式有误：" + str(error.get("msg", ""))


class DocumentFields(BaseModel):
    """The document form as posted (a Form() model, read before the handler runs, which is therefore
    a plain function off the event loop); parse_document checks the fields."""

    title: str = ""
    category: str = ""
    department: str = ""
    keywords: str = ""
    question: str = ""
    answer: str = ""
    body: str = ""
    source_url: str = ""
    published_at: str = ""
    valid_until: str = ""
    review_due: str = ""
    gap_id: str = ""
    comment: str = ""
    base_revision: str = ""

    def values(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in FIELDS}


def parse_document(values: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    """A kb.DocumentInput from form-like values, or per-field Chinese errors."""
    data: dict[str, Any] = {}
    for name in FIELDS:
        value = values.get(name)
        if name == "keywords":
            value = split_words(value) if isinstance(value, str) else list(value or [])
        elif isinstance(value, str):
            value = value.strip() or None
        if value is not None:
            data[name] = value
    try:
        return kb.DocumentInput(**data), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            field = str(err["loc"][0]) if err.get("loc") else "body"
            errors.setdefault(field if field in FIELDS else "body", _pydantic_message(err))
        return None, errors


def form_values(source: Any) -> dict[str, str]:
    """The editable fields of a document row (or view) as strings for the form."""
    values: dict[str, str] = {}
    for name in FIELDS:
        value = getattr(source, name, None)
        if name == "keywords" and isinstance(value, list | tuple):
            value = "，".join(value)
        values[name] = "" if value is None else str(value)
    return values


def row_or_404(db: Session, doc_id: int) -> kb.Document:
    row = kb.get_document_row(db, doc_id)
    if row is None:
        raise HTTPException(status_code=404, detail="文档不存在。")
    return row


def working_copy(db: Session, doc_id: int) -> kb.DocumentView:
    """The editors' working copy: the newest saved revision."""
    view = kb.get_document(db, doc_id, include_unpublished=True)
    if view is None:
        raise HTTPException(status_code=404, detail="文档不存在。")
    return view


def may_approve(db: Session, doc_id: int, user: User) -> bool:
    """A reviewer who is not one of the version's authors (kb.may_approve: the four-eyes rule)."""
    return user.has_role("reviewer") and kb.may_approve(db, doc_id, user.username)


def workflow_action(
    db: Session, doc_id: int, action: str, user: User, comment: str, publish_at: datetime | None = None
) -> None:
    """Run one workflow step (raises kb.KbError: kb.NotPermitted for the four-eyes rule, kb.WorkflowError
    for a step the document's state does not allow; 403 for a non-reviewer's review)."""
    if action in {"approve", "reject"} and not user.has_role("reviewer"):
        raise HTTPException(status_code=403, detail="只有审核人员可以审核。")
    steps: dict[str, Callable[..., Any]] = {
        "submit": kb.submit_document,
        "approve": kb.approve_document,
        "reject": kb.reject_document,
        "withdraw": kb.withdraw_document,
    }
    if action == "approve":
        kb.approve_document(db, doc_id, actor=user.username, comment=comment, publish_at=publish_at)
        return
    steps[action](db, doc_id, actor=user.username, comment=comment)


def base_ctx(request: Request, tab: str) -> dict[str, Any]:
    return {
        "tab": tab,
        "flash": pop_flash(request),
        "status_labels": STATUS_LABELS,
        "filter_labels": FILTER_LABELS,
        "categories": kb.CATEGORIES,
        "mask": mask_phones_in_text,  # readers' words (queries, comments) may hold phone numbers
    }


def local_moment(text: str) -> datetime | None:
    """A datetime-local form value ("2026-12-01T09:30", the centre's local time) as an aware moment;
    None when empty; KbError when it is no date and time."""
    text = text.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise kb.KbError("时间格式应为 YYYY-MM-DD HH:MM。") from exc
    return moment.replace(tzinfo=LOCAL_TZ) if moment.tzinfo is None else moment


# --- pages ---------------------------------------------------------------------------------------


@router.get("/editor")
def document_list(
    request: Request,
    db: SessionDep,
    user: Staff,
    status: str = "",
    category: str = "",
    q: str = "",
    page: int = 1,
    year: int | None = Query(None, ge=0, le=9999),
) -> Response:
    page = max(page, 1)
    rows, total = kb.list_documents(
        db,
        status=status or None,
        category=category or None,
        q=q.strip() or None,
        page=page,
        per_page=PER_PAGE,
        year=year,
    )
    ctx = base_ctx(request, "due" if status == "review_due" else "list") | {
        "rows": rows,
        "total": total,
        "page": page,
        "pages": max(1, math.ceil(total / PER_PAGE)),
        "status": status,
        "category": category,
        "q": q,
        "year": year,
    }
    fragment = request.headers.get("HX-Request") == "true"
    return render(request, "editor/list.html", ctx, block="table" if fragment else None)


@router.get("/editor/review")
def review_queue(request: Request, db: SessionDep, user: Staff) -> Response:
    rows, total = kb.list_documents(db, status="submitted", page=1, per_page=100)
    ctx = base_ctx(request, "review") | {"rows": rows, "total": total}
    return render(request, "editor/review.html", ctx)


def _form_page(
    request: Request,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    doc: Any = None,
    message: str | None = None,
    status_code: int = 200,
    gap_id: str = "",
    base_revision: int | None = None,
    returned: Any = None,
) -> Response:
    ctx = base_ctx(request, "new" if doc is None else "list") | {
        "returned": returned,
        "base_revision": base_revision if base_revision is not None else getattr(doc, "revision_count", None),
        "values": values,
        "errors": errors,
        "doc": doc,
        "message": message,
        "labels": FIELD_LABELS,
        "preview": render_markdown(values.get("body", "")),
        "gap_id": gap_id,
    }
    return render(request, "editor/form.html", ctx, status_code=status_code)


@router.get("/editor/new")
def new_form(request: Request, user: Staff, title: str = "", gap: str = "") -> Response:
    values = dict.fromkeys(FIELDS, "") | {"title": title[:128], "category": kb.CATEGORIES[0]}
    return _form_page(request, values=values, errors={}, gap_id=gap)


@router.post("/editor/new")
def create(request: Request, db: SessionDep, user: Staff, form: Annotated[DocumentFields, Form()]) -> Response:
    values = form.values()
    gap_id = form.gap_id
    data, errors = parse_document(values)
    if errors:
        return _form_page(request, values=values, errors=errors, status_code=400, gap_id=gap_id)
    with refused(db, kb.KbError) as refusal:
        doc = kb.create_document(db, data, actor=user.username)
        if gap_id.isdigit():
            kb.resolve_gap(db, int(gap_id), actor=user.username)
    if refusal:
        message = refusal.message
        return _form_page(request, values=values, errors={}, message=message, status_code=400, gap_id=gap_id)
    flash(request, "ok", "已保存为草稿。")
    return RedirectResponse(f"/editor/documents/{doc.id}", status_code=303)


@router.post("/editor/preview")
def preview(request: Request, user: Staff, body: Annotated[str, Form()] = "") -> Response:
    """Live preview of the body as citizens will see it (htmx)."""
    html = render_markdown(body)
    return render(request, "editor/form.html", {"preview": html}, block="preview")


@router.get("/editor/documents/{doc_id}")
def document_detail(
    request: Request,
    db: SessionDep,
    user: Staff,
    doc_id: int,
    old: int | None = Query(None, ge=1, le=10**9),
    new: int | None = Query(None, ge=1, le=10**9),
) -> Response:
    """The editor's page of one document: the reviewer's reason when it came back, the side-by-side
    comparison (the published revision against the newest, or the revisions old and new), readers'
    feedback, the workflow buttons with scheduling, history and revisions."""
    row = row_or_404(db, doc_id)
    current = working_copy(db, doc_id)
    feedback, feedback_total = kb.list_feedback(db, document_id=doc_id, per_page=FEEDBACK_ON_DOCUMENT)
    ctx = base_ctx(request, "list") | {
        "doc": row,
        "view": current,
        "body_html": render_markdown(current.body),
        "returned": kb.returned_reason(db, doc_id),
        "comparison": kb.compare_revisions(db, doc_id, old, new),
        "feedback": feedback,
        "feedback_total": feedback_total,
        "history": kb.history(db, doc_id),
        "history_labels": HISTORY_LABELS,
        "revisions": kb.revisions(db, doc_id),
        "similar": kb.similar_documents(db, doc_id),
        "can_approve": may_approve(db, doc_id, user),
        "is_reviewer": user.has_role("reviewer"),
    }
    return render(request, "editor/detail.html", ctx)


@router.get("/editor/documents/{doc_id}/edit")
def edit_form(request: Request, db: SessionDep, user: Staff, doc_id: int) -> Response:
    row = row_or_404(db, doc_id)
    return _form_page(
        request,
        values=form_values(working_copy(db, doc_id)),
        errors={},
        doc=row,
        returned=kb.returned_reason(db, doc_id),
    )


@router.post("/editor/documents/{doc_id}/edit")
def update(
    request: Request, db: SessionDep, user: Staff, doc_id: int, form: Annotated[DocumentFields, Form()]
) -> Response:
    row = row_or_404(db, doc_id)
    values = form.values()
    comment = form.comment.strip()
    base = form.base_revision
    base_revision = int(base) if base.isdigit() and len(base) <= 9 else None
    data, errors = parse_document(values)
    if errors:
        return _form_page(
            request, values=values, errors=errors, doc=row, status_code=400, base_revision=base_revision
        )
    with refused(db, kb.KbError) as refusal:
        kb.update_document(db, doc_id, data, actor=user.username, comment=comment, base_revision=base_revision)
    if refusal:
        status = 409 if isinstance(refusal.error, kb.WorkflowError) else 400
        return _form_page(
            request,
            values=values,
            errors={},
            doc=row,
            message=refusal.message,
            status_code=status,
            base_revision=base_revision,
        )
    flash(request, "ok", "修改已保存。")
    return RedirectResponse(f"/editor/documents/{doc_id}", status_code=303)


ACTION_DONE = {
    "submit": "已提交审核。",
    "approve": "已审核通过并发布。",
    "reject": "已退回。",
    "withdraw": "已撤回。",
}


@router.post("/editor/documents/{doc_id}/schedule")
def schedule_withdrawal(
    request: Request, db: SessionDep, user: Staff, doc_id: int, withdraw_at: Annotated[str, Form()] = ""
) -> Response:
    """定时下线: the document leaves the public at the given local time (empty: cancel)."""
    row_or_404(db, doc_id)
    at = local_moment(withdraw_at)
    kb.schedule_withdrawal(db, doc_id, at, actor=user.username)
    flash(request, "ok", f"将于 {local_time(at)} 自动下线。" if at else "已取消定时下线。")
    return RedirectResponse(f"/editor/documents/{doc_id}", status_code=303)


@router.post("/editor/documents/{doc_id}/{action}")
def document_action(
    request: Request,
    db: SessionDep,
    user: Staff,
    doc_id: int,
    action: str,
    comment: Annotated[str, Form()] = "",
    publish_at: Annotated[str, Form()] = "",
) -> Response:
    if action not in ACTION_DONE:
        raise HTTPException(status_code=404)
    row_or_404(db, doc_id)
    at = local_moment(publish_at) if action == "approve" else None
    workflow_action(db, doc_id, action, user, comment.strip(), publish_at=at)
    scheduled = at is not None and row_or_404(db, doc_id).status == "scheduled"
    flash(request, "ok", f"已审核通过，将于 {local_time(at)} 自动发布。" if scheduled else ACTION_DONE[action])
    return RedirectResponse(f"/editor/documents/{doc_id}", status_code=303)


@router.get("/editor/corpus")
def corpus_page(request: Request, db: SessionDep, user: Staff) -> Response:
    """The corpus by category and publication year, with the expired documents to retire."""
    ctx = base_ctx(request, "corpus") | {
        "overview": kb.corpus_overview(db),
        "may_retire": user.has_role("reviewer"),
        "no_year": kb.NO_YEAR,
    }
    return render(request, "editor/corpus.html", ctx)


@router.post("/editor/corpus/retire-expired", dependencies=[back_to("/editor/corpus")])
def retire_expired(
    request: Request, db: SessionDep, user: Reviewer, confirm: Annotated[str, Form()] = ""
) -> Response:
    """全部下线: withdraw every expired document (reviewers and administrators; audited per document)."""
    if confirm != "yes":
        raise kb.KbError("请先勾选确认，再批量下线。")
    count = kb.retire_expired(db, actor=user.username)
    flash(request, "ok", f"已下线 {count} 篇过期文档。" if count else "没有需要下线的过期文档。")
    return RedirectResponse("/editor/corpus", status_code=303)


@router.post("/editor/corpus/apply-rules", dependencies=[back_to("/editor/corpus")])
def apply_rules(request: Request, db: SessionDep, user: Reviewer) -> Response:
    """按规则整理: the bundled collection re-filed and its COVID-era notices given their validity (what
    `hotline kb recategorise` does; reviewers and administrators; audited)."""
    report = kb.recategorise(db, actor=user.username)
    skipped = f"；{len(report.skipped)} 篇有编辑中的稿件，未改动" if report.skipped else ""
    flash(request, "ok", f"已按规则重新分类 {report.changed} 篇，其中设为过期 {report.expired} 篇{skipped}。")
    return RedirectResponse("/editor/corpus", status_code=303)


@router.get("/editor/feedback")
def feedback_list(
    request: Request, db: SessionDep, user: Staff, unhelpful: bool = False, page: int = Query(1, ge=1, le=10**6)
) -> Response:
    """Readers' feedback on every document, newest first, with the query that led to the document."""
    entries, total = kb.list_feedback(
        db, helpful=False if unhelpful else None, page=page, per_page=FEEDBACK_PER_PAGE
    )
    ctx = base_ctx(request, "feedback") | {
        "entries": entries,
        "total": total,
        "unhelpful": unhelpful,
        "page": page,
        "pages": max(1, math.ceil(total / FEEDBACK_PER_PAGE)),
    }
    return render(request, "editor/feedback.html", ctx)


@router.get("/editor/gaps")
def gaps(request: Request, db: SessionDep, user: Staff, resolved: bool = False) -> Response:
    ctx = base_ctx(request, "gaps") | {
        "gaps": kb.list_gaps(db, resolved=resolved, limit=200),
        "resolved": resolved,
        "mask": mask_phones_in_text,
    }
    return render(request, "editor/gaps.html", ctx)


@router.post("/editor/gaps/{gap_id}/resolve", dependencies=[back_to("/editor/gaps")])
def resolve_gap(request: Request, db: SessionDep, user: Staff, gap_id: int) -> Response:
    kb.resolve_gap(db, gap_id, actor=user.username)
    flash(request, "ok", "已标记为处理完毕。")
    return RedirectResponse("/editor/gaps", status_code=303)


def _synonyms_page(request: Request, db: Session, *, words: str = "", error: str | None = None) -> Response:
    ctx = base_ctx(request, "synonyms") | {
        "groups": kb.list_synonym_groups(db),
        "words": words,
        "error": error,
    }
    return render(request, "editor/synonyms.html", ctx, status_code=400 if error else 200)


@router.get("/editor/synonyms")
def synonyms(request: Request, db: SessionDep, user: Staff) -> Response:
    return _synonyms_page(request, db)


@router.post("/editor/synonyms")
def save_synonyms(
    request: Request,
    db: SessionDep,
    user: Staff,
    words: Annotated[str, Form()] = "",
    group_id: Annotated[str, Form()] = "",
) -> Response:
    with refused(db, kb.KbError) as refusal:
        kb.save_synonym_group(
            db,
            split_words(words),
            actor=user.username,
            group_id=int(group_id) if group_id.isdigit() else None,
        )
    if refusal:
        return _synonyms_page(request, db, words=words, error=refusal.message)
    flash(request, "ok", "同义词已保存。")
    return RedirectResponse("/editor/synonyms", status_code=303)


@router.post("/editor/synonyms/{group_id}/delete", dependencies=[back_to("/editor/synonyms")])
def delete_synonyms(request: Request, db: SessionDep, user: Staff, group_id: int) -> Response:
    kb.delete_synonym_group(db, group_id, actor=user.username)
    flash(request, "ok", "同义词组已删除。")
    return RedirectResponse("/editor/synonyms", status_code=303)


def _ivr_categories() -> list[Any]:
    """The category listings of the IVR menu file (selfservice.menu) with their key paths, in key order."""
    from selfservice.menu import load_menu

    return load_menu().category_items()


def _ivr_page(
    request: Request, db: Session, *, error: str | None = None, category: str = "", documents: str = ""
) -> Response:
    from selfservice.menu import spoken_path

    listings = []
    for path, item in _ivr_categories():
        pinned = kb.pinned_documents(db, item.category)
        listings.append({
            "item": item,
            "path": spoken_path(path),
            "pinned": pinned,
            "pinned_ids": "，".join(str(d.id) for d in pinned),
            "heard": kb.ivr_listing(db, item.category, item.items),
            "candidates": kb.ivr_listing(db, item.category, 50),
        })  # fmt: skip
    ctx = base_ctx(request, "ivr") | {
        "listings": listings,
        "error": error,
        "error_category": category,
        "error_documents": documents,
    }
    return render(request, "editor/ivr.html", ctx, status_code=400 if error else 200)


@router.get("/editor/ivr")
def ivr_pins(request: Request, db: SessionDep, user: Staff) -> Response:
    return _ivr_page(request, db)


@router.post("/editor/ivr")
def save_ivr_pins(
    request: Request,
    db: SessionDep,
    user: Staff,
    category: Annotated[str, Form()] = "",
    documents: Annotated[str, Form()] = "",
) -> Response:
    """Pin documents to the keys of one IVR category listing, in the order given (empty: unpin)."""
    item = next((i for _, i in _ivr_categories() if i.category == category), None)
    words = split_words(documents)
    if item is None:
        error = "语音菜单中没有这个栏目。"
    elif not all(w.isdigit() and len(w) <= 9 for w in words):
        error = "文档编号应为数字，用逗号分隔。"
    elif len(words) > item.items:
        error = f"“{category}”在电话里只读 {item.items} 项，最多置顶 {item.items} 篇。"
    else:
        with refused(db, kb.KbError) as refusal:
            kb.set_pins(db, category, [int(w) for w in words], actor=user.username)
        if refusal:
            error = refusal.message
        else:
            flash(request, "ok", f"已保存“{category}”的电话菜单置顶。")
            return RedirectResponse("/editor/ivr", status_code=303)
    return _ivr_page(request, db, error=error, category=category, documents=documents)


# --- staff JSON API --------------------------------------------------------------------------------


def document_json(db: Session, doc_id: int) -> dict[str, Any]:
    """The document row (published content, status, live) with the editors' working copy."""
    row = row_or_404(db, doc_id)
    data = as_dict(row)
    data["working_copy"] = {name: as_dict(working_copy(db, doc_id)).get(name) for name in FIELDS}
    return data


class ActionIn(BaseModel):
    comment: str = Field("", max_length=2000)
    publish_at: datetime | None = Field(None, description="approve：定时发布时间（不带时区时按本地时间）")


class SynonymsIn(BaseModel):
    words: list[str]
    id: int | None = None


@router.get("/api/kb/documents", tags=[STAFF_KB], response_model=DocumentPage)
def api_list(
    db: SessionDep,
    user: Staff,
    status: str | None = None,
    category: str | None = None,
    q: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> dict[str, Any]:
    rows, total = kb.list_documents(
        db,
        status=status or None,
        category=category or None,
        q=q or None,
        page=max(page, 1),
        per_page=min(max(per_page, 1), 100),
    )
    return {"total": total, "page": page, "items": [as_dict(r) for r in rows]}


@router.post("/api/kb/documents", tags=[STAFF_KB], status_code=201, response_model=StaffDocumentOut)
def api_create(db: SessionDep, user: Staff, body: Annotated[dict[str, Any], Body()]) -> Response:
    data, errors = parse_document(body)
    if errors:
        return JSONResponse({"detail": "请求参数有误。", "errors": errors}, status_code=422)
    doc = kb.create_document(db, data, actor=user.username)
    return JSONResponse(document_json(db, doc.id), status_code=201)


@router.get("/api/kb/documents/{doc_id}", tags=[STAFF_KB], response_model=StaffDocumentOut)
def api_get(db: SessionDep, user: Staff, doc_id: int) -> dict[str, Any]:
    return document_json(db, doc_id)


@router.put("/api/kb/documents/{doc_id}", tags=[STAFF_KB], response_model=StaffDocumentOut)
def api_update(db: SessionDep, user: Staff, doc_id: int, body: Annotated[dict[str, Any], Body()]) -> Response:
    row_or_404(db, doc_id)
    data, errors = parse_document(body)
    if errors:
        return JSONResponse({"detail": "请求参数有误。", "errors": errors}, status_code=422)
    base = body.get("base_revision")
    base_revision = base if isinstance(base, int) and not isinstance(base, bool) else None
    comment = str(body.get("comment") or "")
    kb.update_document(db, doc_id, data, actor=user.username, comment=comment, base_revision=base_revision)
    return JSONResponse(document_json(db, doc_id))


@router.post("/api/kb/documents/{doc_id}/{action}", tags=[STAFF_KB], response_model=StaffDocumentOut)
def api_action(
    db: SessionDep, user: Staff, doc_id: int, action: str, body: ActionIn | None = None
) -> Response:
    """Workflow step: submit, approve (reviewers), reject (reviewers, comment required), withdraw."""
    if action not in ACTION_DONE:
        raise HTTPException(status_code=404)
    row_or_404(db, doc_id)
    at = body.publish_at if body and action == "approve" else None
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=LOCAL_TZ)
    workflow_action(db, doc_id, action, user, (body.comment if body else "").strip(), publish_at=at)
    return JSONResponse(document_json(db, doc_id))


@router.get("/api/kb/documents/{doc_id}/diff", tags=[STAFF_KB], response_model=list[str])
def api_diff(db: SessionDep, user: Staff, doc_id: int) -> list[str]:
    row_or_404(db, doc_id)
    return kb.document_diff(db, doc_id)


@router.get("/api/kb/documents/{doc_id}/history", tags=[STAFF_KB], response_model=list[HistoryEntryOut])
def api_history(db: SessionDep, user: Staff, doc_id: int) -> list[dict[str, Any]]:
    row_or_404(db, doc_id)
    return [as_dict(e) for e in kb.history(db, doc_id)]


@router.get("/api/kb/documents/{doc_id}/similar", tags=[STAFF_KB], response_model=list[SimilarOut])
def api_similar(db: SessionDep, user: Staff, doc_id: int) -> list[dict[str, Any]]:
    """Other documents with almost the same text (possible duplicates), most similar first."""
    row_or_404(db, doc_id)
    return [as_dict(s) for s in kb.similar_documents(db, doc_id)]


@router.get("/api/kb/documents/{doc_id}/revisions", tags=[STAFF_KB], response_model=list[RevisionOut])
def api_revisions(db: SessionDep, user: Staff, doc_id: int) -> list[dict[str, Any]]:
    row_or_404(db, doc_id)
    return [as_dict(r) for r in kb.revisions(db, doc_id)]


@router.get("/api/kb/search", tags=[STAFF_KB], response_model=StaffSearchOut)
def api_staff_search(db: SessionDep, user: Staff, q: str = "", limit: int = 20) -> dict[str, Any]:
    """Search including drafts and submitted documents (not logged as gaps)."""
    q = " ".join(q.split())[:200]
    if not q:
        return {"query": "", "total": 0, "suggestion": None, "hits": []}
    res = kb.search(db, q, limit=min(max(limit, 1), 50), include_unpublished=True, log_gaps=False)
    return {
        "query": res.query,
        "total": res.total,
        "suggestion": res.suggestion,
        "hits": [as_dict(h) for h in res.hits],
    }


@router.get("/api/kb/gaps", tags=[STAFF_KB], response_model=list[GapOut])
def api_gaps(db: SessionDep, user: Staff, resolved: bool = False) -> list[dict[str, Any]]:
    return [as_dict(g) for g in kb.list_gaps(db, resolved=resolved, limit=200)]


@router.post("/api/kb/gaps/{gap_id}/resolve", tags=[STAFF_KB], response_model=Ok)
def api_resolve_gap(db: SessionDep, user: Staff, gap_id: int) -> Response:
    kb.resolve_gap(db, gap_id, actor=user.username)
    return JSONResponse({"ok": True})


@router.get("/api/kb/synonyms", tags=[STAFF_KB], response_model=list[SynonymGroupOut])
def api_synonyms(db: SessionDep, user: Staff) -> list[dict[str, Any]]:
    return [as_dict(g) for g in kb.list_synonym_groups(db)]


@router.post("/api/kb/synonyms", tags=[STAFF_KB], response_model=SynonymGroupOut | Ok)
def api_save_synonyms(db: SessionDep, user: Staff, body: SynonymsIn) -> Response:
    group = kb.save_synonym_group(db, body.words, actor=user.username, group_id=body.id)
    return JSONResponse(as_dict(group) if group is not None else {"ok": True})


@router.delete("/api/kb/synonyms/{group_id}", tags=[STAFF_KB], response_model=Ok)
def api_delete_synonyms(db: SessionDep, user: Staff, group_id: int) -> Response:
    kb.delete_synonym_group(db, group_id, actor=user.username)
    return JSONResponse({"ok": True})
