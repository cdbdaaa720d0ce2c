"""Editors' and reviewers' pages and the staff JSON API: permissions, workflow, forms, gaps, synonyms."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

import kb
from hotline.db import session_scope
from tests.conftest import login, make_user
from tests.web.test_public_portal import add_document

FORM = {
    "title": "居住证签注办理指南",
    "category": "办事指南",
    "department": "市公安局",
    "keywords": "居住证，签注",
    "body": "# 办理材料\n- 居住证原件\n- 身份证",
}


def create_via_form(client: TestClient, token: str, **changes: str) -> int:
    resp = client.post("/editor/new", data=FORM | changes | {"csrf_token": token}, follow_redirects=False)
    assert resp.status_code == 303, resp.text
    match = re.fullmatch(r"/editor/documents/(\d+)", resp.headers["location"])
    assert match
    return int(match.group(1))


def status_of(doc_id: int) -> str:
    with session_scope() as session:
        return kb.get_document_row(session, doc_id).status


def public_hits(client: TestClient, q: str) -> list[int]:
    return [h["id"] for h in client.get("/api/search", params={"q": q}).json()["hits"]]


def test_anonymous_is_sent_to_login_and_api_says_401(sqlite_client: TestClient) -> None:
    for url in ("/editor", "/editor/new", "/editor/review", "/editor/gaps", "/editor/synonyms"):
        resp = sqlite_client.get(url, follow_redirects=False)
        assert resp.status_code == 303
        assert resp.headers["location"].startswith("/login?next=")
    assert sqlite_client.get("/api/kb/documents").status_code == 401


def test_department_user_gets_403(sqlite_client: TestClient) -> None:
    make_user("dept", ["department"], department="市公安局")
    login(sqlite_client, "dept")
    resp = sqlite_client.get("/editor")
    assert resp.status_code == 403
    assert "没有访问该页面的权限" in resp.text
    assert sqlite_client.get("/api/kb/documents").status_code == 403


def test_full_workflow_draft_submit_approve_visible_withdraw_gone(client: TestClient) -> None:
    make_user("ed", ["editor"])
    make_user("rev", ["reviewer"])
    token = login(client, "ed")
    doc_id = create_via_form(client, token)
    assert status_of(doc_id) == "draft"
    assert doc_id not in public_hits(client, "居住证签注")
    assert client.get(f"/documents/{doc_id}").status_code == 404

    resp = client.post(
        f"/editor/documents/{doc_id}/submit", data={"csrf_token": token}, follow_redirects=False
    )
    assert resp.status_code == 303 and status_of(doc_id) == "submitted"
    detail = client.get(f"/editor/documents/{doc_id}").text
    assert "已提交审核" in detail and "审核通过并发布" not in detail

    # an editor cannot approve
    resp = client.post(f"/editor/documents/{doc_id}/approve", data={"csrf_token": token})
    assert resp.status_code == 403 and status_of(doc_id) == "submitted"

    token = login(client, "rev")
    queue = client.get("/editor/review").text
    assert "居住证签注办理指南" in queue
    resp = client.post(
        f"/editor/documents/{doc_id}/approve", data={"csrf_token": token}, follow_redirects=False
    )
    assert resp.status_code == 303 and status_of(doc_id) == "published"
    assert doc_id in public_hits(client, "居住证签注")
    assert client.get(f"/documents/{doc_id}").status_code == 200

    resp = client.post(
        f"/editor/documents/{doc_id}/withdraw",
        data={"csrf_token": token, "comment": "政策调整"},
        follow_redirects=False,
    )
    assert resp.status_code == 303 and status_of(doc_id) == "withdrawn"
    assert doc_id not in public_hits(client, "居住证签注")
    assert client.get(f"/documents/{doc_id}").status_code == 404

    history = client.get(f"/editor/documents/{doc_id}").text
    assert "政策调整" in history and "rev" in history and "ed" in history


def test_reviewer_cannot_approve_own_edit(sqlite_client: TestClient) -> None:
    make_user("both", ["editor", "reviewer"])
    make_user("rev2", ["reviewer"])
    token = login(sqlite_client, "both")
    doc_id = create_via_form(sqlite_client, token)
    sqlite_client.post(f"/editor/documents/{doc_id}/submit", data={"csrf_token": token})
    assert "需由其他审核人员审核通过" in sqlite_client.get(f"/editor/documents/{doc_id}").text
    resp = sqlite_client.post(f"/editor/documents/{doc_id}/approve", data={"csrf_token": token})
    assert resp.status_code == 403 and "不能审核通过自己" in resp.text
    api = sqlite_client.post(f"/api/kb/documents/{doc_id}/approve", json={}, headers={"X-CSRF-Token": token})
    assert api.status_code == 403
    assert status_of(doc_id) == "submitted"

    token = login(sqlite_client, "rev2")
    sqlite_client.post(f"/editor/documents/{doc_id}/approve", data={"csrf_token": token})
    assert status_of(doc_id) == "published"


def test_reject_needs_a_comment(sqlite_client: TestClient) -> None:
    doc_id = add_document("待退回的文档", "内容不完整。", publish=False)
    with session_scope() as session:
        kb.submit_document(session, doc_id, actor="seed-editor")
    make_user("rev", ["reviewer"])
    token = login(sqlite_client, "rev")
    resp = sqlite_client.post(
        f"/editor/documents/{doc_id}/reject", data={"csrf_token": token, "comment": " "}
    )
    assert resp.status_code == 200 and status_of(doc_id) == "submitted"
    assert 'class="flash error"' in resp.text
    api = sqlite_client.post(
        f"/api/kb/documents/{doc_id}/reject", json={"comment": ""}, headers={"X-CSRF-Token": token}
    )
    assert api.status_code in (400, 409) and api.json()["detail"]
    sqlite_client.post(
        f"/editor/documents/{doc_id}/reject", data={"csrf_token": token, "comment": "请补充办理时限"}
    )
    assert status_of(doc_id) == "draft"  # back to the editor
    detail = sqlite_client.get(f"/editor/documents/{doc_id}").text
    assert "请补充办理时限" in detail and "提交审核" in detail


def test_csrf_is_required_and_nothing_is_created_without_it(sqlite_client: TestClient) -> None:
    make_user("ed", ["editor"])
    login(sqlite_client, "ed")
    resp = sqlite_client.post("/editor/new", data=FORM)
    assert resp.status_code == 403
    assert sqlite_client.post("/api/kb/documents", json=FORM).status_code == 403
    with session_scope() as session:
        assert kb.list_documents(session)[1] == 0


def test_invalid_form_keeps_the_input_and_explains(sqlite_client: TestClient) -> None:
    make_user("ed", ["editor"])
    token = login(sqlite_client, "ed")
    body = "很长的正文，不能因为标题没填就丢失。"
    resp = sqlite_client.post("/editor/new", data=FORM | {"title": "", "body": body, "csrf_token": token})
    assert resp.status_code == 400
    assert body in resp.text and "标题：" in resp.text
    resp = sqlite_client.post("/editor/new", data=FORM | {"valid_until": "明年", "csrf_token": token})
    assert resp.status_code == 400 and "YYYY-MM-DD" in resp.text and FORM["title"] in resp.text
    with session_scope() as session:
        assert kb.list_documents(session)[1] == 0


def test_live_preview_renders_markdown_escaped(sqlite_client: TestClient) -> None:
    make_user("ed", ["editor"])
    token = login(sqlite_client, "ed")
    resp = sqlite_client.post(
        "/editor/preview",
        data={"body": "# 标题\n**加粗** <script>alert(1)</script>", "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert resp.status_code == 200
    assert "<h1>标题</h1>" in resp.text and "<strong>加粗</strong>" in resp.text
    assert "<script>" not in resp.text and "<html" not in resp.text


def test_edit_of_published_document_shows_diff_for_review(sqlite_client: TestClient) -> None:
    doc_id = add_document("护照办理指南", "办理护照需要身份证。")
    make_user("ed", ["editor"])
    token = login(sqlite_client, "ed")
    form = sqlite_client.get(f"/editor/documents/{doc_id}/edit").text
    assert "办理护照需要身份证。" in form
    resp = sqlite_client.post(
        f"/editor/documents/{doc_id}/edit",
        data={
            "title": "护照办理指南",
            "category": "办事指南",
            "body": "办理护照需要身份证和照片。",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert resp.status_code == 303
    diff = sqlite_client.get(f"/api/kb/documents/{doc_id}/diff").json()
    assert any(line.startswith("+") and "照片" in line for line in diff)
    page = sqlite_client.get(f"/editor/documents/{doc_id}").text
    assert "<ins>和照片</ins>" in page  # the side-by-side comparison, word by word


def test_editor_list_filters_and_search_include_drafts(sqlite_client: TestClient) -> None:
    add_document("已发布的婚姻登记指南", "婚姻登记需要户口簿。")
    add_document("婚姻登记草稿", "婚姻登记草稿内容。", publish=False)
    make_user("ed", ["editor"])
    login(sqlite_client, "ed")
    drafts = sqlite_client.get("/editor", params={"status": "draft"}).text
    assert "婚姻登记草稿" in drafts and "已发布的婚姻登记指南" not in drafts
    found = sqlite_client.get("/editor", params={"q": "婚姻登记"}, headers={"HX-Request": "true"}).text
    assert "婚姻登记草稿" in found and "已发布的婚姻登记指南" in found and "<html" not in found


def test_gap_list_resolve_and_create_from_query(sqlite_client: TestClient) -> None:
    sqlite_client.get("/search", params={"q": "养犬登记"})
    make_user("ed", ["editor"])
    token = login(sqlite_client, "ed")
    page = sqlite_client.get("/editor/gaps").text
    assert "养犬登记" in page
    with session_scope() as session:
        gap_id = next(g.id for g in kb.list_gaps(session) if g.query == "养犬登记")
    form = sqlite_client.get("/editor/new", params={"title": "养犬登记", "gap": gap_id}).text
    assert 'value="养犬登记"' in form and f'name="gap_id" value="{gap_id}"' in form
    create_via_form(
        sqlite_client, token, title="养犬登记办理指南", body="养犬登记需要犬只免疫证明。", gap_id=str(gap_id)
    )
    assert "养犬登记" not in sqlite_client.get("/editor/gaps").text

    sqlite_client.get("/search", params={"q": "无人机备案"})
    with session_scope() as session:
        gap_id = next(g.id for g in kb.list_gaps(session) if g.query == "无人机备案")
    sqlite_client.post(f"/editor/gaps/{gap_id}/resolve", data={"csrf_token": token})
    assert "无人机备案" not in sqlite_client.get("/editor/gaps").text
    assert "无人机备案" in sqlite_client.get("/editor/gaps", params={"resolved": "true"}).text


def test_synonym_management(sqlite_client: TestClient) -> None:
    make_user("ed", ["editor"])
    token = login(sqlite_client, "ed")
    resp = sqlite_client.post("/editor/synonyms", data={"words": "医保，医疗保险", "csrf_token": token})
    assert resp.status_code == 200  # redirected back to the list
    assert "医疗保险" in resp.text
    groups = sqlite_client.get("/api/kb/synonyms").json()
    group = next(g for g in groups if "医保" in str(g["words"]))
    sqlite_client.post(
        "/editor/synonyms",
        data={"words": "医保 医疗保险 基本医疗保险", "group_id": group["id"], "csrf_token": token},
    )
    assert "基本医疗保险" in sqlite_client.get("/editor/synonyms").text
    sqlite_client.post(f"/editor/synonyms/{group['id']}/delete", data={"csrf_token": token})
    assert "基本医疗保险" not in sqlite_client.get("/editor/synonyms").text


def test_staff_json_api_workflow(client: TestClient) -> None:
    make_user("ed", ["editor"])
    make_user("rev", ["reviewer"])
    token = login(client, "ed")
    headers = {"X-CSRF-Token": token}
    bad = client.post("/api/kb/documents", json={"category": "办事指南", "body": "x"}, headers=headers)
    assert bad.status_code == 422 and "title" in bad.json()["errors"]
    created = client.post(
        "/api/kb/documents",
        json={"title": "电动自行车登记指南", "category": "办事指南", "body": "电动自行车登记需要购车发票。"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    doc_id = created.json()["id"]
    assert created.json()["status"] == "draft"
    listed = client.get("/api/kb/documents", params={"status": "draft"}).json()
    assert any(item["id"] == doc_id for item in listed["items"])
    assert (
        client.post(f"/api/kb/documents/{doc_id}/submit", json={}, headers=headers).json()["status"]
        == "submitted"
    )
    assert client.post(f"/api/kb/documents/{doc_id}/approve", json={}, headers=headers).status_code == 403

    headers = {"X-CSRF-Token": login(client, "rev")}
    approved = client.post(f"/api/kb/documents/{doc_id}/approve", json={}, headers=headers)
    assert approved.status_code == 200 and approved.json()["status"] == "published"
    assert doc_id in public_hits(client, "电动自行车登记")
    again = client.post(f"/api/kb/documents/{doc_id}/approve", json={}, headers=headers)
    assert again.status_code == 409
    history = client.get(f"/api/kb/documents/{doc_id}/history").json()
    assert {"ed", "rev"} <= {h["actor"] for h in history}
    assert client.get("/api/kb/documents/999999").status_code == 404


def test_public_keeps_the_published_version_until_the_edit_is_approved(client: TestClient) -> None:
    doc_id = add_document("出入境证件办理指南", "办理出入境证件需要身份证。")
    make_user("ed", ["editor"])
    make_user("rev", ["reviewer"])
    token = login(client, "ed")
    edited = {
        "title": "出入境证件办理指南",
        "category": "办事指南",
        "body": "办理出入境证件需要身份证和户口簿。",
    }
    client.post(
        f"/editor/documents/{doc_id}/edit", data=edited | {"csrf_token": token, "comment": "补充材料"}
    )
    client.post(f"/editor/documents/{doc_id}/submit", data={"csrf_token": token})
    assert "户口簿" not in client.get(f"/documents/{doc_id}").text
    detail = client.get(f"/editor/documents/{doc_id}").text
    assert "户口簿" in detail and "补充材料" in detail and "公开中" in detail

    token = login(client, "rev")
    client.post(f"/editor/documents/{doc_id}/approve", data={"csrf_token": token})
    assert "户口簿" in client.get(f"/documents/{doc_id}").text
    assert "审核通过并发布" in client.get(f"/editor/documents/{doc_id}").text


def test_unchanged_edit_and_edit_during_review_are_refused_without_loss(sqlite_client: TestClient) -> None:
    doc_id = add_document("结婚登记指南", "结婚登记需要户口簿。", publish=False)
    make_user("ed", ["editor"])
    token = login(sqlite_client, "ed")
    same = {
        "title": "结婚登记指南",
        "category": "办事指南",
        "body": "结婚登记需要户口簿。",
        "csrf_token": token,
    }
    resp = sqlite_client.post(f"/editor/documents/{doc_id}/edit", data=same)
    assert resp.status_code == 400 and "内容没有变化" in resp.text
    sqlite_client.post(f"/editor/documents/{doc_id}/submit", data={"csrf_token": token})
    changed = same | {"body": "结婚登记需要户口簿和照片。"}
    resp = sqlite_client.post(f"/editor/documents/{doc_id}/edit", data=changed)
    assert resp.status_code == 409 and "审核中" in resp.text
    assert "结婚登记需要户口簿和照片。" in resp.text  # the editor's text is still in the form


def test_usage_statistics_per_document(sqlite_client: TestClient) -> None:
    doc_id = add_document("垃圾分类投放指南", "可回收物投放到蓝色垃圾桶。")
    sqlite_client.get(f"/documents/{doc_id}")
    sqlite_client.get(f"/documents/{doc_id}")
    token = sqlite_client.get("/api/session").json()["csrf_token"]
    sqlite_client.post(f"/documents/{doc_id}/feedback", data={"helpful": "yes", "csrf_token": token})
    make_user("ed", ["editor"])
    login(sqlite_client, "ed")
    html = sqlite_client.get(f"/editor/documents/{doc_id}").text
    assert "浏览 2 次 · 有帮助 1 · 没有帮助 0" in html


NOTICE = (
    "为做好疫情防控期间纳税服务，按月申报的纳税人、扣缴义务人，2月份申报纳税期限延长至2月24日；"
    "受疫情影响不能按期申报的，可依法办理延期申报。纳税人可通过电子税务局、手机APP办理涉税事项，"
    "确需到办税服务厅办理的，请提前预约，错峰办税。"
)


def test_near_duplicate_documents_are_flagged_to_editors(client: TestClient) -> None:
    original = add_document("关于延长2月份纳税申报期限的通告", NOTICE)
    copy = add_document(
        "转发：关于延长2月份纳税申报期限的通告", "各单位：现将通告转发如下。" + NOTICE, publish=False
    )
    other = add_document("居住证签注办理指南", "携带居住证原件和身份证到派出所窗口办理签注。")
    make_user("editor1", ["editor"])
    login(client, "editor1")

    similar = client.get(f"/api/kb/documents/{copy}/similar").json()
    assert [s["id"] for s in similar] == [original]
    assert similar[0]["status"] == "published" and 0.6 <= similar[0]["similarity"] < 1
    assert [s["id"] for s in client.get(f"/api/kb/documents/{original}/similar").json()] == [copy]
    assert client.get(f"/api/kb/documents/{other}/similar").json() == []

    page = client.get(f"/editor/documents/{copy}").text
    assert "疑似重复" in page and f'href="/editor/documents/{original}"' in page
    assert "疑似重复" not in client.get(f"/editor/documents/{other}").text
    assert client.get("/api/kb/documents/999999/similar").status_code == 404
