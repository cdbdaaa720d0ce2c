"""The learned routing model: `hotline case route`, retraining on the centre's own cases, and the agent's
referral form (top 3 with reasons, nothing preselected below the threshold)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

import casework
from casework import routing_model
from hotline.cli import app
from hotline.db import session_scope
from tests.conftest import login, make_user

runner = CliRunner()

# the routing errors seen when the keyword lists routed (issue 14), and where these requests go
EXAMPLES = {
    "楼下烧烤店每天晚上油烟很大，噪音扰民": {"市生态环境局", "市城市管理局"},
    "公司拖欠工资三个月不发，老板联系不上": {"市人力资源和社会保障局"},
    "外地人在本市怎么办理居住证": {"市公安局"},
}


def route_json(*args: str, stdin: str | None = None) -> list[dict]:
    result = runner.invoke(app, ["case", "route", *args, "--json"], input=stdin)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_route_prints_category_and_departments_with_confidence(sqlite_env: Path) -> None:
    for text, expected in EXAMPLES.items():
        [found] = route_json(text)
        assert found["departments"][0]["name"] in expected, (text, found)
        confidences = [d["confidence"] for d in found["departments"]]
        assert len(confidences) == 3 and confidences == sorted(confidences, reverse=True)
        assert all(0 <= c <= 1 for c in confidences) and found["departments"][0]["reasons"]
        assert found["category"] == found["categories"][0]["name"]
    [wages] = route_json("公司拖欠工资三个月不发")
    assert wages["category"] == "劳动和社会保障"


def test_route_batch_gives_one_line_per_text_in_order(sqlite_env: Path, tmp_path: Path) -> None:
    texts = list(EXAMPLES)
    batch = tmp_path / "texts.txt"
    batch.write_text("\n".join(texts) + "\n", encoding="utf-8")
    found = route_json("--batch", str(batch))
    assert len(found) == len(texts)
    for item, text in zip(found, texts, strict=True):
        assert item["departments"][0]["name"] in EXAMPLES[text]
    assert route_json("--batch", "-", stdin="孩子上小学学位不够\n")[0]["departments"][0]["name"] == "市教育局"


def test_route_without_text_is_a_clear_error(sqlite_env: Path) -> None:
    result = runner.invoke(app, ["case", "route"])
    assert result.exit_code == 2 and "TEXT" in result.output


def test_retrain_learns_from_the_centres_answered_cases(sqlite_env: Path) -> None:
    """(SQLite only: a retrain takes ~30 s; the cases are read by one plain join.)"""
    text = "共享单车乱停乱放堵住了小区门口的盲道"
    with session_scope() as db:
        before = casework.suggest_department(db, text)[0]
        target = next(d for d in db.scalars(select(casework.Department)) if d.name != before.department.name)
        ids = []
        for i in range(40):
            case, _ = casework.create_case(
                db, channel="phone", caller_number=f"1381234{i:04d}", content=f"{text}，第{i}次反映"
            )
            ids.append(case.id)
        db.flush()
        db.execute(
            update(casework.Case)
            .where(casework.Case.id.in_(ids))
            .values(status="closed", department_id=target.id)
        )
    result = runner.invoke(app, ["case", "route", "--retrain", text])
    assert result.exit_code == 0, result.output
    assert "routing-1.joblib" in result.output and "own_cases=40" in result.output
    assert [p.name for p in routing_model.saved_versions()] == ["routing-1.joblib"]
    with session_scope() as db:
        after = casework.suggest_department(db, text)[0]
    assert after.department.name == target.name and after.preselect


def test_agent_sees_reasons_and_no_preselection_below_threshold(client: TestClient) -> None:
    make_user("agent1", ["agent"], display_name="坐席小李")
    login(client, "agent1")
    with session_scope() as db:
        sure, _ = casework.create_case(
            db, channel="phone", caller_number="13812345678", content="孩子上小学学位不够，入学怎么办"
        )
        unsure, _ = casework.create_case(
            db, channel="phone", caller_number="13812345679", content="我想反映一个情况"
        )
        numbers = sure.case_number, unsure.case_number
    page = client.get(f"/agent/cases/{numbers[0]}").text
    assert "系统建议" in page and "市教育局" in page and "依据：" in page
    assert re.search(r'<option value="\d+" selected>市教育局</option>', page)
    vague = client.get(f"/agent/cases/{numbers[1]}").text
    assert "把握不大，请人工选择" in vague
    assert not re.search(r"<option value=\"\d+\" selected>", vague)
