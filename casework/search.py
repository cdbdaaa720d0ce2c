"""Finding cases: filters (status, department, category, district, channel, dates, overdue,
supervised), full-text search over case number, phone, name, content and address with the project's
Chinese analysis (jieba, kb.search.analysis), pages, the JSON lines of the CLI and the Excel export.

Each case keeps its search terms in `cases.search_text` (quoted lexemes, set at registration); each
database searches them in a table of its own, kept in step with the column by triggers (casework_0010):
on PostgreSQL the narrow table case_search (a tsvector with a GIN index, matched with '@@'), on SQLite the
FTS5 table case_fts (asked with MATCH). docs/casework.md, "Work queues and search"."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    cast,
    false,
    func,
    literal_column,
    select,
    table,
)
from sqlalchemy import column as sql_column
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import Session

from casework.calendar import LOCAL_TZ
from casework.lifecycle import DEADLINE_STATUSES, label
from casework.models import Case, Department
from hotline.db import utcnow
from hotline.masking import mask_phone
from kb.search.analysis import char_bigrams, fold, fold_query, tokens, words

PAGE_SIZE = 50
_HAN_ONLY = re.compile(r"[\u4e00-\u9fff]+")
COUNT_LIMIT = 1_000  # counts above this show as "1000+"
# PostgreSQL, a search without other filters (casework_0010's case_search):
ID_BLOCK = 4096  # ids per block lexeme in case_search.terms
DENSE_RANGE = 2 * ID_BLOCK  # more matches than this in a range of blocks: look at its newer half first
FETCH_ALL = 500  # up to this many index matches all are read (an exact total); beyond, 约 the index's count
MAX_PAGES = 200  # pages offered of an estimated total (10,000 cases at 50 a page)
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
    """The search terms of a case: its numbers and contact whole (folded as a query is) and the contact's
    words, jieba's words and sub-words of the text, and the character bigrams of its Chinese (they find
    what jieba segments differently in text and query)."""
    numbers = [fold(n) for n in (case_number, caller_number, contact) if n]  # as a query is folded
    text = " ".join(t for t in (name, topic, content, district, address) if t)
    parts = words(contact) if contact else []  # an address's parts, as a query gives them
    terms = dict.fromkeys(t.replace(" ", "") for t in [*numbers, *parts, *tokens(text), *char_bigrams(text)])
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
    estimated: bool = False  # total is the search index's count (shown as 约 N)


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


def tsquery_text(query: str) -> str | None:
    """The query as a tsquery (PostgreSQL) string: every word must occur, as one of its ways; None when
    the query has no words."""
    groups = query_groups(query)
    if not groups:
        return None
    return " & ".join(
        "(" + " | ".join("(" + " & ".join(map(_lexeme, way)) + ")" for way in group) + ")" for group in groups
    )


def text_clause(session: Session, query: str) -> ColumnElement[bool] | None:
    """Every word of the query must occur (one of its ways); None for an empty query."""
    if not (query or "").strip():
        return None
    groups = query_groups(query)
    if not groups:
        return false()
    if session.get_bind().dialect.name == "postgresql":
        return Case.id.in_(_matching(tsquery_text(query) or ""))
    match = " AND ".join(
        "(" + " OR ".join("(" + " AND ".join(map(_fts_term, way)) + ")" for way in group) + ")"
        for group in groups
    )
    return Case.id.in_(select(FTS.c.rowid).where(literal_column(FTS.name).op("MATCH")(match)))


# PostgreSQL: the narrow table with the GIN index (casework_0010); its tsquery is one named parameter,
# so page_of can run the same statement over blocks of ids (a value for TSQUERY_PARAM)
SEARCH = table("case_search", sql_column("case_id"), sql_column("terms"))
TSQUERY_PARAM = "case_tsquery"
_TSQUERY_OPTION = "hotline_case_tsquery"  # execution options `filtered` sets for page_of
_TEXT_ONLY_OPTION = "hotline_case_text_only"


def _matching(tsquery: str) -> Select:
    return select(SEARCH.c.case_id).where(
        SEARCH.c.terms.op("@@")(cast(bindparam(TSQUERY_PARAM, tsquery), TSQUERY))
    )


FTS = table("case_fts", sql_column("rowid"))  # SQLite: FTS5 over cases.search_text (casework_0010)
_FTS_SEPARATORS = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")  # what the FTS5 tokenizer splits on


def _fts_term(term: str) -> str:
    """A term as FTS5 strings matching its quoted lexeme, one token each (the table's tokenizer keeps a
    lexeme whole, quotes included, unless it holds a separator: then its parts must all be there)."""
    parts = (p for p in _FTS_SEPARATORS.split(_lexeme(term)) if p)
    return " AND ".join('"' + p.replace('"', '""') + '"' for p in parts)


def filtered(
    session: Session, f: CaseFilter, stmt: Select | None = None, now: datetime | None = None
) -> Select:
    """The cases matching the filter, newest registered first (by id). `stmt`, a view's statement,
    narrows the cases by WHERE clauses only (no joins: page_of reads a search without other clauses
    from the search table alone)."""
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
    # no filter but the words: a PostgreSQL search then reads the narrow table alone (page_of)
    text_only = not clauses and stmt.whereclause is None
    text = text_clause(session, f.q)
    if text is not None:
        clauses.append(text)
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.execution_options(
                **{_TSQUERY_OPTION: tsquery_text(f.q), _TEXT_ONLY_OPTION: text_only}
            )
    return stmt.where(*clauses).order_by(Case.id.desc())


def page_of(session: Session, stmt: Select, page: int = 1, per_page: int = PAGE_SIZE) -> CasePage:
    """One page of a case query (ordered newest id first, as `filtered` does), with its total counted
    up to COUNT_LIMIT. The matching ids are fetched unordered first (SQLite's FTS5 table gives them for
    a search); when there are no more than COUNT_LIMIT the page is cut from them, otherwise the ordered
    query reads the newest cases until it has the page. A PostgreSQL search: `_search_page` without other filters,
    `_filtered_search_page` with them."""
    per_page = max(1, min(per_page, 500))
    options = stmt.get_execution_options()
    tsquery = options.get(_TSQUERY_OPTION)
    if tsquery is not None:
        if options.get(_TEXT_ONLY_OPTION):
            return _search_page(session, tsquery, page, per_page)
        return _filtered_search_page(session, stmt, tsquery, page, per_page)
    ids_stmt = stmt.order_by(None).with_only_columns(Case.id)
    ids = list(session.scalars(ids_stmt.limit(COUNT_LIMIT + 1)))
    capped = len(ids) > COUNT_LIMIT
    total = min(len(ids), COUNT_LIMIT)
    pages = max(1, -(-total // per_page))
    page = max(1, min(page, pages))
    start = (page - 1) * per_page
    if capped:
        return CasePage(list(session.scalars(stmt.limit(per_page).offset(start))), total, capped, page, pages)
    return CasePage(
        _cases(session, sorted(ids, reverse=True)[start : start + per_page]), total, capped, page, pages
    )


def all_of(session: Session, stmt: Select, limit: int = EXPORT_LIMIT) -> list[Case]:
    """Every case of a query, newest first, up to `limit` (an Excel export). A PostgreSQL word search
    reads its matches block by block from the newest ids as its pages do (`_scan_blocks`), never as one
    ORDER BY id LIMIT statement, which the planner may run as a walk through every case for a rare word."""
    options = stmt.get_execution_options()
    tsquery = options.get(_TSQUERY_OPTION)
    if tsquery is None:
        return list(session.scalars(stmt.limit(limit)))
    ids_stmt = _matching(tsquery) if options.get(_TEXT_ONLY_OPTION) else stmt.order_by(None).with_only_columns(Case.id)
    ids = _newest_ids(session, ids_stmt, tsquery, limit)
    return [case for chunk in range(0, len(ids), 1000) for case in _cases(session, ids[chunk : chunk + 1000])]


def _cases(session: Session, ids: list[int]) -> list[Case]:
    return list(session.scalars(select(Case).where(Case.id.in_(ids)).order_by(Case.id.desc())))


def _search_page(session: Session, tsquery: str, page: int, per_page: int) -> CasePage:
    """PostgreSQL, words and no other filter: the narrow table alone. Up to FETCH_ALL index matches
    are all read (an exact total, the page cut from them); more are counted by the index alone (约 N:
    `index_count`) and the page found block by block from the newest ids (`_newest_ids`). Either way a
    search reads at most a few hundred rows, however common its words."""
    matching = _matching(tsquery)
    matches = index_count(session, tsquery)
    if matches <= FETCH_ALL:
        ids = sorted(session.scalars(matching), reverse=True)
        total, pages = len(ids), max(1, -(-len(ids) // per_page))
        page = max(1, min(page, pages))
        wanted = ids[(page - 1) * per_page : page * per_page]
        return CasePage(_cases(session, wanted), total, False, page, pages)
    pages = max(1, min(-(-matches // per_page), MAX_PAGES))
    page = max(1, min(page, pages))
    wanted = _newest_ids(session, matching, tsquery, page * per_page)[(page - 1) * per_page :]
    return CasePage(_cases(session, wanted), matches, False, page, pages, estimated=True)


def index_count(session: Session, tsquery: str) -> int:
    """How many entries of case_search's GIN index match (PostgreSQL), read without a row of the table:
    the bitmap index scan's own count in EXPLAIN ANALYZE of a one-row query (sequential scans off for it,
    so that the plan is that scan). Entries of rows not yet vacuumed away count too: an estimate."""
    seqscan = session.scalar(sql_text("SELECT current_setting('enable_seqscan')"))
    session.execute(sql_text("SELECT set_config('enable_seqscan', 'off', true)"))
    try:
        plan = session.scalar(
            sql_text(
                "EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) SELECT 1 FROM case_search WHERE terms @@ CAST(:q AS tsquery) LIMIT 1"
            ),
            {"q": tsquery},
        )
    finally:
        session.execute(sql_text("SELECT set_config('enable_seqscan', :v, true)"), {"v": seqscan})
    nodes = [plan[0]["Plan"] if isinstance(plan, list) else json.loads(plan)[0]["Plan"]]
    while nodes:
        node = nodes.pop()
        if node.get("Node Type") == "Bitmap Index Scan":
            return int(node.get("Actual Rows", 0))
        nodes += node.get("Plans", [])
    raise RuntimeError(f"no bitmap index scan in the plan of a case search: {plan}")


def _block(number: int) -> str:
    return _lexeme(f"~b{number}")


def _filtered_search_page(session: Session, stmt: Select, tsquery: str, page: int, per_page: int) -> CasePage:
    """PostgreSQL, words within other filters (a queue view, status, department ...): up to FETCH_ALL
    index matches are all read and filtered (an exact total); beyond, the page is found block by block
    from the newest ids (`_scan_blocks`, the filters applied in each block) and the total is 约 the
    index's count times the share of the words' matches in the blocks read that passed the filters
    (exact when every block was read)."""
    ids_stmt = stmt.order_by(None).with_only_columns(Case.id)
    matches = index_count(session, tsquery)
    if matches <= FETCH_ALL:
        candidates = list(session.scalars(_matching(tsquery)))
        ids = sorted(session.scalars(ids_stmt.where(Case.id.in_(candidates))), reverse=True)
        pages = max(1, -(-len(ids) // per_page))
        page = max(1, min(page, pages))
        return CasePage(
            _cases(session, ids[(page - 1) * per_page : page * per_page]), len(ids), False, page, pages
        )
    page = max(1, min(page, -(-matches // per_page), MAX_PAGES))
    found, lowest = _scan_blocks(session, ids_stmt, tsquery, page * per_page)
    total, estimated = len(found), lowest > 0
    if estimated:
        top = _top_block(session)
        read = index_count(session, _in_blocks(tsquery, lowest, top))
        total = max(len(found), round(matches * len(found) / read) if read else 0)
    pages = max(1, min(-(-total // per_page), MAX_PAGES))
    page = min(page, pages)
    wanted = found[(page - 1) * per_page : page * per_page]
    return CasePage(_cases(session, wanted), total, False, page, pages, estimated=estimated)


def _top_block(session: Session) -> int:
    return (session.scalar(select(func.max(SEARCH.c.case_id))) or 0) // ID_BLOCK


def _in_blocks(tsquery: str, low: int, high: int) -> str:
    """The query ANDed with the lexemes of blocks low..high."""
    return f"({tsquery}) & (" + " | ".join(_block(b) for b in range(low, high + 1)) + ")"


def _newest_ids(session: Session, ids_stmt: Select, tsquery: str, need: int) -> list[int]:
    return _scan_blocks(session, ids_stmt, tsquery, need)[0][:need]


def _scan_blocks(session: Session, ids_stmt: Select, tsquery: str, need: int) -> tuple[list[int], int]:
    """At least `need` newest ids a PostgreSQL search statement gives (all when it has fewer), newest
    first, read by blocks of ids going back from the newest, and the lowest block read (0: all were
    read). Each round asks the index for the matches in a range of blocks (the query ANDed with the
    blocks' lexemes), twice as many blocks as the round before; a range with more than DENSE_RANGE
    matches is not read whole but halved, its newer half first. So a common word costs a few blocks'
    matches, a rare one a few rounds."""
    found: list[int] = []
    high, size = _top_block(session), 1
    low = high + 1
    while high >= 0 and len(found) < need:
        low = max(0, high - size + 1)
        ranged = ids_stmt.limit(DENSE_RANGE + 1) if low < high else ids_stmt  # one block: read whole
        rows = session.scalars(ranged, {TSQUERY_PARAM: _in_blocks(tsquery, low, high)}).all()
        if len(rows) > DENSE_RANGE and low < high:
            size = (high - low + 1) // 2
            continue
        first, last = low * ID_BLOCK, (high + 1) * ID_BLOCK  # a text that holds a block's lexeme itself
        found += sorted((i for i in rows if first <= i < last), reverse=True)
        high, size = low - 1, size * 2
    return found, low


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
