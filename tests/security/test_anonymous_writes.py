"""Anonymous writes are limited per client address and hour (hotline.attempts.ANONYMOUS_WRITES): cases
submitted online and feedback answers are refused past the limit, document views and search gaps past
it are not counted; the limits hold under concurrency (both databases)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

import casework
import kb
from hotline import attempts
from hotline.db import new_session, session_scope
from tests.kb.helpers import published_document
from tests.security.test_races import race

LIMIT = 3


@pytest.fixture(autouse=True)
def low_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    for what in attempts.ANONYMOUS_WRITES:
        monkeypatch.setitem(attempts.ANONYMOUS_WRITES, what, LIMIT)


def count(model: type) -> int:
    with session_scope() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_online_submissions_per_address(client: TestClient) -> None:
    token = client.get("/api/session").json()["csrf_token"]
    form = {"csrf_token": token, "phone": "13800000000", "category": "咨询", "content": "小区路灯坏了一周"}
    statuses = [client.post("/submit", data=form).status_code for _ in range(LIMIT + 2)]
    assert statuses == [200] * LIMIT + [422, 422]
    refused = client.post("/submit", data=form)
    assert "提交次数过多" in refused.text and count(casework.Case) == LIMIT
    with session_scope() as s:  # another address is not affected
        casework.create_case(
            s, channel="web", caller_number="13900000000", content="井盖丢失", client_key="web:192.0.2.7"
        )
    assert count(casework.Case) == LIMIT + 1


def test_parallel_submissions_meet_the_limit(hotline_env: Path) -> None:
    def submit(n: int):  # noqa: ANN202
        def run() -> None:
            with new_session() as s:
                casework.create_case(
                    s, channel="web", caller_number="13800000000", content=f"诉求{n}", client_key="web:198.51.100.1"
                )
                s.commit()

        return run

    results = race(*(submit(n) for n in range(8)))
    assert results.count("ok") == LIMIT and count(casework.Case) == LIMIT


def test_feedback_per_address(client: TestClient) -> None:
    doc = published_document()
    token = client.get("/api/session").json()["csrf_token"]
    answers = [
        client.post(f"/api/documents/{doc}/feedback", json={"helpful": True}, headers={"X-CSRF-Token": token})
        for _ in range(LIMIT + 1)
    ]
    assert [r.status_code for r in answers] == [200] * LIMIT + [400]
    assert answers[-1].json()["detail"] == "提交过于频繁，请稍后再试。"
    form = client.post(f"/documents/{doc}/feedback", data={"csrf_token": token, "helpful": "yes"})
    assert form.status_code == 400 and "提交过于频繁" in form.text
    assert count(kb.Feedback) == LIMIT


def test_views_and_gaps_past_the_limit_are_not_counted(client: TestClient) -> None:
    doc = published_document()
    for _ in range(LIMIT + 2):
        assert client.get(f"/documents/{doc}").status_code == 200
    with session_scope() as s:
        row = kb.get_document_row(s, doc)
        assert row is not None and row.views == LIMIT
    for n in range(LIMIT + 2):
        assert client.get("/api/search", params={"q": f"火星移民签证{n}"}).json()["total"] == 0
    assert client.get("/search", params={"q": "月球户口"}).status_code == 200
    assert count(kb.SearchGap) == LIMIT
