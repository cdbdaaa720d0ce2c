"""Case-work benchmark: N cases (default 100k, real message texts from the bundled sample), then
the agent's case page, the caller-history lookup, the daily brief of a day with 5,000 cases, the
deadline scan and the full-text case search. Prints p50/p99 and totals.

    python bench/casework.py [--cases 100000] [--day-cases 5000] [--database-url URL]
    python bench/casework.py --search-only --cases 1000000 --database-url postgresql+psycopg://...
    python bench/casework.py --brief-only --day-cases 3000   (only the daily brief and its hot topics)

Targets: caller history < 10 ms p99, daily brief < 5 s (issue #4); case search at 1 million cases on
PostgreSQL p99 <= 50 ms (issue #11; words of the sample's topics, phone numbers and case numbers, each a
first page of 50 with its count).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STATUSES = ["closed"] * 6 + ["referred", "accepted", "in_progress", "replied", "registered"]
CATEGORIES = ["咨询", "求助", "投诉", "举报", "建议", "表扬"]
# the search index as casework_0010 makes it (dropped for the bulk load, built once afterwards)
INDEX_DDL = "CREATE INDEX ix_case_search_terms ON case_search USING gin (terms) WITH (fastupdate = off)"
DISTRICTS = ["东城区", "西城区", "南湖区", "北塘区", "高新区", "经开区"]


def percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"p50 {statistics.median(ms):7.2f} ms   p99 {p99:7.2f} ms   (n={len(ms)})"


def timed(fn, runs: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def load_cases(n: int, day_cases: int, brief_day: date, events_too: bool = True) -> list[str]:
    """Bulk-insert n cases (day_cases of them on brief_day) with their search terms and (events_too)
    two timeline events each; returns the caller numbers used."""
    from functools import cache

    from sqlalchemy import insert, select

    from casework.models import Case, CaseEvent, Department
    from casework.search import index_text
    from hotline.db import session_scope
    from hotline.users import hash_secret

    texts = [json.loads(line) for line in (ROOT / "data/casework/seed_messages.jsonl").open(encoding="utf-8")]
    rng = random.Random(12345)
    callers = [f"13{rng.randrange(10**9):09d}" for _ in range(max(n // 5, 1))]
    password = hash_secret("123456")
    day_start = datetime.combine(brief_day, dtime(0), UTC) - timedelta(hours=8)
    with session_scope() as s:
        departments = list(s.scalars(select(Department.id)))
    @cache
    def terms(message: int, district: str) -> str:
        msg = texts[message]
        return index_text(case_number="", caller_number="", topic=msg.get("topic"), content=msg["content"],
                          district=district)  # fmt: skip

    batch, events, case_id = [], [], 0
    started = time.perf_counter()
    for i in range(n):
        on_day = i < day_cases
        created = (
            day_start + timedelta(seconds=rng.randrange(86400))
            if on_day
            else day_start - timedelta(seconds=rng.randrange(1, 180 * 86400))
        )
        status = rng.choice(STATUSES)
        message = rng.randrange(len(texts))
        msg = texts[message]
        case_id += 1
        local_day = (created + timedelta(hours=8)).strftime("%Y%m%d")
        caller, district = rng.choice(callers), rng.choice(DISTRICTS)
        batch.append(
            {
                "id": case_id,
                "case_number": f"{local_day}{case_id:07d}",
                "password_hash": password,
                "channel": rng.choice(["phone", "phone", "web", "voicemail"]),
                "caller_number": caller,
                "category": rng.choice(CATEGORIES),
                "topic": (msg.get("topic") or "")[:200],
                "content": msg["content"],
                "district": district,
                "search_text": f" '{local_day}{case_id:07d}' '{caller}'{terms(message, district)}",
                "urgency": "normal",
                "status": status,
                "department_id": None if status == "registered" else rng.choice(departments),
                "deadline": created + timedelta(days=rng.choice([2, 5, 10, 15])),
                "flags": [],
                "satisfaction": rng.choice(["满意", "基本满意", "不满意", None])
                if status == "closed"
                else None,
                "supervised": rng.random() < 0.002,
                "created_at": created,
                "updated_at": created,
                "replied_at": created + timedelta(days=rng.randrange(1, 12)) if status == "closed" else None,
                "closed_at": created + timedelta(days=12) if status == "closed" else None,
                "created_by": "bench",
            }
        )
        if events_too:
            events.append(
                {"case_id": case_id, "at": created, "actor": "bench", "action": "registered", "comment": ""}
            )
            events.append(
                {"case_id": case_id, "at": created, "actor": "bench", "action": "referred", "comment": ""}
            )
        if len(batch) == 5000 or i == n - 1:
            with session_scope() as s:
                s.execute(insert(Case), batch)
                if events:
                    s.execute(insert(CaseEvent), events)
            batch, events = [], []
    elapsed = time.perf_counter() - started
    print(f"loaded {n:,} cases (events: {events_too}) in {elapsed:.1f} s ({n / elapsed:,.0f} cases/s)")
    return callers


LOAD_SQL = """
INSERT INTO cases (id, case_number, password_hash, channel, caller_number, confidential, category, topic,
    content, district, urgency, status, department_id, deadline, flags, satisfaction, supervised,
    created_by, created_at, updated_at, replied_at, closed_at, search_text)
SELECT g, number, :password, channel, caller, false, category, m.topic, m.content, d.district, 'normal',
    status, CASE WHEN status = 'registered' THEN NULL ELSE department END,
    created + make_interval(days => deadline_days), '[]',
    CASE WHEN status = 'closed' THEN satisfaction END, supervised, 'bench', created, created,
    CASE WHEN status = 'closed' THEN created + make_interval(days => reply_days) END,
    CASE WHEN status = 'closed' THEN created + interval '12 days' END,
    (' ''' || number || ''' ''' || caller || ''' ' || m.terms || ' ' || d.terms)::tsvector
FROM (
    SELECT g, created,
        to_char(created AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD') || lpad(g::text, 7, '0') AS number,
        '13' || lpad(((floor(random() * :callers)::bigint * 2654435761) % 1000000000)::text, 9, '0') AS caller,
        (ARRAY['phone', 'phone', 'web', 'voicemail'])[1 + floor(random() * 4)::int] AS channel,
        (CAST(:categories AS text[]))[1 + floor(random() * 6)::int] AS category,
        (CAST(:statuses AS text[]))[1 + floor(random() * 11)::int] AS status,
        (CAST(:departments AS int[]))[1 + floor(random() * :department_count)::int] AS department,
        (ARRAY[2, 5, 10, 15])[1 + floor(random() * 4)::int] AS deadline_days,
        (ARRAY['满意', '基本满意', '不满意', NULL])[1 + floor(random() * 4)::int] AS satisfaction,
        1 + floor(random() * 11)::int AS reply_days,
        random() < 0.002 AS supervised,
        floor(random() * :messages)::int AS mi, floor(random() * 6)::int AS di
    FROM (SELECT g, CAST(:until AS timestamptz) - make_interval(secs => 1 + floor(random() * 180 * 86400)) AS created
          FROM generate_series(1, :n) g) AS moments
) AS x
JOIN bench_msgs m ON m.i = x.mi
JOIN bench_districts d ON d.i = x.di
"""
FILL_SQL = (
    "INSERT INTO case_search (case_id, terms) "
    "SELECT id, search_text || ('''~b' || (id / 4096) || '''')::tsvector FROM cases"
)  # as casework_0010 fills it


def load_cases_sql(n: int) -> list[str]:
    """PostgreSQL, --search-only: the same kind of cases as load_cases (messages, districts, statuses,
    channels, callers, six months) generated by the server in one INSERT ... SELECT (minutes instead of
    an hour on a shared machine); the search table filled afterwards in one statement, as casework_0010
    fills it. Returns the caller numbers used."""
    from sqlalchemy import select, text

    from casework.models import Department
    from casework.search import index_text
    from hotline.db import get_engine, session_scope
    from hotline.users import hash_secret

    texts = [json.loads(line) for line in (ROOT / "data/casework/seed_messages.jsonl").open(encoding="utf-8")]
    callers = [f"13{(k * 2654435761) % 10**9:09d}" for k in range(max(n // 5, 1))]
    with session_scope() as s:
        departments = list(s.scalars(select(Department.id)))
    messages = [
        {"i": i, "topic": (m.get("topic") or "")[:200], "content": m["content"],
         "terms": index_text(case_number="", caller_number="", topic=m.get("topic"), content=m["content"])}
        for i, m in enumerate(texts)
    ]  # fmt: skip
    districts = [
        {"i": i, "district": d, "terms": index_text(case_number="", caller_number="", district=d)}
        for i, d in enumerate(DISTRICTS)
    ]
    started = time.perf_counter()
    with get_engine().begin() as conn:
        conn.execute(text("CREATE TEMP TABLE bench_msgs (i int, topic text, content text, terms text)"))
        conn.execute(text("CREATE TEMP TABLE bench_districts (i int, district text, terms text)"))
        conn.execute(text("INSERT INTO bench_msgs VALUES (:i, :topic, :content, :terms)"), messages)
        conn.execute(text("INSERT INTO bench_districts VALUES (:i, :district, :terms)"), districts)
        conn.execute(text("ALTER TABLE cases DISABLE TRIGGER case_search_sync"))
        conn.execute(text("SELECT setseed(0.12345)"))
        conn.execute(
            text(LOAD_SQL),
            {"password": hash_secret("123456"), "callers": len(callers), "categories": CATEGORIES,
             "statuses": STATUSES, "departments": departments, "department_count": len(departments),
             "messages": len(texts), "until": datetime(2026, 11, 24, 16, tzinfo=UTC), "n": n},
        )  # fmt: skip
        conn.execute(text("ALTER TABLE cases ENABLE TRIGGER case_search_sync"))
        conn.execute(text("SELECT setval('cases_id_seq', :n)"), {"n": n})
        elapsed = time.perf_counter() - started
        print(f"loaded {n:,} cases (no events) in {elapsed:.1f} s ({n / elapsed:,.0f} cases/s)", flush=True)
        start = time.perf_counter()
        conn.execute(text(FILL_SQL))
        print(f"search table filled in {time.perf_counter() - start:.1f} s", flush=True)
    return callers


def search_bench(n: int, callers: list[str], runs: int = 1000) -> None:
    """The full-text case search as the queue pages run it: a page of 50 newest first and its total
    (exact up to casework.search.FETCH_ALL matches, then 约 the index's count; with filters, up to
    COUNT_LIMIT)."""
    from sqlalchemy import select, text

    import casework
    from casework import search
    from hotline.db import get_engine, session_scope
    from kb.search.analysis import words

    if get_engine().dialect.name == "postgresql":
        with get_engine().begin() as conn:
            conn.execute(text("ANALYZE cases"))
            conn.execute(text("ANALYZE case_search"))
    texts = [json.loads(line) for line in (ROOT / "data/casework/seed_messages.jsonl").open(encoding="utf-8")]
    rng = random.Random(99)
    topic_words = [w for m in texts for w in words(m.get("topic") or "") if len(w) > 1]
    with session_scope() as s:
        ids = [rng.randrange(1, n + 1) for _ in range(200)]
        numbers = list(s.scalars(select(casework.Case.case_number).where(casework.Case.id.in_(ids))))
        kinds = {
            "one word": lambda: rng.choice(topic_words),
            "two words": lambda: f"{rng.choice(topic_words)} {rng.choice(topic_words)}",
            "phone": lambda: rng.choice(callers),
            "case number": lambda: rng.choice(numbers),
        }
        # beside the target: a later page, and a word within a status (a queue page's search)
        more = {
            "one word, page 3": ({}, 3),
            "one word, status closed": ({"status": "closed"}, 1),
            "one word, status replied": ({"status": "replied"}, 1),
        }

        def run(kind: str, queries: list[str], filters: dict[str, str], page: int) -> list[float]:
            for q in queries[:20]:
                search.find(s, search.CaseFilter(q=q, **filters), page=page)  # warm up
            hits, capped, estimated, samples = [], 0, 0, []
            for q in queries:
                start = time.perf_counter()
                result = search.find(s, search.CaseFilter(q=q, **filters), page=page)
                samples.append(time.perf_counter() - start)
                hits.append(result.total)
                capped += result.capped
                estimated += result.estimated
            print(
                f"case search, {kind:<24} {percentiles(samples)}   median hits {statistics.median(hits):,.0f}"
                f"{'+' if capped > len(queries) // 2 else ''}   past the count limit: {capped / len(queries):.0%}"
                f", 约 (the index's count): {estimated / len(queries):.0%}"
            )
            return samples

        everything: list[float] = []
        for kind, make in kinds.items():
            everything += run(kind, [make() for _ in range(runs // len(kinds))], {}, 1)
        print(f"case search over {n:,} cases, all   {percentiles(everything)}   target p99 <= 50 ms (PostgreSQL)")
        for kind, (filters, page) in more.items():
            run(kind, [rng.choice(topic_words) for _ in range(runs // len(kinds))], filters, page)


def brief_bench(session, day: date, day_cases: int, home: Path) -> None:  # type: ignore[no-untyped-def]
    """The daily brief of `day` (figures, hot topics, HTML and PDF), 3 runs, and its hot topics alone."""
    from sqlalchemy import select

    import casework
    from casework.hottopics import hot_topics

    overdue = []

    def brief() -> None:
        b = casework.daily_brief(session, day)
        casework.render_daily_brief_html(b)
        casework.render_daily_brief_pdf(b, home / "brief.pdf")
        overdue.append(b.overdue_total)

    runs = timed(brief, 3)
    print(
        f"daily brief, {day_cases:,} cases (HTML + PDF; {overdue[-1]:,} overdue in all)   "
        f"best {min(runs):.2f} s   worst {max(runs):.2f} s   target < 5 s"
    )
    start = datetime.combine(day, dtime(0), UTC) - timedelta(hours=8)  # the day in Beijing time
    of_the_day = select(casework.Case).where(
        casework.Case.created_at >= start, casework.Case.created_at < start + timedelta(days=1)
    )
    texts = {c.case_number: f"{c.topic} {c.content[:300]}" for c in session.scalars(of_the_day)}
    runs = timed(lambda: hot_topics(texts), 3)
    print(f"  of which hot topics ({len(texts):,} cases clustered)   best {min(runs):.2f} s   worst {max(runs):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--day-cases", type=int, default=5_000)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temporary home")
    parser.add_argument("--search-only", action="store_true", help="load cases (no events), run the search")
    parser.add_argument("--reuse", action="store_true", help="with --search-only: search the cases already in --database-url")
    parser.add_argument("--brief-only", action="store_true", help="load cases, time only the daily brief")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="hotline-bench-case-"))
    os.environ["HOTLINE_HOME"] = str(home)
    if args.database_url:
        os.environ["HOTLINE_DATABASE_URL"] = args.database_url
    from hotline import bootstrap

    bootstrap.init()
    from sqlalchemy import func, select, text

    import casework
    from hotline.db import get_engine, session_scope

    brief_day = date(2026, 11, 24)
    if args.reuse:
        with session_scope() as s:
            callers = list(s.scalars(select(casework.Case.caller_number).limit(20_000)))
            n = s.scalar(select(func.max(casework.Case.id))) or 0
        search_bench(n, callers)
        return
    postgres = get_engine().dialect.name == "postgresql"
    if postgres:  # bulk load: the search index is built once afterwards (as a restore would)
        with get_engine().begin() as conn:
            conn.execute(text("DROP INDEX ix_case_search_terms"))
    if postgres and args.search_only:
        callers = load_cases_sql(args.cases)
    else:
        callers = load_cases(args.cases, args.day_cases, brief_day, events_too=not args.search_only)
    if postgres:
        start = time.perf_counter()
        with get_engine().begin() as conn:
            conn.execute(text("SET maintenance_work_mem = '512MB'"))
            conn.execute(text(INDEX_DDL))
        print(f"search index built in {time.perf_counter() - start:.1f} s", flush=True)
        start = time.perf_counter()
        with get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE cases"))  # as autovacuum would after a load
            conn.execute(text("VACUUM ANALYZE case_search"))
        print(f"vacuum after the load {time.perf_counter() - start:.1f} s", flush=True)
    print(f"database: {get_engine().url.render_as_string(hide_password=True)}")
    if args.search_only:
        search_bench(args.cases, callers)
        return
    if args.brief_only:
        with session_scope() as s:
            brief_bench(s, brief_day, args.day_cases, home)
        return
    rng = random.Random(7)

    with session_scope() as s:
        sample_numbers = [rng.choice(callers) for _ in range(500)]

        def history() -> None:
            number = sample_numbers[rng.randrange(len(sample_numbers))]
            casework.cases_for_caller(s, number, limit=20)
            casework.repeat_caller(s, number)

        history()
        print(
            f"caller history (cases + repeat flag)  {percentiles(timed(history, 500))}   target p99 < 10 ms"
        )

        ids = [rng.randrange(1, args.cases + 1) for _ in range(200)]
        numbers = {
            c.id: c.case_number for c in s.scalars(select(casework.Case).where(casework.Case.id.in_(ids)))
        }

        def case_page() -> None:
            case = casework.get_case(s, numbers[ids[rng.randrange(len(ids))]])
            casework.timeline(s, case)
            casework.cases_for_caller(s, case.caller_number)
            casework.find_duplicates(s, case)
            casework.suggest_department(s, f"{case.topic} {case.content}")
            s.expunge_all()

        case_page()
        print(f"agent case page (domain calls)        {percentiles(timed(case_page, 200))}")

        brief_bench(s, brief_day, args.day_cases, home)

        start = time.perf_counter()
        counts = casework.scan_deadlines(s)
        first = time.perf_counter() - start
        start = time.perf_counter()
        casework.scan_deadlines(s)
        second = time.perf_counter() - start
        s.rollback()
        print(
            f"deadline scan over {args.cases:,} cases: first {first:.2f} s "
            f"(marked {counts['newly_red']:,} red, {counts['newly_yellow']:,} yellow), repeat {second:.2f} s"
        )


if __name__ == "__main__":
    main()
