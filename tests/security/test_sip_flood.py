"""A flood of unauthenticated INVITEs through the whole stack (Kamailio in front of the media node, as
`hotline serve` runs them): Kamailio's pike module blocks the flooding address after the first few, and
the IVR goes on answering a real caller (baresip) from another address; the media node's PJSIP
processes are the same ones afterwards (none died, none was added)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.config import get_settings
from hotline.db import session_scope
from selfservice import records
from tests.conftest import free_ports
from tests.selfservice.baresip import BARESIP
from tests.selfservice.callcentre import CallCentre, tone_wav, use_call_centre_settings, wait_for
from tests.selfservice.conftest import ivr_env, prompt_cache  # noqa: F401 - fixtures

pytestmark = pytest.mark.e2e  # real SIP peers; like the other SIP tests, one Kamailio per test
FLOOD_SOURCE = "127.0.0.2"  # the legitimate caller's baresip is on 127.0.0.1
FLOOD = 200
FLOOD_LIMIT = 3  # INVITEs per source per 2 s before pike drops them (HOTLINE_SIP_FLOOD_LIMIT)
PROCESSES = 6  # 12 callers: more lines than the flood's first INVITEs can take
CALLER = "13912345678"


@pytest.fixture
def centre(ivr_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CallCentre]:  # noqa: F811
    if not Path(BARESIP).exists():
        pytest.fail("baresip not installed (scripts/install installs baresip-core)")
    use_call_centre_settings(monkeypatch)
    monkeypatch.setenv("HOTLINE_SIP_FLOOD_LIMIT", str(FLOOD_LIMIT))
    monkeypatch.setenv("HOTLINE_SIP_MAX_CALLS", str(2 * PROCESSES))
    monkeypatch.setenv("HOTLINE_SIP_PORT", str(free_ports(PROCESSES)))
    monkeypatch.setenv("HOTLINE_SIP_RTP_PORT", str(free_ports(PROCESSES * 16)))
    get_settings.cache_clear()
    with CallCentre(ivr_env) as live:
        yield live


def invite(port: int, me: int, n: int) -> bytes:
    sdp = (
        f"v=0\r\no=- {n} 1 IN IP4 {FLOOD_SOURCE}\r\ns=-\r\nc=IN IP4 {FLOOD_SOURCE}\r\nt=0 0\r\n"
        f"m=audio {40000 + 2 * n} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    )
    return (
        f"INVITE sip:12345@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {FLOOD_SOURCE}:{me};branch=z9hG4bK-invite-flood-{n}\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:{n}@{FLOOD_SOURCE}>;tag=flood{n}\r\n"
        "To: <sip:12345@127.0.0.1>\r\n"
        f"Call-ID: invite-flood-{n}@{FLOOD_SOURCE}\r\n"
        "CSeq: 1 INVITE\r\n"
        f"Contact: <sip:{n}@{FLOOD_SOURCE}:{me}>\r\n"
        "Content-Type: application/sdp\r\n"
        f"Content-Length: {len(sdp)}\r\n\r\n{sdp}"
    ).encode()


def flood(port: int) -> set[str]:
    """FLOOD INVITEs from FLOOD_SOURCE in about two seconds, never acknowledged; returns the Call-IDs
    that got any answer (from Kamailio or, through it, the media node)."""
    answered: set[str] = set()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((FLOOD_SOURCE, 0))
        me = sock.getsockname()[1]
        sock.settimeout(0.01)

        def collect() -> None:
            try:
                while True:
                    data = sock.recv(65536).decode(errors="replace")
                    answered.update(
                        line.split(":", 1)[1].strip() for line in data.splitlines() if line.startswith("Call-ID:")
                    )
            except TimeoutError:
                pass

        for n in range(FLOOD):
            sock.sendto(invite(port, me, n), ("127.0.0.1", port))
            collect()
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            collect()
    return answered


def endpoint_processes() -> set[int]:
    """The PJSIP processes (python -m selfservice.sip.endpoint) running on this machine for this test."""
    import os

    pids = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
            stat = (cmdline.parent / "stat").read_text()
        except OSError:
            continue
        if b"selfservice.sip.endpoint" in args and int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid():
            pids.add(int(cmdline.parent.name))
    return pids


def test_an_invite_flood_is_blocked_and_a_real_caller_is_still_answered(centre: CallCentre, tmp_path: Path) -> None:
    before = endpoint_processes()
    assert len(before) == PROCESSES
    answered = flood(centre.front.port)
    assert 1 <= len(answered) <= 3 * FLOOD_LIMIT, len(answered)  # the first ones; then pike drops the rest
    caller = centre.phone("caller", CALLER, tone_wav(tmp_path / "caller.wav", 600.0, seconds=20, lead=10))
    caller.dial(centre.number)  # established: the IVR answered
    wait_for(lambda: _called(CALLER), 10, "the IVR's call record")
    caller.hangup()
    assert caller.closed(10)
    assert endpoint_processes() == before  # no process died, none was started for the flood
    assert "SIP flood from 127.0.0.2" in centre.kamailio.log_path.read_text()
    server, centre.server = centre.server, None
    assert server is not None
    asyncio.run_coroutine_threadsafe(server.stop(), centre.loop).result(30)
    # each media process shut down cleanly, also those that answered a flood call never acknowledged
    # (one of them used to abort in PJSIP's pjsua_call_set_user_data at shutdown)
    assert [m.process.returncode for m in server.pool if m.process] == [0] * PROCESSES


def _called(number: str) -> bool:
    with session_scope() as session:
        return any(call.caller_number == number for call in records.recent_calls(session, number))
