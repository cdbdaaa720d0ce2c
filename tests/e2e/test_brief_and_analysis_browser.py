"""The leaders' documents in a real browser: a supervisor marks a case for the day's brief, compiles the
brief from the marked cases (order, summary), issues it and downloads the PDF (read back with pdftotext);
a leader opens the analysis page, whose charts are drawn with their tables, follows a figure to its cases
and downloads the Excel workbook."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook

import casework
from casework import briefissues
from hotline.db import session_scope
from tests.conftest import make_user
from tests.e2e.test_admin_flow import log_in
from tests.web.test_analysis_page import made_cases


def new_case(content: str, caller: str) -> str:
    with session_scope() as db:
        case, _ = casework.create_case(
            db, channel="phone", caller_number=caller, content=content, topic=content[:14]
        )
        return case.case_number


def test_supervisor_compiles_the_brief_from_marked_cases_and_downloads_the_pdf(page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext not found; scripts/install installs poppler-utils")
    sewage = new_case("幸福小区化粪池外溢，污水流到路面", "13812345678")
    school = new_case("实验小学门口早高峰拥堵，学生过马路危险", "13812345679")
    with session_scope() as db:  # an agent marked this one during the day
        briefissues.mark(db, casework.get_case(db, sewage), reason="涉及多户居民健康", actor="agent1")
    make_user("sup", ["supervisor"], display_name="督办科")
    log_in(page, "sup")

    page.goto(f"/supervisor/cases/{school}")
    page.get_by_label("报要情").fill("学生安全隐患，请领导关注")
    page.get_by_role("button", name="报送今日要情").click()
    page.get_by_text("已报送今日要情").wait_for()

    page.get_by_role("link", name="督查督办").click()
    page.get_by_role("link", name="每日要情").click()
    page.get_by_role("link", name=re.compile("编辑本期")).click()
    page.get_by_label(f"编入 {sewage}").check()
    page.get_by_label(f"编入 {school}").check()
    page.get_by_label(f"{school} 的序号").fill("1")
    page.get_by_label(f"{sewage} 的序号").fill("2")
    page.get_by_label("本期摘要").fill("今日受理量平稳，两件事项请领导关注。")
    page.get_by_role("button", name="保存").click()
    page.get_by_text("本期要情已保存").wait_for()
    page.get_by_role("button", name="编发并短信通知领导").click()
    page.get_by_text("本期要情已编发").wait_for()

    with page.expect_download() as download:
        page.get_by_role("link", name="下载PDF").click()
    pdf = tmp_path / "brief.pdf"
    download.value.save_as(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "每日要情" in text and "第1期" in text and re.search(r"第\s*1\s*页", text)
    assert "今日受理量平稳，两件事项请领导关注。" in text
    assert text.index("学生安全隐患") < text.index("涉及多户居民健康")  # the compiler's order
    assert "（未编发）" not in text


def test_a_leader_reads_the_analysis_charts_drills_down_and_exports(page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    made_cases()
    make_user("boss", ["leader"])
    log_in(page, "boss")
    page.get_by_role("link", name="督查督办").click()
    page.get_by_role("link", name="统计分析").click()
    page.get_by_role("heading", name=re.compile("统计分析")).wait_for()

    daily = page.locator("figure[aria-label='每日工单量'] svg rect.column")
    assert daily.count() >= 7  # one column per day of the period
    heights = [float(h) for h in daily.evaluate_all("rects => rects.map(r => r.getBBox().height)")]
    assert max(heights) > 0  # drawn, not an empty frame
    assert page.locator("#ranking tbody tr").count() == 2
    districts = page.locator("#by-district .bar-row")
    assert districts.count() >= 2 and page.locator("#by-district .bar").first.bounding_box()["width"] > 0
    page.get_by_text("日期（表格）").click()  # every chart has its table
    page.locator("figure[aria-label='每日工单量'] table").wait_for()

    page.locator("#by-district").get_by_role("link", name="岳麓区").click()
    page.wait_for_url(re.compile(r"/supervisor/cases\?.*district="))
    assert page.locator("#case-total").inner_text() == "2"  # 岳麓区's two cases, not 芙蓉区's
    page.go_back()

    with page.expect_download() as download:
        page.get_by_role("link", name="导出 Excel").click()
    book_path = tmp_path / "analysis.xlsx"
    download.value.save_as(book_path)
    assert download.value.suggested_filename.endswith(".xlsx")
    book = load_workbook(book_path, read_only=True)
    ranking = list(book["部门排名"].values)
    assert ranking[0][:2] == ("排名", "承办部门") and len(ranking) == 3
