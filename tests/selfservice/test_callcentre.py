"""Callers reach a person: real calls through Kamailio to the media node, queued, ringing the agents'
registered baresip phones, bridged and recorded; transfer and three-way calls from the console's requests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.db import session_scope
from hotline.models import User
from selfservice import acd, records
from selfservice.models import QueuedCall
from tests.selfservice.baresip import BARESIP
from tests.selfservice.callcentre import (
    CallCentre,
    queued_call,
    read_wav,
    seat,
    tone_seconds,
    tone_wav,
    use_call_centre_settings,
    wait_for,
)

pytestmark = pytest.mark.e2e
CALLER = "13912345678"
CALLER_TONE, AGENT_TONE, THIRD_TONE = 600.0, 1400.0, 1000.0


@pytest.fixture
def centre(ivr_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CallCentre]:
    if not Path(BARESIP).exists():
        pytest.fail("baresip not installed (scripts/install installs baresip-core)")
    use_call_centre_settings(monkeypatch)
    with CallCentre(ivr_env) as live:
        yield live


@pytest.fixture
def centre_any_db(ivr_env_both: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CallCentre]:
    """The call centre on SQLite and on PostgreSQL (the server setup)."""
    use_call_centre_settings(monkeypatch)
    with CallCentre(ivr_env_both) as live:
        yield live


def call_in(centre: CallCentre, tmp: Path, *, number: str = CALLER, seconds: float = 60):  # type: ignore[no-untyped-def]
    """A caller dials 12345 through Kamailio and presses 0 for a person; the caller's tone starts later,
    so the IVR's speech recognition hears nothing at the menu."""
    caller = centre.phone(f"caller-{number}", number, tone_wav(tmp / f"{number}.wav", CALLER_TONE, seconds=seconds, lead=4))
    caller.dial(centre.number)
    time.sleep(1.0)
    caller.press("0")
    return caller


def test_a_queued_caller_talks_to_the_longest_idle_agent_and_the_talk_is_recorded(
    centre: CallCentre, tmp_path: Path
) -> None:
    first = centre.agent("zhang", "1001", tone_wav(tmp_path / "a1.wav", AGENT_TONE, seconds=60))
    time.sleep(0.2)
    second = centre.agent("li", "1002", tone_wav(tmp_path / "a2.wav", AGENT_TONE, seconds=60))
    caller = call_in(centre, tmp_path)

    incoming = first.answer(20)  # zhang has been idle longest: his phone rings
    assert incoming["type"] == "CALL_INCOMING"
    wait_for(lambda: seat("zhang").state == "on_call", 5, "zhang on the call")
    assert seat("li").state == "ready"
    time.sleep(4.0)  # talk
    first.hangup()
    assert caller.closed(10), "the caller is hung up when the agent hangs up"
    assert second.events == [] or all(e.get("type") != "CALL_INCOMING" for e in second.events)

    call = wait_for(lambda: (c := queued_call(CALLER)) is not None and c.ended_at is not None and c, what="end")
    assert call.status == "ended"
    assert call.wait_seconds is not None and call.wait_seconds < 15
    assert call.talk_seconds is not None and call.talk_seconds >= 3
    # audio both ways: each side heard the other's tone
    assert tone_seconds(first.heard(), CALLER_TONE) >= 1.0
    assert tone_seconds(caller.heard(), AGENT_TONE) >= 1.0
    # one recording of the conversation with both voices
    recording = Path(call.recording_path)
    wait_for(lambda: recording.exists() and recording.stat().st_size > 8000, 5, "recording")
    audio = read_wav(recording)
    assert tone_seconds(audio, CALLER_TONE) >= 1.0
    assert tone_seconds(audio, AGENT_TONE) >= 1.0
    def outcome() -> str | None:  # the IVR closes the call record just after the queue closes its row
        with session_scope() as session:
            record = records.get_call(session, call.call_id)
            return record.outcome if record is not None else None

    wait_for(lambda: outcome() == "agent", 5, "the call record's outcome")
    with session_scope() as session:
        figures = acd.kpis(session, _today())
    assert figures["offered"] == 1 and figures["answered"] == 1 and figures["answered_within_15s"] == 1
    # after-call work, then ready again
    assert seat("zhang").state in ("wrap_up", "ready")
    wait_for(lambda: seat("zhang").state == "ready", 10, "end of after-call work")


def _today():  # type: ignore[no-untyped-def]
    from datetime import datetime

    return datetime.now(acd.LOCAL_ZONE).date()


def test_an_unanswered_phone_passes_the_call_to_the_next_agent(centre: CallCentre, tmp_path: Path) -> None:
    absent = centre.agent("wang", "1003", tone_wav(tmp_path / "a1.wav", AGENT_TONE, seconds=60))
    time.sleep(0.2)
    present = centre.agent("zhao", "1004", tone_wav(tmp_path / "a2.wav", AGENT_TONE, seconds=60))
    caller = call_in(centre, tmp_path)

    absent.wait_event("CALL_INCOMING", 20)  # rings first, nobody picks up
    present.answer(20)
    assert seat("wang").state == "not_ready"
    assert seat("wang").reason == "未接听"
    call = queued_call(CALLER)
    assert call.status == "connected" and call.attempts == 1
    caller.hangup()
    wait_for(lambda: queued_call(CALLER).ended_at is not None, 10, "end")
    assert present.closed(10)


def test_a_caller_who_hangs_up_in_the_queue_is_abandoned_with_the_wait_and_listed_for_call_back(
    centre: CallCentre, tmp_path: Path
) -> None:
    busy = centre.agent("sun", "1005", tone_wav(tmp_path / "a.wav", AGENT_TONE, seconds=60))
    with session_scope() as session:
        user = session.query(User).filter_by(username="sun").one()
        acd.set_state(session, user, "not_ready", "会议")
    caller = call_in(centre, tmp_path)
    wait_for(lambda: queued_call(CALLER) is not None, 10, "queued")
    time.sleep(3)
    caller.hangup()
    call = wait_for(lambda: (c := queued_call(CALLER)).ended_at is not None and c, 10, "abandon")
    assert call.status == "abandoned"
    assert 2.0 <= call.wait_seconds < 15
    assert busy.events == [] or all(e.get("type") != "CALL_INCOMING" for e in busy.events)
    with session_scope() as session:
        due = acd.callbacks_due(session)
        assert [c.caller_number for c in due] == [CALLER]


def test_three_way_call_with_an_expert_and_transfer_to_a_department(centre: CallCentre, tmp_path: Path) -> None:
    agent = centre.agent("qian", "1006", tone_wav(tmp_path / "a.wav", AGENT_TONE, seconds=90))
    expert = centre.phone("expert", "8001", tone_wav(tmp_path / "e.wav", THIRD_TONE, seconds=90), register=True)
    caller = call_in(centre, tmp_path, seconds=90)
    agent.answer(20)
    wait_for(lambda: seat("qian").state == "on_call", 5, "the console shows the call")
    with session_scope() as session:
        user = session.query(User).filter_by(username="qian").one()
        acd.request_control(session, user, "conference", "8001")
    expert.answer(15)
    time.sleep(4.0)
    expert.hangup()
    expert.wait_event("CALL_CLOSED", 10)
    # all three heard each other
    assert tone_seconds(expert.heard(), CALLER_TONE) >= 1.0
    assert tone_seconds(expert.heard(), AGENT_TONE) >= 1.0
    time.sleep(0.5)
    # the agent hands the caller over to a department's phone and leaves
    department = centre.phone("dept", "8002", tone_wav(tmp_path / "d.wav", THIRD_TONE, seconds=90), register=True)
    with session_scope() as session:
        user = session.query(User).filter_by(username="qian").one()
        acd.request_control(session, user, "transfer", "8002")
    department.answer(15)
    assert agent.closed(10), "a blind transfer releases the agent"
    time.sleep(3.0)
    department.hangup()
    assert caller.closed(10)
    department.wait_event("CALL_CLOSED", 10)
    assert tone_seconds(department.heard(), CALLER_TONE) >= 1.0
    assert tone_seconds(caller.heard(), THIRD_TONE) >= 2.0
    call = wait_for(lambda: (c := queued_call(CALLER)).ended_at is not None and c, 10, "end")
    kinds = [leg.get("kind") for leg in call.legs]
    assert "conference" in kinds and "transfer" in kinds
    recording = read_wav(Path(call.recording_path))
    assert tone_seconds(recording, THIRD_TONE) >= 2.0  # the department's part is in the same recording
    with session_scope() as session:
        assert session.query(QueuedCall).count() == 1


def test_click_to_call_rings_the_agent_then_the_citizen_and_records_the_call_back(
    centre: CallCentre, tmp_path: Path
) -> None:
    agent = centre.agent("zhou", "1007", tone_wav(tmp_path / "a.wav", AGENT_TONE, seconds=60))
    citizen = centre.phone("citizen", CALLER, tone_wav(tmp_path / "c.wav", CALLER_TONE, seconds=60), register=True)
    with session_scope() as session:
        acd.enqueue(session, call_id="missed-1", caller_number=CALLER, group="综合", node="elsewhere")
        acd.finish(session, "missed-1")  # hung up in the queue: waits for a call-back
        user = session.query(User).filter_by(username="zhou").one()
        acd.request_dial_back(session, user, "missed-1")
    agent.answer(15)  # the agent's own phone rings first
    citizen.answer(15)  # then the citizen's
    time.sleep(3.0)
    citizen.hangup()
    assert agent.closed(10)
    assert tone_seconds(agent.heard(), CALLER_TONE) >= 1.0
    assert tone_seconds(citizen.heard(), AGENT_TONE) >= 1.0
    wait_for(lambda: seat("zhou").state in ("wrap_up", "ready"), 5, "the call-back over")
    with session_scope() as session:
        control = acd.last_control(session, "missed-1")
        assert control is not None and control.result == "已接通"
        call = acd.get_call(session, "missed-1")
        recording = Path(next(leg["recording"] for leg in call.legs if leg.get("kind") == "callback"))
    audio = read_wav(recording)
    assert tone_seconds(audio, CALLER_TONE) >= 1.0 and tone_seconds(audio, AGENT_TONE) >= 1.0


def test_more_callers_than_one_pjsip_process_holds_are_all_answered(centre: CallCentre, tmp_path: Path) -> None:
    """The PJSIP build holds 4 call legs a process (a 5th caller used to get 486 Busy): Kamailio spreads the
    callers over the media node's processes and tries the next one when a process is full."""
    voice = tone_wav(tmp_path / "quiet.wav", CALLER_TONE, seconds=30, lead=29)
    callers = [centre.phone(f"c{n}", f"1380000000{n}", voice) for n in range(6)]
    for phone in callers:
        phone.dial(centre.number)  # waits for CALL_ESTABLISHED: the IVR answered
    from sqlalchemy import func, select

    from selfservice.models import CallRecord

    def records() -> int:
        with session_scope() as session:
            return int(session.scalar(select(func.count()).select_from(CallRecord)) or 0)

    # each call's record is written by its dialog, started just after the answer: give the last one a moment
    wait_for(lambda: records() == 6, 5, "a call record for each of the six callers")
    for phone in callers:
        phone.hangup()


def test_a_flood_of_requests_from_one_address_is_dropped_by_kamailio(
    ivr_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from selfservice.kamailio import FrontConfig, KamailioProcess

    use_call_centre_settings(monkeypatch)
    monkeypatch.setenv("HOTLINE_SIP_FLOOD_LIMIT", "10")
    from hotline.config import get_settings

    get_settings.cache_clear()
    front = KamailioProcess(FrontConfig.from_settings(), ivr_env / "kamailio")
    front.start()
    try:
        answered = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            me = sock.getsockname()[1]
            for n in range(60):
                sock.sendto(register(front.config.port, me, n), ("127.0.0.1", front.config.port))
            sock.settimeout(1.0)
            try:
                while True:
                    sock.recvfrom(4096)
                    answered += 1
            except TimeoutError:
                pass
        assert 5 <= answered <= 25, answered  # the first ones are answered, the flood is dropped
    finally:
        front.stop()


def register(port: int, me: int, n: int) -> bytes:
    return (
        f"REGISTER sip:127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK-flood-{n}\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:9{n:03d}@127.0.0.1>;tag=f{n}\r\n"
        f"To: <sip:9{n:03d}@127.0.0.1>\r\n"
        f"Call-ID: flood-{n}@127.0.0.1\r\n"
        "CSeq: 1 REGISTER\r\n"
        f"Contact: <sip:9{n:03d}@127.0.0.1:{me}>\r\n"
        "Expires: 60\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def test_a_waiting_caller_hears_the_queue_and_books_a_call_back_with_key_5(
    centre: CallCentre, tmp_path: Path
) -> None:
    centre.agent("wu", "1008", tone_wav(tmp_path / "a.wav", AGENT_TONE, seconds=60))
    with session_scope() as session:  # signed in but busy: the caller waits
        user = session.query(User).filter_by(username="wu").one()
        acd.set_state(session, user, "not_ready", "会议")
    caller = call_in(centre, tmp_path)
    wait_for(lambda: queued_call(CALLER) is not None, 10, "queued")
    time.sleep(8.0)  # the recording notice, then the position
    caller.press("5")
    assert caller.closed(20), "the call ends after the booking is confirmed"
    call = wait_for(lambda: (c := queued_call(CALLER)).ended_at is not None and c, 10, "end")
    assert call.status == "callback" and call.callback_state == "pending"
    channel = centre.server.finished[-1] if centre.server and centre.server.finished else None
    assert channel is not None
    said = "\n".join(channel.log.lines)
    assert "您的通话将被录音" in said and "坐席马上为您服务" in said and "已为您预约回拨" in said


def test_transfer_to_a_skill_group_and_an_attended_transfer_on_both_databases(
    centre_any_db: CallCentre, tmp_path: Path
) -> None:
    centre = centre_any_db
    first = centre.agent("zheng", "1010", tone_wav(tmp_path / "a1.wav", AGENT_TONE, seconds=90))
    complaints = centre.agent("feng", "1011", tone_wav(tmp_path / "a2.wav", AGENT_TONE, seconds=90), {"投诉": 5})
    expert = centre.phone("expert", "8003", tone_wav(tmp_path / "e.wav", THIRD_TONE, seconds=90), register=True)
    caller = call_in(centre, tmp_path, seconds=90)
    first.answer(20)  # only zheng takes 综合 calls
    wait_for(lambda: seat("zheng").state == "on_call", 5, "zheng on the call")
    with session_scope() as session:
        user = session.query(User).filter_by(username="zheng").one()
        acd.request_control(session, user, "transfer", "group:投诉")
    complaints.answer(20)  # the 投诉 group's agent takes it over
    assert first.closed(10)
    wait_for(lambda: seat("feng").state == "on_call", 5, "feng on the call")
    assert queued_call(CALLER).group == "投诉"
    # feng consults the expert while the caller holds, then hands the caller over
    with session_scope() as session:
        user = session.query(User).filter_by(username="feng").one()
        acd.request_control(session, user, "consult", "8003")
    expert.answer(15)
    wait_for(lambda: (c := acd_control("feng")) is not None and c.result.startswith("正在"), 10, "consulting")
    time.sleep(2.0)  # agent and expert talk; the caller holds (and has begun to talk: the tone)
    with session_scope() as session:
        user = session.query(User).filter_by(username="feng").one()
        acd.request_control(session, user, "complete")
    assert complaints.closed(10), "the agent leaves once the transfer is complete"
    time.sleep(2.5)
    expert.hangup()
    assert caller.closed(10)
    expert.wait_event("CALL_CLOSED", 10)
    assert tone_seconds(expert.heard(), CALLER_TONE) >= 1.0  # the caller was put through to the expert
    call = wait_for(
        lambda: (c := queued_call(CALLER)).ended_at is not None and any(g.get("kind") == "complete" for g in c.legs) and c,
        10,
        "the call ended with its legs noted",
    )
    assert [leg.get("kind") for leg in call.legs if leg.get("kind") in ("transfer", "consult", "complete")] == [
        "transfer", "consult", "complete"]


def acd_control(username: str):  # type: ignore[no-untyped-def]
    with session_scope() as session:
        user = session.query(User).filter_by(username=username).one()
        seat_row = acd.seat_of(session, user.id)
        return acd.last_control(session, seat_row.call_id) if seat_row and seat_row.call_id else None


def test_a_waiting_caller_may_use_the_self_service_and_come_back_to_the_same_place(
    centre: CallCentre, tmp_path: Path
) -> None:
    agent = centre.agent("he", "1012", tone_wav(tmp_path / "a.wav", AGENT_TONE, seconds=60))
    with session_scope() as session:
        user = session.query(User).filter_by(username="he").one()
        acd.set_state(session, user, "not_ready", "会议")
    caller = call_in(centre, tmp_path)
    first = wait_for(lambda: queued_call(CALLER), 10, "queued")
    time.sleep(2.0)
    caller.press("1")  # self-service while waiting
    wait_for(lambda: queued_call(CALLER).status == "self_service", 10, "out of the queue")
    time.sleep(1.0)
    caller.press("0")  # back to a person
    wait_for(lambda: queued_call(CALLER).status == "waiting", 10, "back in the queue")
    again = queued_call(CALLER)
    assert again.id == first.id and again.enqueued_at == first.enqueued_at  # the place was kept
    with session_scope() as session:
        user = session.query(User).filter_by(username="he").one()
        acd.set_state(session, user, "ready")
    agent.answer(20)
    caller.hangup()
    call = wait_for(lambda: (c := queued_call(CALLER)).ended_at is not None and c, 10, "end")
    assert call.status == "ended" and [g["kind"] for g in call.legs if g["kind"] == "self_service"] == ["self_service"]
    with session_scope() as session:
        assert acd.kpis(session, _today())["offered"] == 1
