"""The query password of a case an agent registers travels to the case page encrypted: the session
cookie (signed, not encrypted) never carries it in plain text, and it is shown once."""

from __future__ import annotations

import base64
import re

from fastapi.testclient import TestClient

from tests.web.test_agent_console import CONTENT, agent_client


def cookie_payload(client: TestClient) -> str:
    raw = client.cookies["hotline_session"]
    data = raw.split(".", 1)[0]
    return raw + base64.b64decode(data + "=" * (-len(data) % 4)).decode("utf-8", "replace")


def test_the_new_case_password_is_not_in_the_cookie(client: TestClient) -> None:
    token = agent_client(client)
    data = {"caller_number": "13812345678", "category": "投诉", "content": CONTENT, "csrf_token": token}
    resp = client.post("/agent/cases", data=data, follow_redirects=False)
    assert resp.status_code == 303, resp.text
    sealed = cookie_payload(client)
    assert "new_password" in sealed  # the password waits in the session for the case page ...
    page = client.get(resp.headers["location"])
    password = re.search(r'id="case-password">(\d{4,6})<', page.text).group(1)
    assert password not in sealed  # ... encrypted
    assert "case-password" not in client.get(resp.headers["location"]).text  # shown once


def test_a_forged_or_stale_sealed_value_shows_nothing(sqlite_env, monkeypatch) -> None:
    from web import security

    assert security.unseal("not-a-token") is None
    token = security.seal("123456")
    assert security.unseal(token) == "123456"
    monkeypatch.setattr(security, "SEALED_SECONDS", -1)
    assert security.unseal(token) is None
