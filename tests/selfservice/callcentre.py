"""The call centre as it runs: Kamailio in front, the media node (PJSIP + switchboard) in an event loop of
its own thread (as in `hotline serve`), and baresip phones for callers, agents and departments."""

from __future__ import annotations

import asyncio
import threading
import time
import wave
from pathlib import Path

import numpy as np

from hotline.config import get_settings
from hotline.db import session_scope
from hotline.models import User
from selfservice import acd
from selfservice.kamailio import FrontConfig, KamailioProcess, registered
from selfservice.sip import SipServer, start_sip
from tests.conftest import make_user
from tests.selfservice.baresip import Baresip

RATE = 8000


def use_call_centre_settings(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Kamailio and the media node on free ports; short ring and after-call times for tests."""
    import socket

    from tests.conftest import free_port, free_ports

    monkeypatch.setenv("HOTLINE_KAMAILIO_ENABLED", "1")
    monkeypatch.setenv("HOTLINE_KAMAILIO_PORT", str(free_port(socket.SOCK_DGRAM)))
    monkeypatch.setenv("HOTLINE_SIP_PORT", str(free_ports(3)))
    monkeypatch.setenv("HOTLINE_SIP_RTP_PORT", str(free_ports(3 * 16)))
    monkeypatch.setenv("HOTLINE_SIP_MAX_CALLS", "6")  # 3 PJSIP processes
    monkeypatch.setenv("HOTLINE_ACD_RING_SECONDS", "4")
    monkeypatch.setenv("HOTLINE_ACD_WRAP_UP_SECONDS", "1")
    get_settings.cache_clear()


def tone_wav(path: Path, freq: float, *, seconds: float, lead: float = 0.0) -> Path:
    """A phone's microphone: silence for `lead` seconds, then a steady tone (baresip hangs up at the end)."""
    audio = np.zeros(int(seconds * RATE), dtype=np.float64)
    start = int(lead * RATE)
    t = np.arange(audio.size - start) / RATE
    audio[start:] = 0.3 * np.sin(2 * np.pi * freq * t)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes((audio * 32767).astype("<i2").tobytes())
    return path


def tone_seconds(samples: np.ndarray, freq: float, rate: int = RATE) -> float:
    """Seconds of audio (in 250 ms windows) in which `freq` stands clearly above the rest of the band."""
    window = rate // 4
    count = 0
    freqs = np.fft.rfftfreq(window, 1 / rate)
    target = np.abs(freqs - freq) <= 20
    for start in range(0, samples.size - window + 1, window):
        spectrum = np.abs(np.fft.rfft(samples[start : start + window].astype(np.float64)))
        if spectrum[target].max(initial=0) > 8 * (np.median(spectrum) + 1e-9) and spectrum[target].max() > 5e4:
            count += 1
    return count / 4


def read_wav(path: Path) -> np.ndarray:
    """A finished recording's samples (waits up to 10 s for PJSIP to close the file)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not wav_complete(path):
        time.sleep(0.1)
    with wave.open(str(path), "rb") as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")


def wav_complete(path: Path) -> bool:
    """Whether a WAV file's header has its final sizes (the writer closed it)."""
    try:
        head = path.read_bytes()[:8]
        return head[:4] == b"RIFF" and int.from_bytes(head[4:8], "little") == path.stat().st_size - 8
    except OSError:
        return False


class CallCentre:
    """Kamailio + media node on free ports; phones register to Kamailio."""

    def __init__(self, home: Path) -> None:
        settings = get_settings()
        self.home = home
        self.front = FrontConfig.from_settings()
        self.kamailio = KamailioProcess(self.front, home / "kamailio")
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: SipServer | None = None
        self.phones: list[Baresip] = []
        self.settings = settings

    def __enter__(self) -> CallCentre:
        self.kamailio.start()
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(start_sip(), self.loop).result(30)
        return self

    def __exit__(self, *exc: object) -> None:
        for phone in self.phones:
            phone.stop()
        if self.server is not None:
            asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.kamailio.stop()

    @property
    def number(self) -> str:
        """The hotline as callers dial it (through Kamailio)."""
        return f"sip:12345@{self.front.host}:{self.front.port}"

    def phone(self, name: str, number: str, voice: Path, *, register: bool = False) -> Baresip:
        registrar = f"{self.front.host}:{self.front.port}" if register else None
        phone = Baresip(self.home / "phones" / name, voice, number=number, registrar=registrar)
        self.phones.append(phone)
        if register:  # Kamailio knows the phone (its REGISTER_OK event may come before ctrl_tcp is up)
            wait_for(lambda: registered(self.kamailio.run_dir, number), 10, f"{number} registered")
        return phone

    def agent(self, username: str, extension: str, voice: Path, skills: dict[str, int] | None = None) -> Baresip:
        """A staff member with the agent role, signed in at a registered phone."""
        make_user(username, ["agent"])
        phone = self.phone(username, extension, voice, register=True)
        with session_scope() as session:
            user = session.query(User).filter_by(username=username).one()
            acd.sign_in(session, user, extension, skills)
        return phone


def wait_for(condition, seconds: float = 20.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def queued_call(caller_number: str):  # type: ignore[no-untyped-def]
    with session_scope() as session:
        from sqlalchemy import select

        from selfservice.models import QueuedCall

        return session.scalar(
            select(QueuedCall).where(QueuedCall.caller_number == caller_number).order_by(QueuedCall.id.desc())
        )


def seat(username: str):  # type: ignore[no-untyped-def]
    with session_scope() as session:
        user = session.query(User).filter_by(username=username).one()
        return acd.seat_of(session, user.id)
