"""Slow and broken clients against the real server (hotline.httpserver): connections that never finish
their request head are closed after HOTLINE_HEADER_TIMEOUT while others are served, a slow but complete
request is served, a WebSocket call outlives the timeout; a keep-alive connection stays usable after
error pages, an unexpected exception's included (a Chinese 500 page without the traceback)."""

from __future__ import annotations

import http.client
import os
import selectors
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from hotline.workers import uvicorn_options
from tests.conftest import free_port
from tests.hotline.test_serve import small_data_dir, wait_until_up

HEADER_TIMEOUT = 2.0
KEEPALIVE_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`hotline serve --no-sip --workers 2` with a 2 s header timeout; yields its base URL."""
    root = tmp_path_factory.mktemp("serve")
    port = free_port()
    env = {
        **os.environ,
        "HOTLINE_HOME": str(root / "home"),
        "HOTLINE_DATA_DIR": str(small_data_dir(root)),
        "HOTLINE_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "HOTLINE_KEEPALIVE_TIMEOUT": str(KEEPALIVE_TIMEOUT),
    }
    env.pop("HOTLINE_DATABASE_URL", None)
    hotline = shutil.which("hotline")
    assert hotline
    cmd = [hotline, "serve", "--no-sip", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    with (root / "serve.log").open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def closed_after(sockets: list[socket.socket], seconds: float) -> dict[socket.socket, float]:
    """When (time.monotonic()) the server closed each socket; those still open after `seconds` left out."""
    start = time.monotonic()
    closed: dict[socket.socket, float] = {}
    with selectors.DefaultSelector() as sel:
        for s in sockets:
            sel.register(s, selectors.EVENT_READ, data=s)
        while len(closed) < len(sockets) and time.monotonic() - start < seconds:
            for key, _ in sel.select(timeout=0.1):
                s = key.data
                try:
                    data = s.recv(4096)
                except ConnectionResetError:
                    data = b""
                if not data:
                    closed[s] = time.monotonic()
                    sel.unregister(s)
    return closed


def test_half_sent_request_heads_are_closed_after_the_timeout_while_others_are_served(served: str) -> None:
    first = time.monotonic()
    silent = [connect(served) for _ in range(10)]  # connect and say nothing
    half = [connect(served) for _ in range(40)]
    for s in half:
        s.sendall(b"GET /api/search?q=%E5%85%AC HT")  # half a request line
    last = time.monotonic()
    try:
        resp = httpx.get(served + "/api/search", params={"q": "公积金提取"}, timeout=10)
        assert resp.status_code == 200 and resp.json()["total"] >= 1
        assert time.monotonic() - last < HEADER_TIMEOUT  # served while the 50 are held
        closed = closed_after(silent + half, HEADER_TIMEOUT + 5)
        assert len(closed) == 50, "some connections without a complete request head were kept"
        assert min(closed.values()) - last > HEADER_TIMEOUT - 0.5  # not before the timeout
        assert max(closed.values()) - first < HEADER_TIMEOUT + 2.0
    finally:
        for s in silent + half:
            s.close()


def test_a_slow_but_complete_request_within_the_timeout_is_served(served: str) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow\r\n\r\n"
    with connect(served) as s:
        for i in range(0, len(request), 8):  # the head over ~1.2 s, under the 2 s timeout
            s.sendall(request[i : i + 8])
            time.sleep(1.2 / (len(request) / 8))
        answer = s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 200")


def test_a_kept_alive_connection_times_out_idle_and_on_a_half_sent_second_request(served: str) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    idle, stalled = connect(served), connect(served)
    try:
        for s in (idle, stalled):
            s.sendall(request)
            assert s.recv(4096).startswith(b"HTTP/1.1 200")
        stalled.sendall(b"GET /healthz HTTP/1.1\r\nHo")  # at once: the keep-alive timer is cancelled
        start = time.monotonic()
        closed = closed_after([idle, stalled], HEADER_TIMEOUT + 5)
        assert closed[idle] - start < KEEPALIVE_TIMEOUT + 0.8  # idle keep-alive: uvicorn's own timer
        assert HEADER_TIMEOUT - 0.5 < closed[stalled] - start < HEADER_TIMEOUT + 1.5
    finally:
        idle.close()
        stalled.close()


def test_a_browser_voice_call_outlives_the_header_timeout(served: str) -> None:
    from websockets.sync.client import connect as ws_connect

    with ws_connect(served.replace("http://", "ws://") + "/voice/ws", open_timeout=10) as ws:
        ws.recv(timeout=30)  # the call is answered: the first prompt (or its audio)
        time.sleep(HEADER_TIMEOUT + 1)
        assert ws.ping().wait(5), "the WebSocket was closed"


# keep-alive after errors: the server as `hotline serve` configures uvicorn, in this process (so a
# test-only route can be added), on both databases


class InProcessServer:
    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        options = {**uvicorn_options(), "log_level": "warning"}
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, **options))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> InProcessServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.server.started
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def crashing_server(hotline_env: Path) -> Iterator[InProcessServer]:
    from web.app import create_app

    app = create_app()

    def crash() -> None:
        raise RuntimeError("secret-internal-detail")

    app.add_api_route("/test-only/crash", crash)
    with InProcessServer(app) as server:
        yield server


def test_one_keep_alive_connection_survives_error_pages_and_an_unexpected_exception(
    crashing_server: InProcessServer,
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", crashing_server.port, timeout=10)

    def ask(method: str, path: str, body: bytes | None = None, **headers: str) -> tuple[int, str]:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        text = resp.read().decode()
        assert resp.getheader("connection", "").lower() != "close", (path, resp.status)
        return resp.status, text

    assert ask("GET", "/healthz")[0] == 200
    sock = conn.sock
    status, text = ask("GET", "/documents/99999999999999999999999")
    assert status == 404 and "页面不存在" in text
    form = "username=a&password=b&csrf_token=中文".encode()
    status, _ = ask("POST", "/login", form, **{"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 403
    status, text = ask("GET", "/test-only/crash")
    assert status == 500 and "系统繁忙" in text
    assert "secret-internal-detail" not in text and "Traceback" not in text and "RuntimeError" not in text
    status, text = ask("GET", "/api/search?q=%E5%85%AC%E7%A7%AF%E9%87%91")
    assert status == 200
    assert conn.sock is sock, "the connection was dropped and opened again"
    conn.close()
