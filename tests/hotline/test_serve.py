"""`hotline serve` as the README's first command runs it: a fresh home, the bundled KB imported on
first start, the portal answering searches, and a hint to create the first staff account; with several
web workers, the SIP line answered by exactly one of them (and taken over when that one dies)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from hotline.config import BUNDLED_DATA
from tests.conftest import free_port, free_ports

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


def wait_until_up(url: str, proc: subprocess.Popen, seconds: float = 90.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = proc.stdout.read() if proc.stdout else ""
            pytest.fail(f"hotline serve exited with {proc.returncode}: {output}")
        try:
            if httpx.get(url + "/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail("hotline serve did not come up")


def test_first_start_imports_the_bundled_kb_and_serves_search(tmp_path: Path) -> None:
    port, sip_port = free_port(), free_ports(2)
    env = {
        "HOTLINE_SIP_PORT": str(sip_port),
        "HOTLINE_KAMAILIO_PORT": str(free_port(socket.SOCK_DGRAM)),
        "HOTLINE_SIP_MAX_CALLS": "4",
        **os.environ,
        "HOTLINE_HOME": str(tmp_path / "home"),
        "HOTLINE_DATA_DIR": str(small_data_dir(tmp_path)),
        "HOTLINE_DATABASE_URL": "",
    }
    env.pop("HOTLINE_DATABASE_URL")
    hotline = shutil.which("hotline")
    assert hotline, "the hotline console command is not installed (pip install -e .)"
    cmd = [hotline, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
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
        # and Kamailio, the call centre's SIP front (phones register there, callers dial it)
        assert sip_options(int(env["HOTLINE_KAMAILIO_PORT"])).startswith("SIP/2.0 200")
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=30)
    assert "已导入内置知识库" in output
    assert "hotline user add admin" in output
    assert f"sip:ivr@127.0.0.1:{sip_port}" in output
    assert (tmp_path / "home" / "hotline.db").exists() or any((tmp_path / "home").glob("*.db"))


def udp_sockets_on(port: int) -> int:
    """How many UDP sockets of this machine are bound to `port`."""
    count = 0
    for table in (Path("/proc/net/udp"), Path("/proc/net/udp6")):
        for line in table.read_text().splitlines()[1:]:
            local = line.split()[1]
            count += int(local.rsplit(":", 1)[1], 16) == port
    return count


def worker_pids(parent: int) -> set[int]:
    """The web worker processes (spawned children) of a `hotline serve` process."""
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"multiprocessing.spawn" in cmdline:
            pids.add(int(stat.parent.name))
    return pids


def sip_owner(home: Path) -> int:
    text = (home / "sip.lock").read_text().strip() if (home / "sip.lock").exists() else ""
    return int(text) if text.isdigit() else 0


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, str, int, Path]]:
    """`hotline serve --workers 2` with the SIP line on; yields (process, url, sip port, log file)."""
    port, sip_port = free_port(), free_ports(2)
    home = tmp_path / "home"
    env = {
        **os.environ,
        "HOTLINE_HOME": str(home),
        "HOTLINE_DATA_DIR": str(small_data_dir(tmp_path)),
        "HOTLINE_SIP_PORT": str(sip_port),
        "HOTLINE_KAMAILIO_PORT": str(free_port(socket.SOCK_DGRAM)),
        "HOTLINE_SIP_MAX_CALLS": "4",
    }
    env.pop("HOTLINE_DATABASE_URL", None)
    hotline = shutil.which("hotline")
    assert hotline
    log = tmp_path / "serve.log"
    cmd = [hotline, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, proc)
        yield proc, url, sip_port, log
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def wait_for(condition: Callable[[], bool], seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_two_workers_serve_http_and_one_of_them_the_sip_line(
    two_workers: tuple[subprocess.Popen, str, int, Path],
) -> None:
    proc, url, sip_port, log = two_workers
    home = log.parent / "home"
    workers = worker_pids(proc.pid)
    assert len(workers) == 2
    assert wait_for(lambda: sip_owner(home) in workers)
    for _ in range(10):  # new connections: both workers answer searches
        found = httpx.get(url + "/api/search", params={"q": "公积金提取"}, timeout=10.0).json()
        assert found["hits"][0]["title"] == "住房公积金提取管理办法"
    assert sip_options(sip_port).startswith("SIP/2.0 200")
    assert udp_sockets_on(sip_port) == 1  # bound once, by the owner's PJSIP process
    assert wait_for(lambda: "answers the SIP line" in log.read_text())
    output = log.read_text()
    assert output.count("answers the SIP line") == 1 and output.count("SIP line listening") == 1
    assert "ERROR" not in output and "Traceback" not in output, output
    assert "网站工作进程：2 个" in output


def test_the_login_limit_holds_across_workers(
    two_workers: tuple[subprocess.Popen, str, int, Path],
) -> None:
    proc, url, _, log = two_workers
    env = {**os.environ, "HOTLINE_HOME": str(log.parent / "home")}
    env.pop("HOTLINE_DATABASE_URL", None)
    hotline = shutil.which("hotline")
    assert hotline
    subprocess.run(
        [hotline, "user", "add", "agent1", "--roles", "agent", "--password", "correct-horse"],
        env=env,
        check=True,
        capture_output=True,
    )
    # no keep-alive: each request is a new connection, accepted by whichever worker is free
    with httpx.Client(base_url=url, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        token = client.get("/api/session").json()["csrf_token"]
        form = {"username": "agent1", "password": "wrong", "csrf_token": token}
        codes = [client.post("/login", data=form).status_code for _ in range(6)]
        assert codes == [401] * 5 + [429]
        form["password"] = "correct-horse"
        assert client.post("/login", data=form).status_code == 429


def test_another_worker_takes_the_sip_line_over(two_workers: tuple[subprocess.Popen, str, int, Path]) -> None:
    proc, url, sip_port, log = two_workers
    home = log.parent / "home"
    assert wait_for(lambda: sip_owner(home) in worker_pids(proc.pid))
    owner = sip_owner(home)
    assert sip_options(sip_port).startswith("SIP/2.0 200")
    os.kill(owner, signal.SIGKILL)  # a new worker starts; it or the standing-by one takes the line
    assert wait_for(lambda: sip_owner(home) not in (0, owner) and sip_owner(home) in worker_pids(proc.pid))
    assert sip_options(sip_port).startswith("SIP/2.0 200")
    assert wait_for(lambda: udp_sockets_on(sip_port) == 1)
    assert httpx.get(url + "/api/search", params={"q": "公积金提取"}, timeout=10.0).json()["total"] >= 1
    assert wait_for(lambda: len(worker_pids(proc.pid)) == 2)


def test_a_worker_that_cannot_start_stops_serve(tmp_path: Path) -> None:
    data = small_data_dir(tmp_path)
    (data / "ivr").unlink()
    (data / "ivr").mkdir()
    (data / "ivr" / "menu.toml").write_text(
        "[welcome\n", encoding="utf-8"
    )  # broken: the SIP line cannot start
    env = {
        **os.environ,
        "HOTLINE_HOME": str(tmp_path / "home"),
        "HOTLINE_DATA_DIR": str(data),
        "HOTLINE_SIP_PORT": str(free_ports(2)),
        "HOTLINE_KAMAILIO_PORT": str(free_port(socket.SOCK_DGRAM)),
        "HOTLINE_SIP_MAX_CALLS": "4",
    }
    env.pop("HOTLINE_DATABASE_URL", None)
    hotline = shutil.which("hotline")
    assert hotline
    cmd = [hotline, "serve", "--host", "127.0.0.1", "--port", str(free_port()), "--workers", "2"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3
    assert "invalid TOML" in done.stdout + done.stderr


def test_a_taken_sip_port_or_web_port_is_a_clear_error(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "HOTLINE_HOME": str(tmp_path / "home"),
        "HOTLINE_DATA_DIR": str(small_data_dir(tmp_path)),
    }
    env.pop("HOTLINE_DATABASE_URL", None)
    hotline = shutil.which("hotline")
    assert hotline
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sip_squatter:
        sip_squatter.bind(("127.0.0.1", 0))
        env["HOTLINE_SIP_PORT"] = str(sip_squatter.getsockname()[1])
        cmd = [hotline, "serve", "--host", "127.0.0.1", "--port", str(free_port()), "--workers", "2"]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3
    assert f"SIP 线路 127.0.0.1:{env['HOTLINE_SIP_PORT']} 无法打开" in done.stdout + done.stderr
    assert "网站工作进程未能启动" in done.stderr
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as web_squatter:
        web_squatter.bind(("127.0.0.1", 0))
        web_squatter.listen()
        port = web_squatter.getsockname()[1]
        cmd = [hotline, "serve", "--no-sip", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert f"无法在 127.0.0.1:{port} 上监听" in done.stderr and "Traceback" not in done.stderr
