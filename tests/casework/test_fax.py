"""Fax: a KB document or notice rendered to a standard fax TIFF (Class F: G4, 204x196 dpi, A4 width
1728) with a CJK font, spooled once per message id."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from PIL import Image

import casework
from casework.fax import render_tiff
from hotline.config import get_settings
from hotline.db import new_session, session_scope
from tests.casework.helpers import outbox

BODY = "第一条 为规范住房公积金提取，根据国家有关规定，制定本办法。\n" * 80


def tiffinfo(path: Path) -> str:
    return subprocess.run(["tiffinfo", str(path)], capture_output=True, text=True, check=True).stdout


def ink(page: Image.Image, box: tuple[int, int, int, int]) -> float:
    """Share of black pixels in a region."""
    region = page.crop(box).convert("L")
    histogram = region.histogram()  # pixel counts per grey level
    return sum(histogram[:128]) / (region.width * region.height)


def test_fax_tiff_is_valid_class_f_with_rendered_chinese(tmp_path: Path) -> None:
    path = tmp_path / "doc.tif"
    pages = render_tiff("住房公积金提取管理办法", BODY, path)
    assert pages >= 2  # a long document runs over several A4 pages
    info = tiffinfo(path)
    assert info.count("TIFF Directory") == pages
    assert "CCITT Group 4" in info
    assert "Image Width: 1728" in info
    assert "Resolution: 204, 196 pixels/inch" in info
    with Image.open(path) as img:
        assert img.n_frames == pages
        assert img.mode == "1"
        title_ink = ink(img, (110, 140, 1000, 200))
        margin_ink = ink(img, (0, 0, 100, 2292))
    assert 0.02 < title_ink < 0.6  # the title is drawn (glyphs, not a blank or a black box)
    assert margin_ink == 0.0


def test_fax_is_delivered_to_the_spool_once(sqlite_env: Path) -> None:
    with session_scope() as s:
        msg = casework.queue_fax(s, to="010-12345678", title="住房公积金提取管理办法", body=BODY)
        message_id = msg.message_id
    transports = casework.default_transports()
    assert casework.deliver_outbox(new_session, transports)["sent"] == 1
    spool = Path(get_settings().outbox_dir) / "fax"
    tiff = spool / f"{message_id}.tif"
    meta = json.loads(tiff.with_suffix(".json").read_text())
    assert meta["to"] == "010-12345678" and meta["pages"] >= 2
    assert "CCITT Group 4" in tiffinfo(tiff)
    stamp = tiff.stat().st_mtime_ns
    # delivered again after a crash: the spooled fax is not rendered or sent a second time
    transports["fax"].send(msg)
    assert tiff.stat().st_mtime_ns == stamp
    with session_scope() as s:
        (row,) = outbox(s, message_id=message_id)
        assert row.status == "sent"


def test_fax_without_number_is_refused(sqlite_env: Path) -> None:
    with session_scope() as s, pytest.raises(casework.CaseError, match="接收号码"):
        casework.queue_fax(s, to=" ", title="标题", body="内容")
