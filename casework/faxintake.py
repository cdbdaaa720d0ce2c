"""Fax intake: a TIFF that HylaFAX received (its receive folder, `fax_inbox`, e.g. /var/spool/hylafax/recvq)
becomes a submission in the agents' review queue (channel "fax", status pending_review) with the fax
attached as an image (casework.attachments: a TIFF is an accepted type, shown with a thumbnail).

- The sender is the fax's TSI, which HylaFAX writes into the TIFF's ImageDescription; its digits are
  the case's number and contact, so notices about the case go back by fax (casework.notices).
- A file is taken once it has not changed for `fax_settle_seconds` (HylaFAX still writes it while the
  call lasts); a file that is not a readable TIFF is looked at again on the next round.
- The files stay where HylaFAX put them (its faxcron cleans the folder). The audit entry that records a
  fax (entity "fax_in", the file's name and SHA-256) is looked for first, so none is taken twice.
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session

from casework import attachments
from casework.cases import create_case
from casework.errors import CaseError
from casework.inbound import Received
from casework.outbox import normalize_number
from hotline import audit
from hotline.config import Settings, get_settings
from hotline.models import AuditEntry

log = logging.getLogger("hotline.fax")

ACTOR = "fax"
CHANNEL = "fax"
AUDIT_ENTITY = "fax_in"
RECEIVED = "case.fax_received"  # audit action of a fax taken (or refused: comment says which)
SUFFIXES = (".tif", ".tiff")
PER_ROUND = 50
IMAGE_DESCRIPTION = 270  # the TIFF tag HylaFAX writes the sender's TSI into
_looked_at: set[tuple[str, int, float]] = set()  # (name, size, mtime) of files taken: not read again


@dataclass(frozen=True)
class IncomingFax:
    name: str
    data: bytes
    pages: int
    sender: str  # the TSI as a national number ("" when the sending machine gave none)

    @property
    def key(self) -> str:
        return f"{self.name[:20]}:{hashlib.sha256(self.data).hexdigest()[:40]}"


def read_fax(path: Path) -> IncomingFax:
    """The fax in `path`: its pages and its sender; raises ValueError when it is not a readable TIFF."""
    data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "TIFF":
                raise ValueError(f"{path.name} is not a TIFF")
            pages = getattr(image, "n_frames", 1)
            tsi = str(image.tag_v2.get(IMAGE_DESCRIPTION, "") or "") if hasattr(image, "tag_v2") else ""
    except (OSError, UnidentifiedImageError, SyntaxError) as exc:
        raise ValueError(f"{path.name} is not a readable TIFF: {exc}") from exc
    sender = normalize_number(tsi)[:32]  # a TSI is often "+86 10 6234 5678": kept as 01062345678
    return IncomingFax(name=path.name, data=data, pages=pages, sender=sender)


def already_taken(session: Session, key: str) -> bool:
    stmt = select(AuditEntry.id).where(AuditEntry.entity == AUDIT_ENTITY, AuditEntry.entity_id == key)
    return session.scalar(stmt.limit(1)) is not None


def receive_fax(session: Session, fax: IncomingFax) -> Received:
    """Take one received fax as a submission for review, the image attached. Runs in the caller's
    transaction (commit after it, also when it returns "ignored": that is recorded)."""
    if already_taken(session, fax.key):
        return Received("ignored", reason="already taken")
    notes = []
    try:
        stored = attachments.store([attachments.Upload(fax.name, io.BytesIO(fax.data))])
    except attachments.AttachmentRefused as refused:  # too large for an attachment
        stored, notes = [], [f"传真图像未能保存为附件：{refused}请到传真服务器接收目录查看文件{fax.name}。"]
    sender = fax.sender or "未知"
    summary = (
        f"传真来件，共{fax.pages}页，发送方传真号码：{sender}。内容见附件中的传真图像，请审核后登记诉求。"
    )
    content = "\n".join([summary, *notes])
    try:
        case, _ = create_case(
            session,
            channel=CHANNEL,
            caller_number=fax.sender,
            contact=fax.sender or None,
            topic=f"传真来件（{sender}）",
            content=content,
            actor=ACTOR,
            client_key=f"fax:{fax.sender}" if fax.sender else "",
        )
    except CaseError as exc:  # too many from this number within the hour
        log.warning("fax %s not taken: %s", fax.name, exc)
        return _record(session, fax, Received("ignored", reason=str(exc)))
    attachments.attach(session, case, stored, purpose="submission", actor=ACTOR, role="citizen")
    return _record(session, fax, Received("submission", case.case_number))


def _record(session: Session, fax: IncomingFax, outcome: Received) -> Received:
    audit.record(
        session, actor=ACTOR, action=RECEIVED, entity=AUDIT_ENTITY, entity_id=fax.key, comment=outcome.kind,
        detail={"file": fax.name, "pages": fax.pages, "case_number": outcome.case_number, "reason": outcome.reason},
    )  # fmt: skip
    session.flush()
    return outcome


def waiting_files(inbox: Path, settle_seconds: float, now: float | None = None) -> list[Path]:
    """The TIFFs in the folder that have not changed for settle_seconds, oldest first."""
    now = time.time() if now is None else now
    files = []
    for path in inbox.iterdir():
        if path.suffix.lower() not in SUFFIXES or not path.is_file():
            continue
        mtime = path.stat().st_mtime
        if now - mtime >= settle_seconds:
            files.append((mtime, path))
    return [path for _, path in sorted(files)]


def poll_fax_inbox(
    session_factory: Callable[[], Session], settings: Settings | None = None
) -> dict[str, int]:
    """Take the faxes waiting in the receive folder (at most PER_ROUND new ones), each in its own
    transaction. Returns counts: submission, ignored (taken before or refused), unreadable."""
    settings = settings or get_settings()
    counts = {"submission": 0, "ignored": 0, "unreadable": 0}
    if settings.fax_inbox is None:
        return counts
    taken = 0
    for path in waiting_files(settings.fax_inbox, settings.fax_settle_seconds):
        if taken >= PER_ROUND:
            break
        stat = path.stat()
        seen = (str(path), stat.st_size, stat.st_mtime)
        if seen in _looked_at:
            continue
        try:
            fax = read_fax(path)
        except (ValueError, OSError) as exc:
            log.warning("fax file %s not taken this round: %s", path, exc)
            counts["unreadable"] += 1
            continue
        with session_factory() as session:
            outcome = receive_fax(session, fax)
            session.commit()
        counts[outcome.kind] += 1
        taken += outcome.kind == "submission"
        _looked_at.add(seen)
    return counts
