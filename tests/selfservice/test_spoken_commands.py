"""Spoken commands before any search ("我要人工服务", a menu's words, "喂"), confirmation of a weak best hit
("您是想咨询……吗"), an honest no-result, and spoken case numbers read back. The callers' words are real
speech: synthesised by the neural voice (Kokoro) and recognised by the real ASR, or real recordings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import casework
import kb
import speech
from hotline.db import session_scope
from selfservice.understanding import menu_vocabulary, spot_command
from tests.selfservice.conftest import SPEECH

MENU_WORDS = menu_vocabulary(
    [
        ("1", "category", "政策法规"),
        ("2", "category", "办事指南"),
        ("3", "progress", None),
        ("4", "voicemail", None),
    ]
)


@pytest.mark.parametrize(
    ("pinyin", "action", "key"),
    [
        ("wo3 yao4 ren2 gong1 fu2 wu4", "agent", "0"),  # 我要人工服务
        ("chuan1 ren2 gong1", "agent", "0"),  # 转人工, heard as 穿人工
        ("ren2 gong1", "agent", "0"),
        ("zheng4 ce4 fa3 gui1", "category", "1"),
        ("ban4 shi4 zhi3 nan2", "category", "2"),
        ("cha2 xun2 ban4 li3 jin4 du4", "progress", "3"),
        ("wo3 yao4 liu2 yan2", "voicemail", "4"),
        ("wei4", "filler", None),  # 喂
        ("wei4 ni3 hao3", "filler", None),  # 喂，你好
        ("zhu4 cai4 dan1", "main", None),  # 主菜单, heard as 住菜单
        ("zhong4 ting1", "repeat", None),  # 重听
    ],
)
def test_commands_are_spotted_on_the_syllables(pinyin: str, action: str, key: str | None) -> None:
    command = spot_command(pinyin.split(), MENU_WORDS)
    assert command is not None and (command.action, command.key) == (action, key)


@pytest.mark.parametrize(
    "pinyin",
    [
        "ren2 gong1 zhi4 neng2 qi3 ye4 you3 shen2 me bu3 tie1",  # 人工智能企业有什么补贴: a question
        "liu2 yan2 zen3 me cha2 xun2",  # 留言怎么查询
        "gong1 ji1 jin1 ti2 qu3 xu1 yao4 shen2 me cai2 liao4",
    ],
)
def test_questions_that_contain_a_command_word_are_still_questions(pinyin: str) -> None:
    assert spot_command(pinyin.split(), MENU_WORDS) is None


def test_a_real_recorded_question_is_not_a_command() -> None:
    heard = speech.recognize_file(SPEECH / "wenet_BAC009S0724W0121.wav")  # 广州市房地产中介协会分析
    assert spot_command(heard.pinyin, MENU_WORDS) is None


# -- calls --------------------------------------------------------------------------------------------

pytestmark = pytest.mark.usefixtures("ivr_env")


@pytest.fixture
def voice(tmp_path: Path) -> Callable[[str], Path]:
    """A caller's words in the neural voice (16 kHz WAV), as a person would say them."""
    return lambda text: speech.synthesize(text, engine="kokoro", rate=16000)


def test_asking_for_a_person_at_the_main_menu_is_not_searched(call, voice) -> None:
    for words in ("我要人工服务", "转人工"):
        result = call(f"say {voice(words)}\nhangup")
        assert result.outcome == "transferred", words
        assert not result.record.searches and "said:agent" in result.record.path


def test_a_person_is_reachable_by_voice_from_the_search_results(call, voice) -> None:
    question = SPEECH / "wenet_BAC009S0724W0121.wav"
    result = call(f"say {question}\nsay {voice('人工服务')}\nhangup")
    assert any(p.startswith("为您找到以下内容") for p in result.prompts)
    assert result.outcome == "transferred"


def test_menu_words_choose_the_menu_item(call, voice) -> None:
    guides = call(f"say {voice('办事指南')}\nhangup")
    assert any(p.startswith("以下是办事指南") for p in guides.prompts)
    progress = call(f"say {voice('查询办理进度')}\nhangup")
    assert any(p.startswith("请输入您的工单编号") for p in progress.prompts)
    assert not guides.record.searches and not progress.record.searches


def test_hello_is_not_searched(call, voice) -> None:
    result = call(f"say {voice('喂，你好')}\nhangup")
    assert not result.record.searches
    assert "对不起，没有听清您的问题。" in result.prompts
    assert result.prompts[-2].startswith("人工服务请按0")  # the main menu again


def test_a_weak_best_hit_is_confirmed_before_it_is_read(call, voice) -> None:
    result = call(f"say {voice('房产中介收费')}\npress 1\nhangup")
    assert "您是想咨询广州市房地产中介服务管理条例吗？是请按1，不是请按2。" in result.prompts
    assert result.record.documents[0]["title"] == "广州市房地产中介服务管理条例"
    assert 0.3 <= result.record.searches[0]["confidence"] < 0.6


def test_no_to_the_confirmation_is_an_honest_no_result_with_another_try(call, voice) -> None:
    result = call(f"say {voice('房产中介收费')}\npress 2\npress 1\nsay {voice('社保卡丢了')}\nhangup")
    none = next(p for p in result.prompts if p.startswith("对不起，没有找到"))
    assert "人工服务请按0" in none and "重新提问请按1" in none and "留言请按4" in none
    assert "请说出您要咨询的问题。" in result.prompts
    assert any("社会保障卡挂失补办指南" in p for p in result.prompts)  # the second question answered


def test_a_spoken_case_number_is_read_back_for_confirmation(call, voice) -> None:
    with session_scope() as session:
        case, password = casework.create_case(
            session, channel="phone", caller_number="13900001111", content="小区路灯不亮", actor="agent"
        )
        number = case.case_number
    spoken = "".join("零一二三四五六七八九"[int(d)] for d in number)
    result = call(f"press 3\nsay {voice(spoken)}\npress 1\npress {password}#\nhangup")
    assert f"您说的是{number}，正确请按1，重新输入请按2。" in result.prompts
    assert any(p.startswith(f"您的工单{number}") for p in result.prompts)


def test_main_menu_and_repeat_by_voice(call, voice) -> None:
    result = call(f"press 2\nsay {voice('重听')}\nsay {voice('返回主菜单')}\nhangup")
    listings = [p for p in result.prompts if p.startswith("以下是办事指南")]
    assert len(listings) == 2  # read again on 重听
    assert result.prompts[-2].startswith("人工服务请按0")  # then the main menu
    assert "said:repeat" in result.record.path and "said:main" in result.record.path


def test_a_person_by_voice_while_a_document_is_read_and_other_speech_is_no_input(call, voice) -> None:
    reading = call(f"press 1\npress 1\nsay {voice('转人工')}\nhangup")
    assert reading.outcome == "transferred" and reading.record.documents
    chatter = call(f"press 1\nsay {SPEECH / 'wenet_BAC009S0724W0121.wav'}\npress *\nhangup")
    assert "对不起，没有听到您的输入。" in chatter.prompts and not chatter.record.searches


def test_repeat_by_voice_reads_the_documents_part_again(call, voice) -> None:
    result = call(f"press 1\npress 1\nsay {voice('重听')}\nhangup")
    first = result.record.documents[0]["title"]
    with session_scope() as session:
        part = kb.get_document(session, result.record.documents[0]["id"]).sections[0]
    assert first and result.prompts.count(part) == 2
