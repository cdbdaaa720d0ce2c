"""An administrator edits the IVR's welcome and a sub-menu's prompt in a real browser: 试听 plays the
unsaved text in the phone voice (the <audio> element loads a WAV from the admin-only route), 保存 stores
it, and the next call hears it."""

from __future__ import annotations

import io
import re
import wave
from concurrent.futures import ThreadPoolExecutor

from playwright.sync_api import expect

from tests.conftest import make_user
from tests.e2e.test_admin_flow import log_in
from tests.selfservice.conftest import TREE_PROMPTS, run_call, use_menu_tree

WELCOME = "您好，欢迎致电12345热线，请您稍候。"


def heard_after(script: str) -> list[str]:
    """The prompts of a simulated call (in a thread of its own: Playwright's loop runs in this one)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run_call, script).result().prompts


def heard_first() -> str:
    """The first prompt of a simulated call."""
    return heard_after("hangup")[0]


def test_admin_edits_previews_and_saves_the_welcome_and_the_next_call_hears_it(page) -> None:  # type: ignore[no-untyped-def]
    make_user("root", ["admin"])
    log_in(page, "root")
    page.get_by_role("link", name="系统管理").click()
    page.get_by_role("link", name="语音导航提示音").click()
    page.get_by_role("link", name="编辑欢迎语（每通电话开头）").click()
    page.get_by_label("提示音内容").fill(WELCOME)

    with page.expect_response(lambda r: "/admin/ivr/welcome/preview.wav" in r.url) as preview:
        page.get_by_role("button", name="试听").click()
    response = preview.value  # the player asks for byte ranges: 206
    assert response.status in (200, 206) and response.headers["content-type"] == "audio/wav"
    whole = page.request.get(response.url)  # the same WAV with the page's session
    assert whole.ok and whole.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(whole.body())) as wav:
        assert wav.getnframes() / wav.getframerate() > 1.0
    audio = page.locator("#prompt-audio")
    expect(audio).to_have_js_property("readyState", 4)  # HAVE_ENOUGH_DATA: the whole WAV loaded
    assert audio.evaluate("a => a.duration") > 1.0 and audio.is_visible()
    page.get_by_role("button", name="试听").wait_for()  # ready again

    page.get_by_role("button", name="保存").click()
    page.get_by_text("已保存提示音“欢迎语（每通电话开头）”，下一通电话起生效。").wait_for()
    page.get_by_role("button", name="恢复默认").wait_for()
    assert heard_first() == WELCOME

    page.get_by_label("提示音内容").fill("")
    page.get_by_label("提示音内容").fill("{")
    page.get_by_role("button", name="试听").click()
    page.get_by_text("花括号只能用于占位符").wait_for()  # the reason, not a silent player


def test_admin_edits_a_sub_menu_prompt_and_the_next_call_hears_it(page, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Main-menu key 2 is a sub-menu with one of its own (2 -> 2): its prompt is on the same page."""
    use_menu_tree(tmp_path, monkeypatch)
    lower = "人工服务请按0。政策法规文件请按1，返回上一级菜单请按星号键。"
    make_user("root", ["admin"])
    log_in(page, "root")
    page.get_by_role("link", name="系统管理").click()
    page.get_by_role("link", name="语音导航提示音").click()
    expect(page.get_by_role("row", name=re.compile("子菜单（主菜单按2 → 按2）"))).to_contain_text(
        TREE_PROMPTS["2.2"]
    )
    page.get_by_role("link", name="编辑子菜单（主菜单按2 → 按2）").click()
    expect(page.get_by_label("提示音内容")).to_have_value(TREE_PROMPTS["2.2"])

    page.get_by_label("提示音内容").fill("政策法规文件请按1，人工服务请按0。")
    page.get_by_role("button", name="试听").click()
    page.get_by_text("子菜单须先播报“人工服务请按0”").wait_for()  # refused before anything is saved

    page.get_by_label("提示音内容").fill(lower)
    with page.expect_response(lambda r: "/admin/ivr/menu.2.2/preview.wav" in r.url) as preview:
        page.get_by_role("button", name="试听").click()
    assert preview.value.status in (200, 206) and preview.value.headers["content-type"] == "audio/wav"
    expect(page.locator("#prompt-audio")).to_have_js_property("readyState", 4)
    page.get_by_role("button", name="试听").wait_for()

    page.get_by_role("button", name="保存").click()
    page.get_by_text("已保存提示音“子菜单（主菜单按2 → 按2）”，下一通电话起生效。").wait_for()
    heard = heard_after("press 2\npress 2\nhangup")
    assert lower in heard and TREE_PROMPTS["2"] in heard and TREE_PROMPTS["2.2"] not in heard

    page.get_by_role("button", name="恢复默认").click()
    page.get_by_text("已恢复默认").wait_for()
    assert TREE_PROMPTS["2.2"] in heard_after("press 2\npress 2\nhangup")
