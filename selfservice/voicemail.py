"""Voicemail transcripts, written after the case is opened: the caller hears the case number at once
and the transcript (speech.whisper: Whisper base, else the sherpa recogniser) follows in a background
thread, one recording at a time, beside the recording on the case pages.

A voicemail case starts with `pending_content(kind)`; `attach_transcript` replaces it with the transcript
(or a note that the recording could not be transcribed), refreshes the case's search text and adds a
`transcribed` timeline entry. Cases still pending after a restart are queued again when the SIP line
starts, or done at once by `hotline ivr transcribe`: a message is never lost, its recording is always
on the case.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import select

from hotline.db import session_scope
from speech import SpeechError
from speech.whisper import transcribe

log = logging.getLogger(__name__)

PENDING = "（录音转写中，请先听录音）"
_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voicemail-asr")


def pending_content(kind: str) -> str:
    """A new voicemail case's content until its transcript is written."""
    return f"{kind}{PENDING}"


def transcript_content(kind: str, text: str) -> str:
    if text:
        return f"{kind}（语音自动转写，请以录音为准）：{text}"
    return f"{kind}（语音未能自动转写，请听录音）"


def transcribe_later(case_number: str) -> Future[str | None]:
    """Queue the case's recording for transcription; the future gives the transcript (None: not done)."""
    return _worker.submit(_attach_logged, case_number)


def drain() -> None:
    """Wait until every transcription queued so far is written (one worker: first in, first done)."""
    _worker.submit(lambda: None).result()


def _attach_logged(case_number: str) -> str | None:
    try:
        return attach_transcript(case_number)
    except Exception:
        log.exception("voicemail of case %s: transcription failed (the recording is kept)", case_number)
        return None


def attach_transcript(case_number: str) -> str | None:
    """Transcribe a pending voicemail case's recording and write the transcript into the case; returns
    the transcript, None when the case is not pending (already done, or not a voicemail)."""
    from casework import get_case, search
    from casework.cases import add_event

    with session_scope() as session:
        case = get_case(session, case_number)
        if case is None or not case.audio_path or not case.content.endswith(PENDING):
            return None
        kind, path = case.content.removesuffix(PENDING), Path(case.audio_path)
    if not path.exists():  # another node's recording (not on a shared folder): that node transcribes it
        log.info("voicemail of case %s: recording %s not on this node; left for the node that has it",
                 case_number, path)  # fmt: skip
        return None
    try:
        transcript = transcribe(path)
        text, engine = transcript.text.strip(), transcript.engine
    except SpeechError as exc:
        log.warning("voicemail of case %s cannot be transcribed: %s", case_number, exc)
        text, engine = "", "none"
    with session_scope() as session:
        case = get_case(session, case_number)
        if case is None or not case.content.endswith(PENDING):
            return None  # done meanwhile by another worker
        case.content = transcript_content(kind, text)[:5000]
        case.search_text = search.case_index_text(case)
        add_event(session, case, actor="ivr", action="transcribed", comment=f"留言转写（{engine}）",
                  detail={"engine": engine, "characters": len(text)})  # fmt: skip
    return text


def pending_cases() -> list[str]:
    """Numbers of the voicemail cases still waiting for their transcript."""
    from casework import Case

    with session_scope() as session:
        stmt = select(Case.case_number).where(Case.channel == "voicemail", Case.content.like(f"%{PENDING}"))
        return list(session.scalars(stmt.order_by(Case.id)))


def queue_pending() -> int:
    """Queue the pending voicemails for the background worker (the SIP line does it at start)."""
    numbers = pending_cases()
    for number in numbers:
        transcribe_later(number)
    return len(numbers)


def transcribe_pending() -> int:
    """Transcribe every voicemail case still pending, now; returns how many were done."""
    return sum(attach_transcript(number) is not None for number in pending_cases())
