"""A PostgreSQL primary and its streaming replica on local ports, made with the server's own tools
(initdb, pg_basebackup -R, pg_ctl promote) as docs/deployment.md's failover runbook does on two machines.
The tests and `bench/cluster.py` use it to promote the replica under running nodes.

The nodes list both servers in one connection string (libpq's multi-host form with
`target_session_attrs=read-write`, see `PostgresPair.url`): they always reach whichever is the primary,
and SQLAlchemy's pool_pre_ping (hotline.db) replaces connections to a server that went away.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from hotline.cluster.local import ClusterError, free_tcp_port

HOST = "127.0.0.1"


def pg_bindir() -> Path:
    """The PostgreSQL server programs (Debian: /usr/lib/postgresql/<version>/bin)."""
    try:
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
        if (Path(found) / "pg_ctl").exists():
            return Path(found)
    except (OSError, subprocess.CalledProcessError):
        pass
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    if not versions:
        raise ClusterError("找不到 PostgreSQL 服务器程序（Debian 软件包 postgresql）")
    return versions[-1].parent


class PostgresPair:
    """`with PostgresPair() as pair:` a primary on `pair.primary_port`, a streaming replica on
    `pair.replica_port`; `fail_primary()` stops the primary hard, `promote()` makes the replica primary."""

    def __init__(self) -> None:
        self.bindir = pg_bindir()
        # the servers run as the postgres user (they refuse root), in a folder of their own
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.root = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self.primary_dir = self.root / "primary"
        self.replica_dir = self.root / "replica"
        self.primary_port = 0
        self.replica_port = 0

    def __enter__(self) -> PostgresPair:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self, *args: str, timeout: float = 120.0) -> str:
        result = subprocess.run(
            [*self.as_postgres, *args], capture_output=True, text=True, timeout=timeout, cwd=self.root
        )
        if result.returncode != 0:
            raise ClusterError(f"{Path(args[0]).name} 失败：{(result.stdout + result.stderr).strip()[-1200:]}")
        return result.stdout

    def _pg_ctl_start(self, data: Path, port: int) -> None:
        options = (
            f"-p {port} -c listen_addresses={HOST} -c unix_socket_directories={self.root} "
            "-c fsync=off -c wal_level=replica -c max_wal_senders=5 -c hot_standby=on"
        )
        self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-l", str(data.parent / f"{data.name}.log"),
                  "-w", "-t", "60", "-o", options, "start")

    def start(self) -> None:
        self._run(str(self.bindir / "initdb"), "-D", str(self.primary_dir), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--locale", "C.UTF-8", "--no-sync")
        self.primary_port = free_tcp_port(HOST)
        self._pg_ctl_start(self.primary_dir, self.primary_port)
        self._run(str(self.bindir / "pg_basebackup"), "-h", HOST, "-p", str(self.primary_port), "-U", "postgres",
                  "-D", str(self.replica_dir), "-R", "-X", "stream", "-c", "fast", "--no-sync")
        self.replica_port = free_tcp_port(HOST)
        self._pg_ctl_start(self.replica_dir, self.replica_port)
        self.wait(lambda: self.query(self.primary_port, "SELECT count(*) FROM pg_stat_replication "
                                     "WHERE state = 'streaming'") == 1, 30, "the replica streaming")

    def stop(self) -> None:
        for data in (self.replica_dir, self.primary_dir):
            if (data / "postmaster.pid").exists():
                with contextlib.suppress(ClusterError, subprocess.TimeoutExpired):
                    self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    # -- what the runbook does -----------------------------------------------------------------------

    def fail_primary(self) -> None:
        """The primary goes away at once (as in a crash: no clean shutdown)."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.primary_dir), "-m", "immediate", "-w", "stop")

    def promote(self) -> None:
        """The replica becomes the primary (`pg_ctl promote`; `SELECT pg_promote()` does the same)."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.replica_dir), "-w", "promote")

    # -- connecting ----------------------------------------------------------------------------------

    def create_database(self, name: str) -> None:
        """On the primary (the replica follows)."""
        import psycopg

        with psycopg.connect(self.dsn(self.primary_port), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

    def dsn(self, port: int, database: str = "postgres") -> str:
        return f"host={HOST} port={port} user=postgres dbname={database} connect_timeout=3"

    def url(self, database: str) -> str:
        """The SQLAlchemy URL the nodes use: both servers, whichever takes writes."""
        return (
            f"postgresql+psycopg://postgres@/{database}?host={HOST}:{self.primary_port}"
            f"&host={HOST}:{self.replica_port}&target_session_attrs=read-write&connect_timeout=3"
        )

    def query(self, port: int, sql: str) -> object:
        import psycopg

        try:
            with psycopg.connect(self.dsn(port), autocommit=True) as conn:
                row = conn.execute(sql).fetchone()
        except psycopg.Error:
            return None
        return row[0] if row else None

    @staticmethod
    def wait(condition: Callable[[], bool], seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.1)
        raise ClusterError(f"{seconds:.0f} 秒内未等到：{what}")
