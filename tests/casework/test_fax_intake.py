"""Fax intake: a TIFF that HylaFAX leaves in its receive folder becomes a submission in the agents' review
queue with the fax image attached (a thumbnail on the case page), once; a file still being written or
not a TIFF waits; notices about the case go back to the sender's fax."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from typer.testing import CliRunner

import casework
from casework import attachments
from casework.fax import render_tiff
from casework.models import Case
from hotline.cli import app
from hotline.db import reset_caches, session_scope
from tests.casework.helpers import outbox
from tests.conftest import login, make_user

SENDER_TSI = "+86 10 6234 5678"


@pytest.fixture
def inbox(hotline_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "recvq"
    folder.mkdir()
    monkeypatch.setenv("HOTLINE_FAX_INBOX", str(folder))
    monkeypatch.setenv("HOTLINE_FAX_SETTLE_SECONDS", "5")
    monkeypatch.setenv("HOTLINE_MAIL_POLL_SECONDS", "0")  # the web app does not poll: the tests do
    reset_caches()
    return folder


def received_fax(folder: Path, name: str, *, tsi: str = SENDER_TSI, age: float = 60.0) -> Path:
    """A G4 TIFF as HylaFAX writes it into recvq: the sender's TSI in ImageDescription, `age` seconds old."""
    path = folder / name
    render_tiff("关于幸福小区供暖不热的反映", "供暖季开始后室温只有十四度，请相关部门尽快处理。", path)
    with Image.open(path) as image:
        pages = [frame.copy() for frame in _frames(image)]
    pages[0].save(path, save_all=True, append_images=pages[1:], compression="group4", dpi=(204, 196),
                  tiffinfo={270: tsi} if tsi else {})  # fmt: skip
    moment = time.time() - age
    os.utime(path, (moment, moment))
    return path


def _frames(image: Image.Image) -> list[Image.Image]:
    frames = []
    for index in range(getattr(image, "n_frames", 1)):
        image.seek(index)
        frames.append(image.copy())
    return frames


def poll() -> str:
    result = CliRunner().invoke(app, ["intake", "poll", "--no-mail"])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_received_fax_becomes_a_submission_with_the_image(inbox: Path) -> None:
    received_fax(inbox, "fax00001.tif")
    assert "fax_submission=1" in poll()
    with session_scope() as s:
        (case,) = s.scalars(select(Case).filter_by(channel="fax"))
        assert case.status == "pending_review" and case in casework.review_queue(s)
        assert case.caller_number == "01062345678" and case.contact == "01062345678"
        assert "共1页" in case.content and "6234" in case.content
        (image,) = attachments.for_case(s, case)
        assert image.mime == "image/tiff" and image.name == "fax00001.tif" and image.purpose == "submission"
        assert attachments.thumbnail_path(image.sha256).exists()
    # the file stays where HylaFAX put it, and is not taken again
    assert (inbox / "fax00001.tif").exists()
    assert "fax_submission=0" in poll()


def test_a_fax_being_received_or_not_a_tiff_waits(inbox: Path) -> None:
    received_fax(inbox, "fax00002.tif", age=0)  # HylaFAX is still writing it
    (inbox / "fax00003.tif").write_bytes(b"not a fax")
    (inbox / "seqf").write_text("3")
    old = time.time() - 60
    os.utime(inbox / "fax00003.tif", (old, old))
    output = poll()
    assert "fax_submission=0" in output and "fax_unreadable=1" in output
    os.utime(inbox / "fax00002.tif", (old, old))
    assert "fax_submission=1" in poll()


def test_a_fax_without_sender_is_taken(inbox: Path) -> None:
    received_fax(inbox, "fax00004.tif", tsi="")
    poll()
    with session_scope() as s:
        (case,) = s.scalars(select(Case).filter_by(channel="fax"))
        assert case.caller_number == "" and case.contact is None and "未知" in case.content
        assert casework.cases_for_caller(s, "") == []


def test_the_agent_sees_the_fax_and_the_citizen_is_answered_by_fax(inbox: Path, client: TestClient) -> None:
    received_fax(inbox, "fax00005.tif")
    poll()
    make_user("agent1", ["agent"])
    login(client, "agent1")
    with session_scope() as s:
        (case,) = s.scalars(select(Case).filter_by(channel="fax"))
        number, contact = case.case_number, case.contact
        (image,) = attachments.for_case(s, case)
    assert number in client.get("/agent/review").text
    page = client.get(f"/agent/cases/{number}").text
    assert f"/attachments/{image.id}" in page
    thumb = client.get(f"/attachments/{image.id}/thumbnail")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    with session_scope() as s:
        found = casework.get_case(s, number)
        assert found is not None
        casework.accept_submission(s, found, actor="agent1")
        casework.answer_directly(s, found, actor="agent1", answer="已通知供热公司上门检修。")
    with session_scope() as s:
        faxes = outbox(s, channel="fax", ref=number)
        assert faxes and all(m.to == contact for m in faxes)
