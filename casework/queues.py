"""Work queues: the saved views of each role (agent, department, supervisor) with their counts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, select
from sqlalchemy.orm import Session

from casework.assisting import assisted_by
from casework.lifecycle import ACTIONS, ASSIST, DEADLINE_STATUSES, OPEN_STATUSES, WITH_DEPARTMENT
from casework.models import Case, Department, HandlingUnit, Instruction, Urge
from casework.search import COUNT_LIMIT
from hotline.db import utcnow

Where = Callable[["Scope"], list[ColumnElement[bool]]]


@dataclass(frozen=True)
class Scope:
    """Who is looking: their user name, their department (department staff) and the time."""

    username: str
    department: Department | None
    now: datetime


@dataclass(frozen=True)
class View:
    """A saved view; `assisting`: a department's view of the cases it assists on (协办) instead of those
    it leads."""

    key: str
    label: str
    where: Where
    assisting: bool = False


def _status(*statuses: str) -> Where:
    return lambda scope: [Case.status.in_(statuses)]


def _overdue(scope: Scope) -> list[ColumnElement[bool]]:
    return [Case.status.in_(DEADLINE_STATUSES), Case.deadline < scope.now]


def _due_soon(scope: Scope) -> list[ColumnElement[bool]]:
    return [Case.status.in_(WITH_DEPARTMENT), Case.due_level == "yellow", Case.deadline >= scope.now]


def _urged(scope: Scope) -> list[ColumnElement[bool]]:
    unread = and_(Urge.case_id == Case.id, Urge.read_at.is_(None))
    if scope.department is not None:
        unread = and_(unread, Urge.department_id == scope.department.id)
    return [Case.status.in_(WITH_DEPARTMENT), exists().where(unread)]


def _instructions(scope: Scope) -> list[ColumnElement[bool]]:
    return [exists().where(Instruction.case_id == Case.id, Instruction.acknowledged_at.is_(None))]


OPINION_STATUSES = ACTIONS["add_opinion"].sources  # while an assisting department's opinion is wanted


def _opinion_due(scope: Scope) -> list[ColumnElement[bool]]:
    """Being handled, and this department has given no opinion yet."""
    department_id = scope.department.id if scope.department is not None else -1
    given = exists().where(
        HandlingUnit.case_id == Case.id,
        HandlingUnit.department_id == department_id,
        HandlingUnit.role == ASSIST,
        HandlingUnit.opinion_at.is_not(None),
    )
    return [Case.status.in_(OPINION_STATUSES), ~given]


VIEWS: dict[str, tuple[View, ...]] = {
    "agent": (
        View("submissions", "待受理留言", _status("pending_review")),
        View("replies", "部门反馈待审核", _status("replied")),
        View("returned", "部门退回", _status("returned")),
        View("follow_up", "待回访", _status("reviewed")),
        View("mine", "我登记的工单", lambda scope: [Case.created_by == scope.username]),
    ),
    "department": (
        View("to_sign", "待签收", _status("referred")),
        View("in_progress", "办理中", _status("accepted", "in_progress")),
        View("due_soon", "即将到期", _due_soon),
        View("overdue", "已超期", lambda scope: [*_overdue(scope), Case.status.in_(WITH_DEPARTMENT)]),
        View("urged", "被催办", _urged),
        View("instructions", "待确认批示", _instructions),
        View("assist_due", "待提协办意见", _opinion_due, assisting=True),
        View("assisting", "协办工单", lambda scope: [], assisting=True),
    ),
    "supervisor": (
        View("all", "全部工单", lambda scope: []),
        View("open", "未办结", _status(*OPEN_STATUSES)),
        View("overdue", "已超期", _overdue),
        View("supervised", "督办工单", lambda scope: [Case.supervised.is_(True)]),
    ),
}


TODO = {"agent": ("submissions", "replies", "returned"),
        "department": ("to_sign", "instructions", "assist_due"),
        "supervisor": ("overdue",)}  # fmt: skip  # what the navigation's count adds up


def scope_for(username: str, department: Department | None = None, now: datetime | None = None) -> Scope:
    return Scope(username=username, department=department, now=now or utcnow())


def view_of(role: str, key: str) -> View:
    """The role's view named `key` (its first view when the key is unknown)."""
    views = VIEWS[role]
    return next((v for v in views if v.key == key), views[0])


def statement(view: View, scope: Scope) -> Select:
    """The cases of a view (a department only ever sees its own: those it leads, or in its assisting
    views those it assists on)."""
    stmt = select(Case).where(*view.where(scope))
    if scope.department is not None:
        department_id = scope.department.id
        stmt = stmt.where(assisted_by(department_id) if view.assisting else Case.department_id == department_id)
    elif view.assisting:
        stmt = stmt.where(false())  # no department, no cases it assists on
    return stmt


def counts(session: Session, role: str, scope: Scope, keys: tuple[str, ...] | None = None) -> dict[str, int]:
    """How many cases each of the role's views (or those named) holds, counted up to COUNT_LIMIT + 1."""
    out = {}
    for view in VIEWS[role]:
        if keys is not None and view.key not in keys:
            continue
        limited = statement(view, scope).with_only_columns(Case.id).limit(COUNT_LIMIT + 1).subquery()
        out[view.key] = session.scalar(select(func.count()).select_from(limited)) or 0
    return out
