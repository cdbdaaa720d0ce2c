"""The IVR's document views and search gaps are limited per caller like the web's anonymous writes
(hotline.attempts.ANONYMOUS_WRITES, keyed by the calling number): past the hourly limit a caller's
readings and unanswered questions are not counted, another caller's are (both databases)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

import kb
from hotline import attempts
from hotline.db import session_scope
from tests.selfservice.conftest import SPEECH, ivr_env_both, prompt_cache, run_call  # noqa: F401 - fixtures

pytestmark = pytest.mark.usefixtures("ivr_env_both")

LIMIT = 2
QUESTION = SPEECH / "wenet_BAC009S0724W0121.wav"  # real recording: 广州市房地产中介协会分析
READ_ONE = "press 1\npress 1\nhangup"  # policies, the first document
LEAVE_A_LISTING = f"say {QUESTION}\npress *\nhangup"  # heard no document: a gap


@pytest.fixture(autouse=True)
def low_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    for what in ("view", "gap"):
        monkeypatch.setitem(attempts.ANONYMOUS_WRITES, what, LIMIT)


def total(column: object) -> int:
    with session_scope() as s:
        return s.scalar(select(func.coalesce(func.sum(column), 0))) or 0


def test_a_callers_views_past_the_limit_are_not_counted() -> None:
    for _ in range(LIMIT + 1):
        assert run_call(READ_ONE, caller="13800138000").record.documents  # every reading is heard
    assert total(kb.Document.views) == LIMIT
    run_call(READ_ONE, caller="13900139000")
    assert total(kb.Document.views) == LIMIT + 1


def test_a_callers_gaps_past_the_limit_are_not_logged() -> None:
    for _ in range(LIMIT + 1):
        assert not run_call(LEAVE_A_LISTING, caller="13800138000").record.documents
    assert total(kb.SearchGap.count) == LIMIT
    run_call(LEAVE_A_LISTING, caller="13900139000")
    assert total(kb.SearchGap.count) == LIMIT + 1
