"""Keys do what the prompts say, on the live line and in the simulator alike: # ends every entry (also
a full-length one), * goes back and 0 reaches a person in every entry, keys typed during a prompt are
kept, 9 repeats, and a locked progress query offers a person or voicemail instead of silence."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import casework
from hotline.db import session_scope
from selfservice.channel import KeyBuffer
from selfservice.live_channel import LiveChannel

# -- the key buffer both channels use ---------------------------------------------------------------


def test_a_hash_right_after_a_full_length_entry_ends_it_and_is_not_left_over() -> None:
    keys = KeyBuffer()
    for i, key in enumerate("123456"):
        keys.press(key, now=i * 0.3)
    entry, done = keys.take("", max_digits=6, terminator="#", now=1.8, grace=4.0)
    assert done is not None and done.digits == "123456" and not done.terminated
    assert keys.press("#", now=2.1) is False  # the caller's # for that entry: absorbed
    assert keys.pending == ""


def test_a_hash_long_after_a_full_entry_is_a_key_of_its_own() -> None:
    keys = KeyBuffer()
    for key in "123456":
        keys.press(key, now=0.0)
    keys.take("", max_digits=6, terminator="#", now=0.0, grace=4.0)
    assert keys.press("#", now=9.0) is True and keys.pending == "#"


def test_typed_ahead_keys_wait_for_the_next_entry_and_star_cancels() -> None:
    keys = KeyBuffer()
    for key in "3123#9*":
        keys.press(key, now=0.0)
    assert keys.take("", max_digits=1, terminator="#", now=0.0, grace=4.0)[1].digits == "3"
    entry = keys.take("", max_digits=20, terminator="#", now=0.0, grace=4.0)[1]
    assert entry.digits == "123" and entry.terminated
    assert keys.take("", max_digits=20, terminator="#", now=0.0, grace=4.0)[1].digits == "*"


# -- the live channel ---------------------------------------------------------------------------------


class FakeLine(LiveChannel):
    """A live channel without media: prompts 'play' for their real-time length, keys come from a task."""

    name = "fake"

    def __init__(self) -> None:
        super().__init__("13800138000")
        self.started: list[str] = []
        self.stopped = 0

    def audio_position(self) -> int:
        return 0

    def read_audio(self, start: int, end: int) -> bytes:
        return b""

    async def prompt_audio(self, text: str, *, render: bool = True) -> Path:
        return Path("/dev/null")

    async def start_prompt(self, text: str | None, audio: Path, *, queued: bool = False) -> float:
        self.started.append(text or "")
        return 0.6

    async def stop_prompt(self) -> None:
        self.stopped += 1

    async def transfer(self, target: str) -> None: ...

    async def hangup(self) -> None: ...


def test_live_channel_a_full_password_then_hash_does_not_cut_the_next_prompt() -> None:
    async def scenario() -> tuple[str, FakeLine]:
        line = FakeLine()

        async def caller() -> None:
            for key in "654321#":
                line.on_digit(key)
                await asyncio.sleep(0.3)

        keys = asyncio.create_task(caller())
        got = await line.gather(max_digits=6, timeout=5, interdigit_timeout=4)
        await line.play("您的工单当前状态：已受理。")  # the # arrives while this plays
        await keys
        return got.digits, line

    digits, line = asyncio.run(scenario())
    assert digits == "654321"
    assert line.started == ["您的工单当前状态：已受理。"] and line.stopped == 0  # heard to the end
    assert line.digits == "" and "来电: 按键 #（结束输入）" in line.log.lines


# -- dialogs (simulator, which keeps keys exactly as the live line does) ---------------------------

pytestmark = pytest.mark.usefixtures("ivr_env")


def _case() -> tuple[str, str]:
    with session_scope() as session:
        case, password = casework.create_case(
            session, channel="phone", caller_number="13900001111", content="小区路灯不亮", actor="agent"
        )
        return case.case_number, password


def test_full_length_password_then_hash_pressed_separately_hears_the_status(call) -> None:
    number, password = _case()
    result = call(f"press 3\npress {number}#\npress {password}\npress #\nsilence 6\nhangup")
    status = next(i for i, p in enumerate(result.prompts) if p.startswith(f"您的工单{number}"))
    assert result.prompts[status + 1].startswith("人工服务请按0。政策法规请按1")  # the main menu, not cut
    assert "progress:ok" in result.record.path


def test_keys_typed_ahead_through_the_prompts_are_kept(call) -> None:
    number, password = _case()
    result = call(f"press 3{number}#{password}#\nhangup")
    assert any(p.startswith(f"您的工单{number}") for p in result.prompts)
    assert not any(p.startswith("请输入您的工单编号") for p in result.prompts)  # skipped: keyed ahead


def test_star_in_an_entry_goes_back_and_zero_reaches_a_person(call) -> None:
    back = call("press 3\npress 12*\nhangup")
    assert back.prompts[-2].startswith("人工服务请按0。政策法规请按1")  # the main menu again
    person = call("press 3\npress 0#")
    assert person.outcome == "transferred"


def test_three_wrong_passwords_then_voicemail_is_offered_and_prompted(call, spoken) -> None:
    number, password = _case()
    wrong = "000000" if password != "000000" else "111111"
    message = spoken("我家门口的路灯坏了三天了，请派人来修一下。")
    script = "\n".join(["press 3"] + [f"press {number}#\npress {wrong}\npress #"] * 3)
    result = call(f"{script}\npress 4\nsay {message}\npress #\nhangup")
    locked = result.prompts.index(next(p for p in result.prompts if p.startswith("查询失败次数过多")))
    assert result.prompts[locked + 1].startswith("请在提示音后留言")  # told, then the voicemail prompt
    assert result.outcome == "voicemail"


def test_nine_repeats_the_menu_without_counting_as_a_mistake(call) -> None:
    result = call("press 9\npress 9\npress 9\npress 9\nhangup")
    menus = [p for p in result.prompts if p.startswith("人工服务请按0。政策法规请按1")]
    assert len(menus) == 5 and "对不起，您的输入有误。" not in result.prompts
    assert result.channel.transferred_to is None
