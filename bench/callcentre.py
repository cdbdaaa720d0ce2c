#!/usr/bin/env python3
"""Call-centre benchmark: real SIP calls through Kamailio to the media node, with baresip agents that
answer at once. Callers arrive evenly over `--seconds`, press 0 at the main menu, wait in the queue,
talk `--talk` seconds once an agent has them (or give up after `--patience`), then hang up.

Prints one JSON line last: offered, answered, abandoned, answered_within_15s, recordings (files
written), lost_recordings (answered calls without a complete recording), recordings_with_gaps (a
recording whose caller tone drops out for more than 0.5 s while talking), wait_p50_ms, wait_p99_ms,
ring_to_answer_audio_ms_p50/p99 (agent answers -> the agent hears the caller, from the agents'
phones), max_bridged (most calls bridged and recorded at once), max_in_call (most callers on the line at once), cpu_per_call_s (hotline's
processes and Kamailio, per offered call).

Usage: python3 bench/callcentre.py --callers 50 --agents 20 --seconds 60 [--talk 20] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
CALLER_TONE, AGENT_TONE = 600.0, 1400.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (and its waited-for children) from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(f) for f in fields[11:15]) / ticks


def kamailio_pids(run_dir: Path) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if str(run_dir) in (proc / "cmdline").read_text():
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


def first_tone_ms(samples, freq: float, rate: int = 8000) -> float | None:  # type: ignore[no-untyped-def]
    """Milliseconds into `samples` (int16) until `freq` first dominates a 20 ms frame: in an agent's
    recording of what the phone heard, the time from answering to hearing the caller."""
    import numpy as np

    frame = rate // 50
    t = np.arange(frame) / rate
    probe = np.exp(-2j * np.pi * freq * t)
    for start in range(0, samples.size - frame, frame):
        chunk = samples[start : start + frame].astype(np.float64)
        energy = float(np.sum(chunk * chunk))
        if energy < frame * 300.0 ** 2:
            continue
        at_freq = abs(np.dot(chunk, probe)) ** 2 * 2 / frame
        if at_freq > 0.6 * energy:
            return start * 1000 / rate
    return None


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=10)
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0, help="callers arrive over this window")
    parser.add_argument("--talk", type=float, default=10.0, help="seconds each answered caller talks")
    parser.add_argument("--patience", type=float, default=90.0, help="seconds a caller waits in the queue")
    parser.add_argument("--tts", default="espeak", help="TTS engine for the prompts (default espeak)")
    parser.add_argument("--json", action="store_true", help="only the JSON line")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="hotline-bench-callcentre-"))
    os.environ.update({
        "HOTLINE_HOME": str(home),
        "HOTLINE_TTS_ENGINE": args.tts,
        "HOTLINE_ACD_WRAP_UP_SECONDS": "1",
        "HOTLINE_SIP_FLOOD_LIMIT": "0",  # every caller comes from 127.0.0.1 here
    })
    import socket

    from selfservice.sip.server import processes_for
    from tests.conftest import free_port, free_ports

    os.environ.setdefault("HOTLINE_SIP_MAX_CALLS", str(args.callers + 10))
    processes = processes_for(int(os.environ["HOTLINE_SIP_MAX_CALLS"]))
    os.environ["HOTLINE_KAMAILIO_ENABLED"] = "1"
    os.environ["HOTLINE_KAMAILIO_PORT"] = str(free_port(socket.SOCK_DGRAM))
    os.environ["HOTLINE_SIP_PORT"] = str(free_ports(processes))
    os.environ["HOTLINE_SIP_RTP_PORT"] = str(free_ports(processes * 16))

    from sqlalchemy import select

    from hotline import bootstrap
    from hotline.db import session_scope
    from hotline.models import User
    from hotline.users import create_user
    from selfservice import acd
    from selfservice.models import QueuedCall
    from tests.selfservice.baresip import Baresip
    from tests.selfservice.callcentre import CallCentre, read_wav, tone_seconds, tone_wav

    def say(*parts: object) -> None:
        if not args.json:
            print(*parts, flush=True)

    bootstrap.init()
    agent_voice = tone_wav(home / "agent.wav", AGENT_TONE, seconds=args.seconds + args.patience + args.talk + 60)
    # the caller's tone plays from the start (so an agent hears it from the first moment of the bridge);
    # the caller presses 0 at once, before the IVR could take the tone for speech (200 ms)
    caller_voice = tone_wav(home / "caller.wav", CALLER_TONE, seconds=args.patience + args.talk + 30)
    with CallCentre(home) as centre:
        assert centre.server is not None
        say(f"Kamailio {centre.front.uri}, media node :{centre.server.config.port}")
        agents: list[Baresip] = []
        for n in range(args.agents):
            extension = str(2000 + n)
            with session_scope() as session:
                create_user(session, f"bench{n}", "bench-password-1", ["agent"])
            agents.append(Baresip(home / "phones" / extension, agent_voice, number=extension,
                                  registrar=f"{centre.front.host}:{centre.front.port}", auto_answer=True))
        from selfservice.kamailio import registered

        for n in range(args.agents):
            deadline = time.monotonic() + 15
            while not registered(centre.kamailio.run_dir, str(2000 + n)) and time.monotonic() < deadline:
                time.sleep(0.1)
            with session_scope() as session:
                user = session.scalars(select(User).filter_by(username=f"bench{n}")).one()
                acd.sign_in(session, user, str(2000 + n))
        say(f"{args.agents} agents registered and signed in")
        pids = [os.getpid(), *(m.process.pid for m in centre.server.pool if m.process),
                *kamailio_pids(centre.kamailio.run_dir)]
        cpu_start = sum(cpu_seconds(p) for p in pids)
        lock = threading.Lock()
        in_call = [0]
        peaks = {"in_call": 0, "bridged": 0}

        def caller(n: int) -> None:
            number = f"139{n:08d}"
            phone = Baresip(home / "phones" / number, caller_voice, number=number)
            try:
                phone.dial(centre.number)
                with lock:
                    in_call[0] += 1
                    peaks["in_call"] = max(peaks["in_call"], in_call[0])
                phone.press("0", gap=0.0)
                deadline = time.monotonic() + args.patience
                answered_at = None
                while answered_at is None and time.monotonic() < deadline:
                    with session_scope() as session:
                        call = session.scalar(select(QueuedCall).where(QueuedCall.caller_number == number))
                        if call is not None and call.answered_at is not None:
                            answered_at = time.monotonic()
                    time.sleep(0.25)
                if answered_at is not None:
                    time.sleep(args.talk)
                phone.hangup()
                phone.closed(10)
            finally:
                with lock:
                    in_call[0] -= 1
                phone.stop()

        def watch_bridged(stop: threading.Event) -> None:
            while not stop.wait(0.5):
                with session_scope() as session:
                    bridged = len(session.scalars(select(QueuedCall).where(QueuedCall.status == "connected")).all())
                peaks["bridged"] = max(peaks["bridged"], bridged)

        stop = threading.Event()
        watcher = threading.Thread(target=watch_bridged, args=(stop,), daemon=True)
        watcher.start()
        threads = []
        gap = args.seconds / max(1, args.callers)
        started = time.monotonic()
        for n in range(args.callers):
            t = threading.Thread(target=caller, args=(n,), daemon=True)
            t.start()
            threads.append(t)
            time.sleep(max(0.0, started + (n + 1) * gap - time.monotonic()))
        for t in threads:
            t.join(args.patience + args.talk + 60)
        stop.set()
        time.sleep(2.0)  # the last recordings are closed
        cpu = sum(cpu_seconds(p) for p in pids) - cpu_start
        heard_after_answer = []
        for agent in agents:
            for dump in sorted(agent.dumps.glob("*dec*")):
                with contextlib.suppress(Exception):
                    offset = first_tone_ms(read_wav(dump), CALLER_TONE)
                    if offset is not None:
                        heard_after_answer.append(offset)
            agent.stop()

        with session_scope() as session:
            calls = list(session.scalars(select(QueuedCall)))
        answered = [c for c in calls if c.answered_at is not None]
        waits = [c.wait_seconds * 1000 for c in answered if c.wait_seconds is not None]
        recordings = [Path(c.recording_path) for c in answered if c.recording_path]
        written = [p for p in recordings if p.exists()]
        lost, gaps = 0, 0
        for call in answered:
            path = Path(call.recording_path or "")
            if not path.exists():
                lost += 1
                continue
            try:
                audio = read_wav(path)
            except Exception:
                lost += 1
                continue
            talk = min(call.talk_seconds or 0.0, args.talk)
            if audio.size / 8000 < talk - 1.5:
                lost += 1
            elif tone_seconds(audio, CALLER_TONE) < talk - 1.0:
                gaps += 1
        result = {
            "offered": len(calls),
            "answered": len(answered),
            "abandoned": sum(c.status == "abandoned" for c in calls),
            "answered_within_15s": sum((c.wait_seconds or 0) <= 15 for c in answered),
            "recordings": len(written),
            "lost_recordings": lost,
            "recordings_with_gaps": gaps,
            "wait_p50_ms": pct(waits, 0.5),
            "wait_p99_ms": pct(waits, 0.99),
            # answer -> the agent hears the caller (measured in what the agents' phones heard)
            "ring_to_answer_audio_ms_p50": pct(heard_after_answer, 0.5),
            "ring_to_answer_audio_ms_p99": pct(heard_after_answer, 0.99),
            "max_bridged": peaks["bridged"],
            "max_in_call": peaks["in_call"],
            "cpu_per_call_s": round(cpu / max(1, len(calls)), 3),
            "cores": len(os.sched_getaffinity(0)),
            "callers": args.callers,
            "agents": args.agents,
        }
        say(f"elapsed {time.monotonic() - started:.0f} s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
