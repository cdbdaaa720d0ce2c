"""The IVR over a real SIP line: PJSIP answers, Debian's baresip calls in with DTMF and a recorded
voice (G.711 on the wire), and the tests check what the IVR did and what the caller heard."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

import casework
import speech
from casework.models import Case
from hotline.config import get_settings
from hotline.db import session_scope
from selfservice import records
from selfservice.channel import read_wav_mono
from selfservice.engine import Dialog
from selfservice.menu import load_menu
from selfservice.sip import SipChannel, SipServer, caller_number
from tests.conftest import free_port
from tests.selfservice.baresip import BARESIP, Baresip, write_voice
from tests.selfservice.conftest import OFFICE_HOURS, SPEECH

pytestmark = pytest.mark.e2e
QUESTION = SPEECH / "wenet_BAC009S0724W0121.wav"  # a real recording: 广州市房地产中介协会分析
CALLER = "13912345678"


class LiveIvr:
    """The SIP server in an event loop of its own thread (as under `hotline serve`)."""

    def __init__(self) -> None:
        self.port = free_port(socket.SOCK_DGRAM)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        menu = load_menu()
        self.server = SipServer(
            "127.0.0.1",
            self.port,
            get_settings().recordings_dir,
            lambda channel: Dialog(channel, menu, clock=lambda: OFFICE_HOURS).run(),
        )

    def __enter__(self) -> LiveIvr:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(30)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    @property
    def uri(self) -> str:
        return f"sip:ivr@127.0.0.1:{self.port}"

    def finished_call(self, seconds: float = 20.0) -> SipChannel:
        for _ in range(int(seconds * 10)):
            if self.server.finished:
                return self.server.finished[-1]
            threading.Event().wait(0.1)
        raise AssertionError("the IVR did not finish the call")


@pytest.fixture
def ivr(ivr_env: Path) -> Iterator[LiveIvr]:
    if not Path(BARESIP).exists():
        pytest.fail("baresip not installed (scripts/install installs baresip-core)")
    with LiveIvr() as live:
        yield live


def prompt_seconds(*texts: str) -> float:
    return sum(len(speech.audio.read_wav(speech.synthesize(t, rate=8000))[0]) / 8000 for t in texts)


def envelope(samples: np.ndarray, rate: int = 8000, window: float = 0.25, hop: float = 0.05) -> np.ndarray:
    """RMS in 250 ms windows every 50 ms."""
    size, step = int(rate * window), int(rate * hop)
    x = samples.astype(np.float64)
    starts = range(0, max(x.size - size, 0) + 1, step)
    return np.array([np.sqrt((x[i : i + size] ** 2).mean()) for i in starts])


def best_match(heard: np.ndarray, prompt: np.ndarray) -> tuple[float, int]:
    """How well the prompt's loudness contour matches somewhere in what the caller heard, and where
    (the sample it starts at)."""
    h, p = envelope(heard), envelope(prompt)
    best, at = 0.0, 0
    for lag in range(0, max(h.size - p.size, 0) + 1):
        window = h[lag : lag + p.size]
        if window.std() > 0 and p.std() > 0:
            score = float(np.corrcoef(window, p)[0, 1])
            if score > best:
                best, at = score, lag
    return best, at * int(8000 * 0.05)


def best_correlation(heard: np.ndarray, prompt: np.ndarray) -> float:
    return best_match(heard, prompt)[0]


def call(ivr: LiveIvr, tmp_path: Path, voice: np.ndarray | None, *, lead: float, total: float) -> Baresip:
    wav = write_voice(tmp_path / "voice.wav", voice, lead=lead, total=total)
    caller = Baresip(tmp_path / "baresip", wav, number=CALLER)
    caller.dial(ivr.uri)
    return caller


def test_caller_number_from_the_sip_uri() -> None:
    assert caller_number('"张三" <sip:13800138000@10.0.0.1;transport=udp>') == "13800138000"
    assert caller_number("<sip:anonymous@invalid>") == "anonymous"
    assert caller_number("garbage") == ""


def test_keys_reach_the_ivr_and_zero_transfers_to_an_agent(ivr: LiveIvr, tmp_path: Path) -> None:
    welcome = prompt_seconds(load_menu().say("welcome"))  # in the cache, as the line renders it at start
    caller = call(ivr, tmp_path, None, lead=0, total=30)
    try:
        threading.Event().wait(welcome + 2.0)  # hear the welcome and the start of the main menu
        caller.press("0")
        assert caller.closed(20)
        heard = caller.heard()
    finally:
        caller.stop()
    channel = ivr.finished_call()
    assert channel.caller_number == CALLER
    assert "来电: 按键 0" in channel.log.lines
    assert channel.transferred_to == load_menu().agents.target
    with session_scope() as s:
        record = records.recent_calls(s, CALLER)[0]
        assert record.channel == "sip" and record.outcome == "transferred"
    # the prompts reached the caller: the welcome's loudness contour is in what baresip heard
    prompt = read_wav_mono(speech.synthesize(load_menu().say("welcome"), rate=8000), 8000)
    assert heard.size > 8000 * welcome
    assert best_correlation(heard, prompt) > 0.8


def test_spoken_question_is_searched_and_the_results_read(ivr: LiveIvr, tmp_path: Path) -> None:
    menu = load_menu()
    lead = prompt_seconds(menu.say("welcome"), menu.prompts["main_menu"]) + 1.0
    voice = read_wav_mono(QUESTION, 8000)
    caller = call(ivr, tmp_path, voice, lead=lead, total=lead + voice.size / 8000 + 12)
    try:
        assert caller.closed(lead + 40)  # the voice file ends: baresip hangs up
    finally:
        caller.stop()
    channel = ivr.finished_call()
    said = next(line for line in channel.log.lines if line.startswith("来电: 说话："))
    assert "中介" in said  # the real recording, through G.711 and PJSIP, recognised
    assert any(line.startswith("IVR: 为您找到以下内容") for line in channel.log.lines)
    with session_scope() as s:
        record = records.recent_calls(s, CALLER)[0]
        assert record.searches and record.searches[0]["hits"]


def test_voicemail_survives_the_caller_hanging_up_mid_recording(ivr: LiveIvr, tmp_path: Path) -> None:
    menu = load_menu()
    voice = read_wav_mono(QUESTION, 8000)
    # press 4 early (barge-in), then the intro and the beep; the caller speaks and hangs up mid-recording
    lead = 2.0 + prompt_seconds(menu.say("voicemail_intro")) + 2.0
    caller = call(ivr, tmp_path, voice, lead=lead, total=lead + voice.size / 8000 + 0.5)
    try:
        threading.Event().wait(1.5)
        caller.press("4")
        assert caller.closed(lead + 30)
    finally:
        caller.stop()
    channel = ivr.finished_call(30)
    assert any(line.startswith("IVR: [录音已保存") for line in channel.log.lines)
    with session_scope() as s:
        case = s.scalars(select(Case).where(Case.caller_number == CALLER)).one()
        assert case.channel == "voicemail"
        assert case.content.startswith("电话留言")
        recording = read_wav_mono(Path(case.audio_path), 8000)
        record = records.recent_calls(s, CALLER)[0]
        assert record.outcome == "voicemail" and record.case_number == case.case_number
    assert recording.size > 8000 * 2
    assert np.abs(recording).max() > 3000  # the caller's voice is in it, not silence


def test_case_progress_and_a_policy_read_by_keys(ivr: LiveIvr, tmp_path: Path) -> None:
    with session_scope() as s:
        case, password = casework.create_case(
            s, channel="phone", caller_number=CALLER, content="小区路灯不亮，请尽快维修。", category="求助"
        )
        number = case.case_number
    caller = call(ivr, tmp_path, None, lead=0, total=60)
    wait = threading.Event().wait
    try:
        wait(1.0)
        caller.press("3")  # case progress (cuts the welcome short)
        wait(1.0)
        caller.press(number + "#", gap=0.3)
        wait(0.5)
        caller.press(password, gap=0.3)
        wait(4.0)  # the status is read out
        caller.press("1")  # back at the main menu: policies
        wait(1.0)
        caller.press("1")  # the first policy of the listing
        wait(4.0)
        caller.hangup()
        assert caller.closed(10)
    finally:
        caller.stop()
    channel = ivr.finished_call()
    lines = channel.log.lines
    assert any(line.startswith(f"IVR: 您的工单{number}，当前状态：") for line in lines), "\n".join(lines)
    assert any(line.startswith("IVR: 以下是政策法规的主要内容") for line in lines), lines
    with session_scope() as s:
        record = records.recent_calls(s, CALLER)[0]
        assert "progress:ok" in record.path and "key:1" in record.path
        assert record.documents  # a policy was read aloud


def test_a_full_length_password_then_hash_and_the_caller_hears_the_status(
    ivr: LiveIvr, tmp_path: Path
) -> None:
    """The prompts say "以井号键结束": the # after the sixth digit ends the entry and must not cut the
    status prompt (it used to stop it at once, and the caller heard nothing)."""
    with session_scope() as s:
        case, password = casework.create_case(
            s, channel="phone", caller_number=CALLER, content="小区路灯不亮，请尽快维修。", category="求助"
        )
        number = case.case_number
    caller = call(ivr, tmp_path, None, lead=0, total=60)
    wait = threading.Event().wait
    try:
        wait(1.0)
        caller.press("3")
        wait(1.0)
        caller.press(number + "#", gap=0.3)
        wait(0.5)
        caller.press(password + "#", gap=0.3)  # six digits, then the # the prompt asks for
        wait(20.0)  # the status is read out to the end
        caller.hangup()
        assert caller.closed(10)
        heard = caller.heard()
    finally:
        caller.stop()
    lines = ivr.finished_call().log.lines
    status = next(line[5:] for line in lines if line.startswith(f"IVR: 您的工单{number}"))
    assert "来电: 按键 #（结束输入）" in lines  # the # was taken as the end of the password
    # what the caller heard holds the whole status prompt (each part's loudness contour, in order), not a
    # cut-off start; a prompt made at call time is played part by part (Channel.read_aloud), and a busy
    # machine may leave a pause between parts, so each part is looked for after the one before
    position = 0
    for part in speech.sentence_parts(status):
        audio = read_wav_mono(speech.synthesize_part(part, rate=8000), 8000)
        score, at = best_match(heard[position:], audio)
        assert score > 0.8, f"{part}: {score:.2f}\n" + "\n".join(lines)
        position += at + audio.size // 2


def test_asking_for_a_person_by_voice_is_understood_not_searched(ivr: LiveIvr, tmp_path: Path) -> None:
    """The caller says 我要人工服务 (the neural voice) through G.711 and PJSIP during the main menu."""
    menu = load_menu()
    lead = prompt_seconds(menu.say("welcome")) + 2.0
    voice = read_wav_mono(speech.synthesize("我要人工服务", engine="kokoro", rate=8000), 8000)
    caller = call(ivr, tmp_path, voice, lead=lead, total=lead + voice.size / 8000 + 15)
    try:
        assert caller.closed(lead + 40)
    finally:
        caller.stop()
    channel = ivr.finished_call()
    assert channel.transferred_to == menu.agents.target, "\n".join(channel.log.lines)
    with session_scope() as s:
        record = records.recent_calls(s, CALLER)[0]
        assert record.outcome == "transferred" and "said:agent" in record.path
        assert not record.searches


def test_a_silent_voicemail_hung_up_makes_no_case(ivr: LiveIvr, tmp_path: Path) -> None:
    """The caller presses 4, says nothing after the beep and hangs up: no case, no SMS."""
    menu = load_menu()
    total = 2.0 + prompt_seconds(menu.say("voicemail_intro")) + 5.0
    caller = call(ivr, tmp_path, None, lead=0, total=total)  # silence on the line, then baresip hangs up
    try:
        threading.Event().wait(1.5)
        caller.press("4")
        assert caller.closed(total + 30)
    finally:
        caller.stop()
    channel = ivr.finished_call(30)
    assert any(line.startswith("IVR: 请在提示音后留言") for line in channel.log.lines)
    with session_scope() as s:
        assert s.scalars(select(Case).where(Case.caller_number == CALLER)).all() == []
        record = records.recent_calls(s, CALLER)[0]
        assert record.outcome == "abandoned" and "voicemail:empty" in record.path
