"""Files between the nodes of a cluster without a shared folder (hotline.nodefiles): the internal route a
node fetches another node's recording or attachment from (signed requests only), and `serve`, which the
recording and attachment routes answer with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from hotline import nodefiles
from hotline.nodefiles import LocalFile

router = APIRouter()


@router.get(nodefiles.ROUTE + "{key:path}", include_in_schema=False)
def node_file(request: Request, key: str, expires: int = 0) -> FileResponse:
    """A file this node wrote, for another node of the cluster (HMAC-signed request, hotline.nodefiles)."""
    if not nodefiles.verify(key, expires, request.headers.get(nodefiles.SIGNATURE_HEADER, "")):
        raise HTTPException(403, "forbidden")
    path = nodefiles.local_path(key)
    if path is None or not path.is_file():
        raise HTTPException(404, "not here")
    return FileResponse(path, media_type="application/octet-stream", headers={"Cache-Control": "no-store"})


def serve(
    db: Session, stored: Path, root: Path, *, what: str, missing: str, **response: Any
) -> FileResponse:
    """A FileResponse of the file a row names, under `root`, from this node's disk or fetched from the
    node that wrote it (the fetched copy is deleted once sent); 404 `missing` when no node has it, 503
    naming the node when that node does not give it."""
    try:
        found = nodefiles.find(db, stored, root, what)
    except LookupError as exc:
        raise HTTPException(404, missing) from exc
    except nodefiles.NodeUnreachable as exc:
        raise HTTPException(503, str(exc)) from exc
    return file_response(found, **response)


def file_response(found: LocalFile, **response: Any) -> FileResponse:
    """The file; a fetched copy is deleted once sent."""
    cleanup = BackgroundTask(found.path.unlink, missing_ok=True) if found.fetched else None
    return FileResponse(found.path, background=cleanup, **response)
