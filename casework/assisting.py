"""主办 and 协办: the departments on a case. The lead department (主办) handles the case and replies to the
citizen; assisting departments (协办) see the case and give their opinion (协办意见), which the lead reads
before replying. Each is a row of case_handling_units (HandlingUnit); the lead's row mirrors
cases.department_id, which the queries, deadlines and KPIs read (they count the lead only).

The rows change only through the life cycle's actions (casework.workflow: refer, return_case, add_assist,
remove_assist, add_opinion), which record the timeline and audit entries; this module holds the rules on
which departments may assist and the queries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, delete, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from casework.errors import CaseChanged, CaseError
from casework.lifecycle import ASSIST, LEAD
from casework.models import Case, Department, HandlingUnit

MAX_ASSISTING = 5  # 协办单位 on one case
STALE = "该工单的承办单位已变化，请刷新。"


def assisting_units(case: Case) -> list[HandlingUnit]:
    """The case's assisting departments' rows (with their opinions), in the order they were added."""
    return [u for u in case.units if u.role == ASSIST]


def assisting_departments(case: Case) -> list[Department]:
    return [u.department for u in assisting_units(case)]


def unit_of(case: Case, department: Department | None) -> HandlingUnit | None:
    """The case's assisting row of this department (None when it does not assist)."""
    if department is None:
        return None
    return next((u for u in assisting_units(case) if u.department_id == department.id), None)


def assists(case: Case, department_name: str | None) -> bool:
    """Whether the department named assists on the case (协办 staff may open it)."""
    return bool(department_name) and any(u.department.name == department_name for u in assisting_units(case))


def assisted_by(department_id: int) -> ColumnElement[bool]:
    """SQL: the case (Case) has this department as an assisting one."""
    return exists().where(
        HandlingUnit.case_id == Case.id,
        HandlingUnit.department_id == department_id,
        HandlingUnit.role == ASSIST,
    )


def lead_or_assisting(department_id: int) -> ColumnElement[bool]:
    """SQL: the department leads the case or assists on it."""
    return or_(Case.department_id == department_id, assisted_by(department_id))


def choose(lead: Department, departments: Iterable[Department | None]) -> list[Department]:
    """The assisting departments for a case led by `lead`, checked: active, not the lead, each once, at
    most MAX_ASSISTING. Refusals are CaseError with a Chinese message."""
    chosen: list[Department] = []
    for department in departments:
        if department is None:
            raise CaseError("请选择有效的协办单位。")
        if not department.active:
            raise CaseError(f"协办单位“{department.name}”已停用，请选择其他部门。")
        if department.id == lead.id:
            raise CaseError(f"主办单位“{lead.name}”不能同时作为协办单位。")
        if all(d.id != department.id for d in chosen):
            chosen.append(department)
    if len(chosen) > MAX_ASSISTING:
        raise CaseError(f"协办单位最多选择{MAX_ASSISTING}个。")
    return chosen


def set_units(
    session: Session,
    case: Case,
    lead: Department | None,
    assisting: Sequence[Department] | None,
    *,
    actor: str,
) -> tuple[list[Department], list[Department]]:
    """Make `lead` the case's lead row (None: no lead, a returned case) and, unless `assisting` is None,
    the assisting rows exactly those departments (a department kept keeps its opinion). Returns the
    assisting departments added and removed."""
    rows = list(session.scalars(select(HandlingUnit).where(HandlingUnit.case_id == case.id)))
    keep_ids = {lead.id} if lead is not None else set()
    wanted = {d.id: d for d in assisting} if assisting is not None else None
    removed: list[Department] = []
    present = set()
    for row in rows:
        stale_lead = row.role == LEAD and (lead is None or row.department_id != lead.id)
        unwanted = row.role == ASSIST and (
            (wanted is not None and row.department_id not in wanted) or row.department_id in keep_ids
        )
        if stale_lead or unwanted:
            if row.role == ASSIST:
                removed.append(row.department)
            session.delete(row)
        else:
            present.add((row.role, row.department_id))
    session.flush()  # the deletes first: a department moving between lead and assist keeps one row
    new = []
    if lead is not None and (LEAD, lead.id) not in present:
        new.append(HandlingUnit(case_id=case.id, department_id=lead.id, role=LEAD, added_by=actor))
    added = [d for d in (wanted or {}).values() if (ASSIST, d.id) not in present]
    new += [HandlingUnit(case_id=case.id, department_id=d.id, role=ASSIST, added_by=actor) for d in added]
    try:
        with session.begin_nested():  # two supervisors adding the same department at once: one wins
            session.add_all(new)
    except IntegrityError as exc:
        raise CaseChanged(STALE) from exc
    session.expire(case, ["units"])
    return added, removed


def add_assisting(session: Session, case: Case, department: Department, *, actor: str) -> None:
    """One more assisting department (the others untouched); CaseChanged when another supervisor added
    it meanwhile."""
    taken = select(HandlingUnit.id).where(
        HandlingUnit.case_id == case.id, HandlingUnit.department_id == department.id
    )
    if session.scalar(taken) is not None:
        raise CaseChanged(STALE)
    row = HandlingUnit(case_id=case.id, department_id=department.id, role=ASSIST, added_by=actor)
    try:
        with session.begin_nested():  # two supervisors adding the same department at once: one wins
            session.add(row)
    except IntegrityError as exc:
        raise CaseChanged(STALE) from exc
    session.expire(case, ["units"])


def drop_assisting(session: Session, case: Case, department: Department) -> None:
    session.execute(
        delete(HandlingUnit).where(
            HandlingUnit.case_id == case.id,
            HandlingUnit.department_id == department.id,
            HandlingUnit.role == ASSIST,
        )
    )
    session.flush()
    session.expire(case, ["units"])


def names_by_case(session: Session, case_ids: Sequence[int]) -> dict[int, list[str]]:
    """The assisting departments' names of each case (the CLI's listing)."""
    out: dict[int, list[str]] = {}
    if not case_ids:
        return out
    rows = session.execute(
        select(HandlingUnit.case_id, Department.name)
        .join(Department, Department.id == HandlingUnit.department_id)
        .where(HandlingUnit.case_id.in_(case_ids), HandlingUnit.role == ASSIST)
        .order_by(HandlingUnit.id)
    )
    for case_id, name in rows:
        out.setdefault(case_id, []).append(name)
    return out


def cases_assisted_by(session: Session, department: Department, *, limit: int = 200) -> list[Case]:
    """The cases the department assists on (协办), newest first (the department portal's list)."""
    stmt = select(Case).where(assisted_by(department.id)).order_by(Case.id.desc()).limit(limit)
    return list(session.scalars(stmt))
