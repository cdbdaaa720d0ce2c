"""A whole hotline cluster on one machine: one PostgreSQL database, N nodes (`hotline serve`, each with its
own HOTLINE_HOME, loopback address and SIP media processes), HAProxy in front of their web workers and
Kamailio's dispatcher in front of their media processes. `scripts/cluster-demo` runs it; the tests in
tests/cluster and `bench/cluster.py` drive it.

Node i listens on 127.0.0.(i+1) (web and SIP); every port is a free one found at start (other programs
and clusters on the machine keep theirs). The nodes share the database, the cookie-signing key and the
menu; each builds its own search index from the database (the change feed).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from hotline.cluster.haproxy import HaproxyProcess, ProxyConfig, WebNode
from hotline.config import BUNDLED_DATA

if TYPE_CHECKING:
    from selfservice.kamailio import KamailioProcess

DEFAULT_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
FRONT_HOST = "127.0.0.1"  # HAProxy and Kamailio


class ClusterError(RuntimeError):
    """A part of the local cluster did not come up (the message says which and where its log is)."""


def free_tcp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def free_udp_ports(host: str, count: int, low: int = 20000, high: int = 60000) -> int:
    """The first of `count` consecutive UDP ports free on `host`."""
    import random

    for _ in range(500):
        base = random.randrange(low, high - count)
        sockets = []
        try:
            for port in range(base, base + count):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(s)
                s.bind((host, port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise ClusterError(f"{host} 上找不到 {count} 个连续的空闲 UDP 端口")


def data_dir_with_kb(root: Path, kb_file: Path) -> Path:
    """The bundled data directory with `kb_file` as its whole knowledge base (a quick first import)."""
    data = root / "data"
    (data / "kb").mkdir(parents=True, exist_ok=True)
    for entry in BUNDLED_DATA.iterdir():
        if entry.name != "kb" and not (data / entry.name).exists():
            (data / entry.name).symlink_to(entry)
    (data / "kb" / "bundle.jsonl").write_bytes(kb_file.read_bytes())
    return data


@dataclass
class Node:
    """One `hotline serve` of the cluster (its whole process group)."""

    name: str
    address: str
    web_port: int
    home: Path
    env: dict[str, str]
    sip_port: int | None = None  # None: no SIP line
    processes: int = 1  # PJSIP processes (sip_port .. sip_port + processes - 1)
    workers: int = 1
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.web_port}"

    @property
    def log_path(self) -> Path:
        return self.home.parent / f"{self.name}.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def command(self) -> list[str]:
        sip = ["--no-kamailio"] if self.sip_port is not None else ["--no-sip"]
        return [
            sys.executable, "-m", "hotline.cli", "serve", "--host", self.address, "--port", str(self.web_port),
            "--workers", str(self.workers), *sip,
        ]

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(), env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def healthz(self, timeout: float = 1.0) -> tuple[int, dict]:
        """(HTTP status, body) of the node's /healthz; (0, {}) when it does not answer."""
        try:
            resp = httpx.get(self.url + "/healthz", timeout=timeout)
        except httpx.HTTPError:
            return 0, {}
        try:
            body = resp.json()
        except ValueError:
            body = {}
        return resp.status_code, body if isinstance(body, dict) else {}

    def wait_healthy(self, timeout: float = 180.0) -> dict:
        """Until /healthz answers 200 (the node is caught up with the change feed); its body."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise ClusterError(f"{self.name} 已退出（{self.process and self.process.returncode}），见 {self.log_path}")
            status, body = self.healthz()
            if status == 200:
                return body
            time.sleep(0.1)
        raise ClusterError(f"{self.name} 在 {timeout:.0f} 秒内未就绪（{self.url}/healthz），见 {self.log_path}")

    def wait_sip(self, timeout: float = 60.0) -> None:
        """Until every PJSIP process of the node answers OPTIONS."""
        from selfservice.kamailio import options_ping

        if self.sip_port is None:
            return
        deadline = time.monotonic() + timeout
        for port in range(self.sip_port, self.sip_port + self.processes):
            while not options_ping(self.address, port):
                if time.monotonic() > deadline or not self.running:
                    raise ClusterError(f"{self.name} 的 SIP 线路 {self.address}:{port} 未就绪，见 {self.log_path}")
                time.sleep(0.2)

    def kill(self) -> None:
        """kill -9 the whole node (web workers, SIP line, PJSIP processes): a crash or a power cut."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM: the node shuts down as `hotline serve` does on Ctrl-C (SIGKILL after `timeout`)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # to `hotline serve`, which stops its children
                os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError):  # whatever of its group is left
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def cli(self, *args: str, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
        """Run `hotline ARGS` as this node (its home and database)."""
        return subprocess.run(
            [sys.executable, "-m", "hotline.cli", *args],
            env=self.env, capture_output=True, text=True, timeout=timeout,
        )

    def search_titles(self, query: str, timeout: float = 5.0) -> list[str]:
        """Titles found by the node's own public search API."""
        resp = httpx.get(self.url + "/api/search", params={"q": query}, timeout=timeout)
        resp.raise_for_status()
        return [hit["title"] for hit in resp.json().get("hits", [])]


class LocalCluster:
    """`with LocalCluster(root) as cluster:` brings the parts up in order and tears them down at the end
    (also after a failure on the way up)."""

    def __init__(
        self,
        root: Path,
        *,
        nodes: int = 2,
        sip: bool = True,
        kb_file: Path | None = None,
        database_url: str | None = None,
        admin_dsn: str | None = None,
        workers: int = 1,
        max_calls: int = 4,
        proxy_port: int | None = None,
        sip_front_port: int | None = None,
        env: dict[str, str] | None = None,
        shared_dir: bool = True,
    ) -> None:
        """`kb_file`: the knowledge base imported at creation (default: the bundled one, ~1 min);
        `database_url`: an existing database (default: a new one on `admin_dsn`'s server, dropped at
        the end); `max_calls`: callers per node (2 per PJSIP process); `env`: more HOTLINE_* settings;
        `shared_dir`: one folder for every node's recordings and attachments (else each keeps its own
        and fetches the others' from them, hotline.nodefiles)."""
        self.root = root
        self.count = nodes
        self.sip = sip
        self.kb_file = kb_file
        self.admin_dsn = admin_dsn or os.environ.get("HOTLINE_CLUSTER_PG_DSN", DEFAULT_ADMIN_DSN)
        self.database_url = database_url
        self.own_database: str | None = None
        self.workers = workers
        self.max_calls = max_calls
        self.proxy_port = proxy_port
        self.sip_front_port = sip_front_port
        self.extra_env = env or {}
        self.shared_dir = shared_dir
        self.secret_key = secrets.token_urlsafe(48)
        self.nodes: list[Node] = []
        self.proxy: HaproxyProcess | None = None
        self.front: KamailioProcess | None = None
        self.front_port: int | None = None

    # -- up and down -------------------------------------------------------------------------------

    def __enter__(self) -> LocalCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.database_url is None:
            self.database_url = self._create_database()
        self.nodes = [self._plan_node(i) for i in range(1, self.count + 1)]
        self._initialise()
        if self.sip:
            self._start_front()
        for node in self.nodes:
            node.start()
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(lambda n: (n.wait_healthy(), n.wait_sip()), self.nodes))
        self.proxy = HaproxyProcess(
            ProxyConfig(
                FRONT_HOST,
                self.proxy_port or free_tcp_port(FRONT_HOST),
                tuple(WebNode(n.name, n.address, n.web_port) for n in self.nodes),
            ),
            self.root / "haproxy",
        )
        self.proxy.start()
        self.wait_proxy_sees(lambda states: all(states.get(n.name) == "UP" for n in self.nodes), 20)

    def stop(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
        for node in self.nodes:  # SIGTERM to all first: they shut down side by side
            if node.running and node.process is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(node.process.pid, signal.SIGTERM)
        for node in self.nodes:
            node.stop()
        if self.front is not None:
            self.front.stop()
            self.front = None
        if self.own_database is not None:
            self._drop_database(self.own_database)
            self.own_database = None

    def _create_database(self) -> str:
        import psycopg

        name = "hotline_cluster_" + uuid.uuid4().hex[:10]
        try:
            with psycopg.connect(self.admin_dsn, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
        except psycopg.Error as exc:
            raise ClusterError(f"无法在 {self.admin_dsn} 上创建数据库（PostgreSQL 是否运行？）：{exc}") from exc
        self.own_database = name
        base = re.sub(r"/[^/?]*(\?.*)?$", f"/{name}", self.admin_dsn)
        return base.replace("postgresql://", "postgresql+psycopg://", 1)

    def _drop_database(self, name: str) -> None:
        import psycopg

        with contextlib.suppress(psycopg.Error), psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _plan_node(self, i: int) -> Node:
        from selfservice.sip.server import processes_for

        address = f"127.0.0.{i + 1}"
        home = self.root / f"node{i}" / "home"
        processes = processes_for(self.max_calls)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
        env.update(
            {
                "HOTLINE_HOME": str(home),
                "HOTLINE_DATABASE_URL": str(self.database_url),
                "HOTLINE_SECRET_KEY": self.secret_key,  # any node reads any node's session cookie
                "HOTLINE_NODE_NAME": f"node{i}",
                "HOTLINE_TRUSTED_PROXIES": json.dumps([FRONT_HOST]),  # HAProxy's X-Forwarded-For
                "HOTLINE_WORKERS": str(self.workers),
            }
        )
        for key in ("HOTLINE_TTS_ENGINE", "HOTLINE_TTS_VOICE", "HOTLINE_ASR_ENGINE"):  # the caller's voice choice
            if key in os.environ:
                env[key] = os.environ[key]
        if self.shared_dir:
            env["HOTLINE_SHARED_DIR"] = str(self.root / "shared")  # recordings and attachments, as on NFS
        if self.kb_file is not None:
            env["HOTLINE_DATA_DIR"] = str(data_dir_with_kb(self.root, self.kb_file))
        node = Node(f"node{i}", address, free_tcp_port(address), home, env, workers=self.workers)
        env["HOTLINE_NODE_URL"] = node.url  # also for this process acting as the node (acting_as)
        if self.sip:
            node.sip_port = free_udp_ports(address, processes)
            node.processes = processes
            env.update(
                {
                    "HOTLINE_SIP_HOST": address,
                    "HOTLINE_SIP_PORT": str(node.sip_port),
                    "HOTLINE_SIP_RTP_PORT": str(free_udp_ports(address, processes * 16)),
                    "HOTLINE_SIP_MAX_CALLS": str(self.max_calls),
                }
            )
        env.update(self.extra_env)
        return node

    def _initialise(self) -> None:
        """The schema and the knowledge base, once, before any node starts (nodes would race for it)."""
        first = self.nodes[0]
        first.home.mkdir(parents=True, exist_ok=True)
        result = first.cli("init", "--bundled", timeout=900)
        if result.returncode != 0:
            raise ClusterError(f"hotline init 失败：{(result.stdout + result.stderr)[-1500:]}")

    def _start_front(self) -> None:
        from selfservice.kamailio import FrontConfig, KamailioProcess, MediaNode

        self.front_port = self.sip_front_port or free_udp_ports(FRONT_HOST, 1)
        media = tuple(MediaNode(n.address, n.sip_port or 0, n.processes) for n in self.nodes)
        front = KamailioProcess(FrontConfig(FRONT_HOST, self.front_port, media), self.root / "kamailio")
        front.start()
        self.front = front
        for node in self.nodes:
            node.env.update(
                {
                    "HOTLINE_KAMAILIO_ENABLED": "1",  # the agents are rung through this front
                    "HOTLINE_KAMAILIO_HOST": FRONT_HOST,
                    "HOTLINE_KAMAILIO_PORT": str(self.front_port),
                }
            )

    # -- what tests, the demo and the benchmark use ------------------------------------------------

    @property
    def url(self) -> str:
        """The portal through HAProxy."""
        assert self.proxy is not None
        return self.proxy.url

    @property
    def sip_uri(self) -> str:
        """The hotline as callers dial it (through Kamailio)."""
        return f"sip:12345@{FRONT_HOST}:{self.front_port}"

    @property
    def kamailio_dir(self) -> Path:
        return self.root / "kamailio"

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def restart(self, node: Node, timeout: float = 180.0) -> None:
        """Start a stopped or killed node again and wait until it is healthy (caught up)."""
        node.stop()
        node.start()
        node.wait_healthy(timeout)
        node.wait_sip()

    def wait_proxy_sees(self, condition: Callable[[dict[str, str]], bool], timeout: float) -> dict[str, str]:
        """Until HAProxy's view of the nodes (name -> UP/DOWN/...) satisfies `condition`; that view."""
        assert self.proxy is not None
        deadline = time.monotonic() + timeout
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            states = self.proxy.server_states()
            if condition(states):
                return states
            time.sleep(0.05)
        raise ClusterError(f"HAProxy 的节点状态 {timeout:.0f} 秒内未达到预期：{states}")

    def proxy_state(self, node: Node) -> str:
        """The node's state in HAProxy now: UP, DOWN, "DOWN 1/2" (going up) ..."""
        assert self.proxy is not None
        return self.proxy.server_states().get(node.name, "")

    def dispatcher_states(self) -> dict[str, str]:
        """Kamailio's view of every media process: "sip:host:port" -> flags (AP active, IP inactive ...)."""
        result = subprocess.run(
            ["kamcmd", "-s", f"unix:{self.kamailio_dir}/kamailio_ctl", "dispatcher.list"],
            capture_output=True, text=True, timeout=5,
        )
        states: dict[str, str] = {}
        uri = None
        for line in result.stdout.splitlines():
            line = line.strip()
            if line.startswith("URI:"):
                uri = line.split(":", 1)[1].strip()
            elif line.startswith("FLAGS:") and uri is not None:
                states[uri] = line.split(":", 1)[1].strip()
        return states

    def wait_dispatcher(self, condition: Callable[[dict[str, str]], bool], timeout: float) -> dict[str, str]:
        """Until Kamailio's view of the media processes satisfies `condition`; that view."""
        deadline = time.monotonic() + timeout
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            states = self.dispatcher_states()
            if states and condition(states):
                return states
            time.sleep(0.05)
        raise ClusterError(f"Kamailio 的媒体节点状态 {timeout:.0f} 秒内未达到预期：{states}")

    def media_of(self, node: Node) -> list[str]:
        """The node's media processes as Kamailio's dispatcher names them."""
        assert node.sip_port is not None
        return [f"sip:{node.address}:{port}" for port in range(node.sip_port, node.sip_port + node.processes)]

    @contextlib.contextmanager
    def acting_as(self, node: Node) -> Iterator[None]:
        """This process with the node's settings (home, database): publish as an editor on that node
        does, or look at the shared database."""
        from hotline.db import reset_caches

        saved = dict(os.environ)
        os.environ.update({k: v for k, v in node.env.items() if k.startswith("HOTLINE_")})
        reset_caches()
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)
            reset_caches()


def probe_document(word: str) -> dict:
    """A document that only `word` finds (the demo's and the tests' publish)."""
    return {
        "external_id": f"cluster-probe-{uuid.uuid4().hex[:12]}",
        "title": f"{word}办理指南",
        "category": "办事指南",
        "body": f"{word}的申请条件、申报材料与办理流程。本条目用于检查各节点的检索索引是否同步。",
        "keywords": [word],
    }


def publish(cluster: LocalCluster, on: Node, docs: list[dict]) -> None:
    """Publish documents on node `on`, in this process, as an editor on that node would (its home and the
    shared database; the change feed takes them to the other nodes)."""
    import tempfile

    from kb.importer import import_file

    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8", delete=False) as fh:
        fh.writelines(json.dumps(doc, ensure_ascii=False) + "\n" for doc in docs)
        path = Path(fh.name)
    try:
        with cluster.acting_as(on):
            report = import_file(path, publish=True, actor="cluster-check")
    finally:
        path.unlink(missing_ok=True)
    if report.errors:
        raise ClusterError(f"发布失败：{report.errors}")


def publish_and_find(cluster: LocalCluster, on: Node, find_on: Node, word: str, timeout: float = 10.0) -> float:
    """Publish a document on `on` while searching for it on `find_on`'s own address (every 20 ms) until
    found; returns the seconds from the publishing transaction (its change-log row, written just before
    the commit) to the first search that found it: the change feed's lag as a reader meets it."""
    import threading

    from sqlalchemy import select

    from hotline.db import session_scope
    from kb.models import Change, Document

    doc = probe_document(word)
    found_at: list[float] = []
    stop = threading.Event()

    def search() -> None:
        while not stop.is_set():
            with contextlib.suppress(httpx.HTTPError):
                if doc["title"] in find_on.search_titles(word):
                    found_at.append(time.time())
                    return
            stop.wait(0.02)

    searcher = threading.Thread(target=search, name="cluster-search")
    searcher.start()
    try:
        publish(cluster, on, [doc])
        with cluster.acting_as(on), session_scope() as session:
            committed = session.scalars(
                select(Change.at)
                .join(Document, Document.id == Change.document_id)
                .where(Document.external_id == doc["external_id"])
                .order_by(Change.seq.desc())
            ).first()
        searcher.join(timeout)
    finally:
        stop.set()
        searcher.join()
    if committed is None:
        raise ClusterError("发布的文档没有写入变更日志（kb_changes）")
    if not found_at:
        raise ClusterError(f"在 {find_on.name} 上 {timeout:.0f} 秒内未检索到 {on.name} 发布的文档“{doc['title']}”")
    return max(0.0, found_at[0] - committed.timestamp())
