"""/voice over the WebSocket: key 7 and key 8 say that browser voice sends nothing, and the refusal is
audited under the client's address (the key web/routes/voice.py gives the call)."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import select

from hotline.db import session_scope
from hotline.models import AuditEntry
from tests.web.test_voice_ws import next_prompt, prompts_until, voice_client  # noqa: F401 - fixture


def press(ws, key: str) -> None:  # noqa: ANN001
    ws.send_text(json.dumps({"type": "digit", "digit": key}))


def test_browser_voice_refuses_sms_and_fax_and_says_so(voice_client: TestClient) -> None:  # noqa: F811
    with voice_client.websocket_connect("/voice/ws") as ws:
        press(ws, "1")
        prompts_until(ws, "以下是政策法规")
        press(ws, "1")
        next_prompt(ws)  # the document's title
        press(ws, "7")
        assert "不能发送短信" in prompts_until(ws, "为保护信息安全")
        press(ws, "8")
        assert "不能发送传真" in prompts_until(ws, "为保护信息安全")
        ws.send_text(json.dumps({"type": "hangup"}))
    with session_scope() as s:
        entries = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "outbound_refused")))
    assert [e.entity for e in entries] == ["sms"]  # the fax was refused before a number was asked for
    assert entries[0].actor == "web:testclient" and entries[0].comment == "no_number"
