"""Call recordings: where they are, who may hear them, and their retention.

A conversation with agents is recorded into one WAV per call (`<recordings>/calls/<day>/<call>.wav`,
path in acd_calls.recording_path); voicemails are kept by the case they opened. Who may listen: the
agent who took the call and supervisors (and admins); every playback is audited.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline import audit
from hotline.config import get_settings
from hotline.models import User
from selfservice.acd import seat_of
from selfservice.models import QueuedCall


class RecordingDenied(PermissionError):
    """This user may not hear this recording (message in Chinese)."""


def recording_for(session: Session, user: User, call_id: str) -> Path:
    """The recording of a call, for a user allowed to hear it (audited); raises LookupError when there
    is none, RecordingDenied when the user may not hear it."""
    call = session.scalar(select(QueuedCall).where(QueuedCall.call_id == call_id))
    if call is None or not call.recording_path:
        raise LookupError("该通话没有录音。")
    if not user.has_role("supervisor"):
        seat = seat_of(session, user.id)
        if not user.has_role("agent") or seat is None or seat.id != call.agent_id:
            raise RecordingDenied("只有接听该通话的坐席和班长可以收听录音。")
    path = Path(call.recording_path)
    root = get_settings().recordings_dir.resolve()
    if not path.resolve().is_relative_to(root) or not path.exists():
        raise LookupError("录音文件不存在（可能已超过保存期限被删除）。")
    audit.record(session, actor=user.username, action="recording.play", entity="acd_call", entity_id=call.id,
                 detail={"call_id": call_id})
    return path


def purge_recordings(session: Session, before: datetime) -> int:
    """Delete the recordings of calls that began before `before`; the call records stay (path cleared)."""
    removed = 0
    calls = session.scalars(select(QueuedCall).where(QueuedCall.recording_path.is_not(None)))
    for call in calls:
        if call.enqueued_at >= before:
            continue
        Path(call.recording_path or "").unlink(missing_ok=True)
        call.recording_path = None
        removed += 1
    session.flush()
    audit.record(session, actor="system", action="recording.purge", entity="acd_call", entity_id=0,
                 detail={"before": before.isoformat(), "removed": removed})
    return removed
