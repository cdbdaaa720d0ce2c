"""This node (the `hotline serve` processes sharing one HOTLINE_HOME): its health for the load balancer
(`/healthz`), its status for operators (`hotline node status`) and its drain flag.

Draining (`hotline node drain`) is a file in HOTLINE_HOME, so every process of the node sees it at once
and it survives a restart: /healthz answers 503 "draining" (HAProxy stops sending new requests) and the
SIP line answers new INVITEs 503 (Kamailio's dispatcher tries another node) while the calls in progress
go on. `hotline node undrain` removes it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from hotline import audit
from hotline.config import get_settings
from hotline.db import new_session, session_scope, utcnow

DRAIN_FILE = "draining"
SIP_CALLS_FILE = "sip-calls.json"  # written by the process answering the SIP line (selfservice.sip)
STALL_SECONDS = 30.0  # an index behind the log that has not moved for this long is unhealthy
ENTITY = "node"
log = logging.getLogger("hotline.node")


@dataclass(frozen=True)
class Health:
    """What /healthz answers. status: ok | starting (catching up with the change log since this process
    started) | behind (the index stopped following the log) | draining | database_unavailable |
    index_unavailable; only "ok" is healthy (HTTP 200, else 503)."""

    status: str
    database: bool
    index: bool
    index_position: int | None
    log_position: int | None
    lag: int | None
    node: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Progress:
    """Per process and index: whether this process has seen the index caught up since it started, and
    since when its position has not moved."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.caught_up = False
        self.position: int | None = None
        self.moved_at = time.monotonic()

    def status(self, position: int, lag: int) -> str:
        now = time.monotonic()
        with self.lock:
            if position != self.position:
                self.position, self.moved_at = position, now
            if lag == 0:
                self.caught_up = True
                return "ok"
            if not self.caught_up:
                return "starting"
            return "behind" if now - self.moved_at > STALL_SECONDS else "ok"


_progress: dict[Path, _Progress] = {}


def node_name() -> str:
    return get_settings().node_name


def drain_file() -> Path:
    return get_settings().home / DRAIN_FILE


def draining() -> bool:
    return drain_file().exists()


def health() -> Health:
    """The node's health: database reachable, index usable, index position against the log's end."""
    from kb import feed, indexing

    applier = indexing.applier()
    index_position = applier.position()  # first: a change applied meanwhile is in the log too
    log_position: int | None = None
    try:
        with new_session() as session:
            log_position = feed.log_position(session)
    except (SQLAlchemyError, OSError):
        pass
    try:
        indexing.get_index().count()
        index_ok = True
    except Exception:  # any engine error: the index cannot answer searches
        index_ok = False
    lag = None if log_position is None or index_position is None else log_position - index_position
    if draining():
        status = "draining"
    elif log_position is None:
        status = "database_unavailable"
    elif not index_ok or index_position is None or lag is None:
        status = "index_unavailable"
    else:
        progress = _progress.setdefault(applier.position_file, _Progress())
        status = progress.status(index_position, abs(lag))  # below 0: the log lost entries (kb.feed)
    return Health(
        status=status,
        database=log_position is not None,
        index=index_ok,
        index_position=index_position,
        log_position=log_position,
        lag=lag,
        node=node_name(),
    )


@dataclass(frozen=True)
class NodeStatus:
    """`hotline node status`: health plus the database's role and the calls on this node's SIP line."""

    node: str
    status: str
    role: str  # sqlite | postgresql-primary | postgresql-replica | unknown (database unreachable)
    index_position: int | None
    log_position: int | None
    lag: int | None
    calls_in_progress: int | None  # None: this node's SIP line is not running
    sip_line_pid: int | None
    draining: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def database_role() -> str:
    try:
        with new_session() as session:
            session.execute(text("SELECT 1"))  # reachable
            if session.get_bind().dialect.name != "postgresql":
                return "sqlite"
            replica = session.scalar(text("SELECT pg_is_in_recovery()"))
    except (SQLAlchemyError, OSError):
        return "unknown"
    return "postgresql-replica" if replica else "postgresql-primary"


def sip_calls() -> tuple[int | None, int | None]:
    """(calls in progress, pid) as the process answering this node's SIP line last wrote them; (None,
    None) when no live process answers it."""
    try:
        data = json.loads((get_settings().home / SIP_CALLS_FILE).read_text())
        pid, calls = int(data["pid"]), int(data["calls"])
    except (OSError, ValueError, KeyError, TypeError):
        return None, None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None, None
    except PermissionError:
        pass
    return calls, pid


def write_sip_calls(calls: int) -> None:
    """Called by the SIP line's owner whenever a call starts or ends (atomic replace)."""
    path = get_settings().home / SIP_CALLS_FILE
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps({"pid": os.getpid(), "calls": calls, "at": utcnow().isoformat()}))
    os.replace(tmp, path)


def status() -> NodeStatus:
    now = health()
    calls, pid = sip_calls()
    return NodeStatus(
        node=now.node,
        status=now.status,
        role=database_role(),
        index_position=now.index_position,
        log_position=now.log_position,
        lag=now.lag,
        calls_in_progress=calls,
        sip_line_pid=pid,
        draining=draining(),
    )


def set_draining(on: bool, *, actor: str) -> bool:
    """Drain (on) or undrain this node; returns False when it already was so. The flag is the file;
    the audit entry is written when the database is reachable (a node is also drained when it is not)."""
    path = drain_file()
    if on == path.exists():
        return False
    if on:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps({"since": utcnow().isoformat(), "by": actor}))
        os.replace(tmp, path)
    else:
        path.unlink(missing_ok=True)
    try:
        with session_scope() as session:
            audit.record(
                session,
                actor=actor,
                action="node.drain" if on else "node.undrain",
                entity=ENTITY,
                entity_id=node_name(),
            )
    except (SQLAlchemyError, OSError):
        what = "drained" if on else "undrained"
        log.warning(
            "node %s %s, but the database is unreachable: no audit entry was written", node_name(), what
        )
    return True
