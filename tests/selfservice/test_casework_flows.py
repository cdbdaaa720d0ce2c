"""IVR flows that use casework: voicemail cases, progress queries with lockout, SMS and fax."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

import casework
import kb
from hotline.cli import app
from hotline.config import get_settings
from hotline.db import reset_caches, session_scope
from selfservice import voicemail
from selfservice.channel import read_wav_mono, write_wav_durably
from selfservice.engine import category_listing
from tests.selfservice.conftest import NIGHT, SPEECH

pytestmark = pytest.mark.usefixtures("ivr_env")

MESSAGE = SPEECH / "wenet_BAC009S0724W0121.wav"  # real recording: 广州市房地产中介协会分析
CALLER = "13800138000"


def _outbox(channel: str) -> list[casework.OutboxMessage]:
    with session_scope() as session:
        return list(
            session.scalars(select(casework.OutboxMessage).where(casework.OutboxMessage.channel == channel))
        )


def _voicemail_cases() -> list[casework.Case]:
    with session_scope() as session:
        return list(session.scalars(select(casework.Case).where(casework.Case.channel == "voicemail")))


def _first_doc_id() -> int:
    with session_scope() as session:
        return category_listing(session, "政策法规", 1)[0][0]  # key 1 in the 政策法规 listing


def test_voicemail_is_saved_transcribed_and_becomes_a_case(call) -> None:
    result = call(f"press 4\nsay {MESSAGE}\npress #\nhangup")
    [case] = _voicemail_cases()
    assert result.outcome == "voicemail" and result.record.case_number == case.case_number
    audio = Path(case.audio_path)
    assert audio.is_file() and audio.is_relative_to(get_settings().recordings_dir.resolve().parent)
    assert audio.stat().st_size > 8000 * 2 * 2  # > 2 s of 8 kHz audio
    assert case.content == "电话留言（录音转写中，请先听录音）"  # the caller does not wait for the transcript
    assert case.caller_number == CALLER
    saved = next(p for p in result.prompts if p.startswith("您的留言已记录"))
    assert case.case_number in saved
    [sms] = [m for m in _outbox("sms") if m.ref == case.case_number]
    assert sms.to == CALLER and case.case_number in sms.body
    assert "感谢您的来电，再见。" in result.prompts and result.channel.hung_up
    voicemail.drain()
    [case] = _voicemail_cases()
    assert case.content.startswith("电话留言（语音自动转写，请以录音为准）：")
    assert "地产" in case.content and "协会" in case.content  # Whisper on the real 8 kHz recording
    with session_scope() as session:
        events = [e.action for e in casework.timeline(session, case)]
    assert "transcribed" in events


def test_a_voicemail_left_before_a_restart_is_transcribed_by_the_pending_job(call, monkeypatch) -> None:
    monkeypatch.setattr(voicemail, "transcribe_later", lambda case_number: None)  # the process stops
    call(f"press 4\nsay {MESSAGE}\npress #\nhangup")
    [case] = _voicemail_cases()
    assert case.content.endswith("（录音转写中，请先听录音）")
    done = CliRunner().invoke(app, ["ivr", "transcribe"])
    assert done.exit_code == 0 and "transcribed 1 voicemail(s)" in done.output
    [case] = _voicemail_cases()
    assert "协会" in case.content and voicemail.transcribe_pending() == 0


def test_pending_voicemails_are_queued_again_when_the_line_starts(call, monkeypatch) -> None:
    queued = voicemail.transcribe_later
    monkeypatch.setattr(voicemail, "transcribe_later", lambda case_number: None)  # the process stops
    call(f"press 4\nsay {MESSAGE}\npress #\nhangup")
    monkeypatch.setattr(voicemail, "transcribe_later", queued)
    assert voicemail.queue_pending() == 1
    voicemail.drain()
    [case] = _voicemail_cases()
    assert "协会" in case.content and voicemail.pending_cases() == []


def test_voicemail_falls_back_to_the_streaming_recogniser_by_setting(call, monkeypatch) -> None:
    monkeypatch.setenv("HOTLINE_VOICEMAIL_ASR_ENGINE", "sherpa")
    reset_caches()
    call(f"press 4\nsay {MESSAGE}\npress #\nhangup")
    voicemail.drain()
    [case] = _voicemail_cases()
    assert case.content.startswith("电话留言（语音自动转写，请以录音为准）：")
    with session_scope() as session:
        [event] = [e for e in casework.timeline(session, case) if e.action == "transcribed"]
    assert "sherpa" in event.comment


def test_hang_up_mid_recording_still_saves_and_creates_the_case(call) -> None:
    result = call(f"press 4\nsay {MESSAGE}\nhangup")
    [case] = _voicemail_cases()
    assert Path(case.audio_path).is_file()
    assert result.outcome == "voicemail" and result.record.case_number == case.case_number
    assert not any(p.startswith("您的留言已记录") for p in result.prompts)


def test_silence_only_voicemail_creates_nothing(call) -> None:
    result = call("press 4\nsilence 5\npress #\nhangup")
    assert _voicemail_cases() == []
    assert any(p.startswith("没有录到您的留言") for p in result.prompts)
    assert result.outcome == "abandoned"


def test_after_hours_agent_request_leaves_a_voicemail_case(call) -> None:
    result = call(f"press 0\nsay {MESSAGE}\npress #", at=NIGHT)
    assert result.outcome == "voicemail"
    assert len(_voicemail_cases()) == 1


def _case_for_progress() -> tuple[str, str]:
    with session_scope() as session:
        case, password = casework.create_case(
            session, channel="phone", caller_number="13900001111", content="小区路灯不亮", actor="agent"
        )
        return case.case_number, password


def test_progress_query_reads_the_status(call) -> None:
    number, password = _case_for_progress()
    result = call(f"press 3\npress {number}#\npress {password}#\nhangup")
    answer = next(p for p in result.prompts if p.startswith("您的工单"))
    assert number in answer and "当前状态" in answer
    assert result.outcome == "self_served"
    assert "progress:ok" in result.record.path


def test_three_wrong_passwords_lock_the_caller_and_offer_an_agent(call) -> None:
    number, password = _case_for_progress()
    wrong = "000000" if password != "000000" else "111111"
    script = "\n".join(["press 3"] + [f"press {number}#\npress {wrong}#"] * 3 + ["press 0"])
    result = call(script)
    assert result.prompts.count("工单编号或密码不正确。") >= 2
    locked = next(p for p in result.prompts if p.startswith("查询失败次数过多"))
    assert "人工服务请按0" in locked and "留言请按4" in locked  # told, and offered a person or voicemail
    assert result.outcome == "transferred"
    # the lock holds for this caller even with the right password now
    again = call(f"press 3\npress {number}#\npress {password}#\npress 1")
    assert not any(p.startswith("您的工单") for p in again.prompts)
    assert any(p.startswith("查询失败次数过多") for p in again.prompts)


def test_document_sent_by_sms_and_by_fax(call) -> None:
    doc_id = _first_doc_id()
    result = call("press 1\npress 1\npress 7\npress 8\npress 02087654321#\npress #\nhangup")
    assert "已将本文通过短信发送到您的手机，请注意查收。" in result.prompts
    assert "传真已安排发送，请注意查收。" in result.prompts
    with session_scope() as session:
        external_id = kb.get_document(session, doc_id).external_id
    [sms] = [m for m in _outbox("sms") if m.kind == "document"]
    assert sms.to == CALLER and sms.ref == external_id
    [fax] = _outbox("fax")
    assert fax.to == "02087654321" and fax.ref == external_id and fax.body
    assert f"sms:{doc_id}" in result.record.path and f"fax:{doc_id}" in result.record.path


def test_landline_caller_gets_no_sms_to_a_typed_number(call) -> None:
    """SMS go to the calling mobile number only: a typed number is not verified (docs/security.md)."""
    result = call("press 1\npress 1\npress 7\nhangup", caller="02088886666")
    assert "请输入接收短信的手机号码，以井号键结束。" not in result.prompts
    assert "短信只能发送到手机号码，请用手机拨打12345。" in result.prompts
    assert [m for m in _outbox("sms") if m.kind == "document"] == []


def _clip(tmp_path: Path, seconds: float) -> Path:
    """`seconds` of the real recording's voice (from 0.5 s in), as a mono WAV."""
    samples = read_wav_mono(MESSAGE, 8000)[4000 : 4000 + int(8000 * seconds)]
    return write_wav_durably(tmp_path / f"voice-{seconds}.wav", samples, 8000)


def test_less_than_a_second_of_voice_or_noise_only_makes_no_case(
    call, tmp_path: Path, noise_wav: Path
) -> None:
    short = call(f"press 4\nsay {_clip(tmp_path, 0.6)}\nsilence 3\npress #\nhangup")
    noise = call(f"press 4\nsay {noise_wav}\npress #\nhangup")
    hung_up = call("press 4\nsilence 4\nhangup")  # a hang-up after silence: nothing to keep either
    assert _voicemail_cases() == []
    for result in (short, noise):
        assert "没有录到您的留言，未生成工单。" in result.prompts
        assert "voicemail:empty" in result.record.path
    assert hung_up.outcome == "abandoned" and "voicemail:empty" in hung_up.record.path
    assert [m for m in _outbox("sms") if m.kind != "document"] == []  # no case, no registration SMS


def test_a_caller_without_a_number_leaves_one_or_the_case_says_none(call) -> None:
    keyed = call(f"press 4\npress 02088886666#\nsay {MESSAGE}\npress #\nhangup", caller="")
    none = call(f"press 4\npress #\nsay {MESSAGE}\npress #\nhangup", caller="")
    assert "请输入您的联系电话，以便我们回复，以井号键结束；不留电话请直接按井号键。" in none.prompts
    cases = {c.case_number: c for c in _voicemail_cases()}
    assert cases[keyed.record.case_number].caller_number == "02088886666"
    assert cases[none.record.case_number].caller_number == "未留号码"
    assert none.outcome == keyed.outcome == "voicemail"


def test_a_saved_message_whose_case_fails_is_reported_not_dropped(
    call, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise casework.CaseError("数据库暂时不可用")

    monkeypatch.setattr(casework, "create_case", refuse)
    result = call(f"press 4\nsay {MESSAGE}\npress #\nhangup")
    [step] = [s for s in result.record.path if s.startswith("voicemail:no-case:")]
    kept = get_settings().recordings_dir / "voicemail"
    assert list(kept.rglob(step.removeprefix("voicemail:no-case:")))  # the recording is on disk
    assert "您的留言已保存，工作人员会尽快处理。" in result.prompts
    assert any("saved but no case" in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)
