"""The case life cycle on both databases: legal paths, refused transitions, timeline and audit."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

import casework
from hotline.db import session_scope
from hotline.models import AuditEntry
from tests.casework.helpers import department, new_case, outbox


def test_full_life_cycle_with_timeline_audit_and_notices(hotline_env: Path) -> None:
    with session_scope() as s:
        case, password = new_case(s, name="张三")
        number = case.case_number
        assert case.status == "registered" and len(number) == 13 and number.isdigit()
        dept = department(s)
        casework.refer(s, case, dept, actor="agent1", note="请核查施工许可")
        casework.accept(s, case, actor="dep1")
        casework.start_work(s, case, actor="dep1")
        casework.reply(s, case, actor="dep1", reply="已责令施工单位夜间停工。")
        casework.review(s, case, actor="agent1", approved=True)
        casework.follow_up(s, case, actor="agent1", satisfaction="满意", comment="市民认可")
        casework.close(s, case, actor="agent1")
    with session_scope() as s:
        case = casework.get_case(s, number)
        assert case.status == "closed" and case.satisfaction == "满意" and case.closed_at is not None
        actions = [e.action for e in casework.timeline(s, case)]
        assert actions == [
            "registered", "referred", "accepted", "started", "replied", "reviewed", "survey_sent", "followed_up",
            "closed",
        ]  # fmt: skip
        labels = [e.label for e in casework.timeline(s, case)]
        assert labels[1] == "转派" and labels[2] == "签收"
        audited = list(s.scalars(select(AuditEntry.action).where(AuditEntry.entity_id == number)))
        assert audited == [f"case.{a}" for a in actions]
        texts = [m.body for m in outbox(s, channel="sms")]
        kinds = [m.kind for m in outbox(s, channel="sms")]
        assert kinds == [
            "registration", "referral_citizen", "referral_department", "reply_citizen", "survey", "closing"
        ]  # fmt: skip
        assert password in texts[0] and number in texts[0]
        assert "市住房和城乡建设局" in texts[1]
        assert outbox(s, kind="referral_department")[0].to == "13900000001"


def test_illegal_transitions_are_refused_with_a_clear_message(hotline_env: Path) -> None:
    with session_scope() as s:
        case, _ = new_case(s)
        with pytest.raises(casework.IllegalTransition, match="当前状态为“已登记”，不能签收"):
            casework.accept(s, case, actor="dep1")
        with pytest.raises(casework.IllegalTransition):
            casework.reply(s, case, actor="dep1", reply="x")
        with pytest.raises(casework.IllegalTransition):
            casework.close(s, case, actor="agent1")
        with pytest.raises(casework.CaseError, match="满意度"):
            casework.refer(s, case, department(s), actor="a")
            casework.accept(s, case, actor="d")
            casework.reply(s, case, actor="d", reply="ok")
            casework.review(s, case, actor="a", approved=True)
            casework.follow_up(s, case, actor="a", satisfaction="还行")
        assert case.status == "reviewed"
        with pytest.raises(casework.IllegalTransition, match="不能直接答复"):
            casework.answer_directly(s, case, actor="a", answer="")  # the state is checked first
        fresh, _ = new_case(s)
        with pytest.raises(casework.CaseError, match="请填写答复内容"):
            casework.answer_directly(s, fresh, actor="a", answer="  ")
    with session_scope() as s:
        with pytest.raises(casework.CaseError, match="诉求类别"):
            new_case(s, category="闲聊")
        with pytest.raises(casework.CaseError, match="渠道"):
            new_case(s, channel="pigeon")


def test_direct_answer_return_and_refer_again(hotline_env: Path) -> None:
    with session_scope() as s:
        quick, _ = new_case(s, category="咨询", content="公积金提取需要什么材料？")
        casework.answer_directly(s, quick, actor="agent1", answer="携带身份证和购房合同到服务网点办理。")
        assert quick.status == "closed" and quick.answer.startswith("携带")
        case, _ = new_case(s)
        casework.refer(s, case, department(s, "市教育局"), actor="agent1")
        with pytest.raises(casework.CaseError, match="退回理由"):
            casework.return_case(s, case, actor="edu", reason="  ")
        casework.return_case(s, case, actor="edu", reason="不属于本单位职责")
        assert case.status == "returned" and case.department is None
        casework.refer(s, case, department(s), actor="agent1")
        assert case.status == "referred" and case.department.name == "市住房和城乡建设局"
        casework.accept(s, case, actor="dep1")
        casework.reply(s, case, actor="dep1", reply="已处理")
        casework.review(s, case, actor="agent1", approved=False, comment="未说明整改时限")
        assert case.status == "in_progress"


def test_review_queue_for_web_submissions(hotline_env: Path) -> None:
    with session_scope() as s:
        good, _ = new_case(s, channel="web", content="路灯不亮已经一周了，请维修。")
        spam, _ = new_case(s, channel="web", caller_number="13811113333", content="广告广告广告")
        assert [c.case_number for c in casework.review_queue(s)] == [good.case_number, spam.case_number]
        assert outbox(s) == []  # nothing is sent before an agent accepts it
        casework.accept_submission(s, good, actor="agent1")
        casework.reject_submission(s, spam, actor="agent1", reason="无实际诉求")
        assert good.status == "registered" and spam.status == "rejected"
        assert casework.review_queue(s) == []
        with pytest.raises(casework.IllegalTransition):
            casework.accept_submission(s, spam, actor="agent1")


def test_extension_grant_moves_deadline_refusal_does_not(hotline_env: Path) -> None:
    with session_scope() as s:
        case, _ = new_case(s)
        casework.refer(s, case, department(s), actor="a")
        casework.accept(s, case, actor="d")
        before = case.deadline
        with pytest.raises(casework.CaseError, match="没有待审批"):
            casework.decide_extension(s, case, actor="sup", granted=True)
        with pytest.raises(casework.CaseError, match="1至30"):
            casework.request_extension(s, case, actor="d", days=60, reason="久")
        casework.request_extension(s, case, actor="d", days=5, reason="需现场勘查")
        with pytest.raises(casework.CaseError, match="已有待审批"):
            casework.request_extension(s, case, actor="d", days=3, reason="再延")
        assert [r.case.case_number for r in casework.pending_extensions(s)] == [case.case_number]
        casework.decide_extension(s, case, actor="sup", granted=False, comment="理由不充分")
        assert case.deadline == before
        casework.request_extension(s, case, actor="d", days=5, reason="需现场勘查")
        casework.decide_extension(s, case, actor="sup", granted=True)
        assert (case.deadline - before).days >= 7  # five working days, with a weekend in between
        assert "extended" in case.flags and casework.pending_extensions(s) == []


def test_urging_and_supervision_reach_the_department(hotline_env: Path) -> None:
    with session_scope() as s:
        case, _ = new_case(s)
        with pytest.raises(casework.IllegalTransition):
            casework.urge(s, case, actor="sup", message="请尽快办理")
        dept = department(s)
        casework.refer(s, case, dept, actor="a")
        casework.urge(s, case, actor="sup", message="请尽快办理")
        notices = casework.urges_for_department(s, dept)
        assert len(notices) == 1 and notices[0].message == "请尽快办理"
        sms = outbox(s, kind="urge")
        assert sms[0].to == "13900000001" and case.case_number in sms[0].body and "请尽快办理" in sms[0].body
        instruction = casework.supervise(s, case, actor="leader1", instruction="请务必本周内解决")
        assert case.supervised and casework.supervised_cases(s) == [case]
        assert [i.text for i in casework.pending_instructions(s, dept)] == ["请务必本周内解决"]
        casework.acknowledge_instruction(s, case, instruction.id, actor="dep1", comment="已安排专人")
        assert casework.pending_instructions(s, dept) == []
        with pytest.raises(casework.CaseError, match="已确认"):
            casework.acknowledge_instruction(s, case, instruction.id, actor="dep1")
        assert {"urged", "supervised", "instruction_acknowledged"} <= {
            e.action for e in casework.timeline(s, case)
        }


def test_duplicates_found_and_merged(hotline_env: Path) -> None:
    with session_scope() as s:
        first, _ = new_case(s, content="幸福小区3栋旁边工地夜间施工噪音很大，影响休息，请处理。")
        second, _ = new_case(
            s, caller_number="13700000000", content="幸福小区3栋旁边的工地夜间施工，噪音很大影响休息。"
        )
        other, _ = new_case(s, caller_number="13600000000", content="公交12路车站牌缺失，请补上。")
        assert casework.find_duplicates(s, second) == [first]
        assert casework.find_duplicates(s, other) == []
        casework.merge_cases(s, first, second, actor="agent1")
        assert second.status == "merged" and second.merged_into_id == first.id
        assert casework.find_duplicates(s, first) == []
        with pytest.raises(casework.CaseError):
            casework.merge_cases(s, first, first, actor="agent1")
        with pytest.raises(casework.IllegalTransition):
            casework.merge_cases(s, first, second, actor="agent1")


def test_caller_history_and_repeat_caller(hotline_env: Path) -> None:
    with session_scope() as s:
        a, _ = new_case(s, caller_number="138 1234 5678")
        b, _ = new_case(s)
        casework.answer_directly(s, b, actor="a", answer="已答复")
        new_case(s, caller_number="13900009999")
        history = casework.cases_for_caller(s, "13812345678")
        assert [c.case_number for c in history] == [b.case_number, a.case_number]
        info = casework.repeat_caller(s, "13812345678")
        assert (info.count, info.open) == (2, 1) and info.last_contact is not None
        assert casework.repeat_caller(s, "13000000000").count == 0
