"""Browser voice over the WebSocket: prompts with captions and audio, keypad digits, and a spoken
question recognised by the real ASR."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from hotline.db import session_scope
from kb.importer import import_file
from selfservice import records
from selfservice.channel import read_wav_mono
from tests.selfservice.conftest import DATA, SPEECH

QUESTION = SPEECH / "wenet_BAC009S0724W0121.wav"  # a real recording: 广州市房地产中介协会分析


@pytest.fixture
def voice_client(sqlite_env: Path) -> Iterator[TestClient]:
    """The portal with the IVR test documents published."""
    from web.app import create_app

    assert not import_file(DATA / "kb.jsonl", publish=True).errors
    with TestClient(create_app()) as client:
        yield client


def next_prompt(ws: WebSocketTestSession) -> tuple[str, bytes]:
    """The next caption and its audio."""
    while True:
        message = ws.receive()
        if message.get("text"):
            data = json.loads(message["text"])
            if data["type"] == "prompt":
                return data["text"], ws.receive()["bytes"]
            if data["type"] == "hangup":
                return data["type"], b""


def next_message(ws: WebSocketTestSession) -> dict:
    """The next JSON message; audio frames before it (a prompt's later parts) are passed over."""
    while True:
        message = ws.receive()
        if message.get("text"):
            return json.loads(message["text"])


def prompts_until(ws: WebSocketTestSession, start: str) -> str:
    return prompt_and_audio_until(ws, start)[0]


def prompt_and_audio_until(ws: WebSocketTestSession, start: str) -> tuple[str, bytes]:
    for _ in range(30):
        text, audio = next_prompt(ws)
        if text.startswith(start):
            return text, audio
    raise AssertionError(f"no prompt starting with {start!r}")


def test_voice_page_is_linked_and_served(voice_client: TestClient) -> None:
    page = voice_client.get("/voice")
    assert page.status_code == 200
    assert "网上语音咨询" in page.text and 'data-key="0"' in page.text
    assert 'href="/voice"' in voice_client.get("/").text


def test_keypad_browses_a_category(voice_client: TestClient) -> None:
    with voice_client.websocket_connect("/voice/ws") as ws:
        text, audio = next_prompt(ws)
        assert text == "您好，这里是12345政务服务便民热线。"
        # not in the cache at 16 kHz: played part by part, its first clause ("您好，") first, over half a
        # second of 16 kHz speech (docs/ivr.md)
        assert len(audio) > 16000
        ws.send_text(json.dumps({"type": "digit", "digit": "2"}))
        assert prompts_until(ws, "以下是办事指南")
        ws.send_text(json.dumps({"type": "hangup"}))
    with session_scope() as s:
        record = records.recent_calls(s)[0]
        assert record.channel == "browser"
        assert "key:2" in (record.path or [])


def test_spoken_question_is_recognised_and_searched(voice_client: TestClient) -> None:
    pcm = read_wav_mono(QUESTION, 16000).astype("<i2").tobytes()
    silence = bytes(16000 * 2)
    with voice_client.websocket_connect("/voice/ws") as ws:
        _, menu = prompt_and_audio_until(ws, "人工服务请按0。政策法规请按1")
        time.sleep(len(menu) / 32000 + 0.5)  # the caller listens to the main menu, then speaks
        for start in range(0, len(pcm), 3200):
            ws.send_bytes(pcm[start : start + 3200])
        for _ in range(3):
            ws.send_bytes(silence)
        listing = prompts_until(ws, "为您找到以下内容")  # the top 3 titles, read in one prompt
        assert "中介" in listing
        ws.send_text(json.dumps({"type": "hangup"}))
    with session_scope() as s:
        record = records.recent_calls(s)[0]
        assert record.searches and "中介" in record.searches[0]["query"]


def test_talking_over_the_menu_stops_it_and_the_question_is_heard(voice_client: TestClient) -> None:
    """Speech barge-in: the caller does not wait for the end of the main menu."""
    pcm = read_wav_mono(QUESTION, 16000).astype("<i2").tobytes()
    with voice_client.websocket_connect("/voice/ws") as ws:
        prompt_and_audio_until(ws, "人工服务请按0。政策法规请按1")
        for start in range(0, len(pcm), 3200):  # spoken at once, in real time
            ws.send_bytes(pcm[start : start + 3200])
            time.sleep(0.1)
        ws.send_bytes(bytes(16000 * 2 * 2))
        # the next message stops the menu (no key was pressed: the voice did it)
        assert next_message(ws) == {"type": "stop"}
        listing = prompts_until(ws, "为您找到以下内容")
        assert "中介" in listing  # the first syllables, spoken over the prompt, were not lost
        ws.send_text(json.dumps({"type": "hangup"}))


def test_bad_messages_are_ignored(voice_client: TestClient) -> None:
    with voice_client.websocket_connect("/voice/ws") as ws:
        next_prompt(ws)
        ws.send_text("not json")
        ws.send_text(json.dumps(["list"]))
        ws.send_text(json.dumps({"type": "digit", "digit": "x; drop table"}))
        ws.send_text(json.dumps({"type": "digit", "digit": "2"}))
        assert prompts_until(ws, "以下是办事指南")


def test_another_sites_page_cannot_open_the_socket(voice_client: TestClient) -> None:
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect) as refused:
        with voice_client.websocket_connect("/voice/ws", headers={"origin": "https://evil.example"}):
            pass
    assert refused.value.code == 1008


def test_a_voicemail_left_in_the_browser_becomes_a_case_without_a_number(voice_client: TestClient) -> None:
    """The page has no caller number: the IVR asks for one; # alone keeps the case with "未留号码"."""
    from sqlalchemy import select

    from casework.models import Case

    pcm = read_wav_mono(QUESTION, 16000).astype("<i2").tobytes()
    with voice_client.websocket_connect("/voice/ws") as ws:
        ws.send_text(json.dumps({"type": "digit", "digit": "4"}))
        prompts_until(ws, "请输入您的联系电话")
        ws.send_text(json.dumps({"type": "digit", "digit": "#"}))
        prompts_until(ws, "请在提示音后留言")
        next_prompt(ws)  # the beep
        time.sleep(0.8)
        for start in range(0, len(pcm), 3200):
            ws.send_bytes(pcm[start : start + 3200])
        ws.send_text(json.dumps({"type": "digit", "digit": "#"}))
        saved = prompts_until(ws, "您的留言已记录")
    with session_scope() as s:
        case = s.scalars(select(Case).where(Case.channel == "voicemail")).one()
        assert case.case_number in saved
        assert case.caller_number == "未留号码" and case.content.startswith("网上语音留言")
        assert Path(case.audio_path).is_file()
        assert records.recent_calls(s)[0].outcome == "voicemail"


def test_a_question_asked_during_the_welcome_is_heard(voice_client: TestClient) -> None:
    pcm = read_wav_mono(QUESTION, 16000).astype("<i2").tobytes()
    with voice_client.websocket_connect("/voice/ws") as ws:
        text, _ = next_prompt(ws)
        assert text.startswith("您好，这里是12345")
        for start in range(0, len(pcm), 3200):  # the caller does not wait for the menu
            ws.send_bytes(pcm[start : start + 3200])
            time.sleep(0.1)
        ws.send_bytes(bytes(16000 * 2 * 2))
        assert next_message(ws) == {"type": "stop"}  # the welcome stopped for the voice
        listing = prompts_until(ws, "为您找到以下内容")
        assert "中介" in listing
        ws.send_text(json.dumps({"type": "hangup"}))


def test_zero_offers_the_hotline_number_and_a_voicemail_with_a_number_to_call_back(
    voice_client: TestClient,
) -> None:
    """The page cannot be bridged to an agent's phone: 0 says so, names the number to dial, and 4 leaves a
    message with the number keyed in (a case the agents call back); never a transfer that cannot happen."""
    from sqlalchemy import select

    from casework.models import Case

    pcm = read_wav_mono(QUESTION, 16000).astype("<i2").tobytes()
    with voice_client.websocket_connect("/voice/ws") as ws:
        ws.send_text(json.dumps({"type": "digit", "digit": "0"}))
        offer = prompts_until(ws, "网上语音咨询不能直接转接人工坐席")
        assert "12345" in offer and "留言并留下回拨电话请按4" in offer
        ws.send_text(json.dumps({"type": "digit", "digit": "4"}))
        prompts_until(ws, "请输入您的联系电话")
        for key in "13912345678#":
            ws.send_text(json.dumps({"type": "digit", "digit": key}))
        prompts_until(ws, "请在提示音后留言")
        next_prompt(ws)  # the beep
        time.sleep(0.8)
        for start in range(0, len(pcm), 3200):
            ws.send_bytes(pcm[start : start + 3200])
        ws.send_text(json.dumps({"type": "digit", "digit": "#"}))
        saved = prompts_until(ws, "您的留言已记录")
    with session_scope() as s:
        case = s.scalars(select(Case).where(Case.channel == "voicemail")).one()
        assert case.case_number in saved and case.caller_number == "13912345678"
        call = records.recent_calls(s)[0]
        assert call.outcome == "voicemail" and "agent:online" in call.path and not call.transfer_target


def test_zero_then_hash_returns_to_the_main_menu(voice_client: TestClient) -> None:
    with voice_client.websocket_connect("/voice/ws") as ws:
        ws.send_text(json.dumps({"type": "digit", "digit": "0"}))
        prompts_until(ws, "网上语音咨询不能直接转接人工坐席")
        ws.send_text(json.dumps({"type": "digit", "digit": "#"}))
        prompts_until(ws, "人工服务请按0")
        ws.send_text(json.dumps({"type": "hangup"}))
    with session_scope() as s:
        assert records.recent_calls(s)[0].outcome != "transferred"
