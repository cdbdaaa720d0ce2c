"""`hotline serve` as the README's first command runs it: a fresh home, the bundled KB imported on
first start, the portal answering searches, and a hint to create the first staff account."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from hotline.config import BUNDLED_DATA
from tests.conftest import free_port

SMALL_KB = Path(__file__).parents[1] / "selfservice" / "data" / "kb.jsonl"


def small_data_dir(root: Path) -> Path:
    """The bundled data directory with a one-file knowledge base, so the first start is quick."""
    data = root / "data"
    data.mkdir()
    for entry in BUNDLED_DATA.iterdir():
        if entry.name != "kb":
            (data / entry.name).symlink_to(entry)
    (data / "kb").mkdir()
    (data / "kb" / "bundle.jsonl").write_bytes(SMALL_KB.read_bytes())
    return data


def sip_options(port: int) -> str:
    """Send a SIP OPTIONS request over UDP; returns the status line of the answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        me = s.getsockname()[1]
        request = (
            f"OPTIONS sip:ivr@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK-{me}\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:probe@127.0.0.1:{me}>;tag=probe\r\n"
            f"To: <sip:ivr@127.0.0.1:{port}>\r\n"
            f"Call-ID: probe-{me}@127.0.0.1\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        s.settimeout(5)
        for _ in range(20):  # the SIP process may still be starting
            s.sendto(request.encode(), ("127.0.0.1", port))
            try:
                return s.recv(4096).decode(errors="replace").splitlines()[0]
            except TimeoutError:
                continue
    return ""


def wait_until_up(url: str, proc: subprocess.Popen[str], seconds: float = 90.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"hotline serve exited with {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}"
            )
        try:
            if httpx.get(url + "/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail("hotline serve did not come up")


def test_first_start_imports_the_bundled_kb_and_serves_search(tmp_path: Path) -> None:
    port, sip_port = free_port(), free_port(socket.SOCK_DGRAM)
    env = {
        "HOTLINE_SIP_PORT": str(sip_port),
        **os.environ,
        "HOTLINE_HOME": str(tmp_path / "home"),
        "HOTLINE_DATA_DIR": str(small_data_dir(tmp_path)),
        "HOTLINE_DATABASE_URL": "",
    }
    env.pop("HOTLINE_DATABASE_URL")
    hotline = shutil.which("hotline")
    assert hotline, "the hotline console command is not installed (pip install -e .)"
    cmd = [hotline, "serve", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, proc)
        found = httpx.get(url + "/api/search", params={"q": "公积金提取"}, timeout=10.0).json()
        assert found["total"] >= 1
        assert found["hits"][0]["title"] == "住房公积金提取管理办法"
        home = httpx.get(url + "/", timeout=10.0)
        assert home.status_code == 200 and "12345" in home.text
        assert sip_options(sip_port).startswith("SIP/2.0 200")  # the IVR's SIP line answers too
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=30)
    assert "已导入内置知识库" in output
    assert "hotline user add admin" in output
    assert f"sip:ivr@127.0.0.1:{sip_port}" in output
    assert (tmp_path / "home" / "hotline.db").exists() or any((tmp_path / "home").glob("*.db"))
