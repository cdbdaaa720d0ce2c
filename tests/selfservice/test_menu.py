"""The menu file is validated at start; errors name the file and the key."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from casework import calendar
from hotline.db import session_scope
from selfservice.menu import MenuError, default_menu_path, load_menu

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _variant(tmp_path: Path, old: str, new: str) -> Path:
    text = default_menu_path().read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "menu.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_bundled_menu_is_valid_and_has_the_required_entries() -> None:
    menu = load_menu()
    assert menu.prompts["welcome"].startswith("您好，这里是12345政务服务便民热线")
    assert "您也可以直接说出您要咨询的问题" in menu.prompts["main_menu"]
    assert {i.key: i.action for i in menu.menu} == {
        "1": "category",
        "2": "category",
        "3": "progress",
        "4": "voicemail",
        "0": "agent",
    }
    assert menu.item("1").category == "政策法规" and menu.item("2").category == "办事指南"


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('welcome = "', 'welcom = "', "prompts"),
        ("digit_timeout = 5.0", 'digit_timeout = "soon"', "timing.digit_timeout"),
        ('timezone = "Asia/Shanghai"', 'timezone = "Mars/Base"', "hours.timezone"),
        ('key = "3"', 'key = "1"', "menu"),
        ('action = "progress"', 'action = "dance"', "menu.2.action"),
        ('category = "办事指南"', 'categroy = "办事指南"', "menu.1"),
        ("[agents]", "[agents]\nseats_x = 1", "agents.seats_x"),
    ],
)
def test_invalid_menu_names_file_and_key(tmp_path: Path, old: str, new: str, key: str) -> None:
    path = _variant(tmp_path, old, new)
    with pytest.raises(MenuError) as err:
        load_menu(path)
    assert str(path) in str(err.value)
    assert key in str(err.value)


def test_key_zero_is_reserved_for_agents(tmp_path: Path) -> None:
    path = _variant(tmp_path, 'key = "0"\naction = "agent"', 'key = "0"\naction = "voicemail"')
    with pytest.raises(MenuError, match="key 0 is reserved"):
        load_menu(path)


def test_the_main_menu_names_the_person_first_and_nine_is_kept_for_repeating(tmp_path: Path) -> None:
    assert load_menu().prompts["main_menu"].startswith("人工服务请按0")
    late = _variant(
        tmp_path, 'main_menu = "人工服务请按0。政策法规请按1，', 'main_menu = "政策法规请按1，人工服务请按0，'
    )
    with pytest.raises(MenuError, match="announce key 0"):
        load_menu(late)
    nine = _variant(tmp_path, 'key = "4"', 'key = "9"')
    with pytest.raises(MenuError, match="key 9 is reserved"):
        load_menu(nine)


def test_broken_toml_and_missing_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[timing\n", encoding="utf-8")
    with pytest.raises(MenuError, match="invalid TOML"):
        load_menu(broken)
    with pytest.raises(MenuError, match="not found"):
        load_menu(tmp_path / "none.toml")


def test_office_hours_nights_and_holidays_come_from_the_one_calendar(sqlite_env: Path) -> None:
    hours = load_menu().hours
    assert hours.is_open(datetime(2026, 11, 25, 10, 0, tzinfo=SHANGHAI))
    assert not hours.is_open(datetime(2026, 11, 25, 23, 0, tzinfo=SHANGHAI))
    assert not hours.is_open(datetime(2026, 11, 25, 7, 59, tzinfo=SHANGHAI))
    assert not hours.is_open(datetime(2026, 10, 1, 10, 0, tzinfo=SHANGHAI))  # National Day
    # 02:00 UTC is 10:00 in Shanghai
    assert hours.is_open(datetime(2026, 11, 25, 2, 0, tzinfo=ZoneInfo("UTC")))
    # what the admin pages set, the IVR follows: a new holiday, shorter hours on a five-day week
    with session_scope() as s:
        calendar.set_holiday(s, date(2026, 11, 25), workday=False, name="测试假日", actor="admin")
        calendar.set_service_hours(
            s, calendar.ServiceHours(time(9, 0), time(17, 0), (1, 2, 3, 4, 5)), actor="admin"
        )
    assert not hours.is_open(datetime(2026, 11, 25, 10, 0, tzinfo=SHANGHAI))
    assert hours.is_open(datetime(2026, 11, 26, 16, 59, tzinfo=SHANGHAI))
    assert not hours.is_open(datetime(2026, 11, 26, 17, 0, tzinfo=SHANGHAI))
    assert not hours.is_open(datetime(2026, 11, 28, 10, 0, tzinfo=SHANGHAI))  # a Saturday


def test_hours_left_in_an_old_menu_file_are_refused_with_where_they_live_now(tmp_path: Path) -> None:
    old = _variant(
        tmp_path, 'timezone = "Asia/Shanghai"', 'timezone = "Asia/Shanghai"\nholidays = ["2026-01-01"]'
    )
    with pytest.raises(MenuError, match="hours: .*holidays.*admin pages"):
        load_menu(old)
