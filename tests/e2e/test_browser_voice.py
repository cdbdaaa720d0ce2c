"""网上语音咨询 in headless Chromium: a WAV file as the microphone (quiet room, or a real recorded
question), the on-screen keypad, prompts heard and captioned, and the call recorded."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hotline.db import session_scope
from kb.importer import import_file
from selfservice import records
from selfservice.channel import read_wav_mono, write_wav_durably
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, LiveServer
from tests.selfservice.conftest import DATA, SPEECH

QUESTION = SPEECH / "wenet_BAC009S0724W0121.wav"  # a real recording: 广州市房地产中介协会分析


@pytest.fixture(scope="module")
def microphone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A quiet room: low noise as the fake microphone."""
    rng = np.random.default_rng(3)
    noise = (rng.standard_normal(16000 * 5) * 30).astype(np.int16)
    return write_wav_durably(tmp_path_factory.mktemp("mic") / "room.wav", noise, 16000)


@pytest.fixture(scope="module")
def asking_microphone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A caller who waits through the greeting, asks a question during the main menu, then is quiet."""
    rng = np.random.default_rng(4)
    quiet = lambda seconds: (rng.standard_normal(int(16000 * seconds)) * 30).astype(np.int16)  # noqa: E731
    question = read_wav_mono(QUESTION, 16000).astype(np.int16)
    audio = np.concatenate([quiet(8), question, quiet(40)])
    return write_wav_durably(tmp_path_factory.mktemp("mic") / "question.wav", audio, 16000)


@pytest.fixture(scope="module")
def playwright() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


def launch_with_microphone(pw, wav: Path) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """Chromium with a fake microphone fed from a WAV file, and permission granted."""
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
        "--autoplay-policy=no-user-gesture-required",
    ]
    browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def mic_browser(playwright, microphone: Path) -> Iterator[object]:  # type: ignore[no-untyped-def]
    yield from launch_with_microphone(playwright, microphone)


@pytest.fixture(scope="module")
def asking_browser(playwright, asking_microphone: Path) -> Iterator[object]:  # type: ignore[no-untyped-def]
    yield from launch_with_microphone(playwright, asking_microphone)


def finished_calls() -> list:  # type: ignore[type-arg]
    """The call records, newest first, once the newest has ended (the server ends it when it sees
    the socket close)."""
    for _ in range(50):
        with session_scope() as s:
            calls = records.recent_calls(s)
            if calls and calls[0].ended_at is not None:
                return calls
        time.sleep(0.1)
    return calls


def test_voice_call_in_the_browser_with_keypad(mic_browser, live_server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    assert not import_file(DATA / "kb.jsonl", publish=True).errors
    context = mic_browser.new_context(base_url=live_server.url, locale="zh-CN", permissions=["microphone"])
    page = context.new_page()
    page.set_default_timeout(20000)
    try:
        page.goto("/")
        page.get_by_role("navigation", name="主导航").get_by_role("link", name="网上语音咨询").click()
        page.get_by_role("button", name="开始通话").click()
        captions = page.locator("#voice-captions")
        captions.get_by_text("您好，这里是12345政务服务便民热线。").wait_for()
        assert page.locator("#voice-status").inner_text() == "通话中"
        page.get_by_role("button", name="按键 2").click()
        captions.get_by_text("以下是办事指南的主要内容。").wait_for()
        page.get_by_role("button", name="挂断").click()
        page.get_by_text("通话已结束").wait_for()
    finally:
        context.close()
    calls = finished_calls()
    assert calls[0].channel == "browser"
    assert "key:2" in calls[0].path
    assert calls[0].outcome in ("self_served", "abandoned")


def test_zero_in_the_browser_offers_the_hotline_number_and_a_voicemail(  # type: ignore[no-untyped-def]
    mic_browser, live_server: LiveServer
) -> None:
    """No transfer the page cannot make: the caption names the number to dial and the voicemail key."""
    context = mic_browser.new_context(base_url=live_server.url, locale="zh-CN", permissions=["microphone"])
    page = context.new_page()
    page.set_default_timeout(20000)
    try:
        page.goto("/voice")
        page.get_by_role("button", name="开始通话").click()
        captions = page.locator("#voice-captions")
        captions.get_by_text("人工服务请按0", exact=False).first.wait_for()
        page.get_by_role("button", name="按键 0").click()
        captions.get_by_text("请用电话拨打12345热线", exact=False).wait_for()
        page.get_by_role("button", name="按键 4").click()
        captions.get_by_text("请输入您的联系电话", exact=False).wait_for()
        assert page.locator("#voice-status").inner_text() == "通话中"
        page.get_by_role("button", name="挂断").click()
        page.get_by_text("通话已结束").wait_for()
    finally:
        context.close()
    calls = finished_calls()
    assert calls[0].channel == "browser" and calls[0].outcome != "transferred"
    assert "agent:online" in calls[0].path and not calls[0].transfer_target


def test_a_question_spoken_into_the_microphone_is_answered(asking_browser, live_server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    """Microphone -> AudioWorklet -> WebSocket -> speech recognition -> search -> titles read out."""
    assert not import_file(DATA / "kb.jsonl", publish=True).errors
    context = asking_browser.new_context(base_url=live_server.url, locale="zh-CN", permissions=["microphone"])
    page = context.new_page()
    page.set_default_timeout(40000)
    try:
        page.goto("/voice")
        page.get_by_role("button", name="开始通话").click()
        captions = page.locator("#voice-captions")
        captions.get_by_text("为您找到以下内容", exact=False).wait_for()
        assert "中介" in captions.inner_text()
        page.get_by_role("button", name="挂断").click()
    finally:
        context.close()
    calls = finished_calls()
    assert calls[0].channel == "browser"
    assert calls[0].searches and "中介" in calls[0].searches[0]["query"]
