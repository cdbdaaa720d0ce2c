"""A document read to a real SIP caller (baresip) part by part: the audio the caller heard has no
silence gap between the parts, and it lines up with the parts played back to back."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import select

import speech
from hotline.db import session_scope, utcnow
from kb import Document
from kb.importer import import_file
from selfservice import records
from selfservice.channel import read_wav_mono
from selfservice.menu import load_menu
from tests.selfservice.test_sip_call import CALLER, LiveIvr, call, envelope, ivr  # noqa: F401 - fixture

RATE = 8000
FRAME = RATE // 50  # 20 ms
TITLE = "城市夜间照明设施维护办法"
BODY = (
    "第一条，为了规范城市道路和公共场所夜间照明设施的维护，方便市民夜间出行，制定本办法。"
    "路灯不亮、灯杆倾斜或者电缆外露的，市民可以拨打热线反映，也可以在网上提交诉求。"
    "维护单位接到派单后，应当在二十四小时内到达现场，主干道的故障应当在四小时内处置。"
    "对于因施工造成的照明中断，施工单位应当设置临时照明，并在施工结束后及时恢复。"
)


def silences(samples: np.ndarray, floor_dbfs: float = -45.0) -> list[float]:
    """Lengths (s) of the runs of 20 ms frames quieter than `floor_dbfs`."""
    count = samples.size // FRAME
    frames = samples[: count * FRAME].astype(np.float64).reshape(count, FRAME)
    quiet = np.sqrt(np.mean(frames * frames, axis=1)) < 32768 * 10 ** (floor_dbfs / 20)
    runs, run = [], 0
    for q in quiet:
        if q:
            run += 1
        elif run:
            runs.append(run * FRAME / RATE)
            run = 0
    return runs  # a run still open at the end (after the reading) is not a gap


def start_of(heard: np.ndarray, audio: np.ndarray) -> int:
    """The sample where `audio`'s loudness contour best matches what the caller heard."""
    h, a = envelope(heard), envelope(audio)
    scores = [
        float(np.corrcoef(h[lag : lag + a.size], a)[0, 1]) if h[lag : lag + a.size].std() > 0 else 0.0
        for lag in range(0, max(h.size - a.size, 0) + 1)
    ]
    return int(np.argmax(scores)) * RATE // 20  # the envelope's hop is 50 ms


def test_a_document_is_heard_part_by_part_without_gaps(ivr: LiveIvr, tmp_path: Path) -> None:  # noqa: F811
    source = tmp_path / "doc.jsonl"
    doc = {"external_id": "ivr-reading", "title": TITLE, "category": "政策法规", "body": BODY}
    source.write_text(json.dumps(doc, ensure_ascii=False) + "\n", encoding="utf-8")
    assert not import_file(source, publish=True).errors
    with session_scope() as s:  # the newest: the first of the policies' listing
        ours = s.scalars(select(Document).where(Document.title == TITLE)).one()
        ours.published_at = utcnow() + timedelta(days=1)
    caller = call(ivr, tmp_path, None, lead=0, total=60)
    wait = threading.Event().wait
    try:
        wait(1.0)
        caller.press("1")  # policies (cuts the welcome short)
        wait(1.0)
        caller.press("1")  # the first of the listing: this document, never rendered before
        wait(16.0)
        caller.hangup()
        assert caller.closed(10)
        heard = caller.heard()
    finally:
        caller.stop()
    channel = ivr.finished_call()
    with session_scope() as s:
        assert records.recent_calls(s, CALLER)[0].documents[0]["title"] == TITLE
    texts = [load_menu().say("document_title", title=TITLE), speech.plain_text(BODY)]
    assert all(f"IVR: {text}" in channel.log.lines for text in texts), channel.log.lines
    parts = [  # the title was heard in quick parts (not in the cache: the caller waited for it)
        read_wav_mono(speech.synthesize_part(part, rate=RATE), RATE)
        for n, text in enumerate(texts)
        for part in speech.sentence_parts(text, quick=n == 0)
    ]
    assert len(parts) >= 5
    played = np.concatenate(parts)  # the parts back to back, as they are in the cache
    start = start_of(heard, parts[0])
    reading = heard[start : start + played.size]
    assert reading.size > 10 * RATE, "the caller heard less than 10 s of the document"
    # no silence between the parts longer than the voice's own pauses in what was heard (a part is
    # trimmed to 0.05 s before and 0.2 s after its speech), and the parts line up with the cache's audio
    own = max(silences(played[: reading.size]), default=0.0)
    assert max(silences(reading)) <= own + 0.2, (max(silences(reading)), own)
    contour, expected = envelope(reading), envelope(played[: reading.size])
    assert float(np.corrcoef(contour, expected[: contour.size])[0, 1]) > 0.8
