"""Input hygiene at the edge (web/hygiene.py): NUL and other control characters in query strings,
forms, JSON and paths, huge integer ids, non-strict JSON, non-ASCII tokens and out-of-range dates get a
clear 4xx, never a 500 (each was a 500, several on PostgreSQL only); nothing reaches the database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from starlette.websockets import WebSocketDisconnect
from typer.testing import CliRunner

import casework
import kb
from hotline.cli import app as cli
from hotline.config import get_settings
from hotline.db import session_scope
from hotline.text import CONTROL_MESSAGE
from tests.conftest import login, make_user
from tests.kb.helpers import published_document
from tests.web.test_voice_ws import next_prompt, prompts_until, voice_client  # noqa: F401 - fixture
from web.hygiene import BAD_JSON


@pytest.fixture
def web(hotline_env: Path) -> Iterator[TestClient]:
    """A client that shows a server error as a 500 response (as a browser would see it)."""
    from web.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as c:
        yield c


def csrf(client: TestClient) -> str:
    return client.get("/api/session").json()["csrf_token"]


def counts() -> tuple[int, int, int]:
    with session_scope() as s:
        return (
            s.scalar(select(func.count()).select_from(casework.Case)) or 0,
            s.scalar(select(func.count()).select_from(kb.SearchGap)) or 0,
            s.scalar(select(func.count()).select_from(kb.Feedback)) or 0,
        )


def test_nul_in_public_input_is_refused_with_a_clear_message(web: TestClient) -> None:
    doc = published_document()
    token = csrf(web)
    form = {"csrf_token": token, "content": "路灯坏了\x00", "phone": "13800000000", "category": "咨询"}
    probes = [
        web.get("/api/search", params={"q": "没有的内容\x00"}),
        web.get("/search", params={"q": "没有的内容\x00"}),
        web.get("/api/suggest", params={"q": "公\x00"}),
        web.post("/submit", data=form),
        web.post("/login", data={"csrf_token": token, "username": "a\x00", "password": "x"}),
        web.post("/progress", data={"csrf_token": token, "case_number": "2026\x00", "password": "1234"}),
        web.post(f"/documents/{doc}/feedback", data={"csrf_token": token, "helpful": "yes", "comment": "\x00"}),
        web.post(
            f"/api/documents/{doc}/feedback",
            json={"helpful": True, "comment": "好\u0000"},
            headers={"X-CSRF-Token": token},
        ),
        web.get(f"/documents/{doc}%00"),
    ]
    assert [r.status_code for r in probes] == [400] * len(probes)
    assert all(CONTROL_MESSAGE in r.text for r in probes)
    assert counts() == (0, 0, 0)  # no case, no gap, no feedback


def test_ansi_escapes_are_refused_and_line_breaks_kept(web: TestClient) -> None:
    token = csrf(web)
    form = {"csrf_token": token, "phone": "13800000000", "category": "咨询", "topic": "路灯"}
    ansi = web.post("/submit", data=form | {"content": "路灯坏了\x1b[31m"})
    assert ansi.status_code == 400 and CONTROL_MESSAGE in ansi.text
    plain = web.post("/submit", data=form | {"content": "路灯坏了\r\n\t已经一周"})
    assert plain.status_code == 200 and "查询密码" in plain.text


def test_huge_integer_ids_are_not_found(web: TestClient) -> None:
    published_document()
    for path in (
        "/documents/99999999999999999999999",
        "/api/documents/9223372036854775808",
        "/documents/2147483648",  # past PostgreSQL's INTEGER
    ):
        resp = web.get(path)
        assert resp.status_code == 404 and "不存在" in resp.text, path
    make_user("ed", ["editor"])
    login(web, "ed")
    assert web.get("/editor/documents/99999999999999999999999").status_code == 404
    assert web.get("/api/kb/documents/99999999999999999999999").status_code == 404
    assert web.get("/editor/documents/1").status_code == 200  # ordinary ids are untouched
    huge_page = web.get("/search", params={"q": "公积金", "page": "99999999999999999999"})
    assert huge_page.status_code == 400 and "超出范围" in huge_page.text


@pytest.mark.parametrize("body", [b'{"helpful": NaN}', b'{"helpful": Infinity}', b'{"helpful": true, "n": 1e999}'])
def test_non_strict_json_is_a_clear_400(web: TestClient, body: bytes) -> None:
    doc = published_document()
    resp = web.post(
        f"/api/documents/{doc}/feedback",
        content=body,
        headers={"X-CSRF-Token": csrf(web), "content-type": "application/json"},
    )
    assert resp.status_code == 400 and resp.json()["detail"] == BAD_JSON


def test_json_nested_past_the_parsers_depth_is_a_clear_400(web: TestClient) -> None:
    doc = published_document()
    resp = web.post(
        f"/api/documents/{doc}/feedback",
        content=b'{"helpful": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        headers={"X-CSRF-Token": csrf(web), "content-type": "application/json"},
    )
    assert resp.status_code == 400 and resp.json()["detail"] == "请求内容无法解析，请检查后重试。"


def test_non_ascii_tokens_are_refused_not_crashed(web: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_KANNEL_DLR_TOKEN", "gateway-secret")
    get_settings.cache_clear()
    dlr = web.get("/api/sms/dlr", params={"id": "m1", "type": 1, "token": "中文"})
    assert dlr.status_code == 403 and "无权" in dlr.json()["detail"]
    login_form = {"username": "a", "password": "b", "csrf_token": "中文"}
    assert web.post("/login", data=login_form).status_code == 403


def test_brief_dates_out_of_range_are_422(web: TestClient) -> None:
    make_user("sup", ["supervisor"])
    login(web, "sup")
    for path in ("/supervisor/brief", "/supervisor/brief/view", "/supervisor/brief.pdf"):
        for day in ("0001-01-01", "9999-12-31"):
            resp = web.get(path, params={"date": day})
            assert resp.status_code == 422 and "日期应在" in resp.text, (path, day)
    assert web.get("/supervisor/brief/view", params={"date": "2026-11-30"}).status_code == 200


def test_a_websocket_handshake_with_control_characters_is_refused(web: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as refused, web.websocket_connect("/voice/ws?lang=%00"):
        pass
    assert refused.value.code == 1008


def test_kb_import_refuses_control_characters_per_line(hotline_env: Path, tmp_path: Path) -> None:
    """On PostgreSQL a NUL in one document failed the whole batch with a traceback."""
    doc = {"category": "办事指南", "body": "正文内容。"}
    lines = [
        doc | {"external_id": "ok-1", "title": "好的文档"},
        doc | {"external_id": "nul-1", "title": "正文含NUL", "body": "含有\u0000的正文"},
        doc | {"external_id": "ansi-1", "title": "问题含ANSI", "question": "问\u001b[31m题"},
        doc | {"external_id": "nul-2", "title": "关键词含NUL", "keywords": ["公积金\u0000"]},
    ]
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["kb", "import", str(path), "--publish"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    for line, field in ((2, "正文"), (3, "问题"), (4, "关键词")):
        assert f"{line}" in result.output and f"{field}含有不可见的控制字符" in result.output
    with session_scope() as s:
        assert [d.external_id for d in kb.list_documents(s)[0]] == ["ok-1"]


def test_hostile_websocket_messages_are_ignored(voice_client: TestClient) -> None:  # noqa: F811
    """Deeply nested JSON (a RecursionError before), a NUL digit and non-JSON text on /voice: the call
    goes on and answers the next real key."""
    with voice_client.websocket_connect("/voice/ws") as ws:
        next_prompt(ws)
        ws.send_text("[" * 100_000 + "]" * 100_000)
        ws.send_text(json.dumps({"type": "digit", "digit": "\x00"}))
        ws.send_text("\x00\x1b[31m")
        ws.send_text(json.dumps({"type": "digit", "digit": "2"}))
        assert prompts_until(ws, "以下是办事指南")
        ws.send_text(json.dumps({"type": "hangup"}))
