"""主办 + 协办 (casework/assisting.py): a case referred to a lead department with assisting ones; the
assisting departments are told, see it and give opinions, and nothing else; supervisors add and remove
them; the lead's row follows cases.department_id; deadlines and KPIs count the lead. Both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

import casework
from casework import assisting, lifecycle, queues
from casework.models import Case, CaseEvent, HandlingUnit, StaffNotice
from hotline.db import session_scope
from hotline.models import AuditEntry, User
from tests.casework.helpers import department, new_case, outbox

LEAD, CITY, POLICE, ENV = "市住房和城乡建设局", "市城市管理局", "市公安局", "市生态环境局"


def _referred(s, *helpers: str) -> Case:  # type: ignore[no-untyped-def]
    case, _ = new_case(s, content="幸福路烧烤店油烟和噪音扰民，晚上十二点还在营业。")
    depts = [department(s, name, sms=f"1390000000{i}") for i, name in enumerate(helpers, start=2)]
    casework.refer(s, case, department(s, LEAD), actor="agent1", note="请现场核查", assisting=depts)
    return case


def _units(s, case: Case) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    rows = s.scalars(select(HandlingUnit).where(HandlingUnit.case_id == case.id).order_by(HandlingUnit.id))
    return [(r.role, r.department.name) for r in rows]


def test_referral_with_assisting_departments_tells_each_of_them(hotline_env: Path) -> None:
    with session_scope() as s:
        case = _referred(s, CITY, POLICE)
        assert _units(s, case) == [("lead", LEAD), ("assist", CITY), ("assist", POLICE)]
        assert [d.name for d in assisting.assisting_departments(case)] == [CITY, POLICE]
        sms = {m.to: m.body for m in outbox(s, kind="assist_department")}
        assert set(sms) == {"13900000002", "13900000003"}
        assert f"由{LEAD}主办" in sms["13900000002"] and case.case_number in sms["13900000002"]
        assert [m.to for m in outbox(s, kind="referral_department")] == ["13900000001"]  # the lead only
        notices = s.scalars(select(StaffNotice).where(StaffNotice.kind == "assist")).all()
        assert {n.department_id for n in notices} == {department(s, CITY).id, department(s, POLICE).id}
        event = s.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == "referred")
        ).one()
        assert event.comment == f"转派至{LEAD}：协办单位：{CITY}、{POLICE}；请现场核查"


@pytest.mark.parametrize(
    ("helpers", "message"),
    [
        ([LEAD], f"主办单位“{LEAD}”不能同时作为协办单位。"),
        ([CITY, POLICE, ENV, "市水务局", "市民政局", "市教育局"], "协办单位最多选择5个。"),
    ],
)
def test_a_bad_choice_of_assisting_departments_is_refused_and_nothing_written(
    sqlite_env: Path, helpers: list[str], message: str
) -> None:
    with session_scope() as s:
        case, _ = new_case(s)
        with pytest.raises(casework.CaseError, match=message):
            casework.refer(s, case, department(s, LEAD), actor="agent1",
                           assisting=[department(s, n) for n in helpers])  # fmt: skip
        assert case.status == "registered" and _units(s, case) == []


def test_an_inactive_department_cannot_assist(sqlite_env: Path) -> None:
    with session_scope() as s:
        case, _ = new_case(s)
        gone = department(s, ENV)
        gone.active = False
        with pytest.raises(casework.CaseError, match="已停用"):
            casework.refer(s, case, department(s, LEAD), actor="agent1", assisting=[gone])


def test_assisting_staff_give_opinions_and_nothing_else(hotline_env: Path) -> None:
    with session_scope() as s:
        case = _referred(s, CITY, POLICE)
        helper = User(username="city1", roles="department", department=CITY)
        lead = User(username="lead1", roles="department", department=LEAD)
        outsider = User(username="env1", roles="department", department=ENV)
        assert lifecycle.allowed_actions(case, helper) == {"add_opinion"}
        assert "add_opinion" not in lifecycle.allowed_actions(case, lead)
        assert {"accept", "return_case", "request_extension"} <= lifecycle.allowed_actions(case, lead)
        assert lifecycle.allowed_actions(case, outsider) == set()
        with pytest.raises(casework.CaseError, match="不是该工单的协办单位"):
            casework.add_opinion(s, case, department(s, LEAD), actor="lead1", opinion="主办不写协办意见")
        with pytest.raises(casework.CaseError, match="请填写协办意见"):
            casework.add_opinion(s, case, department(s, CITY), actor="city1", opinion="  ")
        unit = casework.add_opinion(
            s, case, department(s, CITY), actor="city1", opinion="该店占道经营，城管可配合执法。"
        )
        assert (
            unit.opinion == "该店占道经营，城管可配合执法。"
            and unit.opinion_by == "city1"
            and unit.opinion_at
        )
        # only the city department's notice is settled; the police still have theirs to answer
        unread = s.scalars(
            select(StaffNotice).where(StaffNotice.kind == "assist", StaffNotice.read_at.is_(None))
        ).all()
        assert [n.department_id for n in unread] == [department(s, POLICE).id]
        event = s.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == "assist_opinion")
        ).one()
        assert event.comment == f"{CITY}：该店占道经营，城管可配合执法。" and event.label == "协办意见"
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "case.assist_opinion")) is not None
        casework.accept(s, case, actor="lead1")
        casework.reply(s, case, actor="lead1", reply="已会同城管部门现场处理。")
        with pytest.raises(casework.IllegalTransition):
            casework.add_opinion(s, case, department(s, POLICE), actor="police1", opinion="晚了")
        assert lifecycle.allowed_actions(case, helper) == set()
        assert (
            s.scalars(
                select(StaffNotice).where(StaffNotice.kind == "assist", StaffNotice.read_at.is_(None))
            ).all()
            == []
        )  # the lead replied: no opinion is waited for


def test_the_lead_row_follows_return_and_referral_again(hotline_env: Path) -> None:
    with session_scope() as s:
        case = _referred(s, CITY)
        casework.add_opinion(s, case, department(s, CITY), actor="city1", opinion="建议由城管主办。")
        casework.return_case(s, case, actor="lead1", reason="油烟噪音属城管职责")
        assert case.department_id is None and _units(s, case) == [("assist", CITY)]
        # referred again: the former assisting department leads, another one assists
        casework.refer(s, case, department(s, CITY), actor="agent1", assisting=[department(s, ENV)])
        assert _units(s, case) == [("lead", CITY), ("assist", ENV)]
        lead = s.scalars(
            select(HandlingUnit).where(HandlingUnit.case_id == case.id, HandlingUnit.role == "lead")
        ).one()
        assert lead.department_id == case.department_id
        # the opinion given while it assisted stays on the timeline
        assert "建议由城管主办。" in " ".join(e.comment for e in casework.timeline(s, case))


def test_supervisors_add_and_remove_assisting_departments_audited(hotline_env: Path) -> None:
    with session_scope() as s:
        case = _referred(s)
        casework.add_assist(s, case, department(s, POLICE, sms="13900000009"), actor="sup1")
        assert _units(s, case) == [("lead", LEAD), ("assist", POLICE)]
        assert [m.to for m in outbox(s, kind="assist_department")] == ["13900000009"]
        with pytest.raises(casework.CaseError, match="已是该工单的协办单位"):
            casework.add_assist(s, case, department(s, POLICE), actor="sup1")
        with pytest.raises(casework.CaseError, match="不能同时作为协办单位"):
            casework.add_assist(s, case, department(s, LEAD), actor="sup1")
        casework.add_assist(s, case, department(s, ENV), actor="sup1")
        casework.remove_assist(s, case, department(s, POLICE), actor="sup1")
        assert _units(s, case) == [("lead", LEAD), ("assist", ENV)]
        with pytest.raises(casework.CaseError, match="不是该工单的协办单位"):
            casework.remove_assist(s, case, department(s, POLICE), actor="sup1")
        actions = s.scalars(
            select(AuditEntry.action).where(AuditEntry.entity_id == case.case_number).order_by(AuditEntry.id)
        ).all()
        assert actions[-3:] == ["case.assist_added", "case.assist_added", "case.assist_removed"]
        unread = s.scalars(
            select(StaffNotice.department_id).where(
                StaffNotice.kind == "assist", StaffNotice.read_at.is_(None)
            )
        ).all()
        assert unread == [department(s, ENV).id]  # the removed department's notice is settled
        agent = User(username="agent1", roles="agent")
        supervisor = User(username="sup1", roles="supervisor")
        assert not {"add_assist", "remove_assist"} & lifecycle.allowed_actions(case, agent)
        assert {"add_assist", "remove_assist"} <= lifecycle.allowed_actions(case, supervisor)


def test_queues_deadlines_and_kpis_count_the_lead_only(hotline_env: Path) -> None:
    with session_scope() as s:
        case = _referred(s, CITY)
        city, lead = department(s, CITY), department(s, LEAD)
        assert casework.cases_for_department(s, city) == [] and casework.cases_for_department(s, lead) == [
            case
        ]
        assert casework.cases_assisted_by(s, city) == [case]
        scope = queues.scope_for("city1", city)
        counts = queues.counts(s, "department", scope)
        assert counts["assist_due"] == 1 and counts["assisting"] == 1 and counts["to_sign"] == 0
        assert queues.counts(s, "department", queues.scope_for("lead1", lead))["assisting"] == 0
        casework.add_opinion(s, case, city, actor="city1", opinion="可配合。")
        assert queues.counts(s, "department", scope)["assist_due"] == 0
        assert casework.dashboard_kpis(s)["by_department"] == {LEAD: 1}


def test_case_list_assisting_flag(hotline_env: Path) -> None:
    from tests.casework.test_case_cli import _lines, _run

    with session_scope() as s:
        case = _referred(s, CITY)
        number = case.case_number
    assert _lines(_run("list", "--department", CITY, "--json")[1]) == []
    rows = _lines(_run("list", "--department", CITY, "--assisting", "--json")[1])
    assert [r["case_number"] for r in rows] == [number] and rows[0]["assisting"] == [CITY]
    assert rows[0]["department"] == LEAD
    code, out = _run("list", "--assisting")
    assert code != 0 and "--department" in out


def test_the_upgrade_makes_each_referred_cases_department_its_lead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """A database at casework_0009 with a referred and an unreferred case: casework_0011 gives the
    referred one its department as the lead row and the other none."""
    from alembic import command
    from sqlalchemy import text

    from hotline import bootstrap
    from hotline.db import get_engine
    from hotline.migrate import alembic_config
    from tests.conftest import _use_home

    for url in (None, request.getfixturevalue("pg_database")):
        home = tmp_path / ("pg" if url else "sqlite")
        _use_home(monkeypatch, home, url)
        home.mkdir()
        command.upgrade(alembic_config(), "core@head")  # the core as it was before (departments' columns)
        command.upgrade(alembic_config(), "casework@casework_0009")
        with get_engine().begin() as conn:
            conn.execute(text(
                "INSERT INTO case_departments (id, name, remit, keywords, active)"
                " VALUES (900, '迁移测试局', '', '[]', true)"
            ))  # fmt: skip
            for case_id, department_id in ((1, 900), (2, None)):
                conn.execute(
                    text(
                        "INSERT INTO cases (id, case_number, password_hash, channel, caller_number,"
                        " confidential, category, topic, content, urgency, status, department_id, flags,"
                        " supervised, created_by, created_at, updated_at, referred_at) VALUES (:id,"
                        " :number, 'x', 'phone', '13800000000', false, '投诉', '', '噪音扰民', 'normal',"
                        " :status, :dept, '[]', false, 'a', '2026-11-30', '2026-11-30', :referred)"
                    ),
                    {
                        "id": case_id,
                        "number": f"202611300000{case_id}",
                        "status": "referred" if department_id else "registered",
                        "dept": department_id,
                        "referred": "2026-11-30" if department_id else None,
                    },
                )
        bootstrap.init()
        with session_scope() as s:
            rows = s.scalars(select(HandlingUnit)).all()
            assert [(r.case_id, r.department_id, r.role, r.added_by) for r in rows] == [
                (1, 900, "lead", "migration")
            ]
            referred = s.get(Case, 1)
            assert referred is not None and [u.role for u in referred.units] == ["lead"]


def test_two_supervisors_adding_the_same_department_at_once_add_it_once(hotline_env: Path) -> None:
    import threading

    from hotline.db import new_session

    with session_scope() as s:
        number = _referred(s).case_number
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def supervisor(name: str) -> None:
        session = new_session()
        try:
            mine = casework.get_case(session, number)
            helper = casework.department_by_name(session, POLICE)
            assert mine is not None and [u.role for u in mine.units] == ["lead"]
            barrier.wait()
            casework.add_assist(session, mine, helper, actor=name)
            session.commit()
            outcomes.append("ok")
        except casework.CaseError as exc:
            session.rollback()
            outcomes.append(str(exc))
        finally:
            session.close()

    threads = [threading.Thread(target=supervisor, args=(n,)) for n in ("sup1", "sup2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes)[0] == "ok" and sorted(outcomes)[1] in (
        assisting.STALE,
        f"“{POLICE}”已是该工单的协办单位。",
    )
    with session_scope() as s:
        case = casework.get_case(s, number)
        assert case is not None and _units(s, case) == [("lead", LEAD), ("assist", POLICE)]
        assert len(s.scalars(select(StaffNotice).where(StaffNotice.kind == "assist")).all()) == 1
