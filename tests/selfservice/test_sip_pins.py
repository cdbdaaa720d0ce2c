"""Over a real SIP line (baresip, DTMF on the wire): the caller hears the category listing as editors
pinned it, and key 1 reads the first pin."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import select

import kb
from hotline.db import session_scope
from selfservice import records
from tests.selfservice.test_sip_call import CALLER, LiveIvr, call, ivr  # noqa: F401 - ivr: the fixture

pytestmark = pytest.mark.e2e
GJJ = "住房公积金提取管理办法"
AGENCY = "广州市房地产中介服务管理条例"


def _doc_id(title: str) -> int:
    with session_scope() as session:
        doc_id = session.scalar(select(kb.Document.id).where(kb.Document.title == title))
        assert doc_id is not None
        return doc_id


def test_a_caller_hears_the_pinned_titles_in_order_and_key_1_reads_the_first(
    ivr: LiveIvr,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    with session_scope() as session:
        kb.set_pins(session, "政策法规", [_doc_id(AGENCY), _doc_id(GJJ)], actor="editor")
    caller = call(ivr, tmp_path, None, lead=0, total=60)
    wait = threading.Event().wait
    try:
        wait(1.0)
        caller.press("1")  # policies (cuts the welcome short)
        wait(2.0)
        caller.press("1")  # the first item of the listing
        wait(4.0)
        caller.hangup()
        assert caller.closed(10)
    finally:
        caller.stop()
    lines = ivr.finished_call().log.lines
    listing = next(line for line in lines if line.startswith("IVR: 以下是政策法规的主要内容"))
    assert f"第1项请按1，{AGENCY}。第2项请按2，{GJJ}。" in listing, lines
    with session_scope() as session:
        record = records.recent_calls(session, CALLER)[0]
        assert record.documents and record.documents[0]["title"] == AGENCY
