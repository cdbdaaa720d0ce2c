"""Attachments of cases on the web: the agent's upload on a case page, the files of a form (`Files`, used by
the /submit form, the agent's registration form and a department's reply), and serving them, only to who may see the case
(casework.attachments.may_view for staff; for a citizen, the case whose progress they just opened with
its password, sealed in their session). Their body limit: web.security.UPLOAD_PATHS."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

import casework
from casework import attachments
from casework.attachments import Upload
from casework.models import Attachment
from hotline.config import get_settings
from hotline.models import User
from web.routes import nodefiles
from web.routes.casepages import case_action
from web.security import SessionDep, require_roles, seal, unseal
from web.templating import templates

router = APIRouter()
Staff = Annotated[User, Depends(require_roles())]  # any staff account; may_view decides per case
Agent = Annotated[User, Depends(require_roles("agent"))]
FIELD = "attachments"  # the name of the forms' file inputs
# session key: the number of the case whose progress the citizen opened (sealed; the same key and value
# as web.routes.citizen.PROGRESS_CASE, which the online rating reads)
CITIZEN_CASE = "progress_case"
SERVED_HEADERS = {
    "Cache-Control": "private, no-store",
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox",
}
NOT_FOUND = "附件不存在。"
FILE = "附件"  # in NodeUnreachable's message
EXTENSION_ALIASES = {"jpg": (".jpeg",), "tif": (".tiff",)}


async def uploaded_files(request: Request) -> list[Upload]:
    """The files of the form's `attachments` inputs (an input with no file chosen sends none). The form
    was parsed once, within the route's body limit, by the CSRF check."""
    if request.method != "POST":
        return []
    form = await request.form()
    return [
        Upload(name=item.filename or "", stream=item.file)
        for item in form.getlist(FIELD)
        if isinstance(item, UploadFile) and (item.filename or item.size)
    ]


Files = Annotated[list[Upload], Depends(uploaded_files)]


def download_name(attachment: Attachment) -> str:
    """The cleaned original name, ending in its type's extension (a PNG sent as "x.txt" downloads as
    "x.txt.png")."""
    extension = attachments.type_of(attachment).extension
    extensions = (f".{extension}", *EXTENSION_ALIASES.get(extension, ()))
    name = attachment.name
    return name if name.lower().endswith(extensions) else f"{name}.{extension}"


def _serve(db: Session, attachment: Attachment, *, thumbnail: bool) -> FileResponse:
    """The file from this node's disk, or from the node it was uploaded to (web.routes.nodefiles)."""
    kind = attachments.type_of(attachment)
    root = get_settings().attachments_dir
    if thumbnail:
        if not kind.image:
            raise HTTPException(404, NOT_FOUND)
        path = attachments.thumbnail_path(attachment.sha256)
        return nodefiles.serve(db, path, root, what=FILE, missing=NOT_FOUND, media_type="image/jpeg",
                               headers=SERVED_HEADERS)  # fmt: skip
    return nodefiles.serve(
        db,
        attachments.content_path(attachment.sha256),
        root,
        what=FILE,
        missing="附件文件不存在。",
        media_type=kind.mime,
        filename=download_name(attachment),
        content_disposition_type="inline" if kind.inline else "attachment",
        headers=SERVED_HEADERS,
    )


def _staff_attachment(db: Session, user: User, attachment_id: int) -> Attachment:
    found = attachments.get(db, attachment_id)
    if found is None or not attachments.may_view(user, found[1]):
        raise HTTPException(404, NOT_FOUND)  # another department's case does not exist for them
    return found[0]


@router.get("/attachments/{attachment_id}")
def staff_file(db: SessionDep, user: Staff, attachment_id: int) -> FileResponse:
    return _serve(db, _staff_attachment(db, user, attachment_id), thumbnail=False)


@router.get("/attachments/{attachment_id}/thumbnail")
def staff_thumbnail(db: SessionDep, user: Staff, attachment_id: int) -> FileResponse:
    return _serve(db, _staff_attachment(db, user, attachment_id), thumbnail=True)


@router.post("/agent/cases/{case_number}/attachments")
def agent_upload(request: Request, db: SessionDep, user: Agent, case_number: str, files: Files) -> Response:
    """The agent adds files to a case (audited); a refused file is the case page's message."""
    if not files:
        raise attachments.AttachmentRefused("请选择要上传的文件。")
    return case_action(
        request,
        db,
        case_number,
        lambda case: attachments.add_files(db, case, files, purpose="case", actor=user.username, role="agent"),
        message=f"已上传{len(files)}个附件。",
    )


def open_for_citizen(request: Request, db: Session, case_number: str) -> list[Attachment]:
    """After a successful progress query: what the citizen may see of the case's attachments, and the
    right to fetch them for a while (web.security.SEALED_SECONDS), kept sealed in their session."""
    case = casework.get_case(db, case_number)
    if case is None:
        return []
    request.session[CITIZEN_CASE] = seal(case.case_number)
    return attachments.for_citizen(db, case)


def _citizen_attachment(request: Request, db: Session, attachment_id: int) -> Attachment:
    sealed = request.session.get(CITIZEN_CASE)
    number = unseal(sealed) if sealed else None
    if number is None:
        raise HTTPException(403, "请先在“办理进度查询”页输入工单编号和查询密码。")
    case = casework.get_case(db, number)
    shown = attachments.for_citizen(db, case) if case is not None else []
    attachment = next((a for a in shown if a.id == attachment_id), None)
    if attachment is None:
        raise HTTPException(404, NOT_FOUND)
    return attachment


@router.get("/progress/attachments/{attachment_id}")
def citizen_file(request: Request, db: SessionDep, attachment_id: int) -> FileResponse:
    return _serve(db, _citizen_attachment(request, db, attachment_id), thumbnail=False)


@router.get("/progress/attachments/{attachment_id}/thumbnail")
def citizen_thumbnail(request: Request, db: SessionDep, attachment_id: int) -> FileResponse:
    return _serve(db, _citizen_attachment(request, db, attachment_id), thumbnail=True)


def file_size(size: int) -> str:
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / (1024 * 1024):.1f} MB"


templates.env.filters["file_size"] = file_size
templates.env.globals["attachment_type"] = attachments.type_of
templates.env.globals["attachment_accept"] = attachments.ACCEPT_ATTRIBUTE
templates.env.globals["attachment_purposes"] = attachments.PURPOSES
templates.env.globals["attachment_limits"] = attachments.limits
