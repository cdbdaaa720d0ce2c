"""Editorial workflow on both database backends: visibility, transitions, revisions, diff, audit."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pydantic import ValidationError

import kb
from hotline.db import session_scope
from tests.kb.helpers import doc_input, public_ids, published_document


def test_draft_is_never_public_but_editors_find_it(hotline_env):
    with session_scope() as s:
        doc = kb.create_document(s, doc_input(), actor="alice")
        doc_id = doc.id
        assert doc.status == "draft" and doc.revision_count == 1
        assert doc.external_id.startswith("kb-")
    assert public_ids("公积金提取") == []
    with session_scope() as s:
        assert kb.get_document(s, doc_id) is None
        assert kb.get_document(s, doc_id, include_unpublished=True).status == "draft"
        editor_hits = kb.search(s, "公积金提取", include_unpublished=True, log_gaps=False).hits
        assert [h.id for h in editor_hits] == [doc_id]
        assert kb.popular_documents(s) == []
    with session_scope() as s:
        kb.submit_document(s, doc_id, actor="alice")
    assert public_ids("公积金提取") == []


def test_publish_then_withdraw_disappears_at_once(hotline_env):
    doc_id = published_document()
    assert public_ids("公积金提取") == [doc_id]
    with session_scope() as s:
        view = kb.get_document(s, doc_id)
        assert view.status == "published" and view.sections == [
            "职工购买自住住房的，可以申请提取住房公积金。"
        ]
        assert [d.id for d in kb.popular_documents(s)] == [doc_id]
    with session_scope() as s:
        kb.withdraw_document(s, doc_id, actor="bob", comment="政策已废止")
    assert public_ids("公积金提取") == []
    with session_scope() as s:
        assert kb.get_document(s, doc_id) is None
        assert kb.get_document_row(s, doc_id).status == "withdrawn"
        with pytest.raises(kb.WorkflowError):
            kb.withdraw_document(s, doc_id, actor="bob")


def test_public_keeps_published_revision_while_new_one_is_in_review(hotline_env):
    doc_id = published_document(body="旧版：提取需要购房合同。")
    with session_scope() as s:
        kb.update_document(
            s, doc_id, doc_input(body="新版：提取需要不动产权证书。"), actor="alice", comment="更新材料"
        )
    with session_scope() as s:
        kb.submit_document(s, doc_id, actor="alice")
    with session_scope() as s:
        assert "旧版" in kb.get_document(s, doc_id).body
        assert "新版" in kb.get_document(s, doc_id, include_unpublished=True).body
        diff = kb.document_diff(s, doc_id)
        assert "-旧版：提取需要购房合同。" in diff and "+新版：提取需要不动产权证书。" in diff
        assert [r.number for r in kb.revisions(s, doc_id)] == [2, 1]
    assert public_ids("购房合同") == [doc_id]
    assert public_ids("不动产权证书") == []
    with session_scope() as s:
        kb.approve_document(s, doc_id, actor="bob")
    with session_scope() as s:
        assert "新版" in kb.get_document(s, doc_id).body
        assert kb.document_diff(s, doc_id) == []
    assert public_ids("不动产权证书") == [doc_id]


def test_reject_needs_comment_and_returns_to_draft(hotline_env):
    with session_scope() as s:
        doc_id = kb.create_document(s, doc_input(), actor="alice").id
        kb.submit_document(s, doc_id, actor="alice")
    with session_scope() as s:
        with pytest.raises(kb.KbError, match="退回意见"):
            kb.reject_document(s, doc_id, actor="bob", comment="  ")
    with session_scope() as s:
        kb.reject_document(s, doc_id, actor="bob", comment="请补充办理时限")
    with session_scope() as s:
        assert kb.get_document_row(s, doc_id).status == "draft"
        entries = kb.history(s, doc_id)
        assert [(e.action, e.actor) for e in entries] == [
            ("kb.create", "alice"),
            ("kb.submit", "alice"),
            ("kb.reject", "bob"),
        ]
        assert entries[-1].comment == "请补充办理时限"
        assert entries[-1].detail == {"from": "submitted", "to": "draft", "revision": 1}


def test_illegal_transitions_are_refused(hotline_env):
    with session_scope() as s:
        doc_id = kb.create_document(s, doc_input(), actor="alice").id
    for step in (kb.approve_document, kb.withdraw_document):
        with session_scope() as s, pytest.raises(kb.WorkflowError):
            step(s, doc_id, actor="bob")
    with session_scope() as s, pytest.raises(kb.WorkflowError):
        kb.reject_document(s, doc_id, actor="bob", comment="不行")
    with session_scope() as s:
        kb.submit_document(s, doc_id, actor="alice")
    with session_scope() as s, pytest.raises(kb.WorkflowError, match="审核"):
        kb.update_document(s, doc_id, doc_input(body="审核中改正文"), actor="alice")
    with session_scope() as s, pytest.raises(kb.WorkflowError):
        kb.submit_document(s, doc_id, actor="alice")
    with session_scope() as s, pytest.raises(kb.KbError, match="不存在"):
        kb.submit_document(s, 999_999, actor="alice")
    with session_scope() as s:
        assert kb.get_document_row(s, doc_id).status == "submitted"
        assert [e.action for e in kb.history(s, doc_id)] == ["kb.create", "kb.submit"]


def test_expired_document_is_never_shown(hotline_env):
    doc_id = published_document(valid_until=date.today() - timedelta(days=1))
    assert public_ids("公积金提取") == []
    with session_scope() as s:
        assert kb.get_document(s, doc_id) is None
        assert kb.get_document(s, doc_id, include_unpublished=True).status == "expired"
        rows, total = kb.list_documents(s, status="expired")
        assert total == 1 and rows[0].id == doc_id
        assert kb.list_documents(s, status="published") == ([], 0)
        with pytest.raises(kb.KbError):
            kb.record_feedback(s, doc_id, True)


def test_titles_are_unique_and_validated(hotline_env):
    with session_scope() as s:
        kb.create_document(s, doc_input(), actor="alice")
    with session_scope() as s, pytest.raises(kb.KbError, match="唯一"):
        kb.create_document(s, doc_input(), actor="alice")
    with pytest.raises(ValidationError):
        doc_input("长" * 129)
    with pytest.raises(ValidationError):
        doc_input(category="八卦")
    with pytest.raises(ValidationError):
        doc_input(body="   ")
    assert doc_input(keywords="公积金，提取").keywords == ["公积金", "提取"]


def test_unchanged_update_is_refused_and_list_filters(hotline_env):
    with session_scope() as s:
        a = kb.create_document(s, doc_input(), actor="alice").id
        kb.create_document(s, doc_input("居住证办理指南", body="居住半年以上可以申领居住证。"), actor="alice")
        kb.create_document(
            s,
            doc_input("社会保险法 第一条", category="政策法规", body="第一条 为了规范社会保险关系。"),
            actor="alice",
        )
    with session_scope() as s, pytest.raises(kb.KbError, match="没有变化"):
        kb.update_document(s, a, doc_input(), actor="alice")
    with session_scope() as s:
        assert kb.list_documents(s)[1] == 3
        assert kb.list_documents(s, category="政策法规")[1] == 1
        rows, total = kb.list_documents(s, q="居住证")
        assert total == 1 and rows[0].title == "居住证办理指南"
        rows, total = kb.list_documents(s, page=2, per_page=2)
        assert total == 3 and len(rows) == 1


def test_feedback_and_views(hotline_env):
    first = published_document()
    second = published_document("居住证办理指南", body="居住半年以上可以申领居住证。")
    with session_scope() as s:
        kb.record_view(s, second, "ivr")
        kb.record_view(s, second, "web")
        kb.record_feedback(s, second, True)
        kb.record_feedback(s, second, False, "材料写得不清楚")
        with pytest.raises(kb.KbError):
            kb.record_feedback(s, second, True, "长" * 1001)
    with session_scope() as s:
        row = kb.get_document_row(s, second)
        assert (row.views, row.helpful_count, row.unhelpful_count) == (2, 1, 1)
        assert [d.id for d in kb.popular_documents(s)] == [second, first]
        assert [d.id for d in kb.popular_documents(s, category="政策法规")] == []


def test_review_due_lists_public_documents_whose_review_date_has_come(hotline_env):
    due = published_document(review_due=date.today())
    published_document(
        "居住证办理指南", body="居住半年以上可以申领居住证。", review_due=date.today() + timedelta(days=30)
    )
    with session_scope() as s:
        kb.create_document(
            s, doc_input("草稿指南", review_due=date.today() - timedelta(days=1)), actor="alice"
        )
    with session_scope() as s:
        rows, total = kb.list_documents(s, status="review_due")
        assert (total, [r.id for r in rows]) == (1, [due])
