"""Playback of call recordings and voicemails for the staff allowed to hear them (every playback is
audited; selfservice.recordings decides who may)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import FileResponse

from hotline import audit
from hotline.config import get_settings
from hotline.models import User
from hotline.nodefiles import NodeUnreachable
from selfservice.recordings import MISSING, RECORDING, RecordingDenied, recording_for
from web.routes import nodefiles
from web.routes.casepages import case_or_404
from web.security import SessionDep, require_roles

router = APIRouter(prefix="/recordings")
Staff = Annotated[User, Depends(require_roles("agent", "supervisor"))]


@router.get("/calls/{call_id}")
def call_recording(db: SessionDep, user: Staff, call_id: str) -> FileResponse:
    try:
        found = recording_for(db, user, call_id[:64])
    except RecordingDenied as exc:
        raise HTTPException(403, str(exc)) from exc
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from exc
    except NodeUnreachable as exc:
        raise HTTPException(503, str(exc)) from exc
    return nodefiles.file_response(found, media_type="audio/wav")


@router.get("/cases/{case_number}")
def case_recording(db: SessionDep, user: Staff, case_number: str) -> FileResponse:
    """The case's recording: the voicemail it came from, or the call during which it was registered."""
    case = case_or_404(db, case_number[:40])
    if not case.audio_path:
        raise HTTPException(404, "该工单没有录音。")
    response = nodefiles.serve(
        db, Path(case.audio_path), get_settings().recordings_dir, what=RECORDING, missing=MISSING,
        media_type="audio/wav",
    )
    audit.record(db, actor=user.username, action="recording.play", entity="case", entity_id=case.id,
                 detail={"case_number": case.case_number})
    return response
