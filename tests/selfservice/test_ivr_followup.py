"""回访 by phone keys (both databases): a caller who queries the progress of a case waiting for 回访 is
asked to rate it; 1/2 is the 回访 result, 3 sends the case back to its department, # or silence skips."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import casework
from hotline.db import session_scope
from tests.casework.helpers import department
from tests.selfservice.conftest import CallResult

pytestmark = pytest.mark.usefixtures("ivr_env_both")

ASK = "请您对办理结果进行评价"


def _reviewed_case() -> tuple[str, str]:
    with session_scope() as s:
        case, password = casework.create_case(
            s, channel="phone", caller_number="13900001111", content="小区路灯不亮，晚上很黑。", actor="agent"
        )
        casework.refer(s, case, department(s), actor="agent1")
        casework.accept(s, case, actor="dep1")
        casework.reply(s, case, actor="dep1", reply="路灯已修复。")
        casework.review(s, case, actor="agent1", approved=True)
        return case.case_number, password


def _case(number: str) -> casework.Case:
    with session_scope() as s:
        case = casework.get_case(s, number)
        s.expunge(case)
        return case


def test_dissatisfied_key_sends_the_case_back(call: Callable[..., CallResult]) -> None:
    number, password = _reviewed_case()
    result = call(f"press 3\npress {number}#\npress {password}#\npress 3\nhangup")
    assert any(p.startswith(ASK) for p in result.prompts)
    assert "已记录您的意见，我们将要求承办部门重新办理。" in result.prompts
    case = _case(number)
    assert case.status == "in_progress" and case.satisfaction == "不满意"
    assert "followup:3" in result.record.path


def test_satisfied_key_is_the_follow_up_and_hash_skips(call: Callable[..., CallResult]) -> None:
    skipped, password = _reviewed_case()
    call(f"press 3\npress {skipped}#\npress {password}#\npress #\nhangup")
    assert _case(skipped).status == "reviewed"
    number, password = _reviewed_case()
    result = call(f"press 3\npress {number}#\npress {password}#\npress 1\nhangup")
    assert "感谢您的评价。" in result.prompts
    case = _case(number)
    assert case.status == "followed_up" and case.satisfaction == "满意"
    # asked once: a case already rated is not asked again
    again = call(f"press 3\npress {number}#\npress {password}#\nhangup")
    assert not any(p.startswith(ASK) for p in again.prompts)
