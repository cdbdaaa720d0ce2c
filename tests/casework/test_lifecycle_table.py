"""The life cycle's one declaration (casework/lifecycle.py) and what derives from it: the database's check
on cases.status, the docs diagram, the buttons per role; and the conditional update under a race."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

import casework
from casework import lifecycle
from casework.models import Case, CaseEvent
from hotline.config import REPO_ROOT
from hotline.db import get_engine, new_session, session_scope
from hotline.models import User
from tests.casework.helpers import department, new_case, outbox


def _database_statuses() -> set[str]:
    """The statuses the database's check on cases.status lets through, read from the schema."""
    engine = get_engine()
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            sql = conn.scalar(text("SELECT sql FROM sqlite_master WHERE name = 'ck_cases_status_update'"))
        else:
            sql = conn.scalar(
                text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'ck_cases_status'")
            )
    assert sql, "no check on cases.status"
    return set(re.findall(r"'([a-z_]+)'", sql))


def test_the_database_check_takes_exactly_the_declared_statuses(hotline_env: Path) -> None:
    assert _database_statuses() == set(lifecycle.STATUSES)
    with session_scope() as s:
        case, _ = new_case(s)
        number = case.case_number
    for status in lifecycle.STATUSES:
        with session_scope() as s:
            s.execute(update(Case).where(Case.case_number == number).values(status=status))
    with pytest.raises(IntegrityError, match="ck_cases_status"), session_scope() as s:
        s.execute(update(Case).where(Case.case_number == number).values(status="lost"))


def test_docs_show_the_generated_diagram_and_table() -> None:
    doc = (REPO_ROOT / "docs" / "casework.md").read_text(encoding="utf-8")
    assert f"```mermaid\n{lifecycle.mermaid()}\n```" in doc
    assert lifecycle.table_markdown() in doc


def test_the_table_is_consistent_and_the_templates_name_real_actions() -> None:
    for t in lifecycle.TRANSITIONS:
        assert set(t.sources) <= set(lifecycle.STATUSES) and t.target in (None, *lifecycle.STATUSES)
        assert not set(t.sources) & set(lifecycle.FINAL_STATUSES), t.action
        assert set(t.notices) <= set(casework.notices.TEMPLATES), t.action
    assert set(lifecycle.OPEN_STATUSES) | set(lifecycle.DEADLINE_STATUSES) <= set(
        lifecycle.STATUSES
    ) - set(lifecycle.FINAL_STATUSES)
    templates = REPO_ROOT / "web" / "templates"
    named = {
        name
        for page in ("agent/case.html", "department/case.html", "supervisor/case.html")
        for name in re.findall(r'"([a-z_]+)" in actions', (templates / page).read_text(encoding="utf-8"))
    }
    assert named and named <= set(lifecycle.ACTIONS)
    assert not re.search(r"case\.status (not )?in|case\.status ==", " ".join(
        p.read_text(encoding="utf-8") for p in templates.rglob("*.html")
    ))  # fmt: skip


def _user(roles: str, dept: str | None = None) -> User:
    return User(username="u", roles=roles, department=dept)


def test_allowed_actions_follow_role_status_and_department(hotline_env: Path) -> None:
    with session_scope() as s:
        case, _ = new_case(s)
        dept = department(s)
        agent, staff = _user("agent"), _user("department", dept.name)
        other, leader = _user("department", "市公安局"), _user("leader")
        assert lifecycle.allowed_actions(case, agent) == {"refer", "answer_directly", "merge"}
        assert lifecycle.allowed_actions(case, staff) == set()
        casework.refer(s, case, dept, actor="agent1")
        assert lifecycle.allowed_actions(case, staff) == {"accept", "return_case", "request_extension"}
        assert lifecycle.allowed_actions(case, other) == set()
        assert lifecycle.allowed_actions(case, leader) == {"supervise"}  # 批示
        assert lifecycle.allowed_actions(case, _user("supervisor")) == {
            "urge", "supervise", "decide_extension", "add_assist", "remove_assist"  # 协办单位 too
        }  # fmt: skip


def test_two_agents_referring_at_once_make_one_referral_and_one_notice(hotline_env: Path) -> None:
    with session_scope() as s:
        case, _ = new_case(s)
        number = case.case_number
        department(s)
        department(s, "市公安局", sms="13900000002")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def agent(dept_name: str) -> None:
        session = new_session()
        try:
            mine = casework.get_case(session, number)
            dept = casework.department_by_name(session, dept_name)
            barrier.wait()
            casework.refer(session, mine, dept, actor=f"agent-{dept_name}")
            session.commit()
            outcomes.append("ok")
        except casework.CaseChanged as exc:
            session.rollback()
            outcomes.append(str(exc))
        finally:
            session.close()

    threads = [threading.Thread(target=agent, args=(d,)) for d in ("市住房和城乡建设局", "市公安局")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["ok", "该工单状态已变化，请刷新。"]
    with session_scope() as s:
        case = casework.get_case(s, number)
        events = list(s.scalars(select(CaseEvent.action).where(CaseEvent.case_id == case.id)))
        assert events.count("referred") == 1 and case.status == "referred"
        notices = outbox(s, kind="referral_department")
        assert len(notices) == 1 and notices[0].to == case.department.sms_number
        assert len(outbox(s, kind="referral_citizen")) == 1


def test_the_loser_of_a_race_sees_the_refresh_message_on_the_page(client, hotline_env: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import login, make_user

    make_user("agent1", ["agent"])
    with session_scope() as s:
        case, _ = new_case(s)
        number = case.case_number
        dept_id = department(s).id
    token = login(client, "agent1")
    page = client.get(f"/agent/cases/{number}")
    assert 'action="/agent/cases/' + number + '/refer"' in page.text
    with session_scope() as s:  # another agent answers it meanwhile
        casework.answer_directly(s, casework.get_case(s, number), actor="agent2", answer="已电话答复。")
    resp = client.post(
        f"/agent/cases/{number}/refer", data={"department_id": dept_id, "csrf_token": token}
    )
    assert resp.status_code == 200 and "不能转派" in resp.text
    assert f'action="/agent/cases/{number}/refer"' not in resp.text


def test_casework_0003_keeps_existing_cases_and_makes_them_searchable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """A database at casework_0002 with a case: the upgrade keeps it, fills its search terms, checks
    its status from then on."""
    from alembic import command

    from casework import search
    from hotline import bootstrap
    from hotline.migrate import alembic_config
    from tests.conftest import _use_home

    for url in (None, request.getfixturevalue("pg_database")):
        _use_home(monkeypatch, tmp_path / ("pg" if url else "sqlite"), url)
        (tmp_path / ("pg" if url else "sqlite")).mkdir()
        command.upgrade(alembic_config(), "casework@casework_0002")
        with get_engine().begin() as conn:
            conn.execute(text(
                "INSERT INTO cases (id, case_number, password_hash, channel, caller_number, confidential,"
                " category, topic, content, address, urgency, status, flags, supervised, created_by, created_at,"
                " updated_at) VALUES (1, '2026113000001', 'x', 'phone', '13800000000', false, '投诉', '',"
                " '小区垃圾无人清运', '幸福路8号', 'normal', 'referred', '[]', false, 'a', '2026-11-30',"
                " '2026-11-30')"
            ))  # fmt: skip
        bootstrap.init()
        with session_scope() as s:
            found = search.find(s, search.CaseFilter(q="垃圾清运 幸福路")).cases
            assert [c.case_number for c in found] == ["2026113000001"]
            assert found[0].status == "referred"
        with pytest.raises(IntegrityError), session_scope() as s:
            s.execute(update(Case).values(status="lost"))
