"""The bundled knowledge base (data/kb/): reproducible from the raw data, loads on first start."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

import kb
from hotline.cli import app
from hotline.config import REPO_ROOT
from hotline.db import session_scope

DATA = REPO_ROOT / "data" / "kb"
SHARED = Path("/work/shared/data")


def rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines()]


def test_bundled_files_follow_the_document_format():
    all_rows = [r for path in sorted(DATA.glob("*.jsonl")) for r in rows(path.name)]
    ids = Counter(r["external_id"] for r in all_rows)
    titles = Counter(r["title"] for r in all_rows)
    assert ids.most_common(1)[0][1] == 1 and titles.most_common(1)[0][1] == 1
    for r in all_rows:
        kb.DocumentInput(**r)  # validates title length, category, body
    policies = rows("ncp_policies.jsonl")
    assert len(policies) == 599 and all(r["external_id"].startswith("ncp-") for r in policies)
    assert {r["category"] for r in policies} == {"政策法规", "通知公告", "新闻动态"}
    cases = rows("cases.jsonl")
    assert len(cases) == 300 and {r["category"] for r in cases} == {"典型案例"}
    laws = rows("laws.jsonl")
    assert {"社会保险法 第一条", "住房公积金管理条例 第二十四条", "居住证暂行条例 第九条"} <= {
        r["title"] for r in laws
    }
    guide = next(r for r in rows("guides.jsonl") if r["external_id"] == "guide-gjj-withdraw")
    for heading in ("申请条件", "申报材料", "办理流程", "办理时限", "收费标准", "设定依据", "咨询方式"):
        assert f"## {heading}" in guide["body"]


@pytest.mark.skipif(not SHARED.is_dir(), reason="raw shared data not on this machine")
def test_build_script_reproduces_the_committed_data(tmp_path):
    subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "build_kb_data.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for path in DATA.glob("*.jsonl"):
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


def test_first_start_loads_the_bundle_once(sqlite_env):
    expected = sum(len(rows(p.name)) for p in DATA.glob("*.jsonl"))
    result = CliRunner().invoke(app, ["init", "--bundled"])
    assert result.exit_code == 0, result.output
    assert f"created={expected}, updated=0, unchanged=0, failed=0" in result.stdout
    assert kb.load_bundled_corpus() == {}
    expired = sum(1 for p in DATA.glob("*.jsonl") for r in rows(p.name) if r.get("valid_until"))
    with session_scope() as s:
        assert kb.list_documents(s, status="published")[1] == expected - expired
        assert kb.list_documents(s, status="expired")[1] == expired == 0  # a fresh install hides nothing (docs/kb.md)
        hits = kb.search(s, "住房公积金 提取条件", limit=5).hits
        assert "住房公积金提取办理指南" in [h.title for h in hits]
        dev = (
            json.loads((SHARED / "ncp_policy_qa" / "dev_queries.jsonl").open().readline())
            if SHARED.is_dir()
            else None
        )
        if dev:
            found = [h.external_id for h in kb.search(s, dev["question"], limit=10).hits]
            assert f"ncp-{dev['docid']}" in found
