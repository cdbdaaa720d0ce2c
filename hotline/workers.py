"""Several uvicorn worker processes on one port (`hotline serve --workers N`, N > 1).

Each worker listens on a socket of its own bound with SO_REUSEPORT, so the kernel spreads new
connections over the workers. (uvicorn's own `workers=` shares one socket, and the worker that wakes
first accepts every connection waiting: in 3 of 8 benchmark runs one worker took all 16 keep-alive
connections and the other stayed idle.) The parent only supervises: it starts a new worker when one
dies, and stops them all on SIGINT/SIGTERM; a worker that fails to start (lifespan error) stops the lot.
"""

from __future__ import annotations

import logging
import logging.config
import multiprocessing
import os
import signal
import socket
import threading
from multiprocessing.process import BaseProcess
from typing import Any

from hotline.config import get_settings

APP = "web.app:create_app"
BACKLOG = 2048
STARTUP_FAILURE = 3  # uvicorn's exit code for a failed start-up
STOP_TIMEOUT = 30.0
HTTP_PROTOCOL = "hotline.httpserver:HotlineH11Protocol"  # h11 with a header-read timeout

log = logging.getLogger("hotline.serve")


def uvicorn_options() -> dict[str, Any]:
    """The options of every web worker's uvicorn (also the single-process `hotline serve`)."""
    return {
        # asyncio, not uvloop even when installed: same throughput here (the search dominates) but uvloop
        # gave a p99 of ~600 ms against ~100 ms with 32 keep-alive connections per worker
        "loop": "asyncio",
        "log_level": "info",
        # off: X-Forwarded-For is read only from the configured trusted proxies (web.security)
        "proxy_headers": False,
        "http": HTTP_PROTOCOL,
        "timeout_keep_alive": get_settings().keepalive_timeout,
    }


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) that other sockets of this user can bind too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto TCP, not 0: asyncio sets TCP_NODELAY only on such sockets; without it a response written
    # in two parts (headers, body) waits for the client's delayed ACK (~40 ms)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _worker(host: str, port: int, log_config: dict[str, Any]) -> None:
    """One worker process: the app on its own listening socket, until SIGINT/SIGTERM."""
    import uvicorn

    sock = reuseport_socket(host, port)
    sock.listen(BACKLOG)
    config = uvicorn.Config(
        APP, factory=True, host=host, port=port, backlog=BACKLOG, log_config=log_config, **uvicorn_options()
    )
    uvicorn.Server(config).run(sockets=[sock])


def run(host: str, port: int, workers: int, log_config: dict[str, Any]) -> int:
    """Serve with `workers` processes until stopped; returns the exit code (3: a worker failed to start)."""
    logging.config.dictConfig(log_config)
    # bound but never listening: claims the port now (an error here if another program holds it)
    # without taking any connection itself
    claim = reuseport_socket(host, port)
    ctx = multiprocessing.get_context("spawn")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    def start() -> BaseProcess:
        process = ctx.Process(target=_worker, args=(host, port, log_config), name="hotline-web")
        process.start()
        return process

    processes = [start() for _ in range(workers)]
    log.info("%d web workers on http://%s:%d (parent process %d)", workers, host, port, os.getpid())
    code = 0
    while not stop.wait(0.5):
        for i, process in enumerate(processes):
            if process.is_alive():
                continue
            if process.exitcode == STARTUP_FAILURE:
                log.error("web worker %d failed to start; stopping", process.pid)
                code = STARTUP_FAILURE
                stop.set()
                break
            log.info("web worker %d ended (exit code %s); starting another", process.pid, process.exitcode)
            processes[i] = start()
    for process in processes:
        if process.is_alive():
            process.terminate()  # SIGTERM: uvicorn shuts down gracefully (lifespan: the SIP line)
    for process in processes:
        process.join(STOP_TIMEOUT)
        if process.is_alive():
            process.kill()
            process.join()
    claim.close()
    return code
