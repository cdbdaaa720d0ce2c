"""Bounded thread pools for the speech work of live calls, so that one kind of work never waits behind
the other: recognition (and what a caller who just spoke waits for next: the search) has a pool of its
own, and TTS renders have another, served by priority.

TTS priorities: NOW (what a caller is waiting for: a prompt, the first part of a text), AHEAD (the
parts rendered while the caller listens to the one before), BACKGROUND (prompts and most-read
documents rendered into the cache ahead of any caller). One worker of the TTS pool takes NOW work only,
so a caller's first clause never waits behind a long part rendered ahead for someone else, and the
other TTS workers run at a lower CPU priority (nice 10 on Linux): they use what the CPU has left, so
neither that first clause nor a caller's recognition, search and dialog runs slower beside them. The same
cache file asked for twice (calls starting together) is one job; a job nobody waits for any more (the
caller talked over the prompt, pressed a key, hung up) is dropped before it starts."""

from __future__ import annotations

import asyncio
import atexit
import heapq
import itertools
import os
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

NOW, AHEAD, BACKGROUND = 0, 1, 2
CORES = os.cpu_count() or 1
TTS_WORKERS = CORES  # one synthesis per core (Kokoro runs one thread: HOTLINE_TTS_THREADS)
TTS_RESERVED = 1  # ... plus one that takes only NOW work
TTS_NICE = 10  # the general TTS workers yield the CPU to the reserved one, recognition and the event loop
RECOGNITION_WORKERS = max(4, 2 * CORES)  # short jobs (a chunk of audio, a search); never behind TTS


class Job:
    """One piece of work in a pool: its future, priority and how many callers still wait for it."""

    def __init__(
        self, fn: Callable[..., Any], args: tuple[Any, ...], priority: int, key: Hashable | None
    ) -> None:
        self.fn, self.args, self.priority, self.key = fn, args, priority, key
        self.future: Future[Any] = Future()
        self.waiters = 0
        self.started = False


class PriorityPool:
    """Worker threads (started on first use) taking jobs lowest priority number first, in order of
    submission within a priority. `reserved` extra workers take only NOW jobs."""

    def __init__(self, name: str, workers: int, reserved: int = 0, nice: int = 0) -> None:
        self.name, self.workers, self.reserved, self.nice = name, workers, reserved, nice
        self._cond = threading.Condition()
        self._heap: list[tuple[int, int, Job]] = []
        self._jobs: dict[Hashable, Job] = {}
        self._order = itertools.count()
        self._threads: list[threading.Thread] = []
        self._stopping = False
        if hasattr(os, "register_at_fork"):  # a forked child has none of these threads: start anew
            os.register_at_fork(after_in_child=self._forget_all)

    def _forget_all(self) -> None:
        self._cond = threading.Condition()
        self._heap, self._jobs, self._threads = [], {}, []

    def submit(
        self, fn: Callable[..., T], *args: Any, priority: int = NOW, key: Hashable | None = None
    ) -> Job:
        """Queue `fn(*args)`; a job with the same `key` still queued or running is shared (and moved up
        to `priority` when that is more urgent)."""
        with self._cond:
            if self._stopping:
                raise RuntimeError(f"the {self.name} pool is shut down")
            job = self._jobs.get(key) if key is not None else None
            if job is None:
                job = Job(fn, args, priority, key)
                if key is not None:
                    self._jobs[key] = job
                heapq.heappush(self._heap, (priority, next(self._order), job))
            elif priority < job.priority and not job.started:
                job.priority = priority  # the entry at the old priority is skipped when it comes up
                heapq.heappush(self._heap, (priority, next(self._order), job))
            job.waiters += 1
            self._start_threads()
            self._cond.notify_all()
        return job

    def release(self, job: Job) -> None:
        """One waiter gave up; a job nobody waits for is dropped if it has not started."""
        with self._cond:
            job.waiters -= 1
            if job.waiters <= 0 and not job.started and job.future.cancel():
                self._forget(job)

    async def run(
        self, fn: Callable[..., T], *args: Any, priority: int = NOW, key: Hashable | None = None
    ) -> T:
        """`fn(*args)` in the pool, awaited; cancelling the awaiting task releases the job."""
        job = self.submit(fn, *args, priority=priority, key=key)
        try:
            return await asyncio.shield(asyncio.wrap_future(job.future))
        except asyncio.CancelledError:
            self.release(job)
            raise

    def call(
        self, fn: Callable[..., T], *args: Any, priority: int = BACKGROUND, key: Hashable | None = None
    ) -> T:
        """`fn(*args)` in the pool, waited for by a (non-pool) thread."""
        return self.submit(fn, *args, priority=priority, key=key).future.result()

    def _forget(self, job: Job) -> None:
        if job.key is not None and self._jobs.get(job.key) is job:
            del self._jobs[job.key]

    def _start_threads(self) -> None:
        if self._threads:
            return
        for n in range(self.workers + self.reserved):
            thread = threading.Thread(
                target=self._work, args=(n >= self.workers,), name=f"{self.name}-{n}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def shutdown(self, timeout: float = 30.0) -> None:
        """Drop the queued jobs and wait (at most `timeout` seconds) for the running ones: at exit, so
        that the interpreter never ends under a render still running in native code."""
        with self._cond:
            self._stopping = True
            for _, _, job in self._heap:
                if not job.started:
                    job.future.cancel()
            self._heap.clear()
            self._jobs.clear()
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _next(self, urgent_only: bool) -> Job | None:
        with self._cond:
            while True:
                if self._stopping:
                    return None
                while self._heap and (
                    self._heap[0][2].started
                    or self._heap[0][2].future.cancelled()
                    or self._heap[0][0] != self._heap[0][2].priority
                ):
                    heapq.heappop(self._heap)  # done, dropped, or queued again at a better priority
                if self._heap and (not urgent_only or self._heap[0][0] <= NOW):
                    job = heapq.heappop(self._heap)[2]
                    job.started = True
                    return job
                self._cond.wait()

    def _work(self, urgent_only: bool) -> None:
        if self.nice and not urgent_only:
            try:  # Linux: a thread's own nice value (the reserved workers keep the process's)
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)
            except (AttributeError, OSError):
                pass
        while True:
            job = self._next(urgent_only)
            if job is None:
                return
            if not job.future.set_running_or_notify_cancel():
                continue
            try:
                result = job.fn(*job.args)
            except BaseException as exc:  # noqa: BLE001 - handed to whoever waits
                job.future.set_exception(exc)
            else:
                job.future.set_result(result)
            finally:
                with self._cond:
                    self._forget(job)


tts_pool = PriorityPool("tts", TTS_WORKERS, TTS_RESERVED, nice=TTS_NICE)
recognition_pool = PriorityPool("recognition", RECOGNITION_WORKERS)


@atexit.register
def _shutdown() -> None:
    for pool in (tts_pool, recognition_pool):
        pool.shutdown()


async def in_recognition(fn: Callable[..., T], *args: Any) -> T:
    """Run recognition work (a chunk of audio, the end of an utterance, the search that follows it) in
    the recognition pool, never queued behind TTS renders."""
    return await recognition_pool.run(fn, *args)
