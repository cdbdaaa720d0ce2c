"""Re-filing an installed knowledge base by the content rules (`hotline kb recategorise`): documents of
the policy collection published under the old rule get the new category and the COVID-era validity as
a published revision, audited; an editor's work in progress is left alone; other documents keep theirs."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from typer.testing import CliRunner

import kb
from hotline.cli import app
from hotline.db import session_scope
from hotline.models import AuditEntry
from kb.importer import ImportRecord, import_batch

NEWS_BODY = (
    "郑州市市长王新伟主持召开市政府第47次常务会议 2月21日，郑州市市长王新伟主持召开市政府第47次常务会议。"
    "会议研究了疫情防控和复工复产工作。"
)
NOTICE_BODY = (
    "门头沟区信访办公室关于暂停接待群众来访的通知 为做好新型冠状病毒感染的肺炎疫情防控工作，即日起暂停"
    "接待群众来访，有诉求的来访人员可通过网上信访程序或来信合理表达诉求。"
)


def _install(rows: list[dict]) -> None:
    """Documents as the old build published them (category 政策法规 for all but notices)."""
    with session_scope() as s:
        records = [ImportRecord(n, r["external_id"], kb.DocumentInput(**r)) for n, r in enumerate(rows, 1)]
        import_batch(s, records, publish=True, actor="system")


def test_recategorise_files_the_installed_policy_collection_by_the_rules(sqlite_env) -> None:  # type: ignore[no-untyped-def]
    _install(
        [
            {
                "external_id": "ncp-news",
                "title": "郑州市市长王新伟主持召开市政府第47次常务会议",
                "category": "政策法规",
                "body": NEWS_BODY,
            },
            {
                "external_id": "ncp-notice",
                "title": "门头沟区信访办公室关于暂停接待群众来访的通知",
                "category": "通知公告",
                "body": NOTICE_BODY,
            },
            {
                "external_id": "ncp-wip",
                "title": "国务院联防联控机制召开发布会",
                "category": "政策法规",
                "body": "2月6日，国务院联防联控机制召开新闻发布会。",
            },
            {
                "external_id": "kb-000077",
                "title": "市政府召开会议（编辑自建）",
                "category": "政策法规",
                "body": "编辑自己写的文档，分类由编辑决定。",
            },
        ]
    )
    with session_scope() as s:
        wip = s.scalar(select(kb.Document).where(kb.Document.external_id == "ncp-wip"))
        assert wip is not None
        kb.update_document(
            s,
            wip.id,
            kb.DocumentInput(title=wip.title, category="政策法规", body=wip.body + "（修订中）"),
            actor="alice",
        )

    result = CliRunner().invoke(app, ["kb", "recategorise"])
    assert result.exit_code == 0, result.output
    assert "新闻动态" in result.stdout and "changed=2 expired=1 skipped=1" in result.stdout
    assert "ncp-wip" in result.output

    with session_scope() as s:
        docs = {d.external_id: d for d in s.scalars(select(kb.Document))}
        assert docs["ncp-news"].category == "新闻动态" and docs["ncp-news"].live
        notice = docs["ncp-notice"]
        assert notice.category == "通知公告" and notice.valid_until == date(2023, 1, 7)
        assert notice.effective_status(date.today()) == "expired"
        assert kb.get_document(s, notice.id) is None  # readers no longer see it
        assert docs["ncp-wip"].category == "政策法规"  # the editor's draft is theirs to finish
        assert docs["kb-000077"].category == "政策法规"  # not a document of the collection
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "kb.recategorise"))
        assert entry is not None and entry.actor == "cli"
        assert entry.detail["after"]["新闻动态"] == 1 and entry.detail["changed"] == 2
        assert kb.expired_ids(s) == [notice.id]

    again = CliRunner().invoke(app, ["kb", "recategorise"])
    assert "changed=0 expired=0" in again.stdout  # idempotent
