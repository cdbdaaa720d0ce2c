"""`hotline kb ...` commands: import, search, reindex, export, duplicates, schedule."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from tqdm import tqdm

from hotline import bootstrap
from hotline.db import session_scope

if TYPE_CHECKING:
    from kb.schemas import SearchResults

kb_app = typer.Typer(help="Knowledge base: import, search, reindex, export.", no_args_is_help=True)
PROGRESS_FROM = 1000  # lines; smaller imports print no progress bar


def _count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


@kb_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="JSON Lines file, one document a line.")],
    publish: Annotated[
        bool, typer.Option("--publish", help="Publish the imported documents at once.")
    ] = False,
) -> None:
    """Import documents, creating or updating them by external_id; prints the counts."""
    from kb.errors import KbError
    from kb.importer import import_file

    bootstrap.init()
    try:
        lines = _count_lines(file)
    except OSError as exc:
        typer.echo(f"error: cannot read {file}: {exc.strerror}", err=True)
        raise typer.Exit(2) from exc
    bar = tqdm(total=lines, unit="doc", file=sys.stderr, disable=lines < PROGRESS_FROM)
    try:
        report = import_file(file, publish=publish, actor="cli", progress=bar)
    except KbError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    finally:
        bar.close()
    for line, reason in report.errors:
        typer.echo(f"line {line}: {reason}", err=True)
    typer.echo(" ".join(f"{k}={v}" for k, v in report.counts().items()))
    if report.read == 0:
        typer.echo("error: no document could be read", err=True)
        raise typer.Exit(1)


def _hits_json(results: SearchResults) -> list[dict]:
    return [
        {
            "id": h.id,
            "external_id": h.external_id,
            "title": h.title,
            "category": h.category,
            "score": h.score,
            "snippet": h.snippet,
            "relevance": h.relevance,
            "answered": h.answered,
        }
        for h in results.hits
    ]


@kb_app.command("search")
def search_cmd(
    query: Annotated[str | None, typer.Argument(help="What to look for.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=100, help="Number of results.")] = 10,
    category: Annotated[str | None, typer.Option("--category", "-c", help="Only this category.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
    batch: Annotated[
        Path | None, typer.Option("--batch", help="One query per line; prints one JSON array per line.")
    ] = None,
) -> None:
    """Search published documents (ranked)."""
    import kb

    if (query is None) == (batch is None):
        typer.echo("error: give either QUERY or --batch FILE", err=True)
        raise typer.Exit(2)
    bootstrap.init()
    if batch is not None:
        if not as_json:
            typer.echo("error: --batch needs --json", err=True)
            raise typer.Exit(2)
        try:
            queries = batch.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            typer.echo(f"error: cannot read {batch}: {exc}", err=True)
            raise typer.Exit(2) from exc
        with session_scope() as session:
            for q in queries:
                results = kb.search(session, q, limit=limit, category=category, channel="cli", log_gaps=False)
                typer.echo(json.dumps(_hits_json(results), ensure_ascii=False))
        return
    assert query is not None  # exactly one of QUERY and --batch
    with session_scope() as session:
        results = kb.search(session, query, limit=limit, category=category, channel="cli")
        if as_json:
            typer.echo(json.dumps(_hits_json(results), ensure_ascii=False))
            return
        if not results.hits:
            typer.echo(
                "没有找到相关内容。" + (f" 您是不是要找：{results.suggestion}" if results.suggestion else "")
            )
            return
        if not results.answered:
            typer.echo(
                "没有找到直接回答，以下是最接近的内容。"
                + (f" 您是不是要找：{results.suggestion}" if results.suggestion else "")
            )
        typer.echo(f"共 {results.total} 条结果")
        for n, hit in enumerate(results.hits, start=1):
            typer.echo(
                f"{n}. [{hit.category}] {hit.title}  ({hit.external_id}, id={hit.id}, score={hit.score})"
            )


@kb_app.command("reindex")
def reindex_cmd() -> None:
    """Rebuild the search index from the database."""
    import kb

    bootstrap.init()
    with session_scope() as session:
        n = kb.reindex(session)
    typer.echo(f"reindexed {n} documents")


@kb_app.command("duplicates")
def duplicates_cmd(
    threshold: Annotated[
        float, typer.Option(min=0.3, max=1.0, help="Share of common character bigrams (0.3-1).")
    ] = 0.6,
    as_json: Annotated[bool, typer.Option("--json", help="Groups as JSON.")] = False,
) -> None:
    """List groups of near-identical documents (candidates for merging or withdrawal)."""
    import kb

    bootstrap.init()
    with session_scope() as session:
        total = session.query(kb.Document).count()
        with tqdm(total=total, unit="doc", file=sys.stderr, disable=total < PROGRESS_FROM) as bar:
            groups = kb.duplicate_groups(session, threshold=threshold, progress=bar.update)
    if as_json:
        typer.echo(json.dumps([[m.__dict__ for m in g] for g in groups], ensure_ascii=False, indent=2))
        return
    for n, group in enumerate(groups, 1):
        typer.echo(f"第 {n} 组（{len(group)} 篇）")
        for m in group:
            typer.echo(f"  {m.id}\t{m.status}\t{m.similarity:.0%}\t{m.title}")
    typer.echo(f"{len(groups)} groups, {sum(len(g) for g in groups)} documents")


@kb_app.command("export")
def export_cmd(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: standard output).")
    ] = None,
) -> None:
    """Export every document (newest revision) as JSON Lines, re-importable with `kb import`."""
    from kb.importer import export_documents

    bootstrap.init()
    with session_scope() as session:
        if output is None:
            n = export_documents(session, sys.stdout)
        else:
            with output.open("w", encoding="utf-8") as f:
                n = export_documents(session, f)
    typer.echo(f"exported {n} documents", err=True)


@kb_app.command("schedule")
def schedule_cmd(
    loop: Annotated[bool, typer.Option("--loop", help="Keep running (every --interval seconds).")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between rounds with --loop.")] = 60.0,
) -> None:
    """Publish the approved documents whose publish time has come and withdraw those whose withdrawal
    time has (`hotline serve` does this every minute itself)."""
    import time

    from kb.documents import run_schedule

    bootstrap.init()
    while True:
        with session_scope() as session:
            done = run_schedule(session)
        typer.echo(f"published={done['published']} withdrawn={done['withdrawn']}")
        if not loop:
            return
        time.sleep(max(interval, 1.0))


@kb_app.command("recategorise")
def recategorise_cmd() -> None:
    """File the bundled policy collection by the rules of kb.content (新闻动态 / 政策法规 / 通知公告) and
    mark its COVID-era notices expired (valid_until), as a fresh install has them; audited. Prints the
    counts per category before and after."""
    from kb.content import count_table
    from kb.corpus import recategorise

    bootstrap.init()
    with session_scope() as session:
        report = recategorise(session, actor="cli")
    typer.echo(count_table(report.before, report.after))
    typer.echo(f"changed={report.changed} expired={report.expired} skipped={len(report.skipped)}")
    for external_id in report.skipped:
        typer.echo(f"skipped (an editor's newer version or review in progress): {external_id}", err=True)
