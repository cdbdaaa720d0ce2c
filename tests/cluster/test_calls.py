"""Calls on two nodes behind Kamailio's dispatcher: callers answered by either node reach an agent whose
phone registered at Kamailio (the queue and the agents' states are in the shared database); when a node
dies, Kamailio stops sending it calls within seconds and new calls are answered by the other node."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from hotline import node as this_node
from hotline.cluster.local import LocalCluster, Node
from hotline.db import session_scope
from hotline.models import User
from selfservice import acd
from selfservice.kamailio import registered
from selfservice.models import QueuedCall
from tests.conftest import make_user
from tests.selfservice.baresip import BARESIP, Baresip
from tests.selfservice.callcentre import tone_seconds, tone_wav, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
CALLER_TONE, AGENT_TONE = 600.0, 1400.0


@pytest.fixture
def phones() -> Iterator[list[Baresip]]:
    if not Path(BARESIP).exists():
        pytest.fail("baresip not installed (scripts/install installs baresip-core)")
    made: list[Baresip] = []
    yield made
    for phone in made:
        phone.stop()


def phone(
    cluster: LocalCluster, phones: list[Baresip], tmp: Path, number: str, tone: float, *, register: bool = False,
    silent: bool = False,
) -> Baresip:
    registrar = f"127.0.0.1:{cluster.front_port}" if register else None
    lead = 40 if silent else 4 if not register else 0  # silent: a caller who listens to the menu
    voice = tone_wav(tmp / f"{number}.wav", tone, seconds=40, lead=lead)
    made = Baresip(tmp / number, voice, number=number, registrar=registrar)
    phones.append(made)
    if register:
        wait_for(lambda: registered(cluster.kamailio_dir, number), 10, f"{number} registered")
    return made


def test_callers_answered_by_either_node_are_bridged_to_an_agent_registered_at_kamailio(
    cluster: LocalCluster, phones: list[Baresip], tmp_path: Path
) -> None:
    agent = phone(cluster, phones, tmp_path, "2001", AGENT_TONE, register=True)
    with cluster.acting_as(cluster.nodes[0]):
        make_user("liu", ["agent"])
        with session_scope() as session:
            acd.sign_in(session, session.scalars(select(User).where(User.username == "liu")).one(), "2001", None)

    calls: list[QueuedCall] = []
    for number in ("13900000001", "13900000002"):  # round robin: one call on each node
        caller = phone(cluster, phones, tmp_path, number, CALLER_TONE)
        caller.dial(cluster.sip_uri)
        time.sleep(1.0)
        caller.press("0")
        agent.answer(20)
        time.sleep(2.5)  # they talk
        agent.hangup()
        assert caller.closed(10), "the caller is hung up when the agent hangs up"
        assert tone_seconds(caller.heard(), AGENT_TONE) >= 1.0, "the caller heard the agent"
        with cluster.acting_as(cluster.nodes[0]):
            call = wait_for(lambda n=number: ended_call(n), 10, "the queued call's end")  # type: ignore[misc]
        assert call.status == "ended" and call.agent_id is not None and call.recording_path
        calls.append(call)
        wait_for(lambda: agent_ready(cluster), 10, "the agent ready again")
    held_on = {call.node.rsplit(":", 2)[1] for call in calls}  # node names are host:sip_host:sip_port
    assert held_on == {n.address for n in cluster.nodes}, [call.node for call in calls]

    # the recordings are in the shared folder: a supervisor plays both calls' on either node
    with cluster.acting_as(cluster.nodes[0]):
        make_user("zhou", ["supervisor"])
    for node in cluster.nodes:
        with httpx.Client(base_url=node.url, timeout=10) as browser:
            log_in(browser, "zhou")
            for call in calls:
                played = browser.get(f"/recordings/calls/{call.call_id}")
                assert played.status_code == 200 and played.content[:4] == b"RIFF", (node.name, played.text[:200])


def log_in(browser: httpx.Client, username: str, password: str = "correct-horse") -> None:
    token = browser.get("/api/session").json()["csrf_token"]
    form = {"username": username, "password": password, "csrf_token": token, "next": "/"}
    assert browser.post("/login", data=form).status_code == 303


def ended_call(number: str) -> QueuedCall | None:
    with session_scope() as session:
        call = session.scalars(
            select(QueuedCall).where(QueuedCall.caller_number == number).order_by(QueuedCall.id.desc())
        ).first()
        return call if call is not None and call.ended_at is not None else None


def agent_ready(cluster: LocalCluster) -> bool:
    with cluster.acting_as(cluster.nodes[0]), session_scope() as session:
        user = session.scalars(select(User).where(User.username == "liu")).one()
        seat = acd.seat_of(session, user.id)
        return seat is not None and seat.state == "ready"


def test_when_a_node_dies_new_calls_are_answered_by_the_other_node(
    cluster: LocalCluster, phones: list[Baresip], tmp_path: Path
) -> None:
    victim, survivor = cluster.nodes
    victim.kill()
    killed_at = time.monotonic()
    # a call placed at once: a process of the dead node does not answer, the next one (the other
    # node's) does
    first = phone(cluster, phones, tmp_path, "13900000011", CALLER_TONE)
    first.dial(cluster.sip_uri)
    answered_after = time.monotonic() - killed_at
    states = cluster.wait_dispatcher(
        lambda s: all(s[uri].startswith("I") for uri in cluster.media_of(victim)), 6
    )
    dropped_after = time.monotonic() - killed_at
    assert all(states[uri].startswith("A") for uri in cluster.media_of(survivor))
    for number in ("13900000012", "13900000013", "13900000014"):
        caller = phone(cluster, phones, tmp_path, number, CALLER_TONE)
        started = time.monotonic()
        caller.dial(cluster.sip_uri)
        assert time.monotonic() - started < 2.0, "answered at once by the live node"
        caller.hangup()
    first.hangup()
    assert answered_after < 10.0
    assert dropped_after < 5.0, f"Kamailio took {dropped_after:.1f} s to leave the dead node out"


def calls_on(node: Node) -> int:
    """Calls in progress on the node's SIP line, as it reports them (`hotline node status`)."""
    return int(json.loads((node.home / "sip-calls.json").read_text())["calls"])


def test_a_drained_node_keeps_its_calls_and_gets_no_new_requests_or_calls(
    cluster: LocalCluster, phones: list[Baresip], tmp_path: Path
) -> None:
    drained, other = cluster.nodes
    first = phone(cluster, phones, tmp_path, "13900000021", CALLER_TONE, silent=True)
    first.dial(cluster.sip_uri)
    second = phone(cluster, phones, tmp_path, "13900000022", CALLER_TONE, silent=True)
    second.dial(cluster.sip_uri)
    wait_for(lambda: calls_on(drained) == 1 and calls_on(other) == 1, 10, "a call on each node")

    with cluster.acting_as(drained):  # what `hotline node drain` on that node does
        assert this_node.set_draining(True, actor="test")
    cluster.wait_proxy_sees(lambda s: s[drained.name].startswith("DOWN"), 10)  # /healthz 503 "draining"
    for number in ("13900000023", "13900000024"):  # new calls: refused (503) by the drained node's processes
        phone(cluster, phones, tmp_path, number, CALLER_TONE, silent=True).dial(cluster.sip_uri)
    wait_for(lambda: calls_on(other) == 3, 10, "the new calls on the other node")
    assert calls_on(drained) == 1, "the drained node's call goes on"
    assert all(not any(e.get("type") == "CALL_CLOSED" for e in p.events) for p in (first, second))

    with cluster.acting_as(drained):
        assert this_node.set_draining(False, actor="test")
    cluster.wait_proxy_sees(lambda s: s[drained.name] == "UP", 10)
