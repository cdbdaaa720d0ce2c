"""Small helpers shared by the knowledge-base tests."""

from __future__ import annotations

import kb
from hotline.db import session_scope


def doc_input(title: str = "住房公积金提取办理指南", **kw: object) -> kb.DocumentInput:
    values: dict[str, object] = {
        "title": title,
        "category": "办事指南",
        "body": "职工购买自住住房的，可以申请提取住房公积金。",
    }
    values.update(kw)
    return kb.DocumentInput(**values)


def published_document(title: str = "住房公积金提取办理指南", **kw: object) -> int:
    """Create, submit and approve a document (separate commits, like the web does); returns its id."""
    with session_scope() as s:
        doc_id = kb.create_document(s, doc_input(title, **kw), actor="alice").id
    with session_scope() as s:
        kb.submit_document(s, doc_id, actor="alice")
    with session_scope() as s:
        kb.approve_document(s, doc_id, actor="bob")
    return doc_id


def public_ids(query: str, **kw: object) -> list[int]:
    with session_scope() as s:
        return [h.id for h in kb.search(s, query, **kw).hits]
