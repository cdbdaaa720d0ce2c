"""`hotline kb import` with awkward files: a BOM, broken bytes, deep nesting, repeated ids, wrong types,
control characters, oversized fields. Every bad line is named by its number; the others are imported."""

from __future__ import annotations

import json
from pathlib import Path

import kb
from hotline.db import session_scope
from tests.kb.test_import_cli import GOOD, invoke, write_jsonl


def line(row: dict) -> bytes:
    return json.dumps(row, ensure_ascii=False).encode()


def write_bytes(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_a_byte_order_mark_is_accepted(hotline_env, tmp_path):
    path = write_bytes(tmp_path / "bom.jsonl", [b"\xef\xbb\xbf" + line(GOOD[0]), line(GOOD[1])])
    result = invoke("kb", "import", str(path), "--publish")
    assert result.exit_code == 0, result.output
    assert "created=2 updated=0 unchanged=0 failed=0" in result.stdout
    assert [h["external_id"] for h in json.loads(invoke("kb", "search", "公积金提取", "--json").stdout)][
        :1
    ] == ["gjj-0001"]


def test_invalid_utf8_and_deep_nesting_fail_their_line_only(hotline_env, tmp_path):
    broken = line(dict(GOOD[1], title="居住证\xff")).replace("\xff".encode(), b"\xff\xfe")
    deep = b'{"external_id": "deep", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    path = write_bytes(tmp_path / "odd.jsonl", [line(GOOD[0]), broken, deep, line(GOOD[2])])
    result = invoke("kb", "import", str(path), "--publish")
    assert result.exit_code == 0, result.output
    assert "created=2 updated=0 unchanged=0 failed=2" in result.stdout
    assert "line 2: 不是有效的 UTF-8 文本" in result.stderr
    assert "line 3: JSON 嵌套层数过多" in result.stderr
    assert "Traceback" not in result.output


def test_ids_must_be_strings(hotline_env, tmp_path):
    rows: list[object] = [
        dict(GOOD[0], external_id=1001),
        dict(GOOD[1], external_id=["jzz"]),
        dict(GOOD[2], external_id="  "),
        dict(GOOD[2], external_id="faq\x1b[31m"),
    ]
    result = invoke("kb", "import", str(write_jsonl(tmp_path / "ids.jsonl", rows)))
    assert result.exit_code == 1
    assert "failed=4" in result.stdout
    assert "line 1: external_id 必须是字符串" in result.stderr
    assert "line 2: external_id 必须是字符串" in result.stderr
    assert "line 3: external_id 不能为空" in result.stderr
    assert "line 4: external_id 不能为空，也不能包含控制字符" in result.stderr
    with session_scope() as s:
        assert kb.list_documents(s)[1] == 0


def test_control_characters_in_titles_are_refused(hotline_env, tmp_path):
    rows = [
        dict(GOOD[0], title="\x1b[31m住房公积金提取办理指南\x1b[0m"),
        dict(GOOD[1], title="居住证\n办理指南"),
        dict(GOOD[2], title="社保卡\x00补办"),
    ]
    result = invoke("kb", "import", str(write_jsonl(tmp_path / "ctl.jsonl", rows)))
    assert "failed=3" in result.stdout
    for n in (1, 2, 3):
        assert f"line {n}: 标题不能包含换行、制表符或其他控制字符" in result.stderr


def test_field_sizes_are_limited(hotline_env, tmp_path, monkeypatch):
    from hotline.db import reset_caches

    monkeypatch.setenv("HOTLINE_KB_MAX_TEXT_CHARS", "1000")
    reset_caches()
    rows = [
        dict(GOOD[0], body="公积金" * 400),
        dict(GOOD[1], keywords=[f"词{i}" for i in range(51)]),
        dict(GOOD[2], answer="补办" * 501),
        dict(GOOD[0], external_id="ok", title="正文刚好", body="字" * 1000),
    ]
    result = invoke("kb", "import", str(write_jsonl(tmp_path / "big.jsonl", rows)))
    assert "created=1 updated=0 unchanged=0 failed=3" in result.stdout
    assert "line 1: 正文过长（最多 1000 字）" in result.stderr
    assert "line 2: 关键词过多（最多 50 个）" in result.stderr
    assert "line 3: 答案过长（最多 1000 字）" in result.stderr


def test_an_id_repeated_in_one_file_gets_a_revision_per_distinct_content(hotline_env, tmp_path):
    v1 = GOOD[0]
    v2 = dict(v1, body="职工偿还购房贷款本息的，可以申请提取住房公积金。")
    v3 = dict(v2, title="住房公积金提取指南（2025）")
    rows = [v1, v1, v2, v2, v3, GOOD[1]]
    result = invoke("kb", "import", str(write_jsonl(tmp_path / "dup.jsonl", rows)), "--publish")
    assert result.exit_code == 0, result.output
    assert "created=2 updated=2 unchanged=2 failed=0" in result.stdout
    with session_scope() as s:
        doc = next(r for r in kb.list_documents(s)[0] if r.external_id == "gjj-0001")
        revs = kb.revisions(s, doc.id)
        assert [r.number for r in revs] == [3, 2, 1]
        assert [r.title for r in revs] == [v3["title"], v1["title"], v1["title"]]
        assert "偿还购房贷款" in revs[1].body and "偿还购房贷款" not in revs[2].body
        shown = kb.get_document(s, doc.id)
        assert shown.title == v3["title"] and shown.status == "published"
    hits = json.loads(invoke("kb", "search", "住房公积金提取指南", "--json").stdout)
    assert [h["title"] for h in hits if h["external_id"] == "gjj-0001"] == [v3["title"]]
