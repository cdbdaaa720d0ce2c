"""The daily brief as a document (每日要情): an agent marks a case (报要情), the supervisor chooses, orders
and summarises, the document carries its number, issuer, comparisons and the chosen cases (HTML and PDF
with page numbers), issuing tells the leaders by SMS, a future day is refused."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

import casework
from casework import briefissues
from casework.models import OutboxMessage
from hotline.db import session_scope, utcnow
from tests.conftest import login, make_user


def new_case(content: str, number: str = "13812345678") -> str:
    with session_scope() as db:
        case, _ = casework.create_case(
            db, channel="phone", caller_number=number, content=content, topic=content[:12]
        )
        return case.case_number


def test_mark_compile_issue_and_read(client: TestClient, tmp_path: Path) -> None:
    first = new_case("幸福小区化粪池外溢，污水流到路面")
    second = new_case("学校门口早高峰拥堵，学生过马路危险", "13812345679")
    make_user("agent1", ["agent"])
    t = login(client, "agent1")
    empty = client.post(f"/agent/cases/{first}/brief-mark", data={"reason": " ", "csrf_token": t})
    assert "请用一句话写明报要情的理由" in empty.text
    for number, reason in ((first, "涉及多户居民健康，需领导关注"), (second, "学生安全隐患")):
        done = client.post(f"/agent/cases/{number}/brief-mark", data={"reason": reason, "csrf_token": t})
        assert done.status_code == 200 and "已报送今日要情" in done.text

    make_user("sup", ["supervisor"])
    make_user("boss", ["leader"], phone="13900001111")
    make_user("boss2", ["leader"])  # no phone: no SMS
    t = login(client, "sup")
    day = briefissues.today().isoformat()
    page = client.get(f"/supervisor/brief/compile?date={day}")
    assert page.status_code == 200 and "涉及多户居民健康" in page.text and "学生安全隐患" in page.text
    with session_scope() as db:
        ids = {c.case_number: c.id for c in db.scalars(select(casework.Case))}
    saved = client.post(
        f"/supervisor/brief/compile?date={day}",
        data={
            "case": [ids[first], ids[second]],
            "order": ["2", "1"],
            "include": [ids[first], ids[second]],
            "summary": "今日受理量平稳，两件事项请领导关注。",
            "csrf_token": t,
        },
    )
    assert saved.status_code == 200 and "本期要情已保存" in saved.text and "第1期" in saved.text
    html = client.get(f"/supervisor/brief/view?date={day}").text
    assert "第1期" in html and "12345政务服务便民热线中心" in html and "今日受理量平稳" in html
    assert "较前一日 +2" in html and "（未编发）" in html
    important = html[html.index("重要事项") : html.index("一、热点问题")]
    assert important.index("学生安全隐患") < important.index("涉及多户居民健康")  # the compiler's order

    issued = client.post(f"/supervisor/brief/issue?date={day}", data={"csrf_token": t})
    assert "已短信通知 1 位领导" in issued.text
    with session_scope() as db:
        sms = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "brief")).all()
        assert [m.to for m in sms] == ["13900001111"] and "第1期每日要情" in sms[0].body
    assert "（未编发）" not in client.get(f"/supervisor/brief/view?date={day}").text

    pdf = client.get(f"/supervisor/brief.pdf?date={day}")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    if shutil.which("pdftotext"):
        (tmp_path / "brief.pdf").write_bytes(pdf.content)
        text = subprocess.run(
            ["pdftotext", str(tmp_path / "brief.pdf"), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert "第1期" in text and "今日受理量平稳，两件事项请领导关注。" in text and "（未编发）" not in text
        assert text.index("学生安全隐患") < text.index("涉及多户居民健康")  # the compiler's order


def test_only_marked_cases_and_no_future_day(client: TestClient) -> None:
    number = new_case("路灯不亮")
    make_user("sup", ["supervisor"])
    t = login(client, "sup")
    with session_scope() as db:
        case_id = db.scalar(select(casework.Case.id).where(casework.Case.case_number == number))
    day = briefissues.today()
    refused = client.post(
        f"/supervisor/brief/compile?date={day.isoformat()}",
        data={"case": [case_id], "order": ["1"], "include": [case_id], "csrf_token": t},
    )
    assert "只能编入当日报要情的工单" in refused.text
    tomorrow = (day + timedelta(days=1)).isoformat()
    future = client.get(f"/supervisor/brief?date={tomorrow}")
    assert "不能编制未来日期的每日要情" in future.text
    assert client.get(f"/supervisor/brief.pdf?date={tomorrow}").headers["content-type"].startswith("text/html")
    with session_scope() as db, pytest.raises(casework.CaseError):
        briefissues.compile_issue(db, day + timedelta(days=1), summary="", case_ids=[], actor="sup")


def test_on_time_rate_counts_open_overdue_and_supervised_is_the_days(
    client: TestClient, tmp_path: Path
) -> None:
    late = new_case("拖欠工资")
    new_case("噪音扰民", "13812345679")
    with session_scope() as db:
        db.execute(
            update(casework.Case)
            .where(casework.Case.case_number == late)
            .values(status="in_progress", deadline=utcnow() - timedelta(minutes=5))
        )
        db.execute(
            update(casework.Case)
            .where(casework.Case.case_number != late)
            .values(status="closed", deadline=utcnow() + timedelta(days=1), closed_at=utcnow())
        )
        brief = casework.daily_brief(db, briefissues.today())
        assert brief.completed == 1 and brief.on_time_rate == 0.5  # one on time, one open past its deadline
        assert brief.supervised == []  # nothing supervised today (an old flag does not count)
    make_user("sup", ["supervisor"])
    login(client, "sup")
    pdf = client.get(f"/supervisor/brief.pdf?date={briefissues.today().isoformat()}")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    if shutil.which("pdftotext"):
        (tmp_path / "b.pdf").write_bytes(pdf.content)
        text = subprocess.run(
            ["pdftotext", str(tmp_path / "b.pdf"), "-"], capture_output=True, text=True
        ).stdout
        assert re.search(r"第\s*1\s*页", text) and "每日要情" in text
        assert re.search(r"\d{4}-\d{2}-\d{2}", text)  # the overdue case's deadline, on one line


def test_the_overdue_figure_counts_every_overdue_case_when_the_list_shows_the_most_overdue(
    sqlite_client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("casework.brief.LISTED", 2)
    numbers = [new_case(f"路灯不亮第{n}处", f"1381234560{n}") for n in range(3)]
    with session_scope() as db:
        for hours, number in enumerate(numbers, start=1):
            db.execute(
                update(casework.Case)
                .where(casework.Case.case_number == number)
                .values(status="in_progress", deadline=utcnow() - timedelta(hours=hours))
            )
    make_user("sup", ["supervisor"])
    login(sqlite_client, "sup")
    day = briefissues.today().isoformat()
    page = sqlite_client.get(f"/supervisor/brief/view?date={day}").text
    assert re.search(r"<b>3</b>\s*超期工单", page)
    listed = page.split("六、超期工单")[1].split("七、")[0]
    assert "（共3件，列出超期最久的2件）" in listed
    assert numbers[2] in listed and numbers[1] in listed and numbers[0] not in listed  # most overdue first
    if shutil.which("pdftotext"):
        (tmp_path / "b.pdf").write_bytes(sqlite_client.get(f"/supervisor/brief.pdf?date={day}").content)
        text = subprocess.run(
            ["pdftotext", str(tmp_path / "b.pdf"), "-"], capture_output=True, text=True
        ).stdout
        flat = re.sub(r"\s+", "", text)
        assert "超期工单3件" in flat and "共3件，列出超期最久的2件" in flat
