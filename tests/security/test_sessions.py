"""Staff sessions that end: logout, a password change and disabling end every session of the account
(a saved cookie opens nothing); idle and absolute timeouts; the Secure cookie flag; security headers
(CSP compatible with the pages); X-Forwarded-For believed only from trusted proxies."""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hotline import users
from hotline.audit import history
from hotline.config import get_settings
from hotline.db import session_scope
from hotline.models import User
from tests.conftest import login, make_user
from web import security

STAFF_PAGE = "/supervisor"


def visit(client: TestClient, cookie: str) -> tuple[bool, str]:
    """Does this session cookie open a staff page? And the cookie the response sets (or the same)."""
    client.cookies.clear()
    resp = client.get(STAFF_PAGE, headers={"Cookie": f"hotline_session={cookie}"}, follow_redirects=False)
    client.cookies.clear()
    return resp.status_code == 200, resp.cookies.get("hotline_session") or cookie


def opens(client: TestClient, cookie: str) -> bool:
    return visit(client, cookie)[0]


def logged_in(client: TestClient, name: str = "sup") -> str:
    make_user(name, ["supervisor"])
    login(client, name)
    cookie = client.cookies["hotline_session"]
    assert opens(client, cookie)
    client.cookies.set("hotline_session", cookie)
    return cookie


def test_logout_ends_the_session_on_the_server(client: TestClient) -> None:
    saved = logged_in(client)
    token = client.get("/api/session").json()["csrf_token"]
    assert client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert not opens(client, saved)  # the cookie saved before logout opens nothing


def test_a_password_change_and_disabling_end_sessions(client: TestClient) -> None:
    saved = logged_in(client)
    with session_scope() as s:
        user = s.query(User).filter_by(username="sup").one()
        users.set_password(s, user, "another-horse", actor="admin")
    assert not opens(client, saved)
    client.cookies.clear()
    login(client, "sup", "another-horse")
    saved = client.cookies["hotline_session"]
    assert opens(client, saved)
    with session_scope() as s:
        user = s.query(User).filter_by(username="sup").one()
        users.set_active(s, user, False, actor="admin")
    assert not opens(client, saved)
    with session_scope() as s:
        user = s.query(User).filter_by(username="sup").one()
        ended = [e.comment for e in history(s, "user", user.id) if e.action == "sessions_ended"]
    assert ended == ["password_changed", "disabled"]


@pytest.mark.parametrize(("minutes", "alive"), [(29, True), (31, False)])
def test_idle_timeout(
    sqlite_client: TestClient, monkeypatch: pytest.MonkeyPatch, minutes: int, alive: bool
) -> None:
    saved = logged_in(sqlite_client)
    later = time.time() + minutes * 60
    monkeypatch.setattr(security.time, "time", lambda: later)
    assert opens(sqlite_client, saved) is alive


def test_absolute_timeout_even_when_active(
    sqlite_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    cookie = logged_in(sqlite_client)
    start = time.time()
    for minutes in range(20, 12 * 60, 20):  # a request every 20 minutes keeps it from idling out ...
        monkeypatch.setattr(security.time, "time", lambda m=minutes: start + m * 60)
        alive, cookie = visit(sqlite_client, cookie)
        assert alive
    monkeypatch.setattr(security.time, "time", lambda: start + 12 * 3600 + 60)
    assert not opens(sqlite_client, cookie)  # ... until 12 hours after the login


def test_secure_cookie_flag_setting(sqlite_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from web.app import create_app

    monkeypatch.setenv("HOTLINE_SESSION_COOKIE_SECURE", "true")
    get_settings.cache_clear()
    with TestClient(create_app(), base_url="https://testserver") as client:
        set_cookie = client.get("/login").headers["set-cookie"].lower()
    assert "secure" in set_cookie and "httponly" in set_cookie and "samesite=lax" in set_cookie


@pytest.mark.parametrize("path", ["/", "/login", "/api/search?q=社保", "/voice", "/nope"])
def test_security_headers(sqlite_client: TestClient, path: str) -> None:
    headers = sqlite_client.get(path).headers
    assert headers["x-frame-options"] == "SAMEORIGIN"  # other sites cannot frame the pages
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    csp = headers["content-security-policy"]
    script_src = re.search(r"script-src ([^;]*)", csp).group(1)
    assert (
        "'self'" in script_src and "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    )
    assert "frame-ancestors 'self'" in csp


class _InlineScripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.handlers: list[str] = []
        self.inline_scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script" and "src" not in names:
            self.inline_scripts += 1
        self.handlers += [value or "" for name, value in attrs if name.startswith("on")]


def test_the_csp_allows_every_inline_handler_of_the_templates() -> None:
    """No inline <script> and only the event handlers the CSP lists by hash (else the page breaks)."""
    templates = Path(security.__file__).parent / "templates"
    for path in templates.rglob("*.html"):
        parser = _InlineScripts()
        parser.feed(path.read_text())
        assert parser.inline_scripts == 0, path
        for handler in parser.handlers:
            assert handler in security.INLINE_HANDLERS, (path, handler)


def test_forwarded_for_is_ignored_unless_from_a_trusted_proxy(
    sqlite_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from web.app import create_app

    make_user("alice", ["agent"])

    def wrong_logins(client: TestClient, forwarded: str, n: int) -> list[int]:
        token = client.get("/api/session").json()["csrf_token"]
        form = {"username": "alice", "password": "wrong", "csrf_token": token}
        return [
            client.post("/login", data=form, headers={"X-Forwarded-For": forwarded}).status_code
            for _ in range(n)
        ]

    limit = users.LOGIN_MAX_PER_ADDRESS_AND_USER
    with TestClient(create_app(), client=("192.0.2.50", 1234)) as client:
        codes = [wrong_logins(client, f"10.9.9.{i}", 1)[0] for i in range(limit + 1)]
    assert codes == [401] * limit + [429]  # a forged header did not give a fresh address each time

    monkeypatch.setenv("HOTLINE_TRUSTED_PROXIES", '["127.0.0.0/8"]')
    get_settings.cache_clear()
    with TestClient(create_app(), client=("127.0.0.1", 1234)) as proxied:
        assert wrong_logins(proxied, "198.51.100.1, 127.0.0.2", limit + 1)[-1] == 429
        assert wrong_logins(proxied, "198.51.100.2", 1) == [401]  # another client behind the proxy


def test_the_cli_changes_a_password_and_disables_an_account(client: TestClient) -> None:
    from typer.testing import CliRunner

    from hotline.cli import app

    runner = CliRunner()
    saved = logged_in(client)
    result = runner.invoke(app, ["user", "passwd", "sup", "--password", "brand-new-horse"])
    assert result.exit_code == 0, result.output
    assert not opens(client, saved)
    client.cookies.clear()
    login(client, "sup", "brand-new-horse")
    saved = client.cookies["hotline_session"]
    assert runner.invoke(app, ["user", "disable", "sup"]).exit_code == 0
    assert not opens(client, saved)
    assert runner.invoke(app, ["user", "enable", "sup"]).exit_code == 0
    client.cookies.clear()
    login(client, "sup", "brand-new-horse")
    assert runner.invoke(app, ["user", "disable", "nobody"]).exit_code == 2
