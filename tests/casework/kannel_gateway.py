"""A real Kannel SMS gateway for the tests: bearerbox + smsbox (Debian `kannel`) with `fakesmsc`
(Debian `kannel-extras`) as the SMS centre. fakesmsc prints every message the gateway hands it."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote_to_bytes

from tests.conftest import free_port

BEARERBOX = "/usr/sbin/bearerbox"
SMSBOX = "/usr/sbin/smsbox"
FAKESMSC = "/usr/lib/kannel/test/fakesmsc"
GOT = re.compile(r"Got message \d+: <(\S+) (\S+) (\S+) (.*)>")


def wait_for_port(port: int, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


@dataclass
class SmscMessage:
    sender: str
    receiver: str
    text: str


@dataclass
class KannelGateway:
    """Kannel on free local ports; `sendsms_url` is smsbox's HTTP interface."""

    workdir: Path
    user: str = "hotline"
    password: str = "hotline-secret"
    ports: dict[str, int] = field(default_factory=dict)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @staticmethod
    def available() -> bool:
        return all(Path(p).exists() for p in (BEARERBOX, SMSBOX, FAKESMSC))

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['sendsms']}/cgi-bin/sendsms"

    @property
    def smsc_log(self) -> Path:
        return self.workdir / "fakesmsc.log"

    def config(self) -> str:
        p, w = self.ports, self.workdir
        return f"""group = core
admin-port = {p["admin"]}
admin-password = admin-secret
smsbox-port = {p["smsbox"]}
admin-allow-ip = 127.0.0.1
box-allow-ip = 127.0.0.1
log-level = 1
log-file = "{w}/bearerbox.log"
access-log = "{w}/access.log"
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = fake
port = {p["smsc"]}
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
sendsms-port = {p["sendsms"]}
log-level = 1
log-file = "{w}/smsbox.log"

group = sendsms-user
username = {self.user}
password = {self.password}
max-messages = 10
concatenation = true

group = sms-service
keyword = default
text = ""
omit-empty = true
"""

    def start(self) -> KannelGateway:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ports = {name: free_port() for name in ("admin", "smsbox", "smsc", "sendsms")}
        conf = self.workdir / "kannel.conf"
        conf.write_text(self.config())
        self._spawn([BEARERBOX, str(conf)], "bearerbox.out")
        wait_for_port(self.ports["smsbox"])
        self._spawn([SMSBOX, str(conf)], "smsbox.out")
        wait_for_port(self.ports["sendsms"])
        # fakesmsc must send something to stay connected: one inbound "ping" an hour, ignored by smsbox
        self._spawn(
            [
                FAKESMSC,
                "-H",
                "127.0.0.1",
                "-r",
                str(self.ports["smsc"]),
                "-i",
                "3600",
                "-m",
                "1000",
                "10000 12345 text ping",
            ],
            "fakesmsc.log",
        )
        time.sleep(1.0)  # the fake SMSC connects to bearerbox
        return self

    def _spawn(self, cmd: list[str], log: str) -> None:
        out = open(self.workdir / log, "wb")  # noqa: SIM115 - closed with the process
        self.procs.append(subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=self.workdir))

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()

    def received(self) -> list[SmscMessage]:
        """Messages the SMS centre got from the gateway, text decoded (UCS-2 or plain). A long message
        (over 70 Chinese characters) comes in parts with a concatenation header (`udh <header> data
        <UCS-2>`): its parts are joined into one message, listed once its last part is in."""
        out = []
        parts = Concatenated()
        for sender, receiver, kind, data in GOT.findall(self.smsc_log.read_text(errors="replace")):
            if kind == "udh":
                whole = parts.add(sender, receiver, data)
                if whole is not None:
                    out.append(SmscMessage(sender, receiver, whole))
                continue
            raw = _form_bytes(data)
            text = raw.decode("utf-16-be") if kind == "ucs-2" else raw.decode("latin-1")
            out.append(SmscMessage(sender, receiver, text))
        return out

    def wait_for(self, count: int, seconds: float = 15.0) -> list[SmscMessage]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            got = self.received()
            if len(got) >= count:
                return got
            time.sleep(0.1)
        return self.received()


def _form_bytes(data: str) -> bytes:
    return unquote_to_bytes(data.replace("+", " "))  # form-encoded: + is a 0x20 byte


@dataclass
class Concatenated:
    """The parts of long SMS as the fake SMSC line gives them (`udh <header> data <UCS-2>`, form-encoded),
    joined per sender, receiver and reference."""

    parts: dict[tuple[str, str, int], dict[int, bytes]] = field(default_factory=dict)

    def add(self, sender: str, receiver: str, data: str) -> str | None:
        """Take one part; the whole text once its last part is in, else None."""
        header, _, payload = data.partition(" data ")
        udh = _form_bytes(header)
        ref, total, seq = udh[3], udh[4], udh[5]  # IEI 00: 8-bit reference, parts, this part
        got = self.parts.setdefault((sender, receiver, ref), {})
        got[seq] = _form_bytes(payload)
        if len(got) < total:
            return None
        del self.parts[(sender, receiver, ref)]
        return b"".join(got[i] for i in sorted(got)).decode("utf-16-be")


def kannel_missing_reason() -> str:
    missing = [p for p in (BEARERBOX, SMSBOX, FAKESMSC) if not Path(p).exists()]
    return "Kannel not installed (scripts/install installs kannel and kannel-extras): " + ", ".join(missing)
