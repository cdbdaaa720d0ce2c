"""The editors' corpus page (issue 13 item 5) over HTTP on both databases: documents by category and
publication year with links, the expired (COVID-era) documents counted, and "全部下线" that withdraws
them all through the workflow - reviewers and administrators only, with CSRF and a confirmation."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

import kb
from hotline.db import session_scope
from hotline.models import AuditEntry
from tests.conftest import login, make_user
from tests.web.test_public_portal import add_document

YESTERDAY = date.today() - timedelta(days=1)


def _corpus() -> dict[str, int]:
    return {
        "notice": add_document(
            "关于疫情防控期间暂停接待群众来访的通知",
            "为做好新冠肺炎疫情防控工作，即日起暂停现场接待。",
            category="通知公告",
            published_at=date(2020, 2, 3),
            valid_until=date(2023, 1, 7),
        ),
        "news": add_document(
            "市政府召开复工复产工作会议",
            "2月21日，市政府召开会议。",
            category="新闻动态",
            published_at=date(2020, 2, 21),
        ),
        "case": add_document(
            "小区路灯不亮问题",
            "## 群众留言\n\n路灯坏了。\n\n## 答复意见\n\n经核实，已修复。",
            category="典型案例",
            published_at=date(2019, 5, 6),
        ),
        "guide": add_document("住房公积金提取办理指南", "职工购买自住住房的，可以申请提取住房公积金。"),
        "soon": add_document(
            "春节假期服务安排公告", "春节期间窗口暂停。", category="通知公告", valid_until=YESTERDAY
        ),
    }


def _cell_link(html: str, category: str, year: int) -> bool:
    from urllib.parse import urlencode

    return f'href="/editor?{urlencode({"category": category, "year": year})}"' in html.replace("&amp;", "&")


def test_editors_see_the_corpus_by_category_and_year_with_links(client: TestClient) -> None:
    ids = _corpus()
    make_user("ed", ["editor"])
    login(client, "ed")
    page = client.get("/editor/corpus")
    assert page.status_code == 200
    html = page.text
    assert "知识库概况：按分类与年份" in html and 'href="/editor/corpus" aria-current="page"' in html
    for year in ("2020", "2019", "未注明"):
        assert f'<th scope="col">{year}</th>' in html
    assert _cell_link(html, "新闻动态", 2020) and _cell_link(html, "典型案例", 2019)
    assert _cell_link(html, "办事指南", kb.NO_YEAR)
    # two expired notices: both counted, one of them a COVID-era one
    assert "共 <strong>2</strong> 篇" in html
    # an editor sees the count but not the action
    assert 'action="/editor/corpus/retire-expired"' not in html and "需审核人员或管理员" in html
    # the year link lists that year's documents
    listed = client.get("/editor", params={"category": "典型案例", "year": 2019}).text
    assert f'href="/editor/documents/{ids["case"]}"' in listed
    assert f'href="/editor/documents/{ids["guide"]}"' not in listed
    undated = client.get("/editor", params={"year": 0}).text
    assert f'href="/editor/documents/{ids["guide"]}"' in undated
    assert f'href="/editor/documents/{ids["news"]}"' not in undated
    assert client.get("/editor", params={"year": -1}).status_code == 422


def test_retire_all_expired_is_for_reviewers_with_csrf_and_confirmation(client: TestClient) -> None:
    ids = _corpus()
    make_user("ed", ["editor"])
    make_user("rev", ["reviewer"])
    token = login(client, "ed")
    refused = client.post("/editor/corpus/retire-expired", data={"csrf_token": token, "confirm": "yes"})
    assert refused.status_code == 403
    client.post("/logout", data={"csrf_token": token})

    token = login(client, "rev")
    page = client.get("/editor/corpus").text
    assert 'action="/editor/corpus/retire-expired"' in page and 'name="csrf_token"' in page
    no_csrf = client.post("/editor/corpus/retire-expired", data={"confirm": "yes"})
    assert no_csrf.status_code in (400, 403)
    unconfirmed = client.post("/editor/corpus/retire-expired", data={"csrf_token": token})
    assert unconfirmed.status_code == 200 and "请先勾选确认" in unconfirmed.text
    with session_scope() as s:
        assert len(kb.expired_ids(s)) == 2  # nothing withdrawn yet

    done = client.post("/editor/corpus/retire-expired", data={"csrf_token": token, "confirm": "yes"})
    assert done.status_code == 200 and "已下线 2 篇过期文档" in done.text
    assert "没有过期文档" in done.text
    with session_scope() as s:
        for key in ("notice", "soon"):
            doc = kb.get_document_row(s, ids[key])
            assert doc is not None and doc.status == "withdrawn" and not doc.live
        still = kb.get_document_row(s, ids["news"])
        assert still is not None and still.live  # valid documents stay
        actions = [
            (e.action, e.entity_id, e.actor)
            for e in s.scalars(
                select(AuditEntry).where(AuditEntry.action.in_(["kb.withdraw", "kb.retire_expired"]))
            )
        ]
    assert ("kb.withdraw", str(ids["notice"]), "rev") in actions
    assert ("kb.withdraw", str(ids["soon"]), "rev") in actions
    assert any(a == "kb.retire_expired" for a, _, _ in actions)
    again = client.post("/editor/corpus/retire-expired", data={"csrf_token": token, "confirm": "yes"})
    assert "没有需要下线的过期文档" in again.text


def test_home_hot_questions_are_faq_and_guides_never_news(client: TestClient) -> None:
    ids = _corpus()
    faq = add_document(
        "新生儿医保怎么办理",
        "新生儿出生后可在线办理参保登记。",
        category="常见问题",
        question="新生儿医保怎么办理？",
        answer="出生后90天内在线办理参保登记。",
    )
    with session_scope() as s:  # the news report is the most read document
        kb.record_view(s, ids["news"], "web")
        kb.record_view(s, ids["news"], "web")
        kb.record_view(s, faq, "web")
    html = client.get("/").text
    hot = html.split('id="kb-popular"', 1)[1].split("</section>", 1)[0]
    assert f'href="/documents/{faq}"' in hot and f'href="/documents/{ids["guide"]}"' in hot
    assert hot.index(f'href="/documents/{faq}"') < hot.index(
        f'href="/documents/{ids["guide"]}"'
    )  # read first
    assert "复工复产工作会议" not in hot and "暂停接待" not in hot and "路灯" not in hot


def test_covid_era_notices_are_flagged_and_a_reviewer_applies_the_rule_in_one_action(client: TestClient) -> None:
    """A fresh install keeps every bundled document public; the page names the COVID-era notices still
    published, and 按规则整理 gives them their validity (hidden at once, then retired with the rest)."""
    from kb.importer import ImportRecord, import_batch
    from tests.kb.test_corpus import NOTICE_BODY

    with session_scope() as s:
        row = {"title": "门头沟区信访办公室关于暂停接待群众来访的通知", "category": "通知公告", "body": NOTICE_BODY}
        import_batch(s, [ImportRecord(1, "ncp-notice", kb.DocumentInput(**row))], publish=True, actor="system")
        notice = s.scalar(select(kb.Document).where(kb.Document.external_id == "ncp-notice"))
        assert notice is not None and notice.valid_until is None
        notice_id = notice.id
    make_user("ed", ["editor"])
    make_user("rev", ["reviewer"])
    token = login(client, "ed")
    page = client.get("/editor/corpus").text
    assert 'id="covid-pending"' in page and "<strong>1</strong> 篇在发布" in page
    assert 'action="/editor/corpus/apply-rules"' not in page  # editors see it, reviewers act
    assert client.post("/editor/corpus/apply-rules", data={"csrf_token": token}).status_code == 403
    client.post("/logout", data={"csrf_token": token})

    token = login(client, "rev")
    assert client.post("/editor/corpus/apply-rules", data={}).status_code in (400, 403)  # no CSRF token
    done = client.post("/editor/corpus/apply-rules", data={"csrf_token": token})
    assert done.status_code == 200 and "设为过期 1 篇" in done.text
    assert 'id="covid-pending"' not in done.text and "共 <strong>1</strong> 篇" in done.text
    with session_scope() as s:
        assert kb.get_document(s, notice_id) is None  # readers no longer see it
        assert kb.expired_ids(s) == [notice_id]
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "kb.recategorise")) is not None
