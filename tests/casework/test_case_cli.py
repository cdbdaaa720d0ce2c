"""`hotline case list` and `hotline case search` (both databases): filters, JSON lines, masking, errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

import casework
from hotline.cli import app
from hotline.db import session_scope
from tests.casework.helpers import department, new_case


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["case", *args])
    return result.exit_code, result.output


def _lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_case_list_and_search(hotline_env: Path) -> None:
    with session_scope() as s:
        noise, _ = new_case(s, caller_number="13912345678", address="幸福路8号")
        casework.refer(s, noise, department(s), actor="agent1")
        light, _ = new_case(s, content="人民公园门口路灯坏了一个星期。", caller_number="13700000001")
        numbers = noise.case_number, light.case_number
    code, out = _run("list", "--json")
    rows = _lines(out)
    assert code == 0 and [r["case_number"] for r in rows] == [numbers[1], numbers[0]]
    assert {"case_number", "status", "department", "created_at"} <= set(rows[0])
    assert rows[1]["department"] == "市住房和城乡建设局" and rows[1]["phone"] == "139****5678"
    assert _lines(_run("list", "--status", "referred", "--json")[1])[0]["case_number"] == numbers[0]
    code, out = _run("list", "--department", "市住房和城乡建设局", "--json")
    assert [r["case_number"] for r in _lines(out)] == [numbers[0]]
    assert _run("list", "--overdue", "--json")[1].strip() == ""
    code, out = _run("list")
    assert code == 0 and numbers[0] in out and "已转派" in out and "13912345678" not in out
    assert [r["case_number"] for r in _lines(_run("search", "路灯", "--json")[1])] == [numbers[1]]
    assert [r["case_number"] for r in _lines(_run("search", "幸福路 噪音", "--json")[1])] == [numbers[0]]
    assert [r["case_number"] for r in _lines(_run("search", "13700000001", "--json")[1])] == [numbers[1]]
    assert [r["case_number"] for r in _lines(_run("search", numbers[0], "--json")[1])] == [numbers[0]]
    assert _run("search", "不存在的内容词", "--json")[1].strip() == ""
    code, out = _run("list", "--status", "lost")
    assert code != 0 and "unknown status" in out
    code, out = _run("list", "--department", "无此部门")
    assert code != 0 and "no department" in out
