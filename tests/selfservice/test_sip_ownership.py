"""Only the process holding the SIP lock answers the line; a standing-by one takes it over when the
holder stops (or dies: the lock goes with its process)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from selfservice.sip.ownership import SipLine, try_lock


class FakeServer:
    def __init__(self) -> None:
        self.stopped = False

    async def stop(self) -> None:
        self.stopped = True


def line(path: Path, started: list[FakeServer]) -> SipLine:
    async def start() -> FakeServer:
        server = FakeServer()
        started.append(server)
        return server  # type: ignore[return-value]

    return SipLine(path, start, retry_seconds=0.05)  # type: ignore[arg-type]


def test_one_owner_and_a_takeover(tmp_path: Path) -> None:
    lock = tmp_path / "sip.lock"

    async def scenario() -> None:
        first_started: list[FakeServer] = []
        second_started: list[FakeServer] = []
        first, second = line(lock, first_started), line(lock, second_started)
        await first.start()
        await second.start()
        assert first.owner and not second.owner
        await asyncio.sleep(0.2)
        assert not second.owner and not second_started  # still standing by
        assert lock.read_text().strip() == str(os.getpid())
        await first.stop()
        assert first_started[0].stopped
        for _ in range(100):
            if second.owner:
                break
            await asyncio.sleep(0.05)
        assert second.owner and len(second_started) == 1
        await second.stop()
        assert try_lock(lock) is not None  # released

    asyncio.run(scenario())


HOLD_THE_LOCK = """
import sys, time
from pathlib import Path
from selfservice.sip.ownership import try_lock

held = try_lock(Path(sys.argv[1]))
print("held" if held else "busy", flush=True)
time.sleep(60)
"""


def test_the_lock_dies_with_its_process(tmp_path: Path) -> None:
    lock = tmp_path / "sip.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_LOCK, str(lock)],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert try_lock(lock) is None
    finally:
        holder.kill()
        holder.wait()
    assert try_lock(lock) is not None


def test_a_failing_first_start_is_raised_and_releases_the_lock(tmp_path: Path) -> None:
    lock = tmp_path / "sip.lock"

    async def broken() -> FakeServer:
        raise RuntimeError("menu file broken")

    with pytest.raises(RuntimeError):
        asyncio.run(SipLine(lock, broken).start())  # type: ignore[arg-type]
    assert try_lock(lock) is not None
