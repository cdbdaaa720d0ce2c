"""The speech pools (speech/executors.py): urgent TTS work first, a reserved worker for it, one job per
cache file, work nobody waits for dropped, and recognition never queued behind TTS renders."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from speech import executors
from speech.executors import AHEAD, BACKGROUND, NOW, PriorityPool, in_recognition


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """Jobs that block until the test opens the gate (always opened at the end)."""
    event = threading.Event()
    yield event
    event.set()


def blocker(gate: threading.Event, started: threading.Event | None = None) -> None:
    if started is not None:
        started.set()
    assert gate.wait(10)


def busy(pool: PriorityPool, gate: threading.Event, priority: int = AHEAD) -> None:
    """Occupy one worker of `pool` until the gate opens."""
    started = threading.Event()
    pool.submit(blocker, gate, started, priority=priority)
    assert started.wait(5)


def test_urgent_work_goes_before_work_queued_ahead_of_it(gate: threading.Event) -> None:
    pool = PriorityPool("test", workers=1)
    busy(pool, gate)
    order: list[str] = []
    jobs = [
        pool.submit(order.append, "prerender", priority=BACKGROUND),
        pool.submit(order.append, "next part", priority=AHEAD),
        pool.submit(order.append, "another part", priority=AHEAD),
        pool.submit(order.append, "first clause", priority=NOW),
    ]
    gate.set()
    for job in jobs:
        job.future.result(5)
    assert order == ["first clause", "next part", "another part", "prerender"]


def test_the_reserved_worker_takes_only_urgent_work(gate: threading.Event) -> None:
    pool = PriorityPool("test", workers=1, reserved=1)
    busy(pool, gate)  # the general worker renders a long part for someone
    ahead = pool.submit(time.monotonic, priority=AHEAD)
    urgent = pool.submit(time.monotonic, priority=NOW)
    assert urgent.future.result(2) > 0  # done at once by the reserved worker
    time.sleep(0.2)
    assert not ahead.future.done()  # waits for the general worker
    gate.set()
    assert ahead.future.result(5) > 0


def test_one_job_per_key_moved_up_when_asked_for_urgently(gate: threading.Event) -> None:
    pool = PriorityPool("test", workers=1)
    busy(pool, gate)
    calls: list[str] = []
    other = pool.submit(calls.append, "other", priority=AHEAD)
    first = pool.submit(calls.append, "welcome", priority=AHEAD, key="welcome.wav")
    again = pool.submit(calls.append, "welcome", priority=NOW, key="welcome.wav")  # a second call, waiting
    assert again is first and first.waiters == 2
    gate.set()
    first.future.result(5)
    other.future.result(5)
    assert calls == ["welcome", "other"]  # rendered once, and first


def test_a_job_nobody_waits_for_is_dropped_before_it_starts(gate: threading.Event) -> None:
    pool = PriorityPool("test", workers=1)
    busy(pool, gate)
    calls: list[str] = []
    job = pool.submit(calls.append, "part", priority=AHEAD, key="part.wav")
    pool.submit(calls.append, "part", priority=AHEAD, key="part.wav")
    pool.release(job)
    assert not job.future.cancelled()  # one caller still waits for it
    pool.release(job)
    assert job.future.cancelled()

    async def talked_over() -> None:  # a task awaiting a render is cancelled (barge-in, a key)
        task = asyncio.create_task(pool.run(calls.append, "later part", priority=AHEAD))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(talked_over())
    gate.set()
    pool.submit(calls.append, "after").future.result(5)
    assert calls == ["after"]


def test_recognition_never_waits_behind_tts_renders(gate: threading.Event) -> None:
    pool = executors.tts_pool
    for _ in range(pool.workers):
        busy(pool, gate)  # every TTS worker renders a long part
    busy(pool, gate, priority=NOW)  # ... and the reserved one a first clause

    async def recognise() -> float:
        started = time.monotonic()
        assert await in_recognition(sum, [1, 2, 3]) == 6
        return time.monotonic() - started

    assert asyncio.run(recognise()) < 0.5


def test_at_exit_queued_work_is_dropped_and_running_work_finished(gate: threading.Event) -> None:
    """The interpreter never ends under a render still running in native code."""
    pool = PriorityPool("test", workers=1)
    busy(pool, gate)
    queued = pool.submit(time.sleep, 0)  # behind the busy worker
    threading.Timer(0.3, gate.set).start()
    pool.shutdown(timeout=5)
    assert queued.future.cancelled()
    assert not any(thread.is_alive() for thread in pool._threads)
    with pytest.raises(RuntimeError):
        pool.submit(time.sleep, 0)


def test_a_forked_child_starts_its_own_workers() -> None:
    import os

    pool = PriorityPool("test", workers=1)
    assert pool.submit(sum, [1]).future.result(5) == 1  # the parent's worker is running
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports by its exit code, and never returns
        code = 1
        try:
            code = 0 if pool.submit(sum, [2]).future.result(5) == 2 else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
