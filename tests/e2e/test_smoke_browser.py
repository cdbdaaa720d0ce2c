"""The portal renders in a real browser and staff can log in."""

from __future__ import annotations

from tests.conftest import make_user


def test_home_and_login_in_chromium(page) -> None:  # type: ignore[no-untyped-def]
    make_user("ed", ["editor"], display_name="编辑小王")
    page.goto("/")
    assert "12345" in page.title()
    page.get_by_role("link", name="工作人员登录").click()
    page.get_by_label("用户名").fill("ed")
    page.get_by_label("密码").fill("correct-horse")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/")
    assert page.get_by_text("退出（编辑小王）").is_visible()
