"""The menu file defines a tree of any depth: sub-menus with their own prompt and keys, * back up one
level, 0 announced first in each; the categories anywhere in it are what editors curate."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from selfservice.engine import Dialog
from selfservice.menu import MenuError, load_menu
from selfservice.simulator import SimulatedChannel, parse_script
from tests.selfservice.conftest import DATA, OFFICE_HOURS, TREE, menu_text


def _menu_file(tmp_path: Path, tree: str = TREE) -> Path:
    path = tmp_path / "menu.toml"
    path.write_text(menu_text(tree), encoding="utf-8")
    return path


def _prompts(menu_path: Path, script: str) -> list[str]:
    channel = SimulatedChannel(parse_script(script, DATA), "13800138000")
    asyncio.run(Dialog(channel, load_menu(menu_path), clock=lambda: OFFICE_HOURS).run())
    return [line[5:] for line in channel.log.lines if line.startswith("IVR: ")]


@pytest.mark.usefixtures("ivr_env")
def test_a_listing_three_levels_down_and_star_goes_back_one_level(tmp_path: Path) -> None:
    path = _menu_file(tmp_path)
    prompts = _prompts(path, "press 2\npress 2\npress 1\nhangup")
    assert "人工服务请按0。办事指南请按1，政策文件请按2，返回请按星号键。" in prompts
    assert "人工服务请按0。政策法规请按1，返回上一级请按星号键。" in prompts
    assert any(p.startswith("以下是政策法规的主要内容。人工服务请按0。") for p in prompts)

    prompts = _prompts(path, "press 2\npress 2\npress *\npress 1\nhangup")
    upper = "人工服务请按0。办事指南请按1，政策文件请按2，返回请按星号键。"
    assert prompts.count(upper) == 2  # back from the lower menu to this one
    assert any(p.startswith("以下是办事指南的主要内容") for p in prompts)


def test_the_categories_of_the_whole_tree_are_curated(tmp_path: Path) -> None:
    menu = load_menu(_menu_file(tmp_path))
    assert [(p, i.category, i.items) for p, i in menu.category_items()] == [
        ("1", "政策法规", 5),
        ("2.1", "办事指南", 5),
    ]
    assert [(p, i.category) for p, i in menu.tree() if i.category] == [
        ("1", "政策法规"),
        ("2.1", "办事指南"),
        ("2.2.1", "政策法规"),
    ]
    assert list(menu.submenus()) == ["2", "2.2"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('prompt = "人工服务请按0。政策法规请按1，返回上一级请按星号键。"\n', ""), "needs a 'prompt'"),
        (("人工服务请按0。政策法规请按1，", "政策法规请按1，人工服务请按0，"), "must announce key 0"),
        (('items = 3\n', 'items = 3\n\n[[menu.menu.menu]]\nkey = "9"\naction = "progress"\n'), "key 9 is reserved"),
        (('[[menu.menu.menu]]\nkey = "1"', '[[menu.menu.menu]]\nkey = "0"'), "key 0 is reserved"),
    ],
)
def test_a_bad_sub_menu_is_refused_naming_the_problem(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    old, new = change
    assert old in TREE
    with pytest.raises(MenuError, match=message):
        load_menu(_menu_file(tmp_path, TREE.replace(old, new)))
