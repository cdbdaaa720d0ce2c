"""The staff password policy, in one place (hotline.users.check_password) and met wherever a password
is chosen: `hotline user add/passwd`, the administrator's account form and reset, one's own /password.
At least 8 characters, none of the common passwords shipped in data/security/, not the user name."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from hotline import users
from hotline.cli import app
from tests.conftest import login, make_user
from tests.web.test_admin_pages import admin, new_user

runner = CliRunner()
COMMON = "这个密码太常见"


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "至少需要8个字符"),
        ("password", COMMON),
        ("PassWord123", COMMON),  # case does not help
        ("woaini1314", COMMON),
        ("qwertyuiop", COMMON),
        ("88888888", COMMON),
        ("aaaabbbb", COMMON),  # two characters repeated
        ("zhangsan-2026", "密码不能包含用户名"),
    ],
)
def test_weak_passwords_are_refused(password: str, message: str) -> None:
    with pytest.raises(users.UserError, match=message):
        users.check_password(password, "ZhangSan")


def test_a_good_password_passes() -> None:
    users.check_password("Pine-river-42-lamp", "zhangsan")
    users.check_password("correct-horse", "agent1")


def test_the_cli_refuses_weak_passwords(sqlite_env) -> None:
    weak = runner.invoke(
        app, ["user", "add", "clerk1", "--roles", "agent", "--password", "1qaz2wsx3edc"], input=None
    )
    assert weak.exit_code != 0 and COMMON in weak.output, weak.output
    ok = runner.invoke(app, ["user", "add", "clerk1", "--roles", "agent", "--password", "Pine-river-42-lamp"])
    assert ok.exit_code == 0, ok.output
    again = runner.invoke(app, ["user", "passwd", "clerk1", "--password", "clerk1-2026"])
    assert again.exit_code != 0 and "密码不能包含用户名" in again.output
    empty = runner.invoke(app, ["user", "add", " ", "--roles", "agent", "--password", "Pine-river-42-lamp"])
    assert empty.exit_code != 0


def test_the_admin_form_and_the_own_password_page_refuse_weak_passwords(sqlite_client: TestClient) -> None:
    token = admin(sqlite_client)
    refused = new_user(sqlite_client, token, username="clerk2", password="iloveyou1314")
    assert refused.status_code == 422 and COMMON in refused.text
    make_user("clerk3", ["agent"])
    with TestClient(sqlite_client.app) as own:
        t = login(own, "clerk3")
        form = {"csrf_token": t, "current": "correct-horse", "new": "password1", "confirm": "password1"}
        response = own.post("/password", data=form)
        assert response.status_code == 422 and COMMON in response.text
