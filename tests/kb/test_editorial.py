"""What editors see besides the content: readings and feedback that leave 更新时间 alone, feedback with
its query, the reason a draft came back, the word-level comparison of revisions, scheduled publish and
withdrawal (both databases)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import kb
from hotline.db import session_scope, utcnow
from tests.kb.helpers import doc_input, public_ids, published_document


def _updated_at(doc_id: int):  # type: ignore[no-untyped-def]
    with session_scope() as s:
        return kb.get_document_row(s, doc_id).updated_at


def test_a_view_and_feedback_count_without_changing_the_update_time(hotline_env: Path) -> None:
    doc_id = published_document()
    before = _updated_at(doc_id)
    with session_scope() as s:
        kb.record_view(s, doc_id, "web", client="a")
        kb.record_view(s, doc_id, "ivr", client="b")
        kb.record_feedback(s, doc_id, False, comment="没说清楚要带什么", client="c", query="公积金 提取 材料")
        kb.record_feedback(s, doc_id, True, client="d")
    with session_scope() as s:
        row = kb.get_document_row(s, doc_id)
        assert (row.views, row.helpful_count, row.unhelpful_count) == (2, 1, 1)
        assert row.updated_at == before
    # the editors' list ("newest change first") keeps ordering by edits, not by readings
    other = published_document("居住证办理指南")
    with session_scope() as s:
        kb.record_view(s, doc_id, "web", client="e")
        rows, _ = kb.list_documents(s)
        assert [r.id for r in rows][:2] == [other, doc_id]


def test_feedback_keeps_its_query_and_lists_newest_first_filtered(hotline_env: Path) -> None:
    a = published_document()
    b = published_document("居住证办理指南")
    with session_scope() as s:
        kb.record_feedback(s, a, False, comment="材料清单不全", client="1", query="  公积金   提取 ")
        kb.record_feedback(s, b, True, client="2")
        kb.record_feedback(s, b, False, comment="电话 13812345678 打不通", client="3", query="居住证")
    with session_scope() as s:
        every, total = kb.list_feedback(s)
        assert total == 3 and [e.document_id for e in every] == [b, b, a]
        unhelpful, total = kb.list_feedback(s, helpful=False)
        assert total == 2 and {e.query for e in unhelpful} == {"公积金 提取", "居住证"}
        mine, total = kb.list_feedback(s, document_id=a)
        assert (
            total == 1
            and mine[0].comment == "材料清单不全"
            and mine[0].document_title == "住房公积金提取办理指南"
        )


def test_a_returned_draft_carries_the_reviewers_reason_until_it_is_submitted_again(hotline_env: Path) -> None:
    with session_scope() as s:
        doc_id = kb.create_document(s, doc_input(), actor="alice").id
        kb.submit_document(s, doc_id, actor="alice")
    with session_scope() as s:
        assert kb.returned_reason(s, doc_id) is None
        kb.reject_document(s, doc_id, actor="bob", comment="请补充办理时限")
    with session_scope() as s:
        entry = kb.returned_reason(s, doc_id)
        assert entry is not None and entry.comment == "请补充办理时限" and entry.actor == "bob"
        kb.update_document(s, doc_id, doc_input(body="职工购房可申请提取，5个工作日办结。"), actor="alice")
    with session_scope() as s:
        assert kb.returned_reason(s, doc_id) is not None  # still a draft because of the return
        kb.submit_document(s, doc_id, actor="alice")
    with session_scope() as s:
        assert kb.returned_reason(s, doc_id) is None


def test_revisions_compare_word_by_word_with_escaped_text(hotline_env: Path) -> None:
    doc_id = published_document(body="申请人需携带身份证。\n办理地点：<b>市民中心</b>")
    with session_scope() as s:
        kb.update_document(
            s,
            doc_id,
            doc_input(body="申请人需携带身份证和户口本。\n办理地点：<b>市民中心</b>"),
            actor="alice",
        )
    with session_scope() as s:
        cmp = kb.compare_revisions(s, doc_id)
        assert (cmp.old.number, cmp.new.number) == (1, 2) and cmp.changed
        changed = [r for r in cmp.rows if r.kind == "changed"]
        assert len(changed) == 1
        assert "<ins>和户口本</ins>" in changed[0].new and "<del>" not in changed[0].old
        assert "申请人需携带身份证" in changed[0].old
        unchanged = [r for r in cmp.rows if "市民中心" in r.new][0]
        assert unchanged.kind == "equal" and "&lt;b&gt;市民中心&lt;/b&gt;" in unchanged.new
        assert "<b>" not in "".join(r.old + r.new for r in cmp.rows)
        back = kb.compare_revisions(s, doc_id, 2, 1)
        assert "<del>和户口本</del>" in "".join(r.old for r in back.rows)


def test_scheduled_publish_and_withdrawal_happen_at_their_time(hotline_env: Path) -> None:
    with session_scope() as s:
        doc_id = kb.create_document(
            s, doc_input("社保卡补办指南", body="社保卡丢失后可到银行网点补办。"), actor="alice"
        ).id
        kb.submit_document(s, doc_id, actor="alice")
    soon = utcnow() + timedelta(hours=1)
    with session_scope() as s:
        kb.approve_document(s, doc_id, actor="bob", publish_at=soon)
    with session_scope() as s:
        row = kb.get_document_row(s, doc_id)
        assert row.status == "scheduled" and not row.live and row.publish_at == soon
        assert kb.run_schedule(s) == {"published": 0, "withdrawn": 0}
    assert doc_id not in public_ids("社保卡补办")

    with session_scope() as s:
        assert kb.run_schedule(s, soon + timedelta(seconds=1)) == {"published": 1, "withdrawn": 0}
    with session_scope() as s:
        row = kb.get_document_row(s, doc_id)
        assert row.status == "published" and row.live and row.publish_at is None
        actions = [(e.actor, e.action) for e in kb.history(s, doc_id)]
        assert actions[-1] == ("system", "kb.publish")
    assert doc_id in public_ids("社保卡补办")

    later = utcnow() + timedelta(days=1)
    with session_scope() as s:
        kb.schedule_withdrawal(s, doc_id, later, actor="bob")
    with session_scope() as s:
        assert kb.run_schedule(s, later - timedelta(minutes=1)) == {"published": 0, "withdrawn": 0}
        assert kb.run_schedule(s, later) == {"published": 0, "withdrawn": 1}
    with session_scope() as s:
        row = kb.get_document_row(s, doc_id)
        assert row.status == "withdrawn" and not row.live and row.withdraw_at is None
        assert kb.run_schedule(s, later + timedelta(days=1)) == {"published": 0, "withdrawn": 0}
    assert doc_id not in public_ids("社保卡补办")


def test_editing_or_returning_a_scheduled_document_cancels_its_publication(hotline_env: Path) -> None:
    with session_scope() as s:
        doc_id = kb.create_document(s, doc_input(), actor="alice").id
        kb.submit_document(s, doc_id, actor="alice")
    soon = utcnow() + timedelta(minutes=5)
    with session_scope() as s:
        kb.approve_document(s, doc_id, actor="bob", publish_at=soon)
    with session_scope() as s:
        kb.reject_document(s, doc_id, actor="bob", comment="时间定错了")
    with session_scope() as s:
        row = kb.get_document_row(s, doc_id)
        assert row.status == "draft" and row.publish_at is None
        assert kb.run_schedule(s, soon + timedelta(hours=1)) == {"published": 0, "withdrawn": 0}
        assert not kb.get_document_row(s, doc_id).live


def test_hotline_kb_schedule_publishes_what_is_due(hotline_env: Path) -> None:
    from typer.testing import CliRunner

    from hotline.cli import app

    with session_scope() as s:
        doc_id = kb.create_document(
            s, doc_input("社保卡补办指南", body="社保卡丢失后可到银行网点补办。"), actor="alice"
        ).id
        kb.submit_document(s, doc_id, actor="alice")
    with session_scope() as s:
        kb.approve_document(s, doc_id, actor="bob", publish_at=utcnow() + timedelta(seconds=2))
    result = CliRunner().invoke(app, ["kb", "schedule"])
    assert result.exit_code == 0 and "published=0" in result.output
    with session_scope() as s:  # the time has come
        kb.get_document_row(s, doc_id).publish_at = utcnow() - timedelta(seconds=1)
    result = CliRunner().invoke(app, ["kb", "schedule"])
    assert result.exit_code == 0 and "published=1 withdrawn=0" in result.output, result.output
    assert doc_id in public_ids("社保卡补办")
