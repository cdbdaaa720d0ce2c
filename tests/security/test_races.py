"""Races closed with compare-and-set updates, run with a barrier on both databases: two editors saving
one document (a 500 on UNIQUE kb_revisions before), a save and a workflow step at once, two reviewers
approving at once, and two outbox workers picking up the same messages (each sent once)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

import casework
import kb
from casework.models import OutboxMessage
from hotline.db import new_session, session_scope
from hotline.models import AuditEntry
from tests.conftest import login, make_user
from tests.kb.helpers import doc_input, published_document

CONFLICT = "文档已被他人修改，请刷新后再编辑。"


def race(*steps: Callable[[], object]) -> list[str]:
    """Run the steps in threads released together by a barrier; each result is "ok" or the error."""
    barrier = threading.Barrier(len(steps))
    results: list[str] = [""] * len(steps)

    def run(i: int) -> None:
        barrier.wait()
        try:
            steps[i]()
            results[i] = "ok"
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            results[i] = f"{type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(steps))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def read_then(doc_id: int, step: Callable[..., object]) -> Callable[[], object]:
    """A session that has read the document (as a page does) before the barrier; after it, the step
    runs in that session and commits."""
    session = new_session()
    session.get(kb.Document, doc_id)

    def act() -> None:
        try:
            step(session)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    return act


def revision_numbers(doc_id: int) -> list[int]:
    with session_scope() as s:
        return sorted(r.number for r in kb.revisions(s, doc_id))


def test_two_editors_save_at_once_one_wins_the_other_is_told(hotline_env: Path) -> None:
    doc_id = published_document()
    results = race(
        *(
            read_then(doc_id, lambda s, n=n: kb.update_document(s, doc_id, doc_input(body=f"第{n}稿"), actor=f"ed{n}", base_revision=1))
            for n in (1, 2)
        )
    )
    assert sorted(results) == [f"EditConflict: {CONFLICT}", "ok"]
    assert revision_numbers(doc_id) == [1, 2]
    with session_scope() as s:
        working = kb.get_document(s, doc_id, include_unpublished=True)
        assert working is not None and working.body == f"第{results.index('ok') + 1}稿"


def test_a_save_from_a_stale_form_is_a_conflict(hotline_env: Path) -> None:
    doc_id = published_document()
    with session_scope() as s:
        kb.update_document(s, doc_id, doc_input(body="甲的修改"), actor="ed1", base_revision=1)
    with session_scope() as s:
        try:
            kb.update_document(s, doc_id, doc_input(body="乙的修改"), actor="ed2", base_revision=1)
        except kb.EditConflict as exc:
            assert str(exc) == CONFLICT
        else:
            raise AssertionError("a save from revision 1 over revision 2 was accepted")
    assert revision_numbers(doc_id) == [1, 2]


def test_a_save_and_a_submission_at_once(hotline_env: Path) -> None:
    with session_scope() as s:
        doc_id = kb.create_document(s, doc_input(), actor="ed1").id
    results = race(
        read_then(doc_id, lambda s: kb.submit_document(s, doc_id, actor="ed1")),
        read_then(doc_id, lambda s: kb.update_document(s, doc_id, doc_input(body="新的正文"), actor="ed2")),
    )
    with session_scope() as s:
        row = kb.get_document_row(s, doc_id)
        assert row is not None
        steps = [entry.action for entry in kb.history(s, doc_id) if entry.action in ("kb.submit", "kb.update")]
    if results.count("ok") == 2:
        # SQLite reads without a transaction: one step had committed before the other looked, so they ran
        # one after the other; the document submitted is then the one saved
        assert (row.status, row.revision_count) == ("submitted", 2) and steps == ["kb.update", "kb.submit"]
        return
    # the other is refused: a conflict, or the state when the submission had committed before the save looked
    refused = next(r for r in results if r != "ok")
    assert results.count("ok") == 1 and refused.startswith(("EditConflict", "WorkflowError: 文档正在审核中")), results
    # the submission went through on revision 1, or the save made revision 2 of a draft: never a
    # submitted document with a revision its reviewer has not seen
    assert (row.status, row.revision_count) in {("submitted", 1), ("draft", 2)}


def test_two_reviewers_approve_at_once(hotline_env: Path) -> None:
    with session_scope() as s:
        doc_id = kb.create_document(s, doc_input(), actor="ed1").id
        kb.submit_document(s, doc_id, actor="ed1")
    results = race(
        *(read_then(doc_id, lambda s, r=r: kb.approve_document(s, doc_id, actor=r)) for r in ("rv1", "rv2"))
    )
    # the other is refused: a conflict when both read the submitted document, or the state (已发布) when
    # the first approval had committed before the second looked (SQLite reads without a transaction)
    refused = next(r for r in results if r != "ok")
    assert results.count("ok") == 1 and refused.startswith(("EditConflict", "WorkflowError: 当前状态为“已发布”")), results
    with session_scope() as s:
        approvals = s.scalars(select(AuditEntry).where(AuditEntry.action == "kb.approve")).all()
    assert len(approvals) == 1


def base_revision(page: str) -> str:
    found = re.search(r'name="base_revision" value="(\d+)"', page)
    assert found, "the edit form carries the revision it was loaded from"
    return found.group(1)


def test_two_editors_over_http(client: TestClient) -> None:
    """Both open the edit form, both save at once: one is saved, the other gets the form back (409)
    with the message and their text; no 500."""
    from web.app import create_app

    doc_id = published_document()
    make_user("ed1", ["editor"])
    make_user("ed2", ["editor"])
    with TestClient(create_app()) as other:
        forms = []
        for web, name in ((client, "ed1"), (other, "ed2")):
            token = login(web, name)
            page = web.get(f"/editor/documents/{doc_id}/edit").text
            fields = {"title": "住房公积金提取办理指南", "category": "办事指南", "body": f"{name}的修改"}
            forms.append((web, fields | {"csrf_token": token, "base_revision": base_revision(page)}))
        responses: list = [None, None]

        def post(i: int) -> Callable[[], None]:
            def run() -> None:
                web, form = forms[i]
                responses[i] = web.post(f"/editor/documents/{doc_id}/edit", data=form, follow_redirects=False)

            return run

        assert race(post(0), post(1)) == ["ok", "ok"]
    assert sorted(r.status_code for r in responses) == [303, 409]
    loser = next(r for r in responses if r.status_code == 409)
    assert CONFLICT in loser.text and "的修改" in loser.text
    assert revision_numbers(doc_id) == [1, 2]


class SlowTransport:
    """Records what it sends; slow enough that two workers overlap."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.lock = threading.Lock()

    def send(self, message: OutboxMessage) -> None:
        time.sleep(0.01)
        with self.lock:
            self.sent.append(message.message_id)


def test_two_outbox_workers_send_each_message_once(hotline_env: Path) -> None:
    with session_scope() as s:
        for n in range(20):
            casework.queue_sms(s, to=f"1380000{n:04d}", text="您的工单已办结。", kind="announcement")
    transport = SlowTransport()
    counts: list[dict[str, int]] = []

    def worker() -> None:
        counts.append(casework.deliver_outbox(new_session, {"sms": transport}))

    assert race(worker, worker) == ["ok", "ok"]
    assert len(transport.sent) == len(set(transport.sent)) == 20
    assert sum(c["sent"] for c in counts) == 20  # a message the other worker claimed first is skipped
    with session_scope() as s:
        rows = s.scalars(select(OutboxMessage)).all()
    assert {(m.status, m.attempts) for m in rows} == {("sent", 1)}


def create_step(title: str, **kw: object) -> Callable[[], object]:
    def run() -> None:
        with new_session() as s:
            kb.create_document(s, doc_input(title), actor="ed", **kw)
            s.commit()

    return run


def test_two_documents_created_at_once_with_one_title(hotline_env: Path) -> None:
    results = race(create_step("低保申请条件", external_id="mz-1"), create_step("低保申请条件", external_id="mz-2"))
    assert sorted(results) == ["KbError: 标题“低保申请条件”已被其他文档使用，标题必须唯一。", "ok"]
    results = race(create_step("公租房申请"), create_step("廉租房申请"), create_step("人才公寓申请"))
    assert results == ["ok", "ok", "ok"]  # generated external ids come from the row ids: never the same
    with session_scope() as s:
        rows, total = kb.list_documents(s)
    assert total == 4 and len({r.external_id for r in rows}) == 4


def test_an_import_and_an_editor_at_once(hotline_env: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The import batch locks its documents first: the editor's save waits and is told, or goes first
    and the import builds on it; the batch never fails on a revision number taken under it."""
    import json

    from kb import importer
    from kb.importer import import_file

    content = importer._content

    def slow_content(data: kb.DocumentInput) -> dict:
        time.sleep(0.3)  # between the batch's reads and its writes: the editor saves meanwhile
        return content(data)

    monkeypatch.setattr(importer, "_content", slow_content)

    doc_id = published_document()
    with session_scope() as s:
        external_id = kb.get_document_row(s, doc_id).external_id  # type: ignore[union-attr]
    line = {"external_id": external_id, "title": "住房公积金提取办理指南", "category": "办事指南", "body": "导入的正文"}
    path = tmp_path / "docs.jsonl"
    path.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    reports: list = []
    results = race(
        lambda: reports.append(import_file(path, publish=False)),
        read_then(doc_id, lambda s: kb.update_document(s, doc_id, doc_input(body="编辑的正文"), actor="ed")),
    )
    assert results[0] == "ok" and reports[0].updated == 1 and not reports[0].errors
    assert results[1] in ("ok", f"EditConflict: {CONFLICT}")
    assert revision_numbers(doc_id) == ([1, 2, 3] if results[1] == "ok" else [1, 2])
