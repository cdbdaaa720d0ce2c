"""A drained node's SIP line (`hotline node drain`): new INVITEs are refused with 503, so Kamailio's
dispatcher sends the caller to another node, while the call in progress goes on; the line's owner
reports its calls to `hotline node status`. PJSIP answers OPTIONS itself (200) whatever the flag says."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hotline import node
from hotline.cli import app
from hotline.config import get_settings
from selfservice.sip import SipChannel, SipServer
from tests.conftest import free_port, free_ports
from tests.hotline.test_serve import sip_options

pytestmark = pytest.mark.e2e  # a real PJSIP endpoint


async def hold_line(channel: SipChannel) -> None:
    """A dialog that keeps the caller on the line until they hang up (at most 20 s)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(channel.ended.wait(), 20)


class Line:
    """The SIP server as start_sip builds it for a node (drain flag, calls report), in a loop thread."""

    def __init__(self) -> None:
        self.port = free_port(socket.SOCK_DGRAM)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server = SipServer(
            "127.0.0.1",
            self.port,
            get_settings().recordings_dir,
            hold_line,
            rtp_port=free_ports(16),
            drain_flag=node.drain_file(),
        )
        self.server.on_calls = node.write_sip_calls

    def __enter__(self) -> Line:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(30)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def line(sqlite_env: Path) -> Iterator[Line]:
    with Line() as live:
        yield live


class Caller:
    """A bare SIP user agent on a UDP socket: INVITE, read the final answer, ACK a 200."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.me = self.sock.getsockname()[1]
        self.sock.settimeout(10)

    def call(self, n: int) -> int:
        """Place call n; returns the final status code (200 acknowledged)."""
        call_id = f"drain-{n}-{self.me}@127.0.0.1"
        sdp = (
            f"v=0\r\no=- {n} 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {free_port(socket.SOCK_DGRAM)} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        )
        head = (
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.me};branch=z9hG4bK-drain-{n}\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:1390000000{n}@127.0.0.1>;tag=caller{n}\r\n"
        )
        invite = (
            f"INVITE sip:ivr@127.0.0.1:{self.port} SIP/2.0\r\n{head}"
            f"To: <sip:ivr@127.0.0.1:{self.port}>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\n"
            f"Contact: <sip:caller@127.0.0.1:{self.me}>\r\nContent-Type: application/sdp\r\n"
            f"Content-Length: {len(sdp)}\r\n\r\n{sdp}"
        )
        self.sock.sendto(invite.encode(), ("127.0.0.1", self.port))
        while True:
            answer = self.sock.recv(65536).decode(errors="replace")
            lines = answer.split("\r\n")
            if f"Call-ID: {call_id}" not in lines or not lines[0].startswith("SIP/2.0 "):
                continue
            code = int(lines[0].split()[1])
            if code < 200:
                continue
            to = next(line for line in lines if line.startswith("To:"))
            ack = (
                f"ACK sip:ivr@127.0.0.1:{self.port} SIP/2.0\r\n{head}{to}\r\nCall-ID: {call_id}\r\n"
                "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
            )
            self.sock.sendto(ack.encode(), ("127.0.0.1", self.port))
            return code

    def close(self) -> None:
        self.sock.close()


def status() -> dict:
    result = CliRunner().invoke(app, ["node", "status", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def wait_for_calls(line: Line, count: int) -> None:
    for _ in range(100):
        if len(line.server.channels) == count:
            return
        threading.Event().wait(0.05)
    raise AssertionError(f"{len(line.server.channels)} calls in progress, not {count}")


def test_a_drained_line_refuses_new_calls_and_keeps_the_call_in_progress(line: Line) -> None:
    caller = Caller(line.port)
    try:
        assert caller.call(1) == 200
        wait_for_calls(line, 1)
        assert status()["calls_in_progress"] == 1

        assert CliRunner().invoke(app, ["node", "drain"]).exit_code == 0
        assert caller.call(2) == 503  # Kamailio's dispatcher tries the next node
        assert sip_options(line.port).startswith("SIP/2.0 200")  # PJSIP answers OPTIONS itself
        wait_for_calls(line, 1)  # the first call goes on
        now = status()
        assert now["draining"] is True and now["calls_in_progress"] == 1

        assert CliRunner().invoke(app, ["node", "undrain"]).exit_code == 0
        assert caller.call(3) == 200
        wait_for_calls(line, 2)
    finally:
        caller.close()
