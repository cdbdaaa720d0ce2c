"""Core: init is idempotent, users and login, CSRF, error pages, masking."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import inspect
from typer.testing import CliRunner

from hotline import bootstrap
from hotline.cli import app
from hotline.db import get_engine
from hotline.masking import mask_phone, mask_phones_in_text
from tests.conftest import login, make_user


def test_init_is_idempotent_and_creates_tables(hotline_env: Path) -> None:
    bootstrap.init()
    bootstrap.init()
    tables = set(inspect(get_engine()).get_table_names())
    assert {"users", "audit_log", "alembic_version"} <= tables


def test_cli_init_and_user_add(sqlite_env: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    assert "hotline ready" in result.output
    result = runner.invoke(app, ["user", "add", "alice", "--roles", "editor", "--password", "s3cret-pass"])
    assert result.exit_code == 0, result.output
    again = runner.invoke(app, ["user", "add", "alice", "--roles", "editor", "--password", "s3cret-pass"])
    assert again.exit_code == 2
    assert "already exists" in again.output
    bad_role = runner.invoke(app, ["user", "add", "bob", "--roles", "wizard", "--password", "s3cret-pass"])
    assert bad_role.exit_code == 2 and "unknown role" in bad_role.output


def test_login_requires_csrf_and_correct_password(client: TestClient) -> None:
    make_user("ed", ["editor"])
    no_token = client.post(
        "/login", data={"username": "ed", "password": "correct-horse"}, follow_redirects=False
    )
    assert no_token.status_code == 403
    token = client.get("/api/session").json()["csrf_token"]
    wrong = client.post("/login", data={"username": "ed", "password": "nope", "csrf_token": token})
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
    login(client, "ed")
    assert client.get("/api/session").json()["user"] == {"username": "ed", "roles": ["editor"]}


def test_login_is_rate_limited(sqlite_client: TestClient) -> None:
    make_user("agent1", ["agent"])
    token = sqlite_client.get("/api/session").json()["csrf_token"]
    codes = [
        sqlite_client.post(
            "/login", data={"username": "agent1", "password": "x", "csrf_token": token}
        ).status_code
        for _ in range(6)
    ]
    assert codes[:5] == [401] * 5 and codes[5] == 429


def test_error_pages_are_chinese_and_leak_nothing(sqlite_client: TestClient) -> None:
    resp = sqlite_client.get("/no/such/page")
    assert resp.status_code == 404 and "页面不存在" in resp.text
    assert "Traceback" not in resp.text
    api = sqlite_client.get("/api/no-such-thing")
    assert api.status_code == 404 and api.json()["detail"]


def test_phone_masking() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("") == ""
    assert (
        mask_phones_in_text("我的电话是13812345678，座机0731-84561234")
        == "我的电话是138****5678，座机0731-****1234"
    )
