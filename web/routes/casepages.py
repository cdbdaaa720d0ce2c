"""Helpers shared by the case-work pages (citizen, agent, department, supervisor): the case form,
case lookup and running a case action."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

import casework
from casework.calendar import LOCAL_TZ  # noqa: F401 - the case pages' time zone, imported from here
from casework.lifecycle import allowed_actions
from casework.models import Case
from web.templating import back_page, flash, templates

URGENCIES = {"normal": "一般", "urgent": "紧急"}
SATISFACTION = ("满意", "基本满意", "不满意")
PHONE_RE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
MAX_CONTENT = 2000


@dataclass
class CaseForm:
    """A case request as typed into a form, with the errors found in it (keyed by field)."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


class CaseFields(BaseModel):
    """The fields of a case form as posted (Form() model: read before the handler runs, so that the
    handler can be a plain function off the event loop); read_case_form checks them."""

    name: str = ""
    phone: str = ""
    caller_number: str = ""
    category: str = ""
    topic: str = ""
    content: str = ""
    address: str = ""
    district: str = ""
    urgency: str = ""
    confidential: str = ""
    call_id: str = ""


def read_case_form(form: dict[str, Any], *, phone_field: str = "phone") -> CaseForm:
    """Clean and validate the fields of a case form; messages are Chinese, for the person typing."""
    names = ("name", phone_field, "category", "topic", "content", "address", "district", "urgency")
    values = {name: str(form.get(name) or "").strip() for name in names}
    values["confidential"] = "1" if form.get("confidential") else ""
    values[phone_field] = re.sub(r"[\s()]", "", values[phone_field])
    errors: dict[str, str] = {}
    if not values[phone_field]:
        errors[phone_field] = "请填写联系电话。"
    elif not PHONE_RE.match(values[phone_field]):
        errors[phone_field] = "联系电话格式不正确，请填写11位手机号或带区号的固定电话。"
    if values["category"] not in casework.categories():
        errors["category"] = "请选择诉求类别。"
    content = values["content"]
    if not content:
        errors["content"] = "请填写诉求内容。"
    elif len(content) < 5:
        errors["content"] = "诉求内容过短，请具体描述您的问题（至少5个字）。"
    elif len(content) > MAX_CONTENT:
        errors["content"] = f"诉求内容不能超过{MAX_CONTENT}字。"
    for name, limit in {"name": 32, "topic": 100, "address": 200, "district": 32}.items():
        if len(values[name]) > limit:
            errors[name] = f"不能超过{limit}个字。"
    if values["urgency"] not in URGENCIES:
        values["urgency"] = "normal"
    return CaseForm(values, errors)


def case_or_404(db: Session, case_number: str) -> Any:
    case = casework.get_case(db, case_number) if case_number.isdigit() else None
    if case is None:
        raise HTTPException(status_code=404, detail="工单不存在。")
    return case


def all_departments(db: Session) -> list[Any]:
    return list(db.scalars(select(casework.Department).order_by(casework.Department.name)))


def case_action(
    request: Request,
    db: Session,
    case_number: str,
    action: Callable[[Case], object],
    *,
    done: str | None = None,
    message: str = "操作成功。",
) -> Response:
    """Run one domain action on a case, on the case page's URL plus an action (.../cases/<n>/<action>):
    back to that page (or `done`) with `message`. A refused action (CaseError) is rolled back by the
    unit of work and shown on the case page (web.app)."""
    action(case_or_404(db, case_number))
    flash(request, "ok", message)
    return RedirectResponse(done or back_page(request), status_code=303)


templates.env.globals["allowed_actions"] = allowed_actions  # the buttons a case page shows
templates.env.globals["due_level"] = casework.due_level
