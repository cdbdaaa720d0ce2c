"""A spoken question is a gap in the editors' report when the caller heard no document after it, and
only then: a weak hit the caller confirmed and heard is not a gap, a listing left without a choice is."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

import kb
import speech
from hotline.db import session_scope
from tests.selfservice.conftest import SPEECH

pytestmark = pytest.mark.usefixtures("ivr_env")

QUESTION = SPEECH / "wenet_BAC009S0724W0121.wav"  # real recording: 广州市房地产中介协会分析


@pytest.fixture
def voice() -> Callable[[str], Path]:
    return lambda text: speech.synthesize(text, engine="kokoro", rate=16000)


def _ivr_gaps() -> dict[str, int]:
    with session_scope() as session:
        gaps = session.scalars(select(kb.SearchGap).where(kb.SearchGap.channel == "ivr"))
        return {gap.query: gap.count for gap in gaps}


def test_a_weak_hit_the_caller_confirmed_and_heard_is_not_a_gap(call, voice) -> None:
    result = call(f"say {voice('房产中介收费')}\npress 1\nhangup")
    assert result.record.documents  # heard
    assert _ivr_gaps() == {}


def test_a_weak_hit_the_caller_said_no_to_is_a_gap(call, voice) -> None:
    result = call(f"say {voice('房产中介收费')}\npress 2\npress #\nhangup")
    assert not result.record.documents
    assert _ivr_gaps() == {result.record.searches[0]["query"]: 1}


def test_a_listing_left_without_a_choice_is_a_gap_and_a_choice_is_not(call) -> None:
    left = call(f"say {QUESTION}\npress *\nhangup")
    assert any(p.startswith("为您找到以下内容") for p in left.prompts) and not left.record.documents
    assert _ivr_gaps() == {left.record.searches[0]["query"]: 1}
    chosen = call(f"say {QUESTION}\npress 1\nhangup")
    assert chosen.record.documents
    assert _ivr_gaps() == {left.record.searches[0]["query"]: 1}  # not counted again
