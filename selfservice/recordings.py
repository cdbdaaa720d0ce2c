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

from hotline import audit, nodefiles
from hotline.config import get_settings
from hotline.models import User
from hotline.nodefiles import LocalFile
from selfservice.acd import seat_of
from selfservice.models import QueuedCall

RECORDING = "录音"  # in NodeUnreachable's message
MISSING = "录音文件不存在（可能已超过保存期限被删除）。"


class RecordingDenied(PermissionError):
    """This user may not hear this recording (message in Chinese)."""


def recording_for(session: Session, user: User, call_id: str) -> LocalFile:
    """The recording of a call, for a user allowed to hear it (audited), from this node's disk or
    fetched from the node that recorded it (hotline.nodefiles); raises LookupError when there is none,
    RecordingDenied when the user may not hear it, NodeUnreachable when the node holding it does not
    answer."""
    call = session.scalar(select(QueuedCall).where(QueuedCall.call_id == call_id))
    if call is None or not call.recording_path:
        raise LookupError("该通话没有录音。")
    if not user.has_role("supervisor"):
        seat = seat_of(session, user.id)
        if not user.has_role("agent") or seat is None or seat.id != call.agent_id:
            raise RecordingDenied("只有接听该通话的坐席和班长可以收听录音。")
    try:
        found = nodefiles.find(session, Path(call.recording_path), get_settings().recordings_dir, RECORDING)
    except LookupError:
        raise LookupError(MISSING) from None
    audit.record(session, actor=user.username, action="recording.play", entity="acd_call", entity_id=call.id,
                 detail={"call_id": call_id})
    return found


def purge_recordings(session: Session, before: datetime) -> int:
    """Delete the recordings of calls that began before `before`; the call records stay (path cleared).
    On a cluster without a shared folder, a recording another node wrote is left to that node's purge."""
    removed = 0
    calls = session.scalars(select(QueuedCall).where(QueuedCall.recording_path.is_not(None)))
    for call in calls:
        path = Path(call.recording_path or "")
        if call.enqueued_at >= before or nodefiles.held_elsewhere(session, path):
            continue
        path.unlink(missing_ok=True)
        nodefiles.forget(session, path)
        call.recording_path = None
        removed += 1
    session.flush()
    audit.record(session, actor="system", action="recording.purge", entity="acd_call", entity_id=0,
                 detail={"before": before.isoformat(), "removed": removed})
    return removed
