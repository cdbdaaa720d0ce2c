"""Attachments of cases: a citizen's photos with a web submission, an agent's documents, a department's
reply. docs/casework.md ("Attachments").

- What is accepted is decided by the content (the file's leading bytes, `filetype`; images are opened and
  checked by Pillow), never by the name: a renamed program is refused whatever it is called.
- Limits: HOTLINE_ATTACHMENT_MAX_BYTES per file, HOTLINE_ATTACHMENT_MAX_FILES per case.
- The content is kept once per SHA-256 under HOTLINE_HOME/attachments/<2 hex>/<sha256> (0600, written to a
  temporary file and renamed into place), an image's thumbnail (a small JPEG, made on upload) beside it;
  one database row per attachment names the case, who added it, the cleaned original name, type and size.
- Who may see a case's attachments (`may_view`, `for_citizen`) is decided here; the web routes only ask.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import filetype
from PIL import Image, ImageOps
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from casework.errors import CaseError
from casework.lifecycle import DONE_STATUSES
from casework.models import Attachment, Case
from hotline import audit, nodefiles
from hotline.config import PRIVATE_DIR, Settings, get_settings
from hotline.models import User
from hotline.text import CONTROL_CHARS

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEAD_BYTES = 8192  # what filetype looks at
CHUNK = 1 << 16
MAX_NAME = 100  # characters of a cleaned file name
MAX_PIXELS = 40_000_000  # larger images are refused (decompression bombs; a 48 MP photo is 8000x6000)
THUMB_SIZE = (320, 320)
THUMB_QUALITY = 80
ADDED = "case.attachment_added"  # audit action of a staff upload


@dataclass(frozen=True)
class FileType:
    """An accepted kind of file. `image`: Pillow checks it and makes its thumbnail; `inline`: browsers
    show it themselves (served inline; everything else is served as a download)."""

    mime: str
    extension: str
    label: str
    image: bool = False
    inline: bool = False


FILE_TYPES: dict[str, FileType] = {
    t.mime: t
    for t in (
        FileType("image/jpeg", "jpg", "JPEG 图片", image=True, inline=True),
        FileType("image/png", "png", "PNG 图片", image=True, inline=True),
        FileType("image/webp", "webp", "WebP 图片", image=True, inline=True),
        FileType("image/gif", "gif", "GIF 图片", image=True, inline=True),
        FileType("image/tiff", "tif", "TIFF 图片", image=True),  # faxes
        FileType("application/pdf", "pdf", "PDF 文档"),
        FileType(DOCX, "docx", "Word 文档"),
        FileType(XLSX, "xlsx", "Excel 表格"),
        FileType("application/msword", "doc", "Word 文档"),
        FileType("application/vnd.ms-excel", "xls", "Excel 表格"),
    )
}
PILLOW_FORMATS = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp",
                  "GIF": "image/gif", "TIFF": "image/tiff"}  # fmt: skip
ACCEPTED = "图片（JPG、PNG、WebP、GIF）、PDF、Word（doc、docx）或 Excel（xls、xlsx）文件"
ACCEPT_ATTRIBUTE = ",".join(  # the file inputs' accept= (a hint for the picker; the server checks content)
    [f".{t.extension}" for t in FILE_TYPES.values()] + [".jpeg", *FILE_TYPES]
)
PURPOSES = {"submission": "市民上传", "case": "坐席上传", "reply": "办理反馈附件"}
# a department's reply is the citizen's to read once the centre has reviewed it (lifecycle: reviewed on)
REPLY_PUBLIC = tuple(s for s in DONE_STATUSES if s != "replied")
ALL_CASES_ROLES = ("agent", "supervisor", "leader")  # the centre's staff see every case's attachments


class AttachmentRefused(CaseError):
    """A file that cannot be attached (type, size, count); the message is for the person uploading."""


@dataclass(frozen=True)
class Upload:
    """A file as received: its name as the client sent it and its content."""

    name: str
    stream: BinaryIO


@dataclass(frozen=True)
class StoredFile:
    """A checked file whose content is kept (content_path(sha256)), not yet attached to a case."""

    name: str
    type: FileType
    size: int
    sha256: str


def clean_name(raw: str) -> str:
    """The original file name as shown and offered for download: no folders, no control characters,
    at most MAX_NAME characters (the extension kept)."""
    name = unicodedata.normalize("NFC", raw).replace("\\", "/").rsplit("/", 1)[-1]
    name = CONTROL_CHARS.sub("", name)
    name = " ".join(name.replace('"', "").split()).strip(". ")
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:10] if dot and stem else ""
        name = name[: MAX_NAME - len(ext) - 1].rstrip() + "." + ext if ext else name[:MAX_NAME]
    return name or "附件"


def file_type(head: bytes) -> FileType | None:
    """The accepted type the leading bytes show, or None."""
    kind = filetype.guess(head)
    return FILE_TYPES.get(kind.mime) if kind is not None else None


def content_path(sha256: str, settings: Settings | None = None) -> Path:
    root = (settings or get_settings()).attachments_dir
    return root / sha256[:2] / sha256


def thumbnail_path(sha256: str, settings: Settings | None = None) -> Path:
    return content_path(sha256, settings).with_name(f"{sha256}.thumb.jpg")


def _private_dir(path: Path) -> None:
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)


def _check_image(path: Path, name: str, expected: str) -> None:
    bad = AttachmentRefused(f"“{name}”不是有效的图片文件，请重新选择。")
    try:
        with Image.open(path) as image:
            if PILLOW_FORMATS.get(image.format or "") != expected:
                raise bad
            if image.width * image.height > MAX_PIXELS:
                raise AttachmentRefused(f"“{name}”的图片尺寸过大，请缩小后再上传。")
            image.verify()
    except AttachmentRefused:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise bad from exc


def make_thumbnail(source: Path, target: Path) -> None:
    """A small JPEG of the image (turned as its EXIF says, transparency on white, no metadata kept),
    written atomically."""
    with Image.open(source) as image:
        image.draft("RGB", THUMB_SIZE)  # JPEG: decode at a reduced scale
        small = ImageOps.exif_transpose(image)
        if small.mode == "1":  # a fax: shrink in grey, not by dropping pixels
            small = small.convert("L")
        small.thumbnail(THUMB_SIZE)
        if small.mode in ("RGBA", "LA", "P"):
            rgba = small.convert("RGBA")
            small = Image.new("RGB", rgba.size, "white")
            small.paste(rgba, mask=rgba.getchannel("A"))
        elif small.mode != "RGB":
            small = small.convert("RGB")
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".thumb-")
        try:
            with os.fdopen(fd, "wb") as out:
                small.save(out, "JPEG", quality=THUMB_QUALITY, optimize=True)
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)


def _store_one(upload: Upload, settings: Settings) -> StoredFile:
    name = clean_name(upload.name)
    limit = settings.attachment_max_bytes
    _private_dir(settings.attachments_dir)
    fd, tmp = tempfile.mkstemp(dir=settings.attachments_dir, prefix=".upload-")  # 0600
    digest, size, head = hashlib.sha256(), 0, b""
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := upload.stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise AttachmentRefused(f"“{name}”超过{Limits(limit, 0).max_mb}MB，请压缩或拆分后再上传。")
                if len(head) < HEAD_BYTES:
                    head += chunk[: HEAD_BYTES - len(head)]
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise AttachmentRefused(f"“{name}”是空文件，请重新选择。")
        kind = file_type(head)
        if kind is None:
            raise AttachmentRefused(f"“{name}”的文件类型不支持，只能上传{ACCEPTED}。")
        sha = digest.hexdigest()
        path = content_path(sha, settings)
        _private_dir(path.parent)
        if kind.image:
            _check_image(Path(tmp), name, kind.mime)
            thumb = thumbnail_path(sha, settings)
            if not thumb.exists():
                try:
                    make_thumbnail(Path(tmp), thumb)  # decodes the whole image: a damaged one fails here
                except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
                    raise AttachmentRefused(f"“{name}”不是有效的图片文件，请重新选择。") from exc
        if not path.exists():
            os.replace(tmp, path)  # the same content from two uploads at once: the same bytes either way
        return StoredFile(name=name, type=kind, size=size, sha256=sha)
    finally:
        Path(tmp).unlink(missing_ok=True)


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_files: int

    @property
    def max_mb(self) -> str:
        return f"{self.max_bytes / (1024 * 1024):g}"


def limits() -> Limits:
    settings = get_settings()
    return Limits(settings.attachment_max_bytes, settings.attachment_max_files)


def store(uploads: Sequence[Upload], *, already: int = 0) -> list[StoredFile]:
    """Check the files and keep their content (one file per SHA-256); AttachmentRefused names the first
    file refused. `already`: the attachments the case has, counted against the per-case limit. Content
    kept for a request that then fails stays on disk unreferenced (the same content may be another
    case's)."""
    settings = get_settings()
    if already + len(uploads) > settings.attachment_max_files:
        raise AttachmentRefused(f"每个工单最多上传{settings.attachment_max_files}个附件。")
    return [_store_one(upload, settings) for upload in uploads]


def attach(
    session: Session, case: Case, files: Sequence[StoredFile], *, purpose: str, actor: str, role: str
) -> list[Attachment]:
    """Rows for stored files on `case`; a staff member's upload is audited (in the same transaction)."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown attachment purpose {purpose!r}")
    rows = [
        Attachment(
            case_id=case.id,
            purpose=purpose,
            uploaded_by=actor[:64],
            uploader_role=role[:16],
            name=f.name,
            mime=f.type.mime,
            size=f.size,
            sha256=f.sha256,
        )
        for f in files
    ]
    session.add_all(rows)
    for f in files:
        nodefiles.remember(session, content_path(f.sha256))
        if f.type.image:
            nodefiles.remember(session, thumbnail_path(f.sha256))
    session.flush()
    if role != "citizen":
        for row in rows:
            audit.record(
                session,
                actor=actor,
                action=ADDED,
                entity="case",
                entity_id=case.id,
                detail={"case_number": case.case_number, "attachment_id": row.id, "name": row.name,
                        "mime": row.mime, "size": row.size, "sha256": row.sha256, "purpose": purpose},
            )  # fmt: skip
    return rows


def add_files(
    session: Session, case: Case, uploads: Sequence[Upload], *, purpose: str, actor: str, role: str
) -> list[Attachment]:
    """Check, keep and attach files to an existing case (within its per-case limit)."""
    if not uploads:
        return []
    stored = store(uploads, already=count(session, case))
    return attach(session, case, stored, purpose=purpose, actor=actor, role=role)


def count(session: Session, case: Case) -> int:
    stmt = select(func.count()).select_from(Attachment).where(Attachment.case_id == case.id)
    return int(session.scalar(stmt) or 0)


def for_case(session: Session, case: Case) -> list[Attachment]:
    stmt = select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.id)
    return list(session.scalars(stmt))


def for_citizen(session: Session, case: Case) -> list[Attachment]:
    """What the citizen sees on the progress page: the files they sent, and the department's reply's
    once the centre has reviewed the reply; never the centre's own working documents."""
    shown = {"submission", "reply"} if case.status in REPLY_PUBLIC else {"submission"}
    return [a for a in for_case(session, case) if a.purpose in shown]


def may_view(user: User, case: Case) -> bool:
    """The centre's staff see every case's attachments; department staff those of the cases their
    department leads or assists on (the cases they can open); nobody else."""
    if user.has_role(*ALL_CASES_ROLES):
        return True
    if not (user.has_role("department") and user.department):
        return False
    from casework.assisting import assists

    lead = case.department is not None and case.department.name == user.department
    return lead or assists(case, user.department)


def get(session: Session, attachment_id: int) -> tuple[Attachment, Case] | None:
    attachment = session.get(Attachment, attachment_id)
    if attachment is None:
        return None
    case = session.get(Case, attachment.case_id)
    return (attachment, case) if case is not None else None


def type_of(attachment: Attachment) -> FileType:
    return FILE_TYPES.get(attachment.mime) or FileType(attachment.mime, "bin", "文件")
