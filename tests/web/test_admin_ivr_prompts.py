"""The IVR's prompts on the admin pages (/admin/ivr): an administrator edits a prompt, previews it in the
configured voice (试听: a WAV from an admin-only route) before saving, saves it (audited) and the next call
hears it; bad texts are refused with a reason and nothing is stored; 恢复默认 brings the file's text back.
On both databases."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hotline import sitesettings
from hotline.db import session_scope
from hotline.models import AuditEntry
from selfservice import prompts
from selfservice.menu import REQUIRED_PROMPTS, load_menu
from tests.conftest import login, make_user
from tests.selfservice.conftest import TREE_PROMPTS, run_call, use_menu_tree

NEW_WELCOME = "您好，欢迎致电12345政务服务便民热线，我们竭诚为您服务。"


def admin(client: TestClient) -> str:
    make_user("root", ["admin"])
    return login(client, "root")


def save(client: TestClient, token: str, name: str, text: str):  # noqa: ANN201
    return client.post(f"/admin/ivr/{name}", data={"csrf_token": token, "text": text}, follow_redirects=False)


def stored() -> dict[str, str]:
    with session_scope() as db:
        return prompts.edited(db)


def test_every_prompt_of_the_menu_file_is_listed_with_what_it_is_for(client: TestClient) -> None:
    assert set(prompts.LABELS) == set(REQUIRED_PROMPTS) == set(load_menu().prompts)
    admin(client)
    page = client.get("/admin/ivr")
    assert page.status_code == 200 and "语音导航提示音" in page.text
    assert "欢迎语（每通电话开头）" in page.text and load_menu().prompts["welcome"] in page.text
    assert 'href="/admin/ivr/queue_position"' in page.text
    assert 'href="/editor/ivr"' in page.text  # the pinned items are kept by the editors


def test_an_edited_welcome_is_saved_audited_and_heard_on_the_next_call(client: TestClient) -> None:
    token = admin(client)
    assert run_call("hangup").prompts[0] == load_menu().prompts["welcome"]

    resp = save(client, token, "welcome", f"  {NEW_WELCOME}\n")
    assert resp.status_code == 303 and resp.headers["location"] == "/admin/ivr/welcome"
    page = client.get("/admin/ivr/welcome").text
    assert "下一通电话起生效" in page and "已修改" in page and NEW_WELCOME in page
    assert stored() == {"welcome": NEW_WELCOME}
    with session_scope() as db:
        [entry] = db.scalars(select(AuditEntry).where(AuditEntry.entity_id == sitesettings.IVR_PROMPTS)).all()
    assert entry.action == "setting_changed" and entry.actor == "root"
    assert entry.detail == {"old": None, "new": {"welcome": NEW_WELCOME}}

    assert run_call("hangup").prompts[0] == NEW_WELCOME  # read per call: no restart

    resp = client.post("/admin/ivr/welcome/default", data={"csrf_token": token}, follow_redirects=False)
    assert resp.status_code == 303
    assert "已恢复默认" in client.get("/admin/ivr/welcome").text
    assert stored() == {}
    assert run_call("hangup").prompts[0] == load_menu().prompts["welcome"]
    again = client.post("/admin/ivr/welcome/default", data={"csrf_token": token})
    assert again.status_code == 422 and "已是默认内容" in again.text


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("welcome", "  \n ", "不能为空"),
        ("welcome", "您好" * 101, "最多 200 个字"),
        ("welcome", "您好\x07", "控制字符"),
        ("queue_position", "请您耐心等待，坐席马上为您服务。", "请保留占位符 {ahead}、{minutes}"),
        ("welcome", "您好，{name}先生。", "不能使用占位符 {name}；它没有可用的占位符"),
        ("category_intro", "以下是{category}的内容，共{n}项。人工服务请按0。", "可用的有 {category}"),
        ("category_intro", "以下是{category}的内容{。人工服务请按0。", "花括号只能用于占位符"),
        ("category_intro", "以下是{category:>9}的内容。", "只能写成 {名称}"),
        ("document_title", "{title.__class__}。", "只能写成 {名称}"),
        ("main_menu", "政策法规请按1，人工服务请按0。", "先播报“人工服务请按0”"),
    ],
)
def test_a_text_the_ivr_cannot_speak_is_refused_and_nothing_is_stored(
    sqlite_client: TestClient, name: str, text: str, reason: str
) -> None:
    token = admin(sqlite_client)
    resp = save(sqlite_client, token, name, text)
    if "\x07" in text:  # refused by the app before any route (web.security: no control characters)
        assert resp.status_code == 400 and reason in resp.text
    else:
        assert resp.status_code == 422 and reason in resp.text, resp.text
        assert "提示音：" in resp.text  # the form again, with the text as typed
    preview = sqlite_client.get(f"/admin/ivr/{name}/preview.wav", params={"text": text})
    assert preview.status_code == 400 and reason in preview.text
    assert stored() == {}
    with session_scope() as db:
        assert not db.scalars(select(AuditEntry).where(AuditEntry.action == "setting_changed")).all()


def _wav(body: bytes) -> tuple[int, float]:
    with wave.open(io.BytesIO(body)) as w:
        return w.getframerate(), w.getnframes() / w.getframerate()


def test_the_preview_speaks_the_unsaved_text_in_the_phone_voice(sqlite_client: TestClient) -> None:
    admin(sqlite_client)
    resp = sqlite_client.get("/admin/ivr/welcome/preview.wav", params={"text": NEW_WELCOME})
    assert resp.status_code == 200 and resp.headers["content-type"] == "audio/wav"
    assert resp.headers["cache-control"] == "no-store"
    rate, seconds = _wav(resp.content)
    assert rate == prompts.PREVIEW_RATE and seconds > 1.5
    assert stored() == {}  # a preview saves nothing
    import speech

    assert speech.cached(NEW_WELCOME, rate=8000) is not None  # the file the phone line will play

    placeholder = sqlite_client.get(
        "/admin/ivr/queue_position/preview.wav", params={"text": "您前面还有{ahead}位，约{minutes}分钟。"}
    )
    assert placeholder.status_code == 200 and _wav(placeholder.content)[1] > 1.0
    assert speech.cached("您前面还有3位，约2分钟。", rate=8000) is not None  # spoken with example values
    assert sqlite_client.get("/admin/ivr/nosuch/preview.wav", params={"text": "您好"}).status_code == 404
    assert sqlite_client.get("/admin/ivr/nosuch").status_code == 404


def test_only_administrators_edit_or_preview_prompts_and_saving_needs_the_csrf_token(
    sqlite_client: TestClient,
) -> None:
    anonymous = sqlite_client.get(
        "/admin/ivr/welcome/preview.wav", params={"text": "您好"}, follow_redirects=False
    )
    assert anonymous.status_code in (303, 401)
    make_user("sup", ["supervisor", "agent", "editor"])
    token = login(sqlite_client, "sup")
    for url in ("/admin/ivr", "/admin/ivr/welcome", "/admin/ivr/welcome/preview.wav?text=x"):
        assert sqlite_client.get(url).status_code == 403, url
    assert save(sqlite_client, token, "welcome", NEW_WELCOME).status_code == 403
    sqlite_client.post("/logout", data={"csrf_token": token})
    admin(sqlite_client)
    assert save(sqlite_client, "not-the-token", "welcome", NEW_WELCOME).status_code == 403
    assert stored() == {}


def test_an_edit_that_no_longer_fits_the_menu_file_is_skipped(sqlite_env: object) -> None:
    """The menu file changed a prompt's placeholders after the edit, or dropped the edited sub-menu: the
    call speaks the file's text."""
    menu = load_menu()
    with session_scope() as db:
        sitesettings.write(
            db,
            sitesettings.IVR_PROMPTS,
            {"queue_position": "请稍候。", "goodbye": "再见。", "gone": "x", "menu.2": "人工服务请按0。"},
            actor="t",
        )
    with session_scope() as db:
        spoken = prompts.effective_menu(db, menu)
    assert spoken.prompts["queue_position"] == menu.prompts["queue_position"]
    assert spoken.prompts["goodbye"] == "再见。" and "gone" not in spoken.prompts
    assert menu.prompts["goodbye"] != "再见。"  # the file's menu itself is untouched


UPPER, LOWER = "menu.2", "menu.2.2"
NEW_LOWER = "人工服务请按0。政策法规文件请按1，返回上一级菜单请按星号键。"


@pytest.fixture
def tree_client(client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    """The web client with a menu file whose key 2 is a sub-menu holding another (key 2 -> key 2)."""
    use_menu_tree(tmp_path, monkeypatch)
    return client


def test_a_sub_menu_prompt_is_edited_audited_and_heard_on_the_next_call(tree_client: TestClient) -> None:
    token = admin(tree_client)
    page = tree_client.get("/admin/ivr").text
    assert "子菜单（主菜单按2）" in page and "子菜单（主菜单按2 → 按2）" in page
    assert TREE_PROMPTS["2"] in page and TREE_PROMPTS["2.2"] in page
    # listed after the main menu, before the prompts the caller hears later
    assert page.index('href="/admin/ivr/main_menu"') < page.index(f'href="/admin/ivr/{UPPER}"')
    assert page.index(f'href="/admin/ivr/{LOWER}"') < page.index('href="/admin/ivr/invalid"')
    form = tree_client.get(f"/admin/ivr/{LOWER}").text
    assert "提示音：子菜单（主菜单按2 → 按2）" in form and TREE_PROMPTS["2.2"] in form

    resp = save(tree_client, token, LOWER, NEW_LOWER)
    assert resp.status_code == 303 and resp.headers["location"] == f"/admin/ivr/{LOWER}"
    assert (
        "已保存提示音“子菜单（主菜单按2 → 按2）”，下一通电话起生效。"
        in tree_client.get(resp.headers["location"]).text
    )
    assert stored() == {LOWER: NEW_LOWER}
    with session_scope() as db:
        [entry] = db.scalars(select(AuditEntry).where(AuditEntry.entity_id == sitesettings.IVR_PROMPTS)).all()
    assert entry.actor == "root" and entry.detail == {"old": None, "new": {LOWER: NEW_LOWER}}

    heard = run_call("press 2\npress 2\npress *\nhangup").prompts
    assert NEW_LOWER in heard and TREE_PROMPTS["2.2"] not in heard  # read per call: no restart
    assert heard.count(TREE_PROMPTS["2"]) == 2  # the other sub-menu keeps the file's text

    resp = tree_client.post(f"/admin/ivr/{LOWER}/default", data={"csrf_token": token}, follow_redirects=False)
    assert resp.status_code == 303 and stored() == {}
    assert TREE_PROMPTS["2.2"] in run_call("press 2\npress 2\nhangup").prompts


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("政策法规请按1，人工服务请按0。", "子菜单须先播报“人工服务请按0”"),
        ("请稍候。", "子菜单须先播报“人工服务请按0”"),
        ("人工服务请按0。" + "政策法规请按1，" * 30, "最多 200 个字"),
        ("人工服务请按0。{category}请按1。", "它没有可用的占位符"),
    ],
)
def test_a_sub_menu_prompt_that_hides_the_person_or_is_too_long_is_refused(
    sqlite_client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, reason: str
) -> None:
    use_menu_tree(tmp_path, monkeypatch)
    token = admin(sqlite_client)
    resp = save(sqlite_client, token, UPPER, text)
    assert resp.status_code == 422 and reason in resp.text, resp.text
    preview = sqlite_client.get(f"/admin/ivr/{UPPER}/preview.wav", params={"text": text})
    assert preview.status_code == 400 and reason in preview.text
    assert stored() == {}


def test_a_sub_menu_the_file_does_not_have_is_not_found(sqlite_client: TestClient) -> None:
    token = admin(sqlite_client)  # the bundled menu file: no sub-menus
    assert "子菜单（" not in sqlite_client.get("/admin/ivr").text
    assert sqlite_client.get(f"/admin/ivr/{UPPER}").status_code == 404
    assert save(sqlite_client, token, UPPER, TREE_PROMPTS["2"]).status_code == 404
    assert stored() == {}
