"""The leaders' statistics page (统计分析): department ranking by on-time and satisfaction rates, the
period's distributions with drill-down to the case list, the Excel export, permissions."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select, update

import casework
from hotline.db import session_scope, utcnow
from tests.conftest import login, make_user


def made_cases() -> dict[str, int]:
    """Two departments: A finished 2 cases on time (both satisfied), B finished 1 late (unsatisfied)
    and has one overdue open case; plus one web case with no department."""
    now = utcnow()
    with session_scope() as db:
        a, b = db.scalars(select(casework.Department).order_by(casework.Department.id).limit(2)).all()
        plan = [
            (a, "closed", now + timedelta(days=1), now, "满意", "芙蓉区"),
            (a, "closed", now + timedelta(days=1), now, "基本满意", "芙蓉区"),
            (b, "closed", now - timedelta(days=2), now, "不满意", "岳麓区"),
            (b, "in_progress", now - timedelta(days=1), None, None, "岳麓区"),
        ]
        for i, (dept, status, deadline, replied, satisfaction, district) in enumerate(plan):
            case, _ = casework.create_case(
                db,
                channel="phone",
                caller_number=f"1381234000{i}",
                content=f"小区噪音第{i}次反映",
                district=district,
            )
            db.flush()
            db.execute(
                update(casework.Case)
                .where(casework.Case.id == case.id)
                .values(
                    status=status,
                    department_id=dept.id,
                    deadline=deadline,
                    replied_at=replied,
                    satisfaction=satisfaction,
                )
            )
        casework.create_case(db, channel="web", caller_number="13900000000", content="建议增加公交线路。")
        return {"a": a.id, "b": b.id}


def test_ranking_distributions_and_drill_down(client: TestClient) -> None:
    ids = made_cases()
    make_user("boss", ["leader"])
    login(client, "boss")
    page = client.get("/supervisor/analysis?days=7")
    assert page.status_code == 200, page.text
    text = page.text
    assert 'id="total"' in text and re.search(r'id="total" href="[^"]+">5<', text)
    ranking = text[text.index('id="ranking"') : text.index("</table>", text.index('id="ranking"'))]
    rows = re.findall(r"<tr><td>(\d+)</td><td><a href=\"([^\"]+)\">([^<]+)</a>", ranking)
    assert [
        (place, f"department={ids[key]}" in href) for (place, href, _), key in zip(rows, "ab", strict=True)
    ] == [
        ("1", True),
        ("2", True),
    ]
    assert "100.0%" in ranking and "0.0%" in ranking  # A on time and satisfied; B neither
    assert "overdue=1" in ranking  # B's open overdue case is one click away
    assert "芙蓉区" in text and "岳麓区" in text and "网上留言" in text and "电话" in text
    assert "<svg" in text and "来件时段分布" in text
    drill = re.search(r'<a class="bar-label" href="(/supervisor/cases\?[^"]*district=[^"]+)">岳麓区', text)
    assert drill
    listed = client.get(drill.group(1).replace("&amp;", "&"))
    assert listed.status_code == 200 and listed.text.count("小区噪音第") == 2


def test_export_has_one_sheet_per_table(client: TestClient) -> None:
    made_cases()
    make_user("sup", ["supervisor"])
    login(client, "sup")
    resp = client.get("/supervisor/analysis.xlsx?days=30")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/vnd.openxml")
    book = load_workbook(io.BytesIO(resp.content))
    assert book.sheetnames == ["部门排名", "每日", "分时段", "类别", "区域", "渠道"]
    ranking = list(book["部门排名"].iter_rows(values_only=True))
    assert ranking[0][:3] == ("排名", "承办部门", "受理") and len(ranking) == 3
    assert ranking[1][5] == 1 and ranking[2][5] == 0  # on-time rates, best first
    assert len(list(book["每日"].iter_rows())) == 31 and len(list(book["分时段"].iter_rows())) == 25


def test_only_supervisors_and_leaders(sqlite_client: TestClient) -> None:
    make_user("dep", ["department"], department="市城市管理局")
    login(sqlite_client, "dep")
    assert sqlite_client.get("/supervisor/analysis").status_code == 403
    assert sqlite_client.get("/supervisor/analysis.xlsx").status_code == 403
    make_user("boss", ["leader"])
    login(sqlite_client, "boss")
    unknown = sqlite_client.get("/supervisor/analysis?days=3")  # not a period offered: the 30 days
    assert (
        unknown.status_code == 200
        and 'href="/supervisor/analysis?days=30" aria-current="page"' in unknown.text
    )
