"""The web layer's shape: one unit of work per request (committed when the route returns, rolled back
when it raises), domain refusals (KbError, CaseError) turned into the page's message or a JSON error by
web.app, and the four-eyes rule of KB review held by kb itself."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

import casework
import kb
from hotline import audit
from hotline.db import session_scope
from hotline.models import AuditEntry
from tests.conftest import login, make_user
from tests.web.test_department_portal import referred_case, staff, two_departments
from web.app import ROUTERS, create_app
from web.routes import public
from web.security import SessionDep
from web.templating import back_to


def _audited(action: str) -> int:
    with session_scope() as db:
        return len(db.scalars(select(AuditEntry).where(AuditEntry.action == action)).all())


def _events(case_number: str) -> int:
    with session_scope() as db:
        case = casework.get_case(db, case_number)
        assert case is not None
        return len(casework.timeline(db, case))


@pytest.fixture
def probe_client(hotline_env: Path) -> TestClient:
    """The app with two probe routes that write, then are refused or not."""
    app = create_app()

    def write_then(db: SessionDep, refuse: str = "") -> dict[str, bool]:
        audit.record(db, actor="probe", action="probe.write", entity="probe", entity_id=1)
        db.flush()
        if refuse == "case":
            raise casework.CaseError("该工单状态已变化，请刷新。")
        if refuse == "kb":
            raise kb.EditConflict()
        return {"ok": True}

    app.add_api_route("/api/probe", write_then, methods=["GET"])
    app.add_api_route("/probe/items/7/act", write_then, methods=["GET"])
    app.add_api_route("/probe/elsewhere", write_then, methods=["GET"], dependencies=[back_to("/probe/list")])
    return TestClient(app)


def test_committed_when_the_route_returns_rolled_back_when_refused(probe_client: TestClient) -> None:
    assert probe_client.get("/api/probe").json() == {"ok": True}
    assert _audited("probe.write") == 1
    refused = probe_client.get("/api/probe", params={"refuse": "case"})
    assert refused.status_code == 400 and refused.json() == {"detail": "该工单状态已变化，请刷新。"}
    conflict = probe_client.get("/api/probe", params={"refuse": "kb"})
    assert conflict.status_code == 409 and conflict.json() == {"detail": "文档已被他人修改，请刷新后再编辑。"}
    assert _audited("probe.write") == 1  # neither refused request kept its write


def test_a_refused_page_action_goes_back_with_the_message(probe_client: TestClient) -> None:
    page = probe_client.get("/probe/items/7/act", params={"refuse": "case"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/probe/items/7"
    other = probe_client.get("/probe/elsewhere", params={"refuse": "case"}, follow_redirects=False)
    assert other.status_code == 303 and other.headers["location"] == "/probe/list"
    assert _audited("probe.write") == 0


def test_a_refused_case_action_changes_nothing_and_says_why(client: TestClient) -> None:
    mine, _ = two_departments()
    number = referred_case(mine)
    t = staff(client, mine)
    assert client.post(f"/department/cases/{number}/accept", data={"csrf_token": t}).status_code == 200
    events = _events(number)
    again = client.post(f"/department/cases/{number}/accept", data={"csrf_token": t}, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == f"/department/cases/{number}"
    page = client.get(again.headers["location"])
    assert 'class="flash error"' in page.text
    assert _events(number) == events


def test_nobody_approves_their_own_version(client: TestClient) -> None:
    with session_scope() as db:
        doc = kb.create_document(
            db, kb.DocumentInput(title="四眼原则", category=kb.CATEGORIES[0], body="正文内容。"), actor="rev1"
        )
        kb.submit_document(db, doc.id, actor="rev1")
        doc_id = doc.id
    with session_scope() as db, pytest.raises(kb.NotPermitted):
        kb.approve_document(db, doc_id, actor="rev1")  # the rule holds outside the web too
    make_user("rev1", ["reviewer"])
    t = login(client, "rev1")
    page = client.post(f"/editor/documents/{doc_id}/approve", data={"csrf_token": t})
    assert page.status_code == 403 and "不能审核通过自己编辑或提交的内容" in page.text
    with session_scope() as db:
        assert kb.may_approve(db, doc_id, "rev2") and not kb.may_approve(db, doc_id, "rev1")
        row = kb.get_document_row(db, doc_id)
        assert row is not None and row.status == "submitted"


def test_handlers_run_off_the_event_loop() -> None:
    """Plain def handlers (the thread pool) wherever there is blocking work; the event loop also
    carries live calls (/voice). /api/search stays async: a ~2 ms CPU-bound call (web.routes.public)."""
    routers = [public.api_router, *(module.router for module in ROUTERS)]
    routes = [r for router in routers for r in router.routes if isinstance(r, APIRoute)]
    assert len(routes) > 100
    assert [r.path for r in routes if inspect.iscoroutinefunction(r.endpoint)] == ["/api/search"]
