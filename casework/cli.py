"""`hotline case ...` and `hotline report ...` commands."""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from casework.calendar import FIRST_DAY, LAST_DAY

if TYPE_CHECKING:
    from casework.models import Case

case_app = typer.Typer(help="Cases (工单): list, search, scans, outbox delivery.", no_args_is_help=True)
report_app = typer.Typer(help="Reports: the daily key-issues brief (每日要情).", no_args_is_help=True)


def _ready() -> None:
    from hotline import bootstrap

    bootstrap.init()


@case_app.command("scan")
def scan() -> None:
    """Deadline scan: mark cases due soon (yellow) or overdue (red) and queue reminders."""
    import casework
    from hotline.db import session_scope

    _ready()
    with session_scope() as session:
        counts = casework.scan_deadlines(session)
    typer.echo(" ".join(f"{k}={v}" for k, v in counts.items()))


def _print_cases(cases: list[Case], as_json: bool, assisting: dict[int, list[str]] | None = None) -> None:
    """One line per case: JSON objects (casework.search.as_row, phone masked; with `assisting`, the key
    "assisting": the case's assisting departments) or columns for reading."""
    import json

    from casework.search import as_row

    for case in cases:
        row = as_row(case)
        if assisting is not None:
            row["assisting"] = assisting.get(case.id, [])
        if as_json:
            typer.echo(json.dumps(row, ensure_ascii=False))
        else:
            text = str(row["topic"] or row["content"] or "").replace("\n", " ")[:40]
            typer.echo(
                f"{row['case_number']}  {row['status_label']}  {row['department'] or '-'}  "
                f"{str(row['created_at'])[:16]}  {text}"
            )


@case_app.command("list")
def list_cases(
    status: str = typer.Option("", "--status", help="Only this status (e.g. referred)."),
    department: str = typer.Option(
        "", "--department", help="Only this handling (lead) department (its name)."
    ),
    assisting: bool = typer.Option(
        False, "--assisting", help="With --department: also the cases it assists on (协办)."
    ),
    overdue: bool = typer.Option(False, "--overdue", help="Only open cases past their deadline."),
    limit: int = typer.Option(100, "--limit", min=1, max=1_000_000, help="At most this many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """List cases, newest first."""
    from sqlalchemy import select

    import casework
    from casework import search
    from casework.assisting import lead_or_assisting, names_by_case
    from hotline.db import session_scope

    if status and status not in casework.STATUS_LABELS:
        raise typer.BadParameter(f"unknown status {status!r}; one of: {', '.join(casework.STATUS_LABELS)}")
    if assisting and not department:
        raise typer.BadParameter("--assisting needs --department")
    _ready()
    with session_scope() as session:
        filters = search.CaseFilter(status=status, overdue=overdue)
        base = None
        if department:
            dept = casework.department_by_name(session, department)
            if dept is None:
                raise typer.BadParameter(f"no department named {department!r}")
            if assisting:
                base = select(casework.Case).where(lead_or_assisting(dept.id))
            else:
                filters.department_id = dept.id
        cases = list(session.scalars(search.filtered(session, filters, base).limit(limit)))
        helpers = names_by_case(session, [c.id for c in cases]) if assisting else None
        _print_cases(cases, as_json, helpers)


@case_app.command("search")
def search_cases(
    query: str = typer.Argument(..., help="Case number, phone, name, words of the content or address."),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="At most this many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """Full-text case search (all words must occur)."""
    from casework import search
    from hotline.db import session_scope

    if not query.strip():
        raise typer.BadParameter("empty query")
    _ready()
    with session_scope() as session:
        wanted = search.CaseFilter(q=query)
        if session.get_bind().dialect.name != "postgresql":  # SQLite's FTS5 gives the newest in order
            _print_cases(list(session.scalars(search.filtered(session, wanted).limit(limit))), as_json)
            return
        # PostgreSQL: the pages of the search page (its id blocks), never the planner's backward walk
        # through every case for a rare word
        found: list[Case] = []
        page, per_page = 1, min(limit, 500)
        while len(found) < limit:
            result = search.find(session, wanted, page=page, per_page=per_page)
            found += result.cases
            if page >= result.pages:
                break
            page += 1
        _print_cases(found[:limit], as_json)


@case_app.command("route")
def route(
    text: str = typer.Argument("", help="The request's text (topic and content)."),
    batch: str = typer.Option("", "--batch", help="A file with one text per line ('-': standard input)."),
    as_json: bool = typer.Option(False, "--json", help="JSON: one object per text (per line with --batch)."),
    retrain: bool = typer.Option(
        False, "--retrain", help="Train a new model version first (bundled data + own cases)."
    ),
) -> None:
    """Suggest the category and the handling departments of a request, with confidences and reasons."""
    import json
    import sys

    import casework
    from casework import routing_model
    from hotline.db import session_scope

    if not retrain and not batch and not text.strip():
        raise typer.BadParameter("give a TEXT, --batch FILE or --retrain")
    _ready()
    with session_scope() as session:
        if retrain:
            model = routing_model.train(session)
            path = routing_model.save(model)
            counts = " ".join(f"{k}={v}" for k, v in model.examples.items())
            typer.echo(f"trained {path.name}: {counts}", err=as_json)
        if batch:
            lines = (sys.stdin if batch == "-" else Path(batch).open(encoding="utf-8")).read().splitlines()
        else:
            lines = [text] if text.strip() else []
        for line in lines:
            found = casework.route(session, line)
            if as_json:
                typer.echo(json.dumps(found, ensure_ascii=False))
                continue
            departments = found["departments"]
            assert isinstance(departments, list)
            named = "，".join(
                f"{d['name']} {d['confidence']:.2f}（{'、'.join(d['reasons'])}）" for d in departments
            )
            typer.echo(f"{found['category'] or '-'}\t{named or '无建议'}")


@case_app.command("deliver")
def deliver(
    loop: bool = typer.Option(False, "--loop", help="Keep delivering (every --interval seconds)."),
    interval: float = typer.Option(10.0, help="Seconds between rounds with --loop."),
) -> None:
    """Deliver the outbox (SMS via Kannel, fax) once, or in a loop."""
    import casework
    from hotline.db import new_session

    _ready()
    transports = casework.default_transports()
    while True:
        counts = casework.deliver_outbox(new_session, transports)
        typer.echo(" ".join(f"{k}={v}" for k, v in counts.items()))
        if not loop:
            break
        time.sleep(interval)


@case_app.command("seed-demo")
def seed_demo(
    count: int = typer.Option(200, min=1, max=100_000, help="How many demo cases."),
    days: int = typer.Option(7, min=1, max=365, help="Spread over the last N days."),
) -> None:
    """Load demo cases (real messages from the bundled sample) for the dashboard."""
    from casework.demo import seed_demo as run
    from hotline.db import session_scope

    _ready()
    with session_scope() as session:
        n = run(session, count, days=days)
    typer.echo(f"demo cases created: {n}")


def _parse_day(value: str | None) -> date:
    if not value:
        return datetime.now().date()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"expected a date like 2026-11-25, got {value!r}") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise typer.BadParameter(f"expected a date from {FIRST_DAY} to {LAST_DAY}, got {value}")
    return day


@report_app.command("daily")
def daily(
    day: str = typer.Option(None, "--date", help="Day (YYYY-MM-DD, Beijing time); default today."),
    out_dir: str = typer.Option(".", "-o", "--out", help="Directory for the HTML and PDF files."),
) -> None:
    """Write the daily brief (每日要情) as daily-brief-<date>.html and .pdf."""
    import casework
    from hotline.db import session_scope

    when, out = _parse_day(day), Path(out_dir)
    _ready()
    with session_scope() as session:
        brief = casework.daily_brief(session, when)
    out.mkdir(parents=True, exist_ok=True)
    html = out / f"daily-brief-{when.isoformat()}.html"
    html.write_text(casework.render_daily_brief_html(brief), encoding="utf-8")
    pdf = casework.render_daily_brief_pdf(brief, out / f"daily-brief-{when.isoformat()}.pdf")
    typer.echo(f"{html}\n{pdf}")
