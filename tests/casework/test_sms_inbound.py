"""Incoming SMS through a real Kannel (both databases): a citizen's SMS enters bearerbox at its fake SMS
centre, smsbox's sms-service calls the portal's /api/sms/incoming, and it becomes the answer to the 回访
survey (3: the case goes back to its department) or a new submission, whose SMS back leaves through
smsbox's sendsms and reaches the SMS centre."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote_from_bytes, unquote_to_bytes

import pytest

import casework
from casework.outbox import COLLAPSE_WINDOW
from hotline.db import new_session, reset_caches, session_scope, utcnow
from tests.casework.helpers import department, new_case
from tests.casework.kannel_gateway import (
    Concatenated,
    KannelGateway,
    SmscMessage,
    kannel_missing_reason,
    wait_for_port,
)
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.e2e

TOKEN = "mo-token-789"
HOTLINE = "12345"


@dataclass
class MobileNetwork:
    """The SMS centre's side of bearerbox's `fake` SMSC connection (its line protocol: `sender receiver
    type data`), in place of fakesmsc: it sends the citizens' SMS and collects what the gateway sends."""

    port: int
    sock: socket.socket = field(init=False)
    got: list[SmscMessage] = field(default_factory=list)
    parts: Concatenated = field(default_factory=Concatenated)

    def __post_init__(self) -> None:
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.sock.settimeout(None)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buffer = b""
        while chunk := self._recv():
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                sender, receiver, kind, data = line.decode("latin-1").rstrip("\r").split(" ", 3)
                if kind == "udh":  # a part of a long SMS (over 70 Chinese characters)
                    whole = self.parts.add(sender, receiver, data)
                    if whole is not None:
                        self.got.append(SmscMessage(sender, receiver, whole))
                    continue
                raw = data.encode("latin-1") if kind == "text" else unquote_to_bytes(data)
                text = raw.decode("utf-16-be") if "ucs" in kind else raw.decode("utf-8", errors="replace")
                self.got.append(SmscMessage(sender, receiver, text))

    def _recv(self) -> bytes:
        try:
            return self.sock.recv(65536)
        except OSError:
            return b""

    def send(self, sender: str, text: str) -> None:
        """A mobile-originated SMS to the hotline, in UCS-2 as phones send Chinese."""
        data = quote_from_bytes(text.encode("utf-16-be"), safe="")
        self.sock.sendall(f"{sender} {HOTLINE} ucs2 {data}\n".encode("ascii"))

    def wait_for(self, receiver: str, what: str, seconds: float = 20.0) -> SmscMessage:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for message in self.got:
                if message.receiver == receiver and what in message.text:
                    return message
            time.sleep(0.1)
        raise AssertionError(f"no SMS to {receiver} with {what!r}; got {self.got}")

    def close(self) -> None:
        self.sock.close()


class InboundGateway(KannelGateway):
    """The test gateway with smsbox's sms-service handing incoming SMS to `get_url`."""

    get_url: str = ""

    def config(self) -> str:
        service = 'group = sms-service\nkeyword = default\ntext = ""\nomit-empty = true\n'
        conf = super().config()
        assert service in conf
        smsbox = f"sendsms-port = {self.ports['sendsms']}\n"
        return conf.replace(smsbox, smsbox + "mo-recode = true\n").replace(
            service,
            f'group = sms-service\nkeyword = default\nget-url = "{self.get_url}"\nmax-messages = 0\n',
        )

    def start(self) -> InboundGateway:
        """bearerbox and smsbox; the SMS centre is the test's MobileNetwork (one client at a time)."""
        from tests.conftest import free_port

        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ports = {name: free_port() for name in ("admin", "smsbox", "smsc", "sendsms")}
        conf = self.workdir / "kannel.conf"
        conf.write_text(self.config())
        self._spawn(["/usr/sbin/bearerbox", str(conf)], "bearerbox.out")
        wait_for_port(self.ports["smsbox"])
        self._spawn(["/usr/sbin/smsbox", str(conf)], "smsbox.out")
        wait_for_port(self.ports["sendsms"])
        wait_for_port(self.ports["smsc"])
        return self


@pytest.fixture
def network(hotline_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MobileNetwork]:
    if not KannelGateway.available():
        pytest.fail(kannel_missing_reason())
    monkeypatch.setenv("HOTLINE_KANNEL_INCOMING_TOKEN", TOKEN)
    with LiveServer() as server:
        gateway = InboundGateway(tmp_path / "kannel")
        gateway.get_url = f"{server.url}/api/sms/incoming?from=%p&text=%a&token={TOKEN}"
        try:
            gateway.start()
            monkeypatch.setenv("HOTLINE_KANNEL_URL", gateway.sendsms_url)
            monkeypatch.setenv("HOTLINE_KANNEL_USER", gateway.user)
            monkeypatch.setenv("HOTLINE_KANNEL_PASSWORD", gateway.password)
            reset_caches()
            mobile = MobileNetwork(gateway.ports["smsc"])
            time.sleep(0.5)  # bearerbox takes the SMS centre as connected
            yield mobile
            mobile.close()
        finally:
            gateway.stop()


def deliver() -> None:
    """Deliver what is queued, as a minute later: case notices wait COLLAPSE_WINDOW for others to join."""
    later = utcnow() + COLLAPSE_WINDOW + timedelta(seconds=1)
    casework.deliver_outbox(new_session, casework.default_transports(), now=later)


def eventually(check: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("not reached in time")


def test_survey_answer_by_sms_sends_the_case_back_for_rework(network: MobileNetwork) -> None:
    citizen = "13812340001"
    with session_scope() as s:
        case, _ = new_case(s, caller_number=citizen)
        casework.refer(s, case, department(s), actor="agent1")
        casework.accept(s, case, actor="dep1")
        casework.reply(s, case, actor="dep1", reply="已责令施工单位夜间停工。")
        casework.review(s, case, actor="agent1", approved=True)
        number = case.case_number
    deliver()
    survey = network.wait_for(citizen, "满意回复1")
    assert number in survey.text

    network.send(f"+86{citizen}", "3 夜里还在施工")

    def reworked() -> bool:
        with session_scope() as s:
            return casework.get_case(s, number).status == "in_progress"

    eventually(reworked)
    with session_scope() as s:
        case = casework.get_case(s, number)
        assert case.satisfaction == "不满意" and casework.timeline(s, case)[-1].comment == "不满意：夜里还在施工"
    deliver()
    network.wait_for("13900000001", "夜里还在施工")  # the department's rework notice
    network.wait_for(citizen, "重新办理")


def test_any_other_sms_becomes_a_submission_answered_with_its_number(network: MobileNetwork) -> None:
    citizen = "13912340002"
    network.send(citizen, "幸福路12号的井盖丢了，晚上很危险")

    def submitted() -> bool:
        with session_scope() as s:
            return bool(casework.review_queue(s))

    eventually(submitted)
    with session_scope() as s:
        (case,) = casework.review_queue(s)
        assert (case.channel, case.caller_number, case.content) == ("sms", citizen, "幸福路12号的井盖丢了，晚上很危险")
        number = case.case_number
    deliver()
    assert "查询密码" in network.wait_for(citizen, number).text
