"""A real SIP caller for the IVR tests: Debian's baresip, driven over its ctrl_tcp interface
(netstring JSON). It sends a WAV file as the caller's voice (aufile), dumps what it hears (sndfile)
and sends DTMF (menu's `sndcode`)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

from tests.conftest import free_port

BARESIP = "/usr/bin/baresip"
MODULES = "/usr/lib/baresip/modules"


def write_voice(
    path: Path, speech: np.ndarray | None, *, lead: float, total: float, rate: int = 8000
) -> Path:
    """The caller's microphone: silence, then `speech` (int16 at `rate`) after `lead` seconds, padded
    with silence to `total` seconds (baresip hangs up when the file ends)."""
    audio = np.zeros(int(total * rate), dtype=np.int16)
    if speech is not None:
        start = int(lead * rate)
        audio[start : start + speech.size] = speech[: audio.size - start]
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(audio.astype("<i2").tobytes())
    return path


class Baresip:
    """One baresip process as the caller `number`."""

    def __init__(
        self,
        workdir: Path,
        voice_wav: Path,
        number: str = "13800138000",
        registrar: str | None = None,
        auto_answer: bool = False,
    ) -> None:
        """`registrar` ("host:port"): register `number` there (an agent's phone behind Kamailio);
        `auto_answer`: pick up incoming calls at once (the benchmark's agents)."""
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        # a short path: baresip 1.0 builds the dump file name in a 128-byte buffer, and a long one is
        # cut off so that what the phone sent and what it heard land in one file
        self.dumps = Path(tempfile.mkdtemp(prefix="bs-"))
        account = f"<sip:{number}@{registrar}>;regint=60" if registrar else f"<sip:{number}@127.0.0.1>;regint=0"
        answer = ";answermode=auto" if auto_answer else ""
        (self.dir / "accounts").write_text(f"{account}{answer};audio_codecs=PCMU,PCMA\n")
        for attempt in range(3):  # phones started at once may pick the same free port: try others
            self.ctrl_port = free_port()
            self.sip_port = free_port(socket.SOCK_DGRAM)
            self._write_config(voice_wav)
            self.log = open(self.dir / "baresip.log", "wb")  # noqa: SIM115 - closed in stop()
            self.proc = subprocess.Popen([BARESIP, "-f", str(self.dir)], stdout=self.log, stderr=subprocess.STDOUT)
            try:
                self.sock = self._connect()
                break
            except RuntimeError:
                self.proc.kill()
                self.proc.wait()
                self.log.close()
                if attempt == 2:
                    raise
        self.buffer = b""
        self.events: list[dict] = []

    def _write_config(self, voice_wav: Path) -> None:
        (self.dir / "config").write_text(
            "\n".join(
                [
                    "poll_method epoll",
                    f"sip_listen 127.0.0.1:{self.sip_port}",
                    "net_interface 127.0.0.1",
                    f"audio_source aufile,{voice_wav}",
                    "audio_player aufile,/dev/null",
                    "audio_alert aufile,/dev/null",
                    "ausrc_srate 8000",
                    "auplay_srate 8000",
                    "audio_channels 1",
                    f"module_path {MODULES}",
                    "module g711.so",
                    "module aufile.so",
                    "module sndfile.so",
                    f"snd_path {self.dumps}",
                    "module_app account.so",
                    "module_app menu.so",
                    "module_app ctrl_tcp.so",
                    f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
                    "",
                ]
            )
        )

    def _connect(self) -> socket.socket:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                return socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=1)
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("baresip's ctrl_tcp did not come up; see " + str(self.dir / "baresip.log"))

    def command(self, command: str, params: str = "") -> None:
        body = json.dumps({"command": command, "params": params, "token": command}).encode()
        self.sock.sendall(str(len(body)).encode() + b":" + body + b",")

    def _read(self, timeout: float) -> None:
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            return
        self.buffer += chunk
        while b":" in self.buffer:
            size, _, rest = self.buffer.partition(b":")
            if len(rest) < int(size) + 1:
                break
            self.events.append(json.loads(rest[: int(size)]))
            self.buffer = rest[int(size) + 1 :]

    def wait_event(self, kind: str, seconds: float = 20.0) -> dict:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for event in self.events:
                if event.get("type") == kind:
                    self.events.remove(event)  # taken: a later call's event is waited for anew
                    return event
            self._read(0.2)
        raise AssertionError(f"no {kind} from baresip; events left: {[e.get('type') for e in self.events]}")

    def dial(self, uri: str) -> None:
        self.command("dial", uri)
        self.wait_event("CALL_ESTABLISHED")

    def press(self, keys: str, gap: float = 0.4) -> None:
        for key in keys:
            self.command("sndcode", key)
            time.sleep(gap)

    def hangup(self) -> None:
        self.command("hangup")

    def answer(self, seconds: float = 30.0) -> dict:
        """Wait for an incoming call and pick it up (as a person at the phone would)."""
        event = self.wait_event("CALL_INCOMING", seconds)
        self.command("accept")
        self.wait_event("CALL_ESTABLISHED", 10)
        return event

    def closed(self, seconds: float = 30.0) -> bool:
        try:
            self.wait_event("CALL_CLOSED", seconds)
            return True
        except AssertionError:
            return False

    def heard(self) -> np.ndarray:
        """What the caller heard (the decoded audio from the IVR), as int16 samples."""
        # sndfile names a dump after the call's peer: no .wav suffix when the peer is a plain number
        files = sorted(p for p in self.dumps.iterdir() if "-dec" in p.name)
        if not files:
            return np.zeros(0, dtype=np.int16)
        with wave.open(str(files[-1]), "rb") as wav:
            return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")

    def stop(self) -> None:
        try:
            self.command("quit")
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
        self.sock.close()
        self.log.close()
        heard = self.dir / "heard"  # what the phone heard, kept beside its log for a look after a failure
        if not heard.exists():
            shutil.copytree(self.dumps, heard)
        shutil.rmtree(self.dumps, ignore_errors=True)
