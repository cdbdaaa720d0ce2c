"""The editor meets the document size limits (HOTLINE_KB_MAX_TEXT_CHARS, title, keywords) and control
characters in titles with a message at the field, keeping the input; nothing is saved."""

from __future__ import annotations

from fastapi.testclient import TestClient

import kb
from hotline.config import get_settings
from hotline.db import session_scope
from tests.conftest import login, make_user
from tests.web.test_editor_pages import FORM


def test_oversized_fields_and_control_characters_are_explained(sqlite_client: TestClient) -> None:
    make_user("ed", ["editor"])
    token = login(sqlite_client, "ed")
    limit = get_settings().kb_max_text_chars
    cases = [
        ({"body": "x" * (limit + 1)}, f"内容过长（最多 {limit} 字）"),
        ({"keywords": "，".join(f"词{i}" for i in range(51))}, "内容过长（最多 50 个）"),
        ({"title": "居住证\n签注"}, "标题不能包含换行、制表符或其他控制字符"),
        ({"title": "居住证\x1b[31m签注"}, "控制字符"),  # refused at the edge already (web/hygiene.py)
    ]
    for fields, message in cases:
        resp = sqlite_client.post("/editor/new", data=FORM | fields | {"csrf_token": token})
        assert resp.status_code == 400 and message in resp.text, (list(fields), resp.text[-300:])
    with session_scope() as session:
        assert kb.list_documents(session)[1] == 0
    ok = sqlite_client.post(
        "/editor/new", data=FORM | {"body": "y" * limit, "csrf_token": token}, follow_redirects=False
    )
    assert ok.status_code == 303
