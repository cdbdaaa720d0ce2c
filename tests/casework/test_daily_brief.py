"""The daily brief (每日要情) from the command line: HTML and PDF with the day's figures, the
supervised and overdue cases and the hot topics."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

import casework
from hotline.cli import app
from hotline.db import session_scope
from tests.casework.helpers import department, new_case

DAY = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # Monday 2 Nov, 10:00 Beijing time
NOISE = [
    "阳光小区旁工地夜间施工噪音扰民，凌晨两点还在打桩。",
    "幸福路工地夜间施工噪音很大，晚上无法休息。",
    "和平街工地夜间施工噪音持续到深夜，请求处理。",
]


def test_report_daily_writes_html_and_pdf(hotline_env: Path, tmp_path: Path) -> None:
    with session_scope() as s:
        dept = department(s)
        numbers = []
        for text in NOISE:
            case, _ = new_case(s, content=text, district="东城区", now=DAY)
            casework.refer(s, case, dept, actor="agent1")
            numbers.append(case.case_number)
        casework.supervise(s, casework.get_case(s, numbers[0]), actor="boss", instruction="请三日内处理到位")
        other, _ = new_case(s, category="咨询", content="请问居住证怎么办理？", district="西城区", now=DAY)
        casework.answer_directly(s, other, actor="agent1", answer="携带身份证到派出所办理。")
    out = tmp_path / "brief"
    result = CliRunner().invoke(app, ["report", "daily", "--date", "2026-11-02", "-o", str(out)])
    assert result.exit_code == 0, result.output
    html = (out / "daily-brief-2026-11-02.html").read_text(encoding="utf-8")
    assert "每日要情" in html and "2026年11月2日" in html
    supervised = html.split("七、督办工单")[1].split("八、")[0]
    assert numbers[0] not in supervised  # supervised today, not on the brief's day (only the day's are listed)
    assert "噪音" in html or "施工" in html  # the day's hot topic
    assert "东城区" in html and "西城区" in html
    pdf = out / "daily-brief-2026-11-02.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "每日要情" in text and "东城区" in text and "第1页" in text.replace(" ", "")


def test_report_daily_rejects_a_bad_date(sqlite_env: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", "daily", "--date", "2026-13-40", "-o", str(tmp_path)])
    assert result.exit_code == 2
    assert "2026-11-25" in result.output
