"""`hotline kb import/search/reindex/export` as a user runs them (typer CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

import kb
from hotline.cli import app
from hotline.db import session_scope

runner = CliRunner()

GOOD = [
    {
        "external_id": "gjj-0001",
        "title": "住房公积金提取办理指南",
        "category": "办事指南",
        "body": "职工购买自住住房的，可以申请提取住房公积金。",
        "keywords": ["公积金", "提取"],
        "department": "市住房公积金管理中心",
        "published_at": "2024-05-01",
    },
    {
        "external_id": "jzz-0001",
        "title": "居住证办理指南",
        "category": "办事指南",
        "body": "在本市居住半年以上的，可以申领居住证。",
    },
    {
        "external_id": "faq-1",
        "title": "社保卡丢了怎么补办？",
        "category": "常见问题",
        "question": "社保卡丢了怎么补办？",
        "answer": "先挂失，再到社保卡服务网点补办。",
        "body": "先挂失，再到社保卡服务网点补办。",
    },
]


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows) + "\n"
    )
    return path


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


def test_import_is_idempotent_and_updates_by_external_id(hotline_env, tmp_path):
    path = write_jsonl(tmp_path / "docs.jsonl", GOOD)
    result = invoke("kb", "import", str(path), "--publish")
    assert result.exit_code == 0, result.output
    assert "created=3 updated=0 unchanged=0 failed=0" in result.stdout
    result = invoke("kb", "import", str(path), "--publish")
    assert "created=0 updated=0 unchanged=3 failed=0" in result.stdout
    changed = [dict(GOOD[0], body="职工偿还购房贷款本息的，可以申请提取住房公积金。")] + GOOD[1:]
    result = invoke("kb", "import", str(write_jsonl(tmp_path / "v2.jsonl", changed)), "--publish")
    assert "created=0 updated=1 unchanged=2 failed=0" in result.stdout
    with session_scope() as s:
        rows, total = kb.list_documents(s)
        assert total == 3
        doc = next(r for r in rows if r.external_id == "gjj-0001")
        assert [r.number for r in kb.revisions(s, doc.id)] == [2, 1]
        assert "偿还购房贷款" in kb.get_document(s, doc.id).body
        assert kb.get_document(s, doc.id).department == "市住房公积金管理中心"


def test_import_without_publish_leaves_drafts(hotline_env, tmp_path):
    path = write_jsonl(tmp_path / "docs.jsonl", GOOD)
    assert invoke("kb", "import", str(path)).exit_code == 0
    result = invoke("kb", "search", "居住证", "--json")
    assert json.loads(result.stdout) == []
    assert "created=0 updated=3" in invoke("kb", "import", str(path), "--publish").stdout
    assert [h["external_id"] for h in json.loads(invoke("kb", "search", "居住证", "--json").stdout)] == [
        "jzz-0001"
    ]


def test_bad_lines_are_reported_and_the_rest_imported(hotline_env, tmp_path):
    rows: list[object] = [
        GOOD[0],
        "{not json",
        {"title": "没有编号", "category": "办事指南", "body": "正文"},
        {"external_id": "x-1", "title": "分类不对", "category": "八卦", "body": "正文"},
        {"external_id": "x-2", "title": "长" * 129, "category": "办事指南", "body": "正文"},
        {"external_id": "x-3", "title": "没有正文", "category": "办事指南", "body": ""},
        {"external_id": "x-4", "title": "住房公积金提取办理指南", "category": "办事指南", "body": "标题重复"},
        {
            "external_id": "x-5",
            "title": "日期不对",
            "category": "办事指南",
            "body": "正文",
            "valid_until": "明年",
        },
        "[1, 2]",
        GOOD[1],
    ]
    result = invoke("kb", "import", str(write_jsonl(tmp_path / "bad.jsonl", rows)), "--publish")
    assert result.exit_code == 0, result.output
    assert "created=2 updated=0 unchanged=0 failed=8" in result.stdout
    errors = result.stderr
    for expected in (
        "line 2: 不是有效的 JSON",
        "line 3: 缺少 external_id",
        "line 4: 分类必须是",
        "line 5: 标题过长（最多 128 字）",
        "line 6: 正文不能为空",
        "line 7: 标题“住房公积金提取办理指南”已被文档 gjj-0001 使用",
        "line 8: 有效期至应为 YYYY-MM-DD",
        "line 9: 每行必须是一个 JSON 对象",
    ):
        assert expected in errors, errors
    with session_scope() as s:
        assert kb.list_documents(s)[1] == 2


def test_import_exit_code_only_when_nothing_read(hotline_env, tmp_path):
    result = invoke("kb", "import", str(write_jsonl(tmp_path / "junk.jsonl", ["nope", "{}"])))
    assert result.exit_code == 1
    assert "failed=2" in result.stdout
    result = invoke("kb", "import", str(tmp_path / "missing.jsonl"))
    assert result.exit_code == 2
    assert "cannot read" in result.stderr


def test_search_json_contract_and_batch(sqlite_env, tmp_path):
    invoke("kb", "import", str(write_jsonl(tmp_path / "docs.jsonl", GOOD)), "--publish")
    result = invoke("kb", "search", "公积金 提取", "--json")
    hits = json.loads(result.stdout)
    assert hits and set(hits[0]) == {
        *("id", "external_id", "title", "category", "score", "snippet", "relevance", "answered")
    }
    assert hits[0]["external_id"] == "gjj-0001" and "<mark>" in hits[0]["snippet"]
    only_faq = json.loads(invoke("kb", "search", "社保卡", "--json", "--category", "常见问题").stdout)
    assert [h["category"] for h in only_faq] == ["常见问题"]
    human = invoke("kb", "search", "居住证")
    assert "居住证办理指南" in human.stdout and "jzz-0001" in human.stdout
    queries = tmp_path / "queries.txt"
    queries.write_text("居住证\n火星移民\n社保卡补办\n")
    result = invoke("kb", "search", "--batch", str(queries), "--json", "--limit", "1")
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3
    assert [[h["external_id"] for h in json.loads(line)] for line in lines] == [["jzz-0001"], [], ["faq-1"]]
    assert invoke("kb", "search", "--batch", str(queries)).exit_code == 2
    assert invoke("kb", "search").exit_code == 2


def test_export_round_trip_and_reindex(sqlite_env, tmp_path):
    invoke("kb", "import", str(write_jsonl(tmp_path / "docs.jsonl", GOOD)), "--publish")
    out = tmp_path / "export.jsonl"
    assert invoke("kb", "export", "-o", str(out)).exit_code == 0
    exported = [json.loads(line) for line in out.read_text().splitlines()]
    assert [e["external_id"] for e in exported] == ["gjj-0001", "jzz-0001", "faq-1"]
    assert exported[0]["published_at"] == "2024-05-01" and exported[0]["keywords"] == ["公积金", "提取"]
    assert "unchanged=3" in invoke("kb", "import", str(out), "--publish").stdout
    result = invoke("kb", "reindex")
    assert result.exit_code == 0 and "reindexed 3 documents" in result.stdout
    assert [h["external_id"] for h in json.loads(invoke("kb", "search", "居住证", "--json").stdout)] == [
        "jzz-0001"
    ]


def test_duplicates_lists_near_identical_documents(hotline_env, tmp_path):
    notice = "按月申报的纳税人、扣缴义务人，2月份申报纳税期限延长至2月24日；受疫情影响不能按期申报的，可依法办理延期申报。"
    copies = [
        {
            "external_id": "tax-a",
            "title": "延长2月份申报纳税期限的通告",
            "category": "通知公告",
            "body": notice,
        },
        {
            "external_id": "tax-b",
            "title": "转发：延长2月份申报纳税期限的通告",
            "category": "通知公告",
            "body": notice,
        },
    ]
    path = write_jsonl(tmp_path / "docs.jsonl", GOOD + copies)
    assert invoke("kb", "import", str(path), "--publish").exit_code == 0
    result = invoke("kb", "duplicates", "--json")
    assert result.exit_code == 0, result.output
    groups = json.loads(result.stdout)
    assert [sorted(m["title"] for m in g) for g in groups] == [sorted(c["title"] for c in copies)]
    assert all(0.6 <= m["similarity"] < 1 for m in groups[0])
    text = invoke("kb", "duplicates").stdout
    assert "第 1 组（2 篇）" in text and "1 groups, 2 documents" in text
    assert invoke("kb", "duplicates", "--threshold", "2").exit_code == 2  # out of range: a clear usage error
