"""Citizen-facing knowledge-base pages (home, search, documents, feedback) and the public JSON API."""

from __future__ import annotations

import dataclasses
import math
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from markdown_it import MarkdownIt
from markupsafe import Markup
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

import kb
from hotline import node
from hotline.db import new_session, session_scope
from web.apimodels import PUBLIC, DocumentOut, FeedbackIn, Ok, SearchOut
from web.routes.citizen import client_key
from web.security import SessionDep, refused
from web.templating import render

router = APIRouter()
# The anonymous, read-only JSON API: mounted without the session cookie, the login lookup and the CSRF
# check (web.app), so a search costs the search and little else.
api_router = APIRouter(tags=[PUBLIC])

PER_PAGE = 10
MAX_PAGE = 100
MAX_QUERY_CHARS = 200
RELATED_LIMIT = 5
NEAREST = 3  # items shown, marked 仅供参考, when no hit answers the query
BROWSE_LIMIT = 30
_markdown = MarkdownIt("js-default")  # CommonMark with raw HTML disabled: user text stays escaped


def render_markdown(text: str | None) -> Markup:
    """The light-Markdown body of a document as safe HTML (raw HTML in the source is escaped)."""
    return Markup(_markdown.render(text or ""))


def document_html(doc: Any) -> dict[str, Markup]:
    """A document's answer and body as HTML (Markdown rendered), each text once: an FAQ whose body
    repeats its answer shows the answer alone, one whose body holds the answer and more the body."""
    answer, body = (doc.answer or "").strip(), (doc.body or "").strip()
    if answer and body and body in answer:
        body = ""
    elif answer and answer in body:
        answer = ""
    answer_html = render_markdown("答：" + answer) if answer else Markup("")
    return {"answer_html": answer_html, "body_html": render_markdown(body)}


def as_dict(obj: Any) -> dict[str, Any]:
    """A JSON-friendly dict of a kb dataclass (DocumentView, SearchHit) or a database row."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        data = dataclasses.asdict(obj)
    else:
        data = {attr.key: getattr(obj, attr.key) for attr in sa_inspect(obj).mapper.column_attrs}
    return {k: v.isoformat() if isinstance(v, date | datetime) else v for k, v in data.items()}


def clean_query(q: str | None) -> str:
    return " ".join((q or "").split())[:MAX_QUERY_CHARS]


def search_url(q: str = "", category: str = "", department: str = "", page: int = 1) -> str:
    """/search with the given non-empty parameters (the address a results page can be shared by)."""
    params: dict[str, Any] = {"q": q, "category": category, "department": department}
    params = {k: v for k, v in params.items() if v}
    if page > 1:
        params["page"] = page
    return "/search?" + urlencode(params)


def run_search(
    db: Session, q: str, *, page: int, category: str, department: str, log_gaps: bool, client: str
) -> dict[str, Any]:
    """Search (or, with a category and no query, that category's most read documents) and the paging
    facts a results block needs."""
    page = min(max(page, 1), MAX_PAGE)
    results = None
    if q:
        results = kb.search(
            db,
            q,
            limit=PER_PAGE,
            offset=(page - 1) * PER_PAGE,
            category=category or None,
            department=department or None,
            channel="web",
            log_gaps=log_gaps,
            client=client,
        )
    total = results.total if results else 0
    pages = max(1, math.ceil(total / PER_PAGE))
    if page > pages:  # past the last page (page=999): show the last one
        return run_search(
            db, q, page=pages, category=category, department=department, log_gaps=log_gaps, client=client
        )
    return {
        "q": q,
        "category": category,
        "department": department,
        "page": page,
        "pages": pages,
        "results": results,
        "browse": kb.popular_documents(db, category=category, limit=BROWSE_LIMIT)
        if category and not q
        else [],
        "suggestions": kb.suggest(db, q, limit=8) if q else [],
        "search_url": search_url,
        "nearest": NEAREST,
    }


@router.get("/")
def home(request: Request, db: SessionDep) -> Response:
    ctx = {
        "categories": kb.CATEGORIES,
        "hot": kb.hot_questions(db, limit=9),
        "q": "",
        "category": "",
        "department": "",
        "results": None,
        "suggestions": [],
    }
    return render(request, "public/home.html", ctx)


@router.get("/search")
def search_page(
    request: Request,
    db: SessionDep,
    q: str = "",
    category: str = "",
    department: str = "",
    page: int = 1,
    live: bool = False,
) -> Response:
    """Search results; an htmx request gets only the results block. Typing (live) is not logged as a gap."""
    q = clean_query(q)
    if category and category not in kb.CATEGORIES:
        category = ""
    ctx = run_search(
        db,
        q,
        page=page,
        category=category,
        department=department.strip(),
        log_gaps=not live,
        client=client_key(request),
    )
    fragment = request.headers.get("HX-Request") == "true"
    ctx.update({"categories": kb.CATEGORIES, "fragment": fragment})
    response = render(request, "public/search.html", ctx, block="results" if fragment else None)
    if fragment:
        response.headers["HX-Push-Url"] = search_url(
            q=q, category=category, department=department, page=ctx["page"]
        )
    return response


@router.get("/search/suggest")
def suggest_options(request: Request, db: SessionDep, q: str = "") -> Response:
    """<option> list of matching titles for the search box's datalist."""
    q = clean_query(q)
    return render(request, "public/suggest.html", {"suggestions": kb.suggest(db, q, limit=8) if q else []})


def _document_or_404(db: Session, doc_id: int) -> Any:
    doc = kb.get_document(db, doc_id)
    if doc is None:
        raise HTTPException(status_code=404, detail="该信息不存在或已下线。")
    return doc


def related_documents(db: Session, doc: Any) -> list[Any]:
    """Other published documents close to this one (by its title), best first."""
    found = kb.search(db, doc.title, limit=RELATED_LIMIT + 1, log_gaps=False)
    return [hit for hit in found.hits if hit.id != doc.id][:RELATED_LIMIT]


@router.get("/documents/{doc_id}")
def document_page(request: Request, db: SessionDep, doc_id: int, q: str = "") -> Response:
    """A document; q is the search that led here (kept with the reader's feedback for the editors)."""
    doc = _document_or_404(db, doc_id)
    related = related_documents(db, doc)
    kb.record_view(db, doc.id, "web", client=client_key(request))  # the write last: a short write lock
    ctx = {"doc": doc, **document_html(doc), "related": related, "feedback": None, "from_query": clean_query(q)}
    return render(request, "public/document.html", ctx)


@router.post("/documents/{doc_id}/feedback")
def document_feedback(
    request: Request,
    db: SessionDep,
    doc_id: int,
    answer: Annotated[str, Form(alias="helpful")] = "",
    comment: Annotated[str, Form()] = "",
    q: Annotated[str, Form()] = "",
) -> Response:
    """'这条信息对您有帮助吗？' - recorded, then thanked (htmx swaps the feedback block)."""
    doc = _document_or_404(db, doc_id)
    helpful = answer == "yes"
    comment = comment.strip()[:500]
    with refused(db, kb.KbError) as refusal:
        kb.record_feedback(db, doc.id, helpful, comment=comment, client=client_key(request), query=clean_query(q))
    feedback, status = (refusal.message, 400) if refusal else ("thanks", 200)
    ctx = {"doc": doc, "feedback": feedback, **document_html(doc), "related": [], "from_query": clean_query(q)}
    fragment = request.headers.get("HX-Request") == "true"
    return render(
        request, "public/document.html", ctx, block="feedback" if fragment else None, status_code=status
    )


# --- public JSON API ---------------------------------------------------------------------------


def hit_json(hit: Any) -> dict[str, Any]:
    return {
        "id": hit.id,
        "external_id": hit.external_id,
        "title": hit.title,
        "category": hit.category,
        "department": hit.department,
        "score": hit.score,
        "snippet": hit.snippet,
        "relevance": hit.relevance,
        "answered": hit.answered,
    }


@api_router.get("/api/search", response_model=SearchOut)
async def api_search(
    request: Request,
    q: str = Query("", description="检索词"),
    limit: int = Query(10, ge=1, le=50),
    offset: int = Query(0, ge=0, le=1000),
    category: str | None = None,
    department: str | None = None,
) -> Response:
    """Published documents matching q (ranked), with highlighted snippets. Runs on the event loop
    (a ~2 ms CPU-bound call: a thread hop would only add work) with its own unit of work (session_scope:
    the only write a search makes is a gap logged)."""
    q = clean_query(q)
    if not q:
        return JSONResponse({"query": "", "total": 0, "suggestion": None, "hits": []})
    with session_scope() as db:
        results = kb.search(
            db,
            q,
            limit=limit,
            offset=offset,
            category=category or None,
            department=department or None,
            client=client_key(request),
        )
    return JSONResponse(
        {
            "query": results.query,
            "total": results.total,
            "suggestion": results.suggestion,
            "hits": [hit_json(h) for h in results.hits],
        }
    )


@api_router.get("/api/suggest")
def api_suggest(q: str = "", limit: int = Query(8, ge=1, le=20)) -> list[str]:
    """Titles starting with / matching the typed prefix."""
    q = clean_query(q)
    if not q:
        return []
    with new_session() as db:
        return kb.suggest(db, q, limit=limit)


@api_router.get("/api/categories")
def api_categories() -> list[str]:
    return list(kb.CATEGORIES)


@router.get("/api/documents/{doc_id}", tags=[PUBLIC], response_model=DocumentOut)
def api_document(db: SessionDep, doc_id: int) -> dict[str, Any]:
    """One published document."""
    return as_dict(_document_or_404(db, doc_id))


@router.post("/api/documents/{doc_id}/feedback", tags=[PUBLIC], response_model=Ok)
def api_feedback(request: Request, db: SessionDep, doc_id: int, body: FeedbackIn) -> Response:
    """A refusal (past the hourly limit) is web.app's 400 with its message."""
    doc = _document_or_404(db, doc_id)
    kb.record_feedback(
        db, doc.id, body.helpful, comment=body.comment.strip(), client=client_key(request), query=body.query
    )
    return JSONResponse({"ok": True})


@router.get("/healthz")
def healthz() -> JSONResponse:
    """For the load balancer: 200 when this node can serve, else 503 with the reason in "status"
    (hotline.node.health: database, index, change-feed position, drain flag)."""
    now = node.health()
    return JSONResponse(now.as_dict(), status_code=200 if now.ok else 503)
