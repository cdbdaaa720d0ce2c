"""Attachments of cases: checked by content, kept once per SHA-256 (private files, thumbnails), shown on
the case pages and the citizen's progress page, and served only to who may see the case."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

import casework
from casework import attachments
from casework.attachments import AttachmentRefused, Upload
from casework.models import Attachment
from hotline.db import reset_caches, session_scope
from hotline.models import AuditEntry, User
from tests.casework.helpers import new_case
from tests.conftest import login, make_user
from web.routes.attachments import download_name

MB = 1024 * 1024
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200 + b"This program cannot be run"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def png(size: tuple[int, int] = (800, 600), color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def xlsx() -> bytes:
    book = openpyxl.Workbook()
    book.active["A1"] = "整改清单"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def upload(name: str, data: bytes) -> Upload:
    return Upload(name=name, stream=io.BytesIO(data))


def token(client: TestClient) -> str:
    return client.get("/api/session").json()["csrf_token"]


# --- the domain: casework.attachments -------------------------------------------------------------


def test_type_is_read_from_the_content_never_from_the_name(sqlite_env: Path) -> None:
    kept = attachments.store(
        [upload("照片.pdf", png()), upload("材料", PDF), upload("清单.xlsx", xlsx()), upload("说明.docx", docx())]
    )
    assert [f.type.mime for f in kept] == [
        "image/png",
        "application/pdf",
        attachments.XLSX,
        attachments.DOCX,
    ]
    for name, data in (("发票.png", EXE), ("说明.pdf", "纯文本内容".encode()), ("a.zip", _zip())):
        with pytest.raises(AttachmentRefused, match="文件类型不支持"):
            attachments.store([upload(name, data)])
    fake = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100  # a PNG's signature before rubbish
    with pytest.raises(AttachmentRefused, match="不是有效的图片文件"):
        attachments.store([upload("现场.png", fake)])
    with pytest.raises(AttachmentRefused, match="空文件"):
        attachments.store([upload("空.png", b"")])


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("readme.txt", "x")
    return out.getvalue()


def test_content_is_kept_once_privately_with_a_small_jpeg_thumbnail(hotline_env: Path) -> None:
    photo = png((1600, 1200))
    with session_scope() as db:
        first, _ = new_case(db)
        second, _ = new_case(db, caller_number="13900000002")
        a = attachments.add_files(db, first, [upload("现场.png", photo)], purpose="case", actor="agent1", role="agent")
        b = attachments.add_files(db, second, [upload("同一张.png", photo)], purpose="case", actor="agent1",
                                  role="agent")  # fmt: skip
        assert a[0].sha256 == b[0].sha256 and a[0].id != b[0].id
        assert (a[0].name, a[0].mime, a[0].size, a[0].uploaded_by) == ("现场.png", "image/png", len(photo), "agent1")
        entries = db.scalars(select(AuditEntry).where(AuditEntry.action == attachments.ADDED)).all()
        assert [(e.actor, e.entity_id) for e in entries] == [("agent1", str(first.id)), ("agent1", str(second.id))]
    root = hotline_env / "attachments"
    files = [p for p in root.rglob("*") if p.is_file()]
    assert sorted(p.name for p in files) == sorted([a[0].sha256, f"{a[0].sha256}.thumb.jpg"])
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in files)
    assert all(p.stat().st_mode & 0o777 == 0o700 for p in [root, *[p for p in root.rglob("*") if p.is_dir()]])
    assert attachments.content_path(a[0].sha256).read_bytes() == photo
    with Image.open(attachments.thumbnail_path(a[0].sha256)) as thumb:
        assert thumb.format == "JPEG" and max(thumb.size) <= 320


def test_size_and_count_limits(sqlite_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_ATTACHMENT_MAX_BYTES", str(2 * MB))
    monkeypatch.setenv("HOTLINE_ATTACHMENT_MAX_FILES", "3")
    reset_caches()
    with pytest.raises(AttachmentRefused, match="“大文件.pdf”超过2MB"):
        attachments.store([upload("大文件.pdf", PDF + b"0" * (2 * MB))])
    with session_scope() as db:
        case, _ = new_case(db)
        attachments.add_files(db, case, [upload(f"{i}.pdf", PDF) for i in range(2)], purpose="case",
                              actor="agent1", role="agent")  # fmt: skip
        with pytest.raises(AttachmentRefused, match="每个工单最多上传3个附件"):
            attachments.add_files(db, case, [upload(f"{i}.pdf", PDF) for i in range(2)], purpose="case",
                                  actor="agent1", role="agent")  # fmt: skip
        assert attachments.count(db, case) == 2


def test_names_are_cleaned_for_showing_and_downloading() -> None:
    assert attachments.clean_name("C:\\Users\\张三\\现场照片.jpg") == "现场照片.jpg"
    assert attachments.clean_name("../../etc/passwd") == "passwd"
    assert attachments.clean_name('a\x00b\x1b[31m"c".pdf') == "ab[31mc.pdf"
    assert attachments.clean_name("..") == "附件"
    long = attachments.clean_name("很" * 300 + ".docx")
    assert len(long) == attachments.MAX_NAME and long.endswith(".docx")
    # a download ends in what the content is
    assert download_name(Attachment(name="照片.pdf", mime="image/png")) == "照片.pdf.png"
    assert download_name(Attachment(name="现场.JPEG", mime="image/jpeg")) == "现场.JPEG"
    assert download_name(Attachment(name="清单", mime=attachments.XLSX)) == "清单.xlsx"


def test_who_may_see_a_cases_attachments(sqlite_env: Path) -> None:
    with session_scope() as db:
        case, _ = new_case(db)
        casework.refer(db, case, casework.department_by_name(db, "市住房和城乡建设局"), actor="agent1")
        assert attachments.may_view(User(username="a", roles="agent"), case)
        assert attachments.may_view(User(username="l", roles="leader"), case)
        assert attachments.may_view(User(username="d", roles="department", department="市住房和城乡建设局"), case)
        assert not attachments.may_view(User(username="o", roles="department", department="市教育局"), case)
        assert not attachments.may_view(User(username="e", roles="editor"), case)


# --- the web: uploads, pages, serving -------------------------------------------------------------


def submission() -> dict[str, str]:
    return {"name": "张三", "phone": "13812345678", "category": "投诉", "topic": "路面塌陷",
            "content": "幸福路与解放路交叉口路面塌陷，存在安全隐患，请尽快处理。", "address": "幸福路"}  # fmt: skip


def submit(client: TestClient, files: list[tuple[str, bytes, str]]) -> tuple[str, str]:
    resp = client.post(
        "/submit",
        data={**submission(), "csrf_token": token(client)},
        files=[("attachments", f) for f in files],
    )
    assert resp.status_code == 200, resp.text
    number = re.search(r'id="case-number">(\d+)<', resp.text).group(1)  # type: ignore[union-attr]
    password = re.search(r'id="case-password">(\d{4,6})<', resp.text).group(1)  # type: ignore[union-attr]
    return number, password


def case_attachments(number: str) -> list[Attachment]:
    with session_scope() as db:
        rows = attachments.for_case(db, casework.get_case(db, number))
        db.expunge_all()
        return rows


def test_citizen_submits_a_photo_and_a_pdf_staff_and_the_citizen_see_them(client: TestClient) -> None:
    form = client.get("/submit").text
    assert 'enctype="multipart/form-data"' in form and 'name="attachments"' in form
    number, password = submit(client, [("现场.png", png(), "image/png"), ("情况说明.pdf", PDF, "application/pdf")])
    photo, paper = case_attachments(number)
    assert (photo.name, photo.mime, photo.purpose, photo.uploaded_by) == ("现场.png", "image/png", "submission",
                                                                         "citizen")  # fmt: skip
    assert (paper.name, paper.mime) == ("情况说明.pdf", "application/pdf")

    # never served to anyone anonymous, by id
    assert client.get(f"/attachments/{photo.id}", follow_redirects=False).status_code == 303
    assert client.get(f"/progress/attachments/{photo.id}").status_code == 403

    # the citizen, after the case password, on the progress page
    t = token(client)
    page = client.post("/progress", data={"case_number": number, "password": password, "csrf_token": t})
    assert page.status_code == 200
    assert f'src="/progress/attachments/{photo.id}/thumbnail"' in page.text and "情况说明.pdf" in page.text
    thumb = client.get(f"/progress/attachments/{photo.id}/thumbnail")
    assert thumb.status_code == 200, thumb.text
    assert thumb.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(thumb.content)).format == "JPEG"
    pdf = client.get(f"/progress/attachments/{paper.id}")
    assert pdf.status_code == 200 and pdf.content == PDF
    assert pdf.headers["content-disposition"].startswith("attachment;")
    assert pdf.headers["x-content-type-options"] == "nosniff"

    # the agent, on the case page
    make_user("agent1", ["agent"])
    login(client, "agent1")
    page = client.get(f"/agent/cases/{number}")
    assert f'src="/attachments/{photo.id}/thumbnail"' in page.text and f'href="/attachments/{paper.id}"' in page.text
    original = client.get(f"/attachments/{photo.id}")
    assert original.status_code == 200 and original.headers["content-type"] == "image/png"
    assert original.headers["content-disposition"].startswith("inline;")
    assert original.headers["x-content-type-options"] == "nosniff"
    assert client.get(f"/attachments/{photo.id}/thumbnail").headers["content-type"] == "image/jpeg"
    assert client.get(f"/attachments/{paper.id}/thumbnail").status_code == 404  # no thumbnail for a PDF


def test_a_renamed_program_is_refused_in_chinese_and_no_case_is_made(client: TestClient) -> None:
    resp = client.post(
        "/submit",
        data={**submission(), "csrf_token": token(client)},
        files=[("attachments", ("现场照片.png", EXE, "image/png"))],
    )
    assert resp.status_code == 422
    assert "“现场照片.png”的文件类型不支持" in resp.text and "幸福路与解放路交叉口" in resp.text
    with session_scope() as db:
        assert casework.review_queue(db) == []


def test_too_large_files_are_refused(sqlite_client: TestClient) -> None:
    big = PDF + b"0" * (10 * MB)  # just over 10 MB: the form says which file
    resp = sqlite_client.post(
        "/submit",
        data={**submission(), "csrf_token": token(sqlite_client)},
        files=[("attachments", ("扫描件.pdf", big, "application/pdf"))],
    )
    assert resp.status_code == 422 and "“扫描件.pdf”超过10MB" in resp.text
    # a body over what the route takes at all (5 x 10 MB and the form) is cut off before it is read
    huge = sqlite_client.post(
        "/submit", content=b"x" * (51 * MB), headers={"content-type": "multipart/form-data; boundary=x"}
    )
    assert huge.status_code == 413
    # other routes keep the 1 MB limit
    other = sqlite_client.post(
        "/progress", content=b"x" * (2 * MB), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert other.status_code == 413
    with session_scope() as db:
        assert casework.review_queue(db) == []


def referred(dept: str) -> str:
    with session_scope() as db:
        case, _ = new_case(db)
        casework.refer(db, case, casework.department_by_name(db, dept), actor="agent1")
        attachments.add_files(db, case, [upload("现场.png", png())], purpose="case", actor="agent1", role="agent")
        return case.case_number


def test_only_the_handling_department_sees_a_cases_attachments(client: TestClient) -> None:
    number = referred("市住房和城乡建设局")
    (photo,) = case_attachments(number)
    make_user("other", ["department"], department="市教育局")
    login(client, "other")
    assert client.get(f"/attachments/{photo.id}").status_code == 404
    assert client.get(f"/attachments/{photo.id}/thumbnail").status_code == 404
    make_user("editor1", ["editor"])
    login(client, "editor1")
    assert client.get(f"/attachments/{photo.id}").status_code == 404
    make_user("dep1", ["department"], department="市住房和城乡建设局")
    login(client, "dep1")
    page = client.get(f"/department/cases/{number}")
    assert f'src="/attachments/{photo.id}/thumbnail"' in page.text
    assert client.get(f"/attachments/{photo.id}").status_code == 200


def test_department_reply_with_a_document_reaches_the_citizen_after_review(client: TestClient) -> None:
    number = referred("市住房和城乡建设局")
    with session_scope() as db:
        case = casework.get_case(db, number)
        casework.accept(db, case, actor="dep1")
    make_user("dep1", ["department"], department="市住房和城乡建设局")
    t = login(client, "dep1")
    page = client.get(f"/department/cases/{number}").text
    assert 'enctype="multipart/form-data"' in page and 'name="attachments"' in page
    bad = client.post(
        f"/department/cases/{number}/reply",
        data={"reply": "已修复路面。", "csrf_token": t},
        files=[("attachments", ("整改.xlsx", EXE, "application/octet-stream"))],
    )
    assert "“整改.xlsx”的文件类型不支持" in bad.text
    with session_scope() as db:
        assert casework.get_case(db, number).status == "accepted"  # nothing of the refused reply kept
    done = client.post(
        f"/department/cases/{number}/reply",
        data={"reply": "已修复路面。", "csrf_token": t},
        files=[("attachments", ("整改清单.xlsx", xlsx(), "application/vnd.ms-excel"))],
    )
    assert "办结反馈已提交" in done.text and "整改清单.xlsx" in done.text
    reply = case_attachments(number)[-1]
    assert (reply.purpose, reply.uploaded_by, reply.mime) == ("reply", "dep1", attachments.XLSX)
    with session_scope() as db:
        audited = db.scalars(select(AuditEntry).where(AuditEntry.action == attachments.ADDED)).all()
        assert [e.actor for e in audited] == ["agent1", "dep1"]
        case = casework.get_case(db, number)
        assert attachments.for_citizen(db, case) == []  # the agent's photo never; the reply once reviewed
        casework.review(db, case, actor="agent1", approved=True)
        assert [a.name for a in attachments.for_citizen(db, case)] == ["整改清单.xlsx"]


def test_agent_uploads_on_the_case_page(client: TestClient) -> None:
    with session_scope() as db:
        case, _ = new_case(db)
        number = case.case_number
    make_user("agent1", ["agent"])
    t = login(client, "agent1")
    page = client.get(f"/agent/cases/{number}").text
    assert f'action="/agent/cases/{number}/attachments"' in page
    resp = client.post(
        f"/agent/cases/{number}/attachments",
        data={"csrf_token": t},
        files=[("attachments", ("来电人提供的材料.docx", docx(), "application/octet-stream"))],
    )
    assert resp.status_code == 200 and "已上传1个附件" in resp.text and "来电人提供的材料.docx" in resp.text
    (doc,) = case_attachments(number)
    got = client.get(f"/attachments/{doc.id}")
    assert got.headers["content-type"] == attachments.DOCX
    assert got.headers["content-disposition"].startswith("attachment;")
    renamed = client.post(
        f"/agent/cases/{number}/attachments",
        data={"csrf_token": t},
        files=[("attachments", ("照片.jpg", EXE, "image/jpeg"))],
    )
    assert "“照片.jpg”的文件类型不支持" in renamed.text
    nothing = client.post(f"/agent/cases/{number}/attachments", data={"csrf_token": t})
    assert "请选择要上传的文件" in nothing.text
    assert len(case_attachments(number)) == 1


def test_agent_registers_a_case_with_what_the_caller_sent(sqlite_client: TestClient) -> None:
    make_user("agent1", ["agent"])
    t = login(sqlite_client, "agent1")
    assert 'name="attachments"' in sqlite_client.get("/agent").text
    fields = {"caller_number": "13812345678", "category": "投诉", "csrf_token": t,
              "content": "幸福小区南门夜间施工噪音很大，影响休息。"}  # fmt: skip
    bad = sqlite_client.post("/agent/cases", data=fields, files=[("attachments", ("现场.png", EXE, "image/png"))])
    assert bad.status_code == 422 and "“现场.png”的文件类型不支持" in bad.text
    with session_scope() as db:
        assert db.scalars(select(casework.Case)).all() == []
    page = sqlite_client.post("/agent/cases", data=fields, files=[("attachments", ("现场.png", png(), "image/png"))])
    number = re.search(r"/agent/cases/(\d+)", str(page.url)).group(1)  # type: ignore[union-attr]
    (photo,) = case_attachments(number)
    assert f'src="/attachments/{photo.id}/thumbnail"' in page.text
    assert (photo.purpose, photo.uploaded_by) == ("case", "agent1")
