"""Prompts edited on the admin pages (selfservice.prompts) are what the next call hears, with the values
the IVR fills into their placeholders; the menu file stays the default."""

from __future__ import annotations

import pytest

from hotline.db import session_scope
from selfservice import prompts
from selfservice.menu import load_menu


@pytest.mark.usefixtures("ivr_env")
def test_an_edited_listing_prompt_is_heard_with_its_placeholders_filled(call) -> None:  # type: ignore[no-untyped-def]
    menu = load_menu()
    with session_scope() as db:
        prompts.set_prompt(
            db, menu, "category_intro", "您选择了{category}栏目。人工服务请按0。", actor="root"
        )
        prompts.set_prompt(db, menu, "goodbye", menu.prompts["goodbye"], actor="root")  # the default: no edit
        assert prompts.edited(db) == {"category_intro": "您选择了{category}栏目。人工服务请按0。"}
    heard = call("press 1\npress #\nhangup").prompts
    assert any(p.startswith("您选择了政策法规栏目。人工服务请按0。第1项请按1，") for p in heard), heard
    assert not any(p.startswith("以下是政策法规") for p in heard)

    with session_scope() as db:
        prompts.restore_default(db, menu, "category_intro", actor="root")
    heard = call("press 1\npress #\nhangup").prompts
    assert any(p.startswith("以下是政策法规的主要内容。") for p in heard), heard
