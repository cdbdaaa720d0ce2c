"""Handling units (承办单位) as the administrators keep them: name, remit and its routing keywords, SMS
and fax numbers, contacts, parent unit, active. Every change is audited."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from casework.errors import CaseError
from casework.models import Department
from hotline import audit
from hotline.models import User
from hotline.users import contact_number

MAX_KEYWORDS = 200


@dataclass
class DepartmentForm:
    """What the admin page sends for a department (text fields as typed)."""

    name: str
    remit: str = ""
    keywords: str = ""  # separated by commas, spaces or new lines
    contact_phone: str = ""
    sms_number: str = ""
    fax: str = ""
    contacts: str = ""
    parent_id: int | None = None
    active: bool = True
    errors: list[str] = field(default_factory=list)


def parse_keywords(text: str) -> list[str]:
    """Keywords in the order given, without repeats or empty ones."""
    words = [w.strip() for w in re.split(r"[,，、;；\s]+", text or "")]
    return list(dict.fromkeys(w[:20] for w in words if w))


def _number(value: str, what: str) -> str | None:
    try:
        return contact_number(value)
    except ValueError:
        raise CaseError(f"{what}应为5至20位数字。") from None


def departments(session: Session) -> list[Department]:
    return list(session.scalars(select(Department).order_by(Department.name)))


def _check_parent(session: Session, department: Department | None, parent_id: int | None) -> int | None:
    if parent_id is None:
        return None
    parent = session.get(Department, parent_id)
    if parent is None:
        raise CaseError("上级单位不存在。")
    seen = set()
    while parent is not None and parent.id not in seen:  # no unit may be its own ancestor
        if department is not None and parent.id == department.id:
            raise CaseError("上级单位不能是本单位或其下级单位。")
        seen.add(parent.id)
        parent = session.get(Department, parent.parent_id) if parent.parent_id else None
    return parent_id


def save_department(
    session: Session, department: Department | None, form: DepartmentForm, *, actor: str
) -> Department:
    """Create (department None) or change a department from the admin form; refused with CaseError
    (Chinese message) for an empty or taken name, bad numbers or a parent cycle."""
    name = form.name.strip()
    if not name or len(name) > 128:
        raise CaseError("请填写单位名称（最多128个字符）。")
    taken = session.scalar(select(Department).where(Department.name == name))
    if taken is not None and taken is not department:
        raise CaseError(f"单位“{name}”已存在。")
    keywords = parse_keywords(form.keywords)
    if len(keywords) > MAX_KEYWORDS:
        raise CaseError(f"关键词最多{MAX_KEYWORDS}个。")
    values = {
        "name": name,
        "remit": form.remit.strip()[:5000],
        "keywords": keywords,
        "contact_phone": _number(form.contact_phone, "联系电话"),
        "sms_number": _number(form.sms_number, "短信号码"),
        "fax": _number(form.fax, "传真号码"),
        "contacts": form.contacts.strip()[:2000],
        "parent_id": _check_parent(session, department, form.parent_id),
        "active": form.active,
    }
    if department is None:
        department = Department(**values)
        session.add(department)
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="department_created",
            entity="department",
            entity_id=department.id,
            detail={"name": name},
        )
        return department
    changes = {k: [getattr(department, k), v] for k, v in values.items() if getattr(department, k) != v}
    if "name" in changes:  # staff accounts name their unit: they follow a renamed one
        session.execute(update(User).where(User.department == department.name).values(department=name))
    for key, (_, value) in changes.items():
        setattr(department, key, value)
    if changes:
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="department_changed",
            entity="department",
            entity_id=department.id,
            detail=changes,
        )
    return department
