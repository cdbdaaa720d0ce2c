"""Editors see what readers say (issue 13, item 6), over HTTP on both databases: feedback with the query
that led to the document, per document and in a list; views that leave 更新时间 alone; local time on
every editor page; the word-level side-by-side comparison; the reviewer's reason at the top of a returned
draft; the review-due list; scheduled publish and withdrawal from the pages."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from fastapi.testclient import TestClient

import kb
from casework.calendar import LOCAL_TZ
from hotline.db import session_scope, utcnow
from tests.conftest import login, make_user
from tests.web.test_public_portal import add_document

BODY = "职工购买自住住房的，可以申请提取住房公积金。需携带身份证和购房合同。"


def _rows_of_list(html: str) -> list[str]:
    return re.findall(r'<a href="/editor/documents/\d+">([^<]+)</a>', html)


def test_feedback_reaches_the_editor_with_the_query_that_led_to_the_document(client: TestClient) -> None:
    doc_id = add_document("住房公积金提取办理指南", BODY, keywords=["公积金", "提取"])
    results = client.get("/search", params={"q": "公积金提取"}).text
    assert f'href="/documents/{doc_id}?q=%E5%85%AC%E7%A7%AF%E9%87%91%E6%8F%90%E5%8F%96"' in results
    page = client.get(f"/documents/{doc_id}", params={"q": "公积金提取"}).text
    assert '<input type="hidden" name="q" value="公积金提取">' in page
    token = client.get("/api/session").json()["csrf_token"]
    resp = client.post(
        f"/documents/{doc_id}/feedback",
        data={
            "csrf_token": token,
            "helpful": "no",
            "q": "公积金提取",
            "comment": "<b>没写</b>办理时限，电话13812345678",
        },
    )
    assert resp.status_code == 200 and "感谢您的反馈" in resp.text
    api = client.post(
        f"/api/documents/{doc_id}/feedback",
        json={"helpful": True, "query": "公积金怎么取"},
        headers={"X-CSRF-Token": token},
    )
    assert api.status_code == 200 and api.json() == {"ok": True}

    make_user("ed", ["editor"])
    login(client, "ed")
    detail = client.get(f"/editor/documents/{doc_id}").text
    section = detail.split('id="feedback"', 1)[1].split("</section>", 1)[0]
    assert "读者反馈（共 2 条）" in section
    assert "公积金提取" in section and "公积金怎么取" in section
    assert "&lt;b&gt;没写&lt;/b&gt;办理时限" in section and "<b>没写" not in section  # escaped
    assert "13812345678" not in section and "138****5678" in section  # masked
    listing = client.get("/editor/feedback", params={"unhelpful": "true"}).text
    assert "住房公积金提取办理指南" in listing and "公积金提取" in listing
    assert "公积金怎么取" not in listing  # the helpful one is filtered out
    assert "公积金怎么取" in client.get("/editor/feedback").text


def test_a_public_view_does_not_make_a_document_recently_updated(client: TestClient) -> None:
    read = add_document("居住证办理指南", "居住证可在派出所办理。")
    add_document("社保卡补办指南", "社保卡丢失后可到银行网点补办。")
    make_user("ed", ["editor"])
    login(client, "ed")
    assert _rows_of_list(client.get("/editor").text)[:2] == ["社保卡补办指南", "居住证办理指南"]
    with session_scope() as s:
        stamp = kb.get_document_row(s, read).updated_at
    for _ in range(3):
        assert client.get(f"/documents/{read}").status_code == 200
    token = client.get("/api/session").json()["csrf_token"]
    client.post(f"/documents/{read}/feedback", data={"csrf_token": token, "helpful": "yes"})
    with session_scope() as s:
        row = kb.get_document_row(s, read)
        assert row.views == 3 and row.helpful_count == 1 and row.updated_at == stamp
    assert _rows_of_list(client.get("/editor").text)[:2] == ["社保卡补办指南", "居住证办理指南"]


def test_editor_pages_show_times_in_local_time(client: TestClient) -> None:
    doc_id = add_document("居住证办理指南", "居住证可在派出所办理。")
    make_user("ed", ["editor"])
    login(client, "ed")
    with session_scope() as s:
        row = kb.get_document_row(s, doc_id)
        updated = row.updated_at
        created = kb.history(s, doc_id)[0].at
    local = updated.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")
    utc = updated.strftime("%Y-%m-%d %H:%M")
    assert local != utc  # Asia/Shanghai is UTC+8
    listing = client.get("/editor").text
    assert local in listing and utc not in listing
    detail = client.get(f"/editor/documents/{doc_id}").text
    assert created.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S") in detail


def test_the_comparison_is_side_by_side_word_by_word(client: TestClient) -> None:
    doc_id = add_document("居住证办理指南", "申请人需携带身份证。\n办理地点：<script>x</script>派出所")
    make_user("ed", ["editor"])
    token = login(client, "ed")
    resp = client.post(
        f"/editor/documents/{doc_id}/edit",
        data={
            "csrf_token": token,
            "title": "居住证办理指南",
            "category": "办事指南",
            "body": "申请人需携带身份证和租房合同。\n办理地点：<script>x</script>派出所",
            "comment": "补充材料",
        },
        follow_redirects=False,
    )
    assert resp.status_code == 303
    detail = client.get(f"/editor/documents/{doc_id}").text
    block = detail.split('id="comparison"', 1)[1].split("</section>", 1)[0]
    assert 'class="diff-table"' in block
    row = re.search(r'<tr class="diff-changed"><td>(.*?)</td><td>(.*?)</td></tr>', block)
    assert row is not None
    assert "<ins>和租房合同</ins>" in row.group(2) and "申请人需携带身份证" in row.group(1)
    assert "<script>" not in block and "&lt;script&gt;x&lt;/script&gt;派出所" in block
    back = client.get(f"/editor/documents/{doc_id}", params={"old": 2, "new": 1}).text
    assert "<del>和租房合同</del>" in back
    # the unified diff of the staff API stays as it was
    lines = client.get(f"/api/kb/documents/{doc_id}/diff").json()
    assert any(line.startswith("+") and "租房合同" in line for line in lines)


def test_a_returned_draft_shows_the_reason_at_the_top(client: TestClient) -> None:
    doc_id = add_document("待退回的文档", "内容不完整。", publish=False)
    with session_scope() as s:
        kb.submit_document(s, doc_id, actor="seed-editor")
    make_user("rev", ["reviewer"])
    token = login(client, "rev")
    client.post(
        f"/editor/documents/{doc_id}/reject", data={"csrf_token": token, "comment": "请补充<办理时限>"}
    )
    make_user("ed", ["editor"])
    login(client, "ed")
    pages = {f"/editor/documents/{doc_id}": "<h1", f"/editor/documents/{doc_id}/edit": 'class="ed-form"'}
    for url, first_content in pages.items():
        html = client.get(url).text
        top = html.split('class="ed-tabs"', 1)[1].split(first_content, 1)[0]
        assert 'id="returned"' in top and "审核退回意见" in top
        assert "请补充&lt;办理时限&gt;" in top and "rev" in top


def test_the_review_due_list(client: TestClient) -> None:
    due = add_document("到期复核的文档", "内容。", review_due=date.today() - timedelta(days=1))
    add_document("未到期的文档", "内容。", review_due=date.today() + timedelta(days=30))
    make_user("ed", ["editor"])
    login(client, "ed")
    html = client.get("/editor", params={"status": "review_due"}).text
    assert "待复核文档" in html and 'href="/editor?status=review_due" aria-current="page"' in html
    assert _rows_of_list(html) == ["到期复核的文档"]
    assert str(date.today() - timedelta(days=1)) in html
    assert due


def test_scheduled_publish_and_withdrawal_from_the_pages(client: TestClient) -> None:
    doc_id = add_document("社保卡补办指南", "社保卡丢失后可到银行网点补办。", publish=False)
    with session_scope() as s:
        kb.submit_document(s, doc_id, actor="seed-editor")
    make_user("rev", ["reviewer"])
    token = login(client, "rev")
    at = (datetime.now(LOCAL_TZ) + timedelta(hours=2)).replace(second=0, microsecond=0)
    resp = client.post(
        f"/editor/documents/{doc_id}/approve",
        data={"csrf_token": token, "publish_at": at.strftime("%Y-%m-%dT%H:%M")},
    )
    assert resp.status_code == 200 and f"将于 {at.strftime('%Y-%m-%d %H:%M')} 自动发布" in resp.text
    with session_scope() as s:
        row = kb.get_document_row(s, doc_id)
        assert row.status == "scheduled" and not row.live and row.publish_at == at
    assert client.get(f"/documents/{doc_id}").status_code == 404

    with session_scope() as s:
        assert kb.run_schedule(s, at + timedelta(seconds=1))["published"] == 1
    assert client.get(f"/documents/{doc_id}").status_code == 200

    off = at + timedelta(days=1)
    resp = client.post(
        f"/editor/documents/{doc_id}/schedule",
        data={"csrf_token": token, "withdraw_at": off.strftime("%Y-%m-%dT%H:%M")},
    )
    assert resp.status_code == 200 and f"将于 {off.strftime('%Y-%m-%d %H:%M')} 自动下线" in resp.text
    past = client.post(
        f"/editor/documents/{doc_id}/schedule",
        data={"csrf_token": token, "withdraw_at": "2000-01-01T08:00"},
    )
    assert "应晚于现在" in past.text
    with session_scope() as s:
        assert kb.get_document_row(s, doc_id).withdraw_at == off
        assert kb.run_schedule(s, utcnow() + timedelta(days=2))["withdrawn"] == 1
    assert client.get(f"/documents/{doc_id}").status_code == 404
