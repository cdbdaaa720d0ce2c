"""Recordings and attachments on a cluster without a shared folder (HOTLINE_SHARED_DIR unset).

Each file stays on the node that wrote it; its row in `node_files` (keyed by the path under the files
root, e.g. "recordings/calls/<day>/<id>.wav" or "attachments/<2 hex>/<sha256>") names that node and its
web address, written in the transaction of the row that refers to the file. A node asked for a file it
does not have fetches it from that node's internal route (/internal/files/<key>, web/routes/nodefiles.py)
with a request signed by HMAC-SHA256 over the key and an expiry, keyed from HOTLINE_SECRET_KEY (the same on
every node), into a temporary file it serves once and deletes: no copy outlives the original's retention.
When that node does not answer, the error names it (NodeUnreachable) and the log says why.

With a shared folder every node reads every file itself: nothing is recorded and nothing fetched.
docs/deployment.md ("Files").
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import httpx
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hotline.config import PRIVATE_DIR, Settings, get_settings
from hotline.db import utcnow
from hotline.models import NodeFile

ROOTS = ("recordings", "attachments")  # the folders of Settings.recordings_dir and .attachments_dir
INTERNAL = "/internal/"  # routes between the nodes only (HAProxy refuses them from outside)
ROUTE = f"{INTERNAL}files/"
SIGNATURE_HEADER = "X-Hotline-Signature"
VALID_SECONDS = 60  # a signed request's lifetime
FETCH_TIMEOUT = httpx.Timeout(30.0, connect=3.0)
FETCHED_DIR = "fetched"  # under HOTLINE_HOME: files fetched for one response
CHUNK = 1 << 16
log = logging.getLogger("hotline.nodefiles")


class NodeUnreachable(RuntimeError):
    """The node holding a file did not give it; the message (for staff) names the node."""

    def __init__(self, what: str, node: str) -> None:
        super().__init__(f"{what}保存在节点 {node}，该节点当前不可达，请稍后再试或联系系统管理员。")
        self.node = node


@dataclass(frozen=True)
class LocalFile:
    """A file ready to serve from this node's disk; `fetched`: a temporary copy, deleted once served."""

    path: Path
    fetched: bool = False


def _files_root(settings: Settings) -> Path:
    return settings.shared_dir or settings.home


def key_of(path: Path) -> str | None:
    """The path under the files root of a recording or attachment, whichever node's root it is under
    (the last "recordings" or "attachments" folder of the path); None for any other path."""
    parts = path.parts
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] in ROOTS:
            return "/".join(parts[i:])
    return None


def local_path(key: str) -> Path | None:
    """Where this node keeps the file of `key`; None for a key outside the recordings and attachments."""
    rel = PurePosixPath(key)
    if rel.is_absolute() or len(rel.parts) < 2 or rel.parts[0] not in ROOTS or ".." in rel.parts:
        return None
    return _files_root(get_settings()).joinpath(*rel.parts)


def remember(session: Session, path: Path) -> None:
    """Note in the caller's transaction that this node wrote `path` (a recording or an attachment's
    file): without a shared folder the other nodes fetch it from here. The first writer is kept; a path
    outside those folders is never served (find), so nothing is noted for it."""
    settings = get_settings()
    key = key_of(path)
    if settings.shared_dir is not None or key is None:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    values = {"key": key, "node": settings.node_name[:64], "url": settings.advertised_url[:200],
              "stored_at": utcnow()}  # fmt: skip
    session.execute(dialect.insert(NodeFile).values(**values).on_conflict_do_nothing(index_elements=["key"]))


def held_elsewhere(session: Session, path: Path) -> bool:
    """Whether another node wrote `path` (no shared folder): it is that node's to serve and delete."""
    key = key_of(path)
    if get_settings().shared_dir is not None or key is None:
        return False
    node = session.scalar(select(NodeFile.node).where(NodeFile.key == key))
    return node is not None and node != get_settings().node_name


def forget(session: Session, path: Path) -> None:
    """The file is deleted: its row goes too."""
    key = key_of(path)
    if key is not None:
        session.execute(delete(NodeFile).where(NodeFile.key == key))


def _signing_key() -> bytes:
    return hashlib.sha256(b"hotline-node-files:" + get_settings().session_secret().encode()).digest()


def signature(key: str, expires: int) -> str:
    return hmac.new(_signing_key(), f"{key}\n{expires}".encode(), hashlib.sha256).hexdigest()


def verify(key: str, expires: int, given: str) -> bool:
    """A request for `key` signed by a node of this cluster and not expired."""
    now = time.time()
    if not now <= expires <= now + 2 * VALID_SECONDS:  # clocks a little apart are fine
        return False
    return hmac.compare_digest(signature(key, expires), given)


def find(session: Session, stored: Path, root: Path, what: str) -> LocalFile:
    """The file a row names (a recording's path, an attachment's content path) under `root` (the
    settings' recordings_dir or attachments_dir), from this node's disk or fetched from the node that
    wrote it. Raises LookupError when no node has it, NodeUnreachable when the one that has it does not
    give it."""
    if stored.resolve().is_relative_to(root.resolve()) and stored.is_file():
        return LocalFile(stored)
    key = key_of(stored)
    if get_settings().shared_dir is not None or key is None or not key.startswith(f"{root.name}/"):
        raise LookupError(stored)
    here = local_path(key)  # another node wrote it at its own home: the same key here (a copy)
    if here is not None and here.is_file():
        return LocalFile(here)
    holder = session.scalar(select(NodeFile).where(NodeFile.key == key))
    if holder is None or holder.node == get_settings().node_name:
        raise LookupError(stored)
    return LocalFile(_fetch(holder, what), fetched=True)


def _fetch(holder: NodeFile, what: str) -> Path:
    """The file from the node holding it, into a temporary file under HOTLINE_HOME/fetched."""
    settings = get_settings()
    folder = settings.home / FETCHED_DIR
    folder.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    expires = int(time.time()) + VALID_SECONDS
    url = f"{holder.url}{ROUTE}{holder.key}"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".fetch-")
    try:
        with os.fdopen(fd, "wb") as out, httpx.stream(
            "GET", url, params={"expires": expires}, timeout=FETCH_TIMEOUT,
            headers={SIGNATURE_HEADER: signature(holder.key, expires)},
        ) as resp:  # fmt: skip
            if resp.status_code == 404:
                log.warning("node file %s: node %s (%s) no longer has it", holder.key, holder.node, holder.url)
                raise LookupError(holder.key)
            if resp.status_code == 403:
                log.error(
                    "node file %s: node %s (%s) refused the signed request: HOTLINE_SECRET_KEY must be the "
                    "same on every node (and the clocks within %d s)", holder.key, holder.node, holder.url,
                    VALID_SECONDS,
                )  # fmt: skip
                raise NodeUnreachable(what, holder.node)
            if resp.status_code != 200:
                log.error("node file %s: node %s (%s) answered HTTP %d", holder.key, holder.node, holder.url,
                          resp.status_code)  # fmt: skip
                raise NodeUnreachable(what, holder.node)
            for chunk in resp.iter_bytes(CHUNK):
                out.write(chunk)
    except httpx.HTTPError as exc:
        Path(tmp).unlink(missing_ok=True)
        log.error("node file %s: node %s (%s) unreachable: %s", holder.key, holder.node, holder.url,
                  exc.__class__.__name__ + (f": {exc}" if str(exc) else ""))  # fmt: skip
        raise NodeUnreachable(what, holder.node) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)
