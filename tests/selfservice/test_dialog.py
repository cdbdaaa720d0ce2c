"""Calls through the simulator: real dialog engine, real TTS prompts, real ASR on recordings."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

import kb
from hotline.db import session_scope
from selfservice import records
from tests.selfservice.conftest import NIGHT, SPEECH

pytestmark = pytest.mark.usefixtures("ivr_env")

QUESTION = SPEECH / "wenet_BAC009S0724W0121.wav"  # real recording: 广州市房地产中介协会分析


def _doc_id(title: str) -> int:
    with session_scope() as session:
        return session.scalar(select(kb.Document.id).where(kb.Document.title == title))


def _first_part(title: str) -> str:
    with session_scope() as session:
        return kb.get_document(session, _doc_id(title)).sections[0]


def test_welcome_then_main_menu_and_hang_up_is_abandoned(call) -> None:
    result = call("hangup")
    assert result.prompts[0].startswith("您好，这里是12345政务服务便民热线")
    assert "人工服务请按0" in result.prompts[1] and "直接说出您要咨询的问题" in result.prompts[1]
    assert result.outcome == "abandoned"
    assert result.record.outcome == "abandoned" and result.record.ended_at is not None


def _make_popular(title: str, views: int = 3) -> None:
    with session_scope() as session:
        for _ in range(views):
            kb.record_view(session, _doc_id(title), "web")


def test_category_lists_popular_documents_and_reads_with_paging_keys(call) -> None:
    _make_popular("住房公积金提取管理办法")
    result = call("press 1\npress 1\npress 3\npress 3\npress 3\npress 1\npress 2\npress *\npress #\nhangup")
    prompts = result.prompts
    listing = next(p for p in prompts if p.startswith("以下是政策法规"))
    assert "第1项请按1，住房公积金提取管理办法" in listing and "第2项请按2，广州市房地产中介" in listing
    assert "身份证" not in listing  # a 办事指南 document
    with session_scope() as session:
        parts = kb.get_document(session, _doc_id("住房公积金提取管理办法")).sections
    assert len(parts) >= 2
    read = [parts.index(p) for p in prompts if p in parts]
    # first part, 3 next, 3 next (or "读完" at the end), 3 again, 1 previous, 2 repeat
    expected, index = [0], 0
    for key in "3331":
        if key == "3" and index + 1 < len(parts):
            index += 1
            expected.append(index)
        elif key == "1":
            index = max(0, index - 1)
            expected.append(index)
    assert read == [*expected, index]
    assert "本文已读完。" in prompts
    # '*' went back to the category list, '#' to the main menu
    assert prompts.count(listing) == 2
    assert prompts[-2].startswith("人工服务请按0")
    assert result.outcome == "self_served"
    assert result.record.documents == [
        {"id": _doc_id("住房公积金提取管理办法"), "title": "住房公积金提取管理办法"}
    ]
    with session_scope() as session:
        assert kb.get_document(session, _doc_id("住房公积金提取管理办法")) is not None
        assert session.get(kb.Document, _doc_id("住房公积金提取管理办法")).views == 4


def test_reading_continues_by_itself_on_silence(call) -> None:
    _make_popular("住房公积金提取管理办法")
    result = call("press 1\npress 1\nsilence 6\nsilence 6\nhangup")
    with session_scope() as session:
        parts = kb.get_document(session, _doc_id("住房公积金提取管理办法")).sections
    assert [p for p in result.prompts if p in parts] == parts[:3]


def test_unknown_keys_and_silence_then_transfer_after_max_retries(call) -> None:
    result = call("press 8\nsilence 10\npress *")
    prompts = result.prompts
    assert "对不起，您的输入有误。" in prompts
    assert "对不起，没有听到您的输入。" in prompts
    assert "正在为您转接人工服务，请稍候。" in prompts
    assert result.outcome == "transferred"
    assert result.channel.transferred_to == "sip:agents@127.0.0.1"
    assert result.record.transfer_target == "sip:agents@127.0.0.1"
    assert "max-retries" in result.record.path


def test_zero_reaches_an_agent_from_inside_a_document_with_context(call) -> None:
    result = call("press 2\npress 1\npress 0")
    assert result.outcome == "transferred"
    with session_scope() as session:
        ctx = records.call_context(session, result.dialog.call_id)
    assert ctx["number"] == "13800138000"
    assert ctx["last_document"]["title"] in {"居民身份证换领办事指南", "社会保障卡挂失补办指南"}
    assert ctx["path"][:3] == ["main", "key:2", ctx["path"][2]] and ctx["path"][-1] == "transfer"


def test_agents_busy_offers_waiting_or_voicemail(call) -> None:
    result = call("press 0\npress 1", agents_busy=True)
    assert any(p.startswith("对不起，人工坐席全忙") for p in result.prompts)
    assert result.outcome == "transferred"


def test_spoken_question_is_recognised_searched_and_read(call) -> None:
    result = call(f"say {QUESTION}\npress 1\nhangup")
    recognised = next(line for line in result.channel.log.lines if "[识别：" in line)
    assert "中介" in recognised  # the real ASR heard the real recording
    listing = next(p for p in result.prompts if p.startswith("为您找到以下内容"))
    assert "第1个，广州市房地产中介服务管理条例" in listing
    assert _first_part("广州市房地产中介服务管理条例") in result.prompts
    assert result.record.searches[0]["query"] == recognised.split("：", 1)[1].rstrip("]")
    assert result.record.searches[0]["hits"][0] == _doc_id("广州市房地产中介服务管理条例")
    assert result.outcome == "self_served"


def test_a_copy_of_a_result_is_not_read_twice(call) -> None:
    with session_scope() as session:
        original = kb.get_document(session, _doc_id("广州市房地产中介服务管理条例"))
        data = kb.DocumentInput(
            title="广州市房地产中介服务管理条例（转载）", category="政策法规", body=original.body
        )
        copy = kb.create_document(session, data, actor="seed-editor")
        kb.submit_document(session, copy.id, actor="seed-editor")
        kb.approve_document(session, copy.id, actor="seed-reviewer")
    result = call(f"say {QUESTION}\npress 1\nhangup")
    listing = next(p for p in result.prompts if p.startswith("为您找到以下内容"))
    assert listing.count("广州市房地产中介服务管理条例") == 1  # the copy, ranked next, is left out
    assert len(result.record.searches[0]["hits"]) == len(set(result.record.searches[0]["hits"]))


def test_result_chosen_by_saying_which_one(call, spoken) -> None:
    result = call(f"say {QUESTION}\nsay {spoken('第一个')}\nhangup")
    assert _first_part("广州市房地产中介服务管理条例") in result.prompts


def test_garbage_audio_is_not_understood_and_the_caller_can_go_on(call, noise_wav: Path) -> None:
    result = call(f"say {noise_wav}\npress 2\npress *\nhangup")
    assert "对不起，没有听清您的问题。" in result.prompts or any(
        p.startswith("为您找到") or p.startswith("对不起，没有找到") for p in result.prompts
    )
    assert any(p.startswith("以下是办事指南") for p in result.prompts)


def test_question_without_answer_offers_agent_or_voicemail_and_logs_the_gap(call, spoken) -> None:
    result = call(f"say {spoken('火星移民签证')}\npress #\nhangup")
    heard = result.record.searches[0]["query"]
    with session_scope() as session:
        hits = kb.search(session, heard, limit=3, channel="ivr", log_gaps=False).hits
    if hits:
        pytest.skip(f"the recogniser heard {heard!r}, which matches a test document")
    assert any(p.startswith("对不起，没有找到") for p in result.prompts)
    with session_scope() as session:
        gaps = session.scalars(select(kb.SearchGap)).all()
    assert any(g.channel == "ivr" for g in gaps)


def test_speech_where_only_keys_count_is_treated_as_no_input(call) -> None:
    result = call(f"press 1\nsay {QUESTION}\npress *\nhangup")
    assert "对不起，没有听到您的输入。" in result.prompts


def test_after_hours_zero_goes_to_voicemail_not_agents(call) -> None:
    result = call("press 0\nhangup", at=NIGHT)
    assert "现在是非工作时间，人工服务暂停，请您留言，我们会尽快处理。" in result.prompts
    assert result.channel.transferred_to is None
    assert "after-hours" in result.record.path


def test_a_category_listing_is_short_and_stable_whatever_is_read_most(call) -> None:
    first = call("press 1\nhangup")
    _make_popular("广州市房地产中介服务管理条例", views=5)  # read most since: the keys must not move
    second = call("press 1\nhangup")
    listing = [p for p in first.prompts if p.startswith("以下是政策法规")]
    assert listing == [p for p in second.prompts if p.startswith("以下是政策法规")]
    assert "第1项请按1，住房公积金提取管理办法" in listing[0] and "第3项" not in listing[0]
    assert "重听请按9" in listing[0]


def test_the_title_is_read_once_when_the_text_begins_with_it(call) -> None:
    with session_scope() as session:
        data = kb.DocumentInput(
            title="居住证办理须知",
            category="办事指南",
            body="居住证办理须知\n持居住证可以在本市办理出入境证件。",
        )
        doc = kb.create_document(session, data, actor="seed-editor")
        kb.submit_document(session, doc.id, actor="seed-editor")
        kb.approve_document(session, doc.id, actor="seed-reviewer")
    result = call("press 2\npress 3\nhangup")
    assert sum("居住证办理须知" in p and not p.startswith("以下是") for p in result.prompts) == 1
    assert "持居住证可以在本市办理出入境证件。" in result.prompts


def test_agents_busy_prompt_takes_0_and_hash_as_asking_for_a_person(call) -> None:
    """0, # or an invalid key at "坐席全忙" crashed the dialog (an unhandled _ToMain / _ToAgent)."""
    for keys in ("press 0\npress 0", "press 0\npress #", "press 0\npress 7\npress 1"):
        result = call(keys, agents_busy=True)
        assert result.outcome == "transferred", keys


def test_direct_service_mode_puts_callers_through_to_a_person_without_the_menu(
    call, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from hotline.config import BUNDLED_DATA, get_settings

    data = tmp_path / "data"
    shutil.copytree(BUNDLED_DATA / "ivr", data / "ivr")
    menu = data / "ivr" / "menu.toml"
    menu.write_text(
        menu.read_text(encoding="utf-8").replace('mode = "menu"', 'mode = "direct"'), encoding="utf-8"
    )
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(data))
    get_settings.cache_clear()
    result = call("silence 1")
    assert result.outcome == "transferred"
    assert result.record.path[:2] == ["direct", "agent"]
    assert not any("政策法规请按1" in p for p in result.prompts)  # no menu before the person
