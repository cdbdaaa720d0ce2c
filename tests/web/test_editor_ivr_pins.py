"""Editors pin published documents to the keys of an IVR menu category (/editor/ivr): order, checks,
roles, CSRF and the audit trail, on both databases."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

import kb
from hotline.db import session_scope
from hotline.models import AuditEntry
from tests.conftest import login, make_user
from tests.selfservice.conftest import run_call, use_menu_tree
from tests.web.test_public_portal import add_document


def _three_policies() -> list[int]:
    return [
        add_document(f"政策文件{n}", f"第{n}号政策的内容。", category="政策法规", published_at=f"2024-0{n}-01")
        for n in (1, 2, 3)
    ]


def _heard(html: str, category: str) -> list[str]:
    """The titles listed under 'what callers hear' for a category on the pins page."""
    section = html.split(f">{category}（", 1)[1].split("</ol>", 1)[0]
    return [t.strip() for t in re.findall(r"<li>按\d+：([^<（]+)", section)]


def _pin(client: TestClient, token: str, documents: str, category: str = "政策法规"):  # noqa: ANN202
    return client.post(
        "/editor/ivr",
        data={"csrf_token": token, "category": category, "documents": documents},
        follow_redirects=False,
    )


def test_an_editor_pins_documents_in_order_and_the_listing_follows(client: TestClient) -> None:
    first, second, third = _three_policies()
    make_user("ed", ["editor"])
    token = login(client, "ed")
    page = client.get("/editor/ivr")
    assert page.status_code == 200 and "电话菜单置顶" in page.text
    assert _heard(page.text, "政策法规") == ["政策文件3", "政策文件2", "政策文件1"]  # newest first, no pins

    resp = _pin(client, token, f"{first}，{third}")
    assert resp.status_code == 303 and resp.headers["location"] == "/editor/ivr"
    page = client.get("/editor/ivr").text
    assert "已保存“政策法规”的电话菜单置顶。" in page
    assert _heard(page, "政策法规") == ["政策文件1", "政策文件3", "政策文件2"]
    with session_scope() as session:
        assert [d.id for d in kb.pinned_documents(session, "政策法规")] == [first, third]
        assert kb.ivr_listing(session, "政策法规", 2) == [(first, "政策文件1"), (third, "政策文件3")]
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "kb.ivr_pins")).all()
        assert entry.actor == "ed" and entry.entity_id == "政策法规"
        assert entry.detail == {"before": [], "after": [first, third]}

    assert _pin(client, token, "").status_code == 303  # unpinned: the stable order again
    assert _heard(client.get("/editor/ivr").text, "政策法规") == ["政策文件3", "政策文件2", "政策文件1"]


def test_bad_pins_are_refused_with_a_message_and_nothing_changes(client: TestClient) -> None:
    first, second, _third = _three_policies()
    draft = add_document("未发布的草稿", "草稿内容。", category="政策法规", publish=False)
    make_user("ed", ["editor"])
    token = login(client, "ed")
    assert _pin(client, token, str(second)).status_code == 303
    cases = {
        f"{first},{first}": "同一文档不能重复置顶。",
        str(draft): "只能置顶已发布且在有效期内的文档：未发布的草稿。",
        "999999": "文档不存在：999999。",
        "一号": "文档编号应为数字，用逗号分隔。",
        "1,2,3,4,5,6": "“政策法规”在电话里只读 5 项，最多置顶 5 篇。",
    }
    for documents, message in cases.items():
        resp = _pin(client, token, documents)
        assert resp.status_code == 400 and message in resp.text, documents
    resp = _pin(client, token, str(first), category="不存在的栏目")
    assert resp.status_code == 400 and "语音菜单中没有这个栏目。" in resp.text
    with session_scope() as session:
        assert [d.id for d in kb.pinned_documents(session, "政策法规")] == [second]


def test_a_withdrawn_pin_is_skipped_and_the_keys_move_up(client: TestClient) -> None:
    first, second, third = _three_policies()
    with session_scope() as session:
        kb.set_pins(session, "政策法规", [first, second], actor="ed")
        kb.withdraw_document(session, first, actor="rev", comment="已废止")
    with session_scope() as session:
        assert [t for _, t in kb.ivr_listing(session, "政策法规", 5)] == ["政策文件2", "政策文件3"]


def test_only_editors_and_reviewers_pin_and_csrf_is_required(client: TestClient) -> None:
    first, *_ = _three_policies()
    make_user("agent1", ["agent"])
    token = login(client, "agent1")
    assert client.get("/editor/ivr").status_code == 403
    assert _pin(client, token, str(first)).status_code == 403
    make_user("rev", ["reviewer"])
    token = login(client, "rev")
    resp = client.post("/editor/ivr", data={"category": "政策法规", "documents": str(first)})
    assert resp.status_code in (400, 403) and "政策文件" not in resp.text  # no CSRF token: refused
    with session_scope() as session:
        assert kb.pinned_documents(session, "政策法规") == []
    assert _pin(client, token, str(first)).status_code == 303


def test_the_pin_buttons_append_a_document_and_unpin_it(client: TestClient) -> None:
    first, second, _third = _three_policies()
    make_user("ed", ["editor"])
    login(client, "ed")
    page = client.get("/editor/ivr").text
    section = page.split(">政策法规（", 1)[1].split("</section>", 1)[0]
    buttons = re.findall(r'name="documents" value="([^"]*)">\s*<button[^>]*>([^<]+)</button>', section)
    assert (str(second), "置顶到按1") in buttons
    form = {"csrf_token": client.get("/api/session").json()["csrf_token"], "category": "政策法规"}
    client.post("/editor/ivr", data=form | {"documents": str(second)})
    section = client.get("/editor/ivr").text.split(">政策法规（", 1)[1].split("</section>", 1)[0]
    buttons = re.findall(r'name="documents" value="([^"]*)">\s*<button[^>]*>([^<]+)</button>', section)
    assert (f"{second},{first}", "置顶到按2") in buttons and ("", "取消置顶") in buttons
    client.post("/editor/ivr", data=form | {"documents": ""})
    with session_scope() as session:
        assert kb.pinned_documents(session, "政策法规") == []


def test_a_listing_in_a_sub_menu_says_the_keys_that_reach_it_and_its_pins_are_heard(
    sqlite_client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Main-menu key 2 is a sub-menu: 办事指南 is its key 1, 政策法规 (also main-menu key 1) is curated once."""
    use_menu_tree(tmp_path, monkeypatch)
    first, _ = (
        add_document(f"办事指南{n}", f"第{n}项指南。", category="办事指南", published_at=f"2024-0{n}-01")
        for n in (1, 2)
    )
    make_user("ed", ["editor"])
    token = login(sqlite_client, "ed")
    page = sqlite_client.get("/editor/ivr").text
    assert ">政策法规（主菜单按1，读前5项）" in page and ">办事指南（主菜单按2 → 按1，读前5项）" in page
    assert page.count(">政策法规（") == 1
    assert _pin(sqlite_client, token, str(first), category="办事指南").status_code == 303
    assert _heard(sqlite_client.get("/editor/ivr").text, "办事指南") == ["办事指南1", "办事指南2"]
    heard = run_call("press 2\npress 1\nhangup").prompts
    assert any(p.startswith("以下是办事指南的主要内容。") and "第1项请按1，办事指南1。" in p for p in heard), heard
