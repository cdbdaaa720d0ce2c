"""Small helpers for the case-work tests."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

import casework
from casework.models import OutboxMessage


def new_case(session: Session, **kw: object) -> tuple[casework.Case, str]:
    values: dict[str, object] = {
        "channel": "phone",
        "caller_number": "13812345678",
        "content": "幸福小区夜间施工噪音很大，影响休息。",
        "category": "投诉",
    }
    values.update(kw)
    return casework.create_case(session, **values)  # type: ignore[arg-type]


def department(
    session: Session, name: str = "市住房和城乡建设局", sms: str | None = "13900000001"
) -> casework.Department:
    dept = casework.department_by_name(session, name)
    assert dept is not None
    dept.sms_number = sms
    return dept


def outbox(session: Session, **where: object) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).filter_by(**where).order_by(OutboxMessage.id)
    return list(session.scalars(stmt))
