"""Importing and exporting documents as JSON Lines (format in docs/architecture.md).

Import is idempotent by external_id: a known document whose content is unchanged is left alone; a
changed one gets a new revision (published at once with publish=True, else left as a draft for review).
A bad line (not UTF-8, not JSON, nested too deeply, invalid fields) is reported with its number and
reason; the other lines are imported. A UTF-8 byte order mark at the start is accepted. A document given
twice in one file gets one revision for each distinct content, in the order of the lines.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError
from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from hotline import audit
from hotline.config import get_settings
from hotline.db import session_scope
from kb import indexing
from kb.documents import ENTITY, content_of, latest_revision, publish_latest
from kb.errors import KbError
from kb.models import Document, Revision
from kb.schemas import CONTENT_FIELDS, TITLE_CONTROL, DocumentInput, explain

BATCH = 500
BUNDLE_BATCH = 2000  # first start: fewer, larger commits (and index commits)
MAX_EXTERNAL_ID = 128
BOM = "\ufeff"


@dataclass
class ImportRecord:
    line: int
    external_id: str
    data: DocumentInput


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    def fail(self, line: int, reason: str) -> None:
        self.failed += 1
        self.errors.append((line, reason))

    def add(self, other: ImportReport) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.failed += other.failed
        self.errors.extend(other.errors)

    @property
    def read(self) -> int:
        return self.created + self.updated + self.unchanged

    def counts(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": self.failed,
        }


def _decode(raw: bytes | str, number: int) -> str:
    if isinstance(raw, str):
        return raw.removeprefix(BOM) if number == 1 else raw
    if number == 1:
        raw = raw.removeprefix(BOM.encode())
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"不是有效的 UTF-8 文本（第 {exc.start + 1} 字节）") from exc


def _json_object(line: str) -> dict[str, Any]:
    """One line's JSON object; ValueError with the Chinese reason otherwise."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"不是有效的 JSON（第 {exc.colno} 列）") from exc
    except RecursionError as exc:  # the parser's depth is bounded by Python's recursion limit
        raise ValueError("JSON 嵌套层数过多") from exc
    if not isinstance(obj, dict):
        raise ValueError("每行必须是一个 JSON 对象")
    return obj


def parse_lines(lines: Iterable[bytes | str], report: ImportReport) -> Iterator[ImportRecord]:
    """Valid records from JSON lines; failures go into the report with their line number."""
    for number, raw in enumerate(lines, start=1):
        try:
            line = _decode(raw, number).strip()
            if not line:
                continue
            obj = _json_object(line)
        except ValueError as exc:
            report.fail(number, str(exc))
            continue
        external_id = obj.get("external_id")
        if external_id is None or external_id == "":
            report.fail(number, "缺少 external_id")
            continue
        if not isinstance(external_id, str):
            report.fail(number, "external_id 必须是字符串（用引号括起）")
            continue
        external_id = external_id.strip()
        if not external_id or TITLE_CONTROL.search(external_id):
            report.fail(number, "external_id 不能为空，也不能包含控制字符")
            continue
        if len(external_id) > MAX_EXTERNAL_ID:
            report.fail(number, f"external_id 过长（最多 {MAX_EXTERNAL_ID} 字符）")
            continue
        try:
            data = DocumentInput(**obj)
        except ValidationError as exc:
            report.fail(number, explain(exc))
            continue
        except TypeError:
            report.fail(number, "字段格式有误")
            continue
        yield ImportRecord(number, external_id, data)


def _content(data: DocumentInput) -> dict[str, Any]:
    return {name: getattr(data, name) for name in CONTENT_FIELDS}


def import_batch(session: Session, records: list[ImportRecord], *, publish: bool, actor: str) -> ImportReport:
    """Create or update the documents of one batch (flushes; the caller commits)."""
    report = ImportReport()
    ids = [r.external_id for r in records]
    # Lock the batch's documents before reading them: an UPDATE that changes nothing takes their row
    # locks (PostgreSQL) or the write lock (SQLite), so an editor saving one of them meanwhile waits
    # and then gets EditConflict, instead of this batch failing on a revision number taken under it.
    session.execute(
        update(Document)
        .where(Document.external_id.in_(ids))
        .values(revision_count=Document.revision_count, updated_at=Document.updated_at)
        .execution_options(synchronize_session=False)
    )
    existing = {
        d.external_id: d for d in session.scalars(select(Document).where(Document.external_id.in_(ids)))
    }
    latest_of = {
        rev.document_id: rev
        for rev in session.scalars(
            select(Revision)
            .join(
                Document,
                and_(Revision.document_id == Document.id, Revision.number == Document.revision_count),
            )
            .where(Document.external_id.in_(ids))
        )
    }
    titles = [r.data.title for r in records]
    owner_of_title = dict(
        session.execute(select(Document.title, Document.external_id).where(Document.title.in_(titles))).all()
    )
    new_docs: list[Document] = []
    changes: list[tuple[Document, dict[str, Any]]] = []  # one revision each, in the order of the lines
    touched: dict[str, Document] = {}
    given: dict[str, dict[str, Any]] = {}  # content of the batch's earlier line for the same document
    for rec in records:
        content = _content(rec.data)
        owner = owner_of_title.get(rec.data.title)
        if owner is not None and owner != rec.external_id:
            report.fail(rec.line, f"标题“{rec.data.title}”已被文档 {owner} 使用，标题必须唯一")
            continue
        doc = existing.get(rec.external_id)
        if doc is None:
            doc = Document(
                external_id=rec.external_id,
                status="draft",
                live=False,
                views=0,
                helpful_count=0,
                unhelpful_count=0,
                revision_count=0,
                **content,
            )
            existing[rec.external_id] = doc
            owner_of_title[rec.data.title] = rec.external_id
            new_docs.append(doc)
            changes.append((doc, content))
            touched[rec.external_id] = doc
            given[rec.external_id] = content
            report.created += 1
            continue
        if rec.external_id in given:
            current = given[rec.external_id]
            needs_publish = False  # the first line of this document publishes it
        else:
            latest = latest_of.get(doc.id)
            current = content_of(latest) if latest is not None else content_of(doc)
            needs_publish = publish and not (doc.live and doc.status == "published" and current == content)
        if current == content and not needs_publish:
            report.unchanged += 1
            continue
        if doc.status == "submitted" and not publish:
            report.fail(rec.line, f"文档 {rec.external_id} 正在审核中，未更新")
            continue
        if current != content:
            for title in (doc.title, current["title"]):
                if owner_of_title.get(title) == rec.external_id:
                    del owner_of_title[title]
            owner_of_title[rec.data.title] = rec.external_id
            changes.append((doc, content))
        given[rec.external_id] = content
        touched[rec.external_id] = doc
        report.updated += 1
    session.add_all(new_docs)
    session.flush()
    newest: dict[int, Revision] = {}
    for doc, content in changes:
        if doc.published_revision_id is None:
            for name, value in content.items():
                setattr(doc, name, value)
        doc.revision_count = (doc.revision_count or 0) + 1
        newest[doc.id] = Revision(
            document_id=doc.id, number=doc.revision_count, actor=actor, comment="导入", **content
        )
        session.add(newest[doc.id])
        if doc.status != "draft" and not publish:
            doc.status = "draft"
    session.flush()
    for doc in touched.values():
        if publish:
            publish_latest(session, doc, newest.get(doc.id))
        audit.record(
            session,
            actor=actor,
            action="kb.import",
            entity=ENTITY,
            entity_id=doc.id,
            comment=doc.external_id,
            detail={"publish": publish, "revision": doc.revision_count},
        )
    indexing.queue(session, [doc.id for doc in touched.values()])
    session.flush()
    return report


def import_stream(
    lines: Iterable[bytes | str], *, publish: bool, actor: str, progress: Any = None, batch_size: int = BATCH
) -> ImportReport:
    """Import JSON lines, committing every batch_size documents (each batch all or nothing)."""
    report = ImportReport()
    batch: list[ImportRecord] = []

    def flush_batch() -> None:
        with session_scope() as session:
            report.add(import_batch(session, batch, publish=publish, actor=actor))
        if progress is not None:
            progress.update(len(batch))
        batch.clear()

    for record in parse_lines(lines, report):
        batch.append(record)
        if len(batch) >= batch_size:
            flush_batch()
    if batch:
        flush_batch()
    report.errors.sort()
    return report


def import_file(
    path: Path, *, publish: bool, actor: str = "import", progress: Any = None, batch_size: int = BATCH
) -> ImportReport:
    """Import a JSON Lines file; raises KbError when the file cannot be read at all."""
    try:
        with path.open("rb") as f:
            return import_stream(f, publish=publish, actor=actor, progress=progress, batch_size=batch_size)
    except OSError as exc:
        raise KbError(f"无法读取文件 {path}：{exc.strerror or exc}") from exc


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def export_documents(session: Session, out: TextIO) -> int:
    """Write every document's newest revision as JSON Lines (re-importable); returns the count."""
    n = 0
    for doc in session.scalars(select(Document).order_by(Document.id)):
        latest = latest_revision(session, doc)
        content = content_of(latest or doc)
        row = {"external_id": doc.external_id} | {k: _json_value(v) for k, v in content.items()}
        row["status"] = doc.status
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        n += 1
    return n


def bundled_files() -> list[Path]:
    return sorted((get_settings().data_dir / "kb").glob("*.jsonl"))


def load_bundled_corpus() -> dict[str, int]:
    """Import data/kb/*.jsonl, published, when the knowledge base has no documents yet."""
    with session_scope() as session:
        if session.scalar(select(func.count(Document.id))):
            return {}
    total = ImportReport()
    for path in bundled_files():
        total.add(import_file(path, publish=True, actor="system", batch_size=BUNDLE_BATCH))
    return total.counts()
