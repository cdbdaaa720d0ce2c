"""The public knowledge-base portal over HTTP: home, search (page and htmx fragment), documents, feedback, API."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

import kb
from hotline.db import session_scope

GJJ_BODY = (
    "# 办理条件\n职工购买、建造、翻建、大修自住住房的，可以申请提取住房公积金。\n\n"
    "# 申报材料\n- 身份证\n- 购房合同\n\n咨询电话：12345。"
)


def add_document(
    title: str, body: str, *, category: str = "办事指南", publish: bool = True, **fields: Any
) -> int:
    """A document created by one editor and (when `publish`) approved by another; returns its id."""
    with session_scope() as session:
        data = kb.DocumentInput(title=title, category=category, body=body, **fields)
        doc = kb.create_document(session, data, actor="seed-editor")
        if publish:
            kb.submit_document(session, doc.id, actor="seed-editor")
            kb.approve_document(session, doc.id, actor="seed-reviewer")
        return doc.id


def result_ids(html: str) -> list[int]:
    """Ids of the documents listed as search results on a page or fragment."""
    return [int(i) for i in re.findall(r'<h3><a href="/documents/(\d+)(?:\?[^"]*)?">', html)]  # ?q=: the query


@pytest.fixture
def corpus(sqlite_env) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return seed()


def seed() -> dict[str, int]:
    return {
        "gjj": add_document(
            "住房公积金提取办理指南",
            GJJ_BODY,
            department="市住房公积金管理中心",
            keywords=["公积金", "提取"],
        ),
        "sbk": add_document(
            "社会保障卡补办流程",
            "社会保障卡丢失后，可到任一社保经办网点补办，需携带身份证。",
            department="市人力资源和社会保障局",
        ),
        "faq": add_document(
            "新生儿医保怎么办理",
            "新生儿出生后可在线办理城乡居民医疗保险参保登记。",
            category="常见问题",
            question="新生儿医保怎么办理？",
            answer="出生后90天内在线办理参保登记。",
            department="市医疗保障局",
        ),
        "draft": add_document("公积金贷款额度草稿说明", "公积金贷款最高额度调整，尚未发布。", publish=False),
    }


def test_home_shows_search_box_categories_and_popular(sqlite_client: TestClient, corpus) -> None:  # type: ignore[no-untyped-def]
    resp = sqlite_client.get("/")
    assert resp.status_code == 200
    html = resp.text
    assert 'role="search"' in html and 'name="q"' in html
    for category in kb.CATEGORIES:
        assert category in html
    assert "热门问题" in html
    assert "住房公积金提取办理指南" in html
    assert "公积金贷款额度草稿说明" not in html


def test_search_page_and_htmx_fragment(client: TestClient) -> None:
    ids = seed()
    page = client.get("/search", params={"q": "公积金提取"})
    assert page.status_code == 200
    assert "<html" in page.text and 'id="results"' in page.text
    assert ids["gjj"] in result_ids(page.text)
    assert "<mark>" in page.text
    assert ids["draft"] not in result_ids(page.text)  # drafts never reach the public

    fragment = client.get("/search", params={"q": "公积金提取", "live": "1"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "<header" not in fragment.text
    assert fragment.text.lstrip().startswith('<section id="results"')
    assert ids["gjj"] in result_ids(fragment.text)
    assert fragment.headers["HX-Push-Url"].startswith("/search?q=")
    assert "live" not in fragment.headers["HX-Push-Url"]


def test_query_is_escaped_and_no_result_offers_to_submit(sqlite_client: TestClient, corpus) -> None:  # type: ignore[no-untyped-def]
    resp = sqlite_client.get("/search", params={"q": "<script>alert(1)</script>"})
    assert resp.status_code == 200
    assert "<script>alert(1)" not in resp.text
    assert "&lt;script&gt;alert(1)" in resp.text
    assert "没有找到" in resp.text
    assert 'href="/submit?' in resp.text


def test_no_result_query_is_logged_as_gap_but_typing_is_not(sqlite_client: TestClient, corpus) -> None:  # type: ignore[no-untyped-def]
    sqlite_client.get("/search", params={"q": "火星移民补贴", "live": "1"}, headers={"HX-Request": "true"})
    with session_scope() as session:
        assert not [g for g in kb.list_gaps(session) if "火星" in g.query]
    sqlite_client.get("/search", params={"q": "火星移民补贴"})
    with session_scope() as session:
        assert [g for g in kb.list_gaps(session) if g.query == "火星移民补贴"]


def test_category_filter_and_department_filter(sqlite_client: TestClient, corpus) -> None:  # type: ignore[no-untyped-def]
    faq_only = sqlite_client.get("/search", params={"q": "办理", "category": "常见问题"}).text
    assert result_ids(faq_only) == [corpus["faq"]]
    by_department = sqlite_client.get("/search", params={"q": "办理", "department": "市医疗保障局"}).text
    assert result_ids(by_department) == [corpus["faq"]]
    assert "取消部门筛选" in by_department


def test_result_paging(sqlite_env) -> None:  # type: ignore[no-untyped-def]
    from web.app import create_app

    for n in range(12):
        add_document(f"居住证办理指南第{n + 1}号", f"居住证办理材料与流程，第{n + 1}号说明。")
    with TestClient(create_app()) as c:
        first = c.get("/search", params={"q": "居住证"}).text
        second = c.get("/search", params={"q": "居住证", "page": 2}).text
    assert "找到 12 条" in first and "第 1 页，共 2 页" in first
    assert len(result_ids(first)) == 10
    assert len(result_ids(second)) == 2
    assert not set(result_ids(first)) & set(result_ids(second))
    assert 'rel="prev"' in second and 'rel="next"' not in second


def test_document_page_with_related_and_print_button(client: TestClient) -> None:
    ids = seed()
    extra = add_document("住房公积金贷款申请指南", "申请住房公积金贷款需要连续缴存公积金。")
    resp = client.get(f"/documents/{ids['gjj']}")
    assert resp.status_code == 200
    html = resp.text
    assert '<h1 id="doc-title">住房公积金提取办理指南</h1>' in html
    assert "<h1>办理条件</h1>" in html and "<li>身份证</li>" in html  # light Markdown rendered
    assert "这条信息对您有帮助吗？" in html
    assert "window.print()" in html
    assert f'href="/documents/{extra}"' in html  # a related document


def test_faq_document_shows_question_and_answer(sqlite_client: TestClient, corpus) -> None:  # type: ignore[no-untyped-def]
    html = sqlite_client.get(f"/documents/{corpus['faq']}").text
    assert "问：新生儿医保怎么办理？" in html
    assert "答：出生后90天内在线办理参保登记。" in html


def test_drafts_and_unknown_documents_are_404_in_chinese(client: TestClient) -> None:
    ids = seed()
    for url in (f"/documents/{ids['draft']}", "/documents/999999"):
        resp = client.get(url)
        assert resp.status_code == 404
        assert "不存在" in resp.text and "<html" in resp.text
    assert client.get(f"/api/documents/{ids['draft']}").status_code == 404


def test_markdown_body_cannot_inject_html(sqlite_client: TestClient, sqlite_env) -> None:  # type: ignore[no-untyped-def]
    doc_id = add_document("测试转义", "正文<script>alert('x')</script>和<img src=x onerror=alert(1)>结束")
    html = sqlite_client.get(f"/documents/{doc_id}").text
    assert "<script>alert('x')" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html


def test_search_results_escape_document_text(sqlite_client: TestClient, sqlite_env) -> None:  # type: ignore[no-untyped-def]
    add_document("<b>粗体</b>停水通知", "<script>alert(1)</script>停水时间为周六。", category="通知公告")
    html = sqlite_client.get("/search", params={"q": "停水通知"}).text
    assert len(result_ids(html)) == 1
    assert "<script>alert(1)" not in html and "<b>粗体" not in html
    assert "&lt;b&gt;" in html


def test_source_link_only_for_web_addresses(sqlite_client: TestClient, sqlite_env) -> None:  # type: ignore[no-untyped-def]
    good = add_document("有来源的文档", "正文。", source_url="https://www.gov.cn/zhengce/1.htm")
    bad = add_document("来源可疑的文档", "正文。", source_url="javascript:alert(1)")
    assert '<a href="https://www.gov.cn/zhengce/1.htm"' in sqlite_client.get(f"/documents/{good}").text
    html = sqlite_client.get(f"/documents/{bad}").text
    assert 'href="javascript:' not in html and "javascript:alert(1)" in html


def test_feedback_is_recorded_and_needs_csrf(sqlite_client: TestClient, corpus) -> None:  # type: ignore[no-untyped-def]
    url = f"/documents/{corpus['gjj']}/feedback"
    assert sqlite_client.post(url, data={"helpful": "yes"}).status_code == 403
    token = sqlite_client.get("/api/session").json()["csrf_token"]
    resp = sqlite_client.post(
        url,
        data={"helpful": "no", "comment": "材料清单不全", "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert resp.status_code == 200
    assert "感谢您的反馈" in resp.text and "<html" not in resp.text
    api = sqlite_client.post(
        f"/api/documents/{corpus['gjj']}/feedback", json={"helpful": True}, headers={"X-CSRF-Token": token}
    )
    assert api.status_code == 200 and api.json() == {"ok": True}


def test_json_search_and_document_api(client: TestClient) -> None:
    ids = seed()
    data = client.get("/api/search", params={"q": "社保卡补办", "limit": 5}).json()
    assert data["total"] >= 1 and data["query"]
    top = data["hits"][0]
    assert top["id"] == ids["sbk"]
    assert set(top) >= {"id", "external_id", "title", "category", "score", "snippet"}
    assert all(
        h["id"] != ids["draft"] for h in client.get("/api/search", params={"q": "公积金"}).json()["hits"]
    )
    doc = client.get(f"/api/documents/{ids['sbk']}").json()
    assert doc["title"] == "社会保障卡补办流程" and "身份证" in doc["body"]
    assert client.get("/api/search", params={"q": "x", "limit": 500}).status_code == 422


def test_json_search_needs_no_session_and_still_logs_gaps(client: TestClient) -> None:
    seed()
    token = client.get("/api/session").json()["csrf_token"]
    found = client.get("/api/search", params={"q": "社保卡补办"})
    assert found.status_code == 200 and found.json()["total"] >= 1
    assert "set-cookie" not in found.headers  # the anonymous API neither reads nor renews the session
    missing = client.get("/api/search", params={"q": "火星移民补贴"})
    assert missing.json()["total"] == 0
    with session_scope() as session:
        assert [g for g in kb.list_gaps(session) if g.query == "火星移民补贴"]  # committed
        assert not [g for g in kb.list_gaps(session) if "社保卡" in g.query]
    assert client.get("/api/session").json()["csrf_token"] == token  # the pages' session is untouched


def test_suggestions_for_autocomplete(sqlite_client: TestClient, corpus) -> None:  # type: ignore[no-untyped-def]
    titles = sqlite_client.get("/api/suggest", params={"q": "住房"}).json()
    assert "住房公积金提取办理指南" in titles
    options = sqlite_client.get("/search/suggest", params={"q": "住房"}).text
    assert '<option value="住房公积金提取办理指南">' in options


def test_openapi_docs_still_work(sqlite_client: TestClient) -> None:
    assert sqlite_client.get("/docs").status_code == 200
    paths = sqlite_client.get("/openapi.json").json()["paths"]
    assert "/api/search" in paths and "/api/kb/documents" in paths


def test_did_you_mean_for_a_homophone_typo(sqlite_client: TestClient, corpus) -> None:  # type: ignore[no-untyped-def]
    html = sqlite_client.get("/search", params={"q": "公鸡金提取"}).text
    assert "您是不是要找：" in html
    assert 'href="/search?q=%E5%85%AC%E7%A7%AF%E9%87%91' in html  # 公积金...
    assert corpus["gjj"] in result_ids(html)


def test_category_entry_lists_that_category(sqlite_client: TestClient, corpus) -> None:  # type: ignore[no-untyped-def]
    home = sqlite_client.get("/").text
    assert 'href="/search?category=%E5%B8%B8%E8%A7%81%E9%97%AE%E9%A2%98"' in home  # 常见问题
    html = sqlite_client.get("/search", params={"category": "常见问题"}).text
    assert f'href="/documents/{corpus["faq"]}"' in html
    assert f'href="/documents/{corpus["gjj"]}"' not in html
