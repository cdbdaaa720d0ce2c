"""Progress queries (hashed passwords, rate limit, no hint) and deadlines with the holiday calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

import casework
from casework import calendar
from casework.calendar import WorkCalendar, local_date
from hotline.db import new_session, session_scope
from tests.casework.helpers import department, new_case, outbox


def test_password_is_stored_hashed_and_checks_progress(hotline_env: Path) -> None:
    with session_scope() as s:
        case, password = new_case(s)
        number = case.case_number
    assert password.isdigit() and 4 <= len(password) <= 6
    with session_scope() as s:
        stored = s.execute(
            text("SELECT password_hash FROM cases WHERE case_number = :n"), {"n": number}
        ).scalar()
        assert password not in stored and stored.startswith("$argon2")
        view = casework.check_progress(s, number, password, caller_key="ip:1")
        assert view.case_number == number and view.status_label == "已登记"
        assert "张三" not in view.last_update_text


def test_wrong_number_and_wrong_password_look_the_same_then_lock(hotline_env: Path) -> None:
    with session_scope() as s:
        case, password = new_case(s)
        number = case.case_number
    messages = []
    for attempt in (("99999999999999", password), (number, "000000" if password != "000000" else "111111")):
        with session_scope() as s:
            with pytest.raises(casework.CaseQueryRejected) as err:
                casework.check_progress(s, *attempt, caller_key="ip:attacker")
            messages.append(str(err.value))
    assert messages[0] == messages[1]
    # one more failure from the attacker: locked out of this case, the citizen elsewhere is not
    with session_scope() as s, pytest.raises(casework.CaseQueryRejected):
        casework.check_progress(s, number, "12", caller_key="ip:attacker")
    with session_scope() as s, pytest.raises(casework.CaseQueryLocked):
        casework.check_progress(s, number, password, caller_key="ip:attacker")  # even the right password
    with session_scope() as s:
        assert casework.check_progress(s, number, password, caller_key="ip:owner").case_number == number
    # the lock lives in the database: a fresh session (another process) sees it
    other = new_session()
    try:
        with pytest.raises(casework.CaseQueryLocked):
            casework.check_progress(other, number, password, caller_key="ip:attacker")
        later = datetime.now(UTC) + timedelta(minutes=16)
        assert (
            casework.check_progress(other, number, password, caller_key="ip:attacker", now=later).case_number
            == number
        )
    finally:
        other.close()


def test_caller_lock_spans_case_numbers(hotline_env: Path) -> None:
    with session_scope() as s:
        cases = [new_case(s)[0].case_number for _ in range(4)]
    for number in cases[:3]:
        with session_scope() as s, pytest.raises(casework.CaseQueryRejected):
            casework.check_progress(s, number, "000000", caller_key="ip:scanner")
    with session_scope() as s, pytest.raises(casework.CaseQueryLocked):
        casework.check_progress(s, cases[3], "000000", caller_key="ip:scanner")


def test_working_days_skip_weekends_and_holidays_and_honour_make_up_days(hotline_env: Path) -> None:
    with session_scope() as s:
        cal = WorkCalendar.load(s)
        assert not cal.is_workday(date(2026, 10, 1))  # 国庆节
        assert cal.is_workday(date(2026, 10, 10))  # Saturday make-up working day
        assert cal.is_workday(date(2026, 2, 14)) and not cal.is_workday(date(2026, 2, 16))
        # registered on Wednesday 30 Sep 2026: 2 working days -> Fri 9 Oct (1-7 Oct off, 8 Oct is day 1)
        assert cal.add_workdays(date(2026, 9, 30), 2) == date(2026, 10, 9)
        assert cal.add_workdays(date(2026, 9, 30), 3) == date(2026, 10, 10)
        assert cal.add_workdays(date(2026, 11, 27), 1) == date(2026, 11, 30)  # Friday -> Monday
        deadline = cal.deadline(datetime(2026, 9, 30, 2, 0, tzinfo=UTC), 2)
        assert local_date(deadline) == date(2026, 10, 9)
        case, _ = new_case(s, category="咨询", now=datetime(2026, 9, 30, 2, 0, tzinfo=UTC))
        assert local_date(case.deadline) == date(2026, 10, 9)
        urgent, _ = new_case(
            s, category="投诉", urgency="urgent", now=datetime(2026, 9, 30, 2, 0, tzinfo=UTC)
        )
        assert local_date(urgent.deadline) == date(2026, 10, 10)  # 3 working days incl. the make-up Saturday
        casework.set_holiday(s, date(2026, 12, 1), workday=False, name="测试假日")
        assert WorkCalendar.load(s).add_workdays(date(2026, 11, 30), 1) == date(2026, 12, 2)


def test_deadline_periods_are_configurable(hotline_env: Path) -> None:
    with session_scope() as s:  # as the admin page stores them
        periods = calendar.periods(s)
        periods["normal"]["咨询"] = 7
        calendar.set_periods(s, periods, actor="admin")
    with session_scope() as s:
        case, _ = new_case(s, category="咨询", now=datetime(2026, 11, 2, 2, 0, tzinfo=UTC))  # a Monday
        assert local_date(case.deadline) == date(2026, 11, 11)


def test_scan_marks_yellow_and_red_once_and_reminds_the_department(hotline_env: Path) -> None:
    monday = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    with session_scope() as s:
        dept = department(s)
        soon, _ = new_case(s, category="咨询", now=monday)  # due Wed 4 Nov
        late, _ = new_case(s, category="咨询", now=monday - timedelta(days=14))
        fine, _ = new_case(s, category="投诉", now=monday)
        for case in (soon, late, fine):
            casework.refer(s, case, dept, actor="a")
        closed, _ = new_case(s, category="咨询", now=monday - timedelta(days=14))
        casework.answer_directly(s, closed, actor="a", answer="已答复")
    with session_scope() as s:
        counts = casework.scan_deadlines(s, now=monday + timedelta(days=1))  # Tuesday
        assert (counts["yellow"], counts["red"], counts["newly_red"]) == (1, 1, 1)
        assert casework.get_case(s, soon.case_number).due_level == "yellow"
        assert casework.get_case(s, late.case_number).due_level == "red"
        assert casework.get_case(s, fine.case_number).due_level is None
        assert [m.kind for m in outbox(s, kind="overdue")] == ["overdue"]
        again = casework.scan_deadlines(s, now=monday + timedelta(days=1))
        assert again["newly_red"] == 0 and again["newly_yellow"] == 0
        assert len(outbox(s, kind="reminder")) == 1
        assert [c.case_number for c in casework.overdue_cases(s, now=monday + timedelta(days=1))] == [
            late.case_number
        ]
