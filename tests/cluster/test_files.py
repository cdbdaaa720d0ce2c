"""Files on a cluster without a shared folder: a recording and an attachment written on node 1 stay there
and are served through node 2, which fetches them from node 1 with a signed request; with node 1 down,
node 2 says which node holds them (503), not "not found". Its own two nodes (no SIP, no shared folder)."""

from __future__ import annotations

import io
import time
import wave
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import httpx
import pytest
from PIL import Image
from sqlalchemy import select

import casework
from casework import attachments
from hotline import nodefiles
from hotline.cluster.local import LocalCluster
from hotline.config import get_settings
from hotline.db import session_scope
from hotline.models import User
from selfservice import acd
from selfservice.recordings import purge_recordings
from tests.cluster.conftest import SMALL_KB, require_engines
from tests.cluster.test_calls import log_in
from tests.conftest import PG_ADMIN_DSN, make_user

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
CALL_ID = "files-call-1"
KEY = f"recordings/calls/20261201/{CALL_ID}.wav"  # its key in node_files (hotline.nodefiles)


class Written(NamedTuple):
    recording: bytes
    photo: bytes
    attachment: int


@pytest.fixture(scope="module")
def unshared(tmp_path_factory: pytest.TempPathFactory, postgres_ok: bool) -> Iterator[LocalCluster]:
    require_engines()
    if not postgres_ok:
        pytest.skip("PostgreSQL not reachable")
    cluster = LocalCluster(
        tmp_path_factory.mktemp("unshared"), nodes=2, sip=False, kb_file=SMALL_KB, admin_dsn=PG_ADMIN_DSN,
        shared_dir=False,
    )  # fmt: skip
    with cluster:
        yield cluster


@pytest.fixture(scope="module")
def written_on_node1(unshared: LocalCluster) -> Written:
    """A call's recording and a case's photo, written on node 1 through the functions the SIP line and
    the upload use."""
    node1 = unshared.nodes[0]
    with unshared.acting_as(node1):
        make_user("zhou", ["supervisor"])
        make_user("liu", ["agent"])
        recording = get_settings().recordings_dir / "calls" / "20261201" / f"{CALL_ID}.wav"
        recording.parent.mkdir(parents=True)
        with wave.open(str(recording), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(8000)
            out.writeframes(bytes(range(256)) * 64)
        photo = io.BytesIO()
        Image.new("RGB", (64, 48), "orange").save(photo, "PNG")
        with session_scope() as session:
            agent = session.scalars(select(User).where(User.username == "liu")).one()
            seat = acd.sign_in(session, agent, "2001", None)
            acd.enqueue(session, call_id=CALL_ID, caller_number="13900000009", group="", node=node1.name)
            acd.answered(session, CALL_ID, seat.id, str(recording))
            case, _ = casework.create_case(session, channel="phone", caller_number="13900000009",
                                           content="小区路灯不亮", actor="liu")  # fmt: skip
            (row,) = attachments.add_files(
                session, case, [attachments.Upload("路灯.png", io.BytesIO(photo.getvalue()))],
                purpose="case", actor="liu", role="agent",
            )  # fmt: skip
            attachment_id = row.id
    assert not list((unshared.nodes[1].home).rglob(f"{CALL_ID}.wav")), "node 2 has no copy of its own"
    return Written(recording.read_bytes(), photo.getvalue(), attachment_id)


def test_a_file_written_on_one_node_is_served_by_the_other(
    unshared: LocalCluster, written_on_node1: Written
) -> None:
    node1, node2 = unshared.nodes
    with httpx.Client(base_url=node2.url, timeout=20) as browser:
        log_in(browser, "zhou")
        played = browser.get(f"/recordings/calls/{CALL_ID}")
        assert played.status_code == 200, played.text[:300]
        assert played.content == written_on_node1.recording
        photo = browser.get(f"/attachments/{written_on_node1.attachment}")
        assert photo.status_code == 200 and photo.content == written_on_node1.photo, photo.text[:300]
        thumb = browser.get(f"/attachments/{written_on_node1.attachment}/thumbnail")
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    time.sleep(0.2)  # the response's cleanup runs after its last byte
    assert not [p for p in (node2.home / nodefiles.FETCHED_DIR).iterdir()], "the fetched copies are gone"

    # the internal route serves only requests signed with the cluster's key
    url = f"{node1.url}{nodefiles.ROUTE}{KEY}"
    expires = int(time.time()) + 30
    assert httpx.get(url, params={"expires": expires}).status_code == 403
    forged = {nodefiles.SIGNATURE_HEADER: "0" * 64}
    assert httpx.get(url, params={"expires": expires}, headers=forged).status_code == 403
    with unshared.acting_as(node2):
        signed = {nodefiles.SIGNATURE_HEADER: nodefiles.signature(KEY, expires)}
        outside = "recordings/../secret_key"  # sent as %2E%2E: the client would fold ".."
        escape = {nodefiles.SIGNATURE_HEADER: nodefiles.signature(outside, expires)}
    assert httpx.get(url, params={"expires": expires}, headers=signed).content == written_on_node1.recording
    sneaky_url = f"{node1.url}{nodefiles.ROUTE}{outside.replace('..', '%2E%2E')}"
    sneaky = httpx.get(sneaky_url, params={"expires": expires}, headers=escape)
    assert sneaky.status_code == 404
    # and not at all from outside, through HAProxy
    through_front = httpx.get(f"{unshared.url}{nodefiles.ROUTE}{KEY}", params={"expires": expires}, headers=signed)
    assert through_front.status_code == 403


def test_with_the_node_holding_a_file_down_the_other_says_which_node(
    unshared: LocalCluster, written_on_node1: Written
) -> None:
    node1, node2 = unshared.nodes
    node1.stop()
    try:
        with httpx.Client(base_url=node2.url, timeout=20) as browser:
            log_in(browser, "zhou")
            played = browser.get(f"/recordings/calls/{CALL_ID}")
            assert played.status_code == 503
            assert "录音保存在节点 node1，该节点当前不可达" in played.text
            photo = browser.get(f"/attachments/{written_on_node1.attachment}")
            assert photo.status_code == 503 and "附件保存在节点 node1，该节点当前不可达" in photo.text
        logged = node2.log_path.read_text(errors="replace")
        assert f"node file {KEY}: node node1 ({node1.url}) unreachable" in logged
    finally:
        unshared.restart(node1)


def test_each_node_purges_the_recordings_it_holds(unshared: LocalCluster, written_on_node1: Written) -> None:
    """Last: the recording is gone after it."""
    node1, node2 = unshared.nodes
    held = node1.home / KEY
    later = datetime.now(UTC) + timedelta(days=1)
    with unshared.acting_as(node2), session_scope() as session:
        assert purge_recordings(session, later) == 0
    assert held.exists()
    with unshared.acting_as(node1), session_scope() as session:
        assert purge_recordings(session, later) == 1
    assert not held.exists()

