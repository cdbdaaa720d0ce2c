"""Finding cases: filters (status, department, category, district, channel, dates, overdue,
supervised), full-text search over case number, phone, name, content and address with the project's
Chinese analysis (jieba, kb.search.analysis), pages, the JSON lines of the CLI and the Excel export.

Each case keeps its search terms in `cases.search_text` (space-separated, set at registration). On
PostgreSQL they are matched through a GIN index on to_tsvector('simple', search_text); on SQLite with
LIKE per term."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import ColumnElement, Select, and_, cast, false, or_, select
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import Session

from casework.calendar import LOCAL_TZ
from casework.lifecycle import DEADLINE_STATUSES, label
from casework.models import Case, Department
from hotline.db import utcnow
from hotline.masking import mask_phone
from kb.search.analysis import char_bigrams, fold_query, tokens, words

PAGE_SIZE = 50
_HAN_ONLY = re.compile(r"[\u4e00-\u9fff]+")
COUNT_LIMIT = 1_000  # counts above this show as "1000+"
EXPORT_LIMIT = 50_000  # rows in one Excel export
CHANNEL_LABELS = {
    "phone": "电话", "voicemail": "语音留言", "web": "网上留言", "sms": "短信", "email": "电子邮件", "fax": "传真"
}  # fmt: skip


def index_text(
    *,
    case_number: str,
    caller_number: str | None,
    contact: str | None = None,
    name: str | None = None,
    topic: str | None = None,
    content: str | None = None,
    address: str | None = None,
    district: str | None = None,
) -> str:
    """The search terms of a case: its numbers whole, jieba's words and sub-words of the text, and the
    character bigrams of its Chinese (they find what jieba segments differently in text and query)."""
    numbers = [n for n in (case_number, caller_number, contact) if n]
    text = " ".join(t for t in (name, topic, content, district, address) if t)
    terms = dict.fromkeys(t.replace(" ", "") for t in [*numbers, *tokens(text), *char_bigrams(text)])
    return " " + " ".join(_lexeme(t) for t in terms if t) + " "


def case_index_text(case: Case) -> str:
    return index_text(
        case_number=case.case_number, caller_number=case.caller_number, contact=case.contact, name=case.name,
        topic=case.topic, content=case.content, address=case.address, district=case.district,
    )  # fmt: skip


@dataclass
class CaseFilter:
    """What a list is narrowed to; empty fields do not filter. Dates are Beijing days, inclusive."""

    q: str = ""
    status: str = ""
    department_id: int | None = None
    category: str = ""
    district: str = ""
    channel: str = ""
    date_from: date | None = None
    date_to: date | None = None
    overdue: bool = False
    supervised: bool = False


@dataclass
class CasePage:
    cases: list[Case]
    total: int
    capped: bool  # total is COUNT_LIMIT and more match
    page: int
    pages: int


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), LOCAL_TZ)


def query_groups(query: str) -> list[list[tuple[str, ...]]]:
    """Per word of the query (jieba precise mode), the ways it may occur in a case's terms, each a set of
    terms that must all be there: the word itself, its jieba sub-words, its character bigrams."""
    groups: list[list[tuple[str, ...]]] = []
    for word in words(fold_query(query))[:10]:
        word = word.replace(" ", "")
        ways: list[tuple[str, ...]] = [(word,)]
        if len(word) > 1 and _HAN_ONLY.fullmatch(word):
            ways.append(tuple(t for t in tokens(word) if t != word))
            ways.append(tuple(char_bigrams(word)))
        groups.append([w for w in dict.fromkeys(ways) if w])
    return [g for g in groups if g]


def _lexeme(term: str) -> str:
    """A term as a quoted tsvector/tsquery lexeme: stored and matched exactly as written."""
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def text_clause(session: Session, query: str) -> ColumnElement[bool] | None:
    """Every word of the query must occur (one of its ways); None for an empty query."""
    if not (query or "").strip():
        return None
    groups = query_groups(query)
    if not groups:
        return false()
    if session.get_bind().dialect.name == "postgresql":
        expr = " & ".join(
            "(" + " | ".join("(" + " & ".join(map(_lexeme, way)) + ")" for way in group) + ")"
            for group in groups
        )
        return Case.search_text.op("@@")(cast(expr, TSQUERY))

    def like(term: str) -> ColumnElement[bool]:
        escaped = _lexeme(term).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return Case.search_text.like(f"% {escaped} %", escape="\\")

    return and_(*(or_(*(and_(*map(like, way)) for way in group)) for group in groups))


def filtered(
    session: Session, f: CaseFilter, stmt: Select | None = None, now: datetime | None = None
) -> Select:
    """The cases matching the filter, newest registered first (by id: a full-text match then reads
    the newest cases first instead of sorting all its matches)."""
    stmt = select(Case) if stmt is None else stmt
    clauses: list[ColumnElement[bool]] = []
    if f.status:
        clauses.append(Case.status == f.status)
    if f.department_id:
        clauses.append(Case.department_id == f.department_id)
    for column, value in (
        (Case.category, f.category),
        (Case.district, f.district),
        (Case.channel, f.channel),
    ):
        if value:
            clauses.append(column == value)
    if f.date_from:
        clauses.append(Case.created_at >= _day_start(f.date_from))
    if f.date_to:
        clauses.append(Case.created_at < _day_start(f.date_to + timedelta(days=1)))
    if f.overdue:
        clauses.append(and_(Case.status.in_(DEADLINE_STATUSES), Case.deadline < (now or utcnow())))
    if f.supervised:
        clauses.append(Case.supervised.is_(True))
    text = text_clause(session, f.q)
    if text is not None:
        clauses.append(text)
    return stmt.where(*clauses).order_by(Case.id.desc())


def page_of(session: Session, stmt: Select, page: int = 1, per_page: int = PAGE_SIZE) -> CasePage:
    """One page of a case query (ordered newest id first, as `filtered` does), with its total counted
    up to COUNT_LIMIT. The matching ids are fetched unordered first (PostgreSQL takes the search
    index for that); when there are no more than COUNT_LIMIT the page is cut from them, otherwise the
    ordered query reads the newest cases until it has the page (a common word matches soon)."""
    per_page = max(1, min(per_page, 500))
    ids = list(session.scalars(stmt.order_by(None).with_only_columns(Case.id).limit(COUNT_LIMIT + 1)))
    capped = len(ids) > COUNT_LIMIT
    total = min(len(ids), COUNT_LIMIT)
    pages = max(1, -(-total // per_page))
    page = max(1, min(page, pages))
    start = (page - 1) * per_page
    if capped:
        cases = list(session.scalars(stmt.limit(per_page).offset(start)))
    else:
        wanted = sorted(ids, reverse=True)[start : start + per_page]
        cases = list(session.scalars(select(Case).where(Case.id.in_(wanted)).order_by(Case.id.desc())))
    return CasePage(cases=cases, total=total, capped=capped, page=page, pages=pages)


def find(session: Session, f: CaseFilter, page: int = 1, per_page: int = PAGE_SIZE) -> CasePage:
    return page_of(session, filtered(session, f), page, per_page)


def departments_by_name(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Department.name, Department.id)).all())


def as_row(case: Case, *, full_phone: bool = False) -> dict[str, object]:
    """A case as the CLI's JSON lines and the export show it. The caller's number is masked unless
    `full_phone` (hotline.masking), and hidden for a confidential case."""
    phone = "" if case.confidential and not full_phone else case.caller_number
    return {
        "case_number": case.case_number,
        "status": case.status,
        "status_label": label(case.status),
        "department": case.department.name if case.department else None,
        "category": case.category,
        "channel": case.channel,
        "district": case.district,
        "topic": case.topic,
        "content": case.content,
        "phone": phone if full_phone else mask_phone(phone),
        "created_at": case.created_at.isoformat(),
        "deadline": case.deadline.isoformat() if case.deadline else None,
        "supervised": case.supervised,
    }


EXPORT_COLUMNS = (
    ("工单编号", "case_number"), ("状态", "status_label"), ("承办部门", "department"), ("类别", "category"),
    ("来源", "channel"), ("区县", "district"), ("标题", "topic"), ("诉求内容", "content"),
    ("来电号码", "phone"), ("登记时间", "created_at"), ("办理时限", "deadline"),
)  # fmt: skip


def export_xlsx(cases: list[Case], *, full_phone: bool = False) -> bytes:
    """The cases as an Excel workbook (one sheet, a header row, Beijing times)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("工单")
    sheet.append([title for title, _ in EXPORT_COLUMNS])
    for case in cases:
        row = as_row(case, full_phone=full_phone)
        row["channel"] = CHANNEL_LABELS.get(case.channel, case.channel)
        row["created_at"] = _local(case.created_at)
        row["deadline"] = _local(case.deadline)
        sheet.append([_cell(row[key]) for _, key in EXPORT_COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _local(moment: datetime | None) -> str:
    return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if moment else ""


def _cell(value: object) -> object:
    """No formulas from citizens' text in the workbook (CSV/Excel injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return "" if value is None else value
