"""Administration (系统管理, admin role): staff accounts, departments, case deadlines, service hours and
the holiday calendar (the one calendar the IVR and the deadlines read), the IVR's prompts (with 试听), and
the audit trail. Every change is made by the domain packages, which audit it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from casework import calendar, mailsettings
from casework.departments import DepartmentForm, departments, save_department
from casework.errors import CaseError
from casework.models import Department
from hotline import users
from hotline.models import ROLE_LABELS, ROLES, AuditEntry, User
from selfservice import prompts
from selfservice.menu import load_menu
from web.security import SessionDep, refused, require_roles
from web.templating import back_to, flash, pop_flash, render

router = APIRouter(prefix="/admin")
Admin = Annotated[User, Depends(require_roles("admin"))]
WEEKDAYS = {1: "周一", 2: "周二", 3: "周三", 4: "周四", 5: "周五", 6: "周六", 7: "周日"}
MAX_ID = 2**31 - 1
LIST_LIMIT = 500


def _row(db: Session, model: type, row_id: int) -> Any:
    row = db.get(model, row_id) if 0 < row_id <= MAX_ID else None
    if row is None:
        raise HTTPException(status_code=404, detail="记录不存在。")
    return row


def _like(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@router.get("")
def index(user: Admin) -> Response:
    return RedirectResponse("/admin/users", status_code=303)


# -- staff accounts ------------------------------------------------------------------------------


@router.get("/users")
def user_list(request: Request, db: SessionDep, user: Admin, q: str = "") -> Response:
    q = q.strip()[:64]
    stmt = select(User).order_by(User.username).limit(LIST_LIMIT)
    if q:
        like = _like(q)
        stmt = stmt.where(
            or_(
                *(
                    column.ilike(like, escape="\\")
                    for column in (User.username, User.display_name, User.department, User.phone)
                )
            )
        )
    ctx = {
        "accounts": list(db.scalars(stmt)),
        "q": q,
        "role_labels": ROLE_LABELS,
        "flash": pop_flash(request),
    }
    return render(request, "admin/users.html", ctx)


def _user_form(
    request: Request, db: Session, account: User | None, values: dict[str, Any], error: str | None = None
) -> Response:
    ctx = {
        "account": account,
        "values": values,
        "roles": ROLES,
        "role_labels": ROLE_LABELS,
        "departments": departments(db),
        "error": error,
        "flash": pop_flash(request),
    }
    return render(request, "admin/user_form.html", ctx, status_code=422 if error else 200)


def _account_values(account: User) -> dict[str, Any]:
    return {
        "username": account.username,
        "display_name": account.display_name,
        "roles": sorted(account.role_set),
        "department": account.department or "",
        "phone": account.phone or "",
    }


@router.get("/users/new")
def new_user(request: Request, db: SessionDep, user: Admin) -> Response:
    return _user_form(request, db, None, {"roles": []})


@router.post("/users")
def create_user(
    request: Request,
    db: SessionDep,
    user: Admin,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    display_name: Annotated[str, Form()] = "",
    roles: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI reads the default, never mutates it)
    department: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
) -> Response:
    values = {
        "username": username,
        "display_name": display_name,
        "roles": roles,
        "department": department,
        "phone": phone,
    }
    with refused(db, users.UserError) as refusal:
        account = users.create_user(
            db,
            username,
            password,
            roles,
            display_name=display_name,
            department=department,
            phone=phone,
            actor=user.username,
        )
    if refusal:
        return _user_form(request, db, None, values, refusal.message)
    flash(request, "ok", f"已创建账号“{account.username}”。")
    return RedirectResponse(f"/admin/users/{account.id}", status_code=303)


@router.get("/users/{user_id}")
def edit_user(request: Request, db: SessionDep, user: Admin, user_id: int) -> Response:
    account = _row(db, User, user_id)
    return _user_form(request, db, account, _account_values(account))


@router.post("/users/{user_id}")
def update_user(
    request: Request,
    db: SessionDep,
    user: Admin,
    user_id: int,
    display_name: Annotated[str, Form()] = "",
    roles: Annotated[list[str], Form()] = [],  # noqa: B006
    department: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
) -> Response:
    account = _row(db, User, user_id)
    values = _account_values(account) | {
        "display_name": display_name,
        "roles": roles,
        "department": department,
        "phone": phone,
    }
    with refused(db, users.UserError) as refusal:
        users.update_user(
            db,
            account,
            roles=roles,
            display_name=display_name,
            department=department,
            phone=phone,
            actor=user.username,
        )
    if refusal:
        return _user_form(request, db, account, values, refusal.message)
    flash(request, "ok", "账号信息已保存。")
    return RedirectResponse(f"/admin/users/{account.id}", status_code=303)


def _account_action(request: Request, account: User, action: Callable[[], object], message: str) -> Response:
    """One change to an account, back on its page (a refused one, UserError, is shown there by web.app)."""
    action()
    flash(request, "ok", message)
    return RedirectResponse(f"/admin/users/{account.id}", status_code=303)


@router.post("/users/{user_id}/active")
def set_active(
    request: Request, db: SessionDep, user: Admin, user_id: int, active: Annotated[str, Form()] = ""
) -> Response:
    account = _row(db, User, user_id)
    enable = active == "1"
    return _account_action(
        request,
        account,
        lambda: users.set_active(db, account, enable, actor=user.username),
        "账号已启用。" if enable else "账号已停用，其登录会话已全部结束。",
    )


@router.post("/users/{user_id}/password")
def reset_password(
    request: Request, db: SessionDep, user: Admin, user_id: int, password: Annotated[str, Form()] = ""
) -> Response:
    account = _row(db, User, user_id)
    return _account_action(
        request,
        account,
        lambda: users.reset_password(db, account, password, actor=user.username),
        "密码已重置，该用户下次登录时须修改密码；其登录会话已全部结束。",
    )


# -- departments ---------------------------------------------------------------------------------


@router.get("/departments")
def department_list(request: Request, db: SessionDep, user: Admin, q: str = "") -> Response:
    q = q.strip()[:64]
    rows = departments(db)
    if q:
        rows = [d for d in rows if q in d.name or q in (d.remit or "") or q in " ".join(d.keywords or [])]
    names = {d.id: d.name for d in departments(db)}
    ctx = {"departments": rows, "names": names, "q": q, "flash": pop_flash(request)}
    return render(request, "admin/departments.html", ctx)


def _department_form(
    request: Request,
    db: Session,
    department: Department | None,
    form: DepartmentForm,
    error: str | None = None,
) -> Response:
    ctx = {
        "department": department,
        "form": form,
        "parents": [d for d in departments(db) if department is None or d.id != department.id],
        "staff": (
            list(db.scalars(select(User).where(User.department == department.name).order_by(User.username)))
            if department is not None
            else []
        ),
        "error": error,
        "flash": pop_flash(request),
    }
    return render(request, "admin/department_form.html", ctx, status_code=422 if error else 200)


@router.get("/departments/new")
def new_department(request: Request, db: SessionDep, user: Admin) -> Response:
    return _department_form(request, db, None, DepartmentForm(name=""))


def _read_department(
    name: Annotated[str, Form()] = "",
    remit: Annotated[str, Form()] = "",
    keywords: Annotated[str, Form()] = "",
    contact_phone: Annotated[str, Form()] = "",
    sms_number: Annotated[str, Form()] = "",
    fax: Annotated[str, Form()] = "",
    contacts: Annotated[str, Form()] = "",
    parent_id: Annotated[str, Form()] = "",
    active: Annotated[str, Form()] = "",
) -> DepartmentForm:
    """The department form's fields (a dependency of the create and the update route)."""
    parent = int(parent_id) if parent_id.strip().isdigit() and len(parent_id.strip()) < 10 else None
    return DepartmentForm(
        name=name,
        remit=remit,
        keywords=keywords,
        contact_phone=contact_phone,
        sms_number=sms_number,
        fax=fax,
        contacts=contacts,
        parent_id=parent,
        active=active == "1",
    )


DepartmentFields = Annotated[DepartmentForm, Depends(_read_department)]


@router.post("/departments")
def create_department(request: Request, db: SessionDep, user: Admin, form: DepartmentFields) -> Response:
    return _save_department(request, db, user, None, form)


@router.get("/departments/{department_id}")
def edit_department(request: Request, db: SessionDep, user: Admin, department_id: int) -> Response:
    department = _row(db, Department, department_id)
    form = DepartmentForm(
        name=department.name,
        remit=department.remit or "",
        keywords="，".join(department.keywords or []),
        contact_phone=department.contact_phone or "",
        sms_number=department.sms_number or "",
        fax=department.fax or "",
        contacts=department.contacts or "",
        parent_id=department.parent_id,
        active=department.active,
    )
    return _department_form(request, db, department, form)


@router.post("/departments/{department_id}")
def update_department(
    request: Request, db: SessionDep, user: Admin, department_id: int, form: DepartmentFields
) -> Response:
    return _save_department(request, db, user, _row(db, Department, department_id), form)


def _save_department(
    request: Request, db: Session, user: User, department: Department | None, form: DepartmentForm
) -> Response:
    with refused(db, CaseError) as refusal:
        saved = save_department(db, department, form, actor=user.username)
    if refusal:
        return _department_form(request, db, department, form, refusal.message)
    flash(request, "ok", f"已保存单位“{saved.name}”。")
    return RedirectResponse(f"/admin/departments/{saved.id}", status_code=303)


# -- deadlines, service hours, holidays ----------------------------------------------------------


@router.get("/calendar")
def calendar_page(request: Request, db: SessionDep, user: Admin) -> Response:
    ctx = {
        "periods": calendar.periods(db),
        "categories": calendar.categories(db),
        "national": tuple(calendar.DEFAULT_PERIODS["normal"]),
        "hours": calendar.service_hours(db),
        "weekdays": WEEKDAYS,
        "holidays": calendar.holidays(db),
        "flash": pop_flash(request),
    }
    return render(request, "admin/calendar.html", ctx)


def _calendar_action(request: Request, action: Callable[[], object], message: str) -> Response:
    """One calendar change, back on the calendar page (a refused one, CaseError, is shown there by
    web.app)."""
    request.state.back_page = "/admin/calendar"
    action()
    flash(request, "ok", message)
    return RedirectResponse("/admin/calendar", status_code=303)


def _days(value: str) -> int:
    value = value.strip()
    if not value.isdigit() or len(value) > 3:
        raise CaseError(f"办理时限应为 1 至 {calendar.MAX_PERIOD} 个工作日的整数。")
    return int(value)


@router.post("/calendar/deadlines")
def save_deadlines(
    request: Request,
    db: SessionDep,
    user: Admin,
    normal: Annotated[list[str], Form()] = [],  # noqa: B006 (one per category, in the page's order)
    urgent: Annotated[list[str], Form()] = [],  # noqa: B006
    sign: Annotated[str, Form()] = "",
) -> Response:
    categories = calendar.categories(db)

    def save() -> None:
        if len(normal) != len(categories) or len(urgent) != len(categories):
            raise CaseError("请填写每个类别的办理时限。")
        values = {
            "normal": {c: _days(v) for c, v in zip(categories, normal, strict=True)},
            "urgent": {c: _days(v) for c, v in zip(categories, urgent, strict=True)},
            "sign": {"*": _days(sign)},
        }
        calendar.set_periods(db, values, actor=user.username)

    return _calendar_action(request, save, "办理时限已保存，新登记和新转派的工单按新时限计算。")


def _clock(value: str) -> time:
    try:
        return time.fromisoformat(value.strip())
    except ValueError:
        raise CaseError("时间格式应为 HH:MM。") from None


@router.post("/calendar/categories")
def add_category(
    request: Request,
    db: SessionDep,
    user: Admin,
    name: Annotated[str, Form()] = "",
    normal: Annotated[str, Form()] = "",
    urgent: Annotated[str, Form()] = "",
) -> Response:
    def save() -> None:
        calendar.add_category(db, name, normal=_days(normal), urgent=_days(urgent), actor=user.username)

    return _calendar_action(request, save, f"已新增诉求类别“{name.strip()}”。")


@router.post("/calendar/categories/delete")
def remove_category(
    request: Request, db: SessionDep, user: Admin, name: Annotated[str, Form()] = ""
) -> Response:
    return _calendar_action(
        request,
        lambda: calendar.remove_category(db, name.strip(), actor=user.username),
        "已删除该诉求类别（已有工单保留原类别）。",
    )


@router.post("/calendar/hours")
def save_hours(
    request: Request,
    db: SessionDep,
    user: Admin,
    open: Annotated[str, Form()] = "",
    close: Annotated[str, Form()] = "",
    weekdays: Annotated[list[str], Form()] = [],  # noqa: B006
) -> Response:
    def save() -> None:
        days = tuple(int(d) for d in weekdays if d.isdigit() and len(d) == 1)
        hours = calendar.ServiceHours(_clock(open), _clock(close), days)
        calendar.set_service_hours(db, hours, actor=user.username)

    return _calendar_action(request, save, "人工服务时间已保存，语音导航即时生效。")


def _day(value: str) -> date:
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise CaseError("日期格式应为 YYYY-MM-DD。") from None
    if not 2000 <= day.year <= 2099:
        raise CaseError("日期应在 2000 年至 2099 年之间。")
    return day


@router.post("/calendar/holidays")
def add_holiday(
    request: Request,
    db: SessionDep,
    user: Admin,
    day: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "holiday",
    name: Annotated[str, Form()] = "",
) -> Response:
    def save() -> None:
        calendar.set_holiday(db, _day(day), workday=kind == "workday", name=name, actor=user.username)

    message = "已设为调休工作日。" if kind == "workday" else "已设为节假日。"
    return _calendar_action(request, save, message)


@router.post("/calendar/holidays/{day}/delete", dependencies=[back_to("/admin/calendar")])
def remove_holiday(request: Request, db: SessionDep, user: Admin, day: str) -> Response:
    return _calendar_action(
        request,
        lambda: calendar.remove_holiday(db, _day(day), actor=user.username),
        "已从节假日表中删除。",
    )


# -- IVR prompts ---------------------------------------------------------------------------------


def _prompt_name(name: str) -> str:
    if name not in prompts.defaults(load_menu()):
        raise HTTPException(status_code=404, detail="没有这个提示音。")
    return name


@router.get("/ivr")
def ivr_prompts(request: Request, db: SessionDep, user: Admin) -> Response:
    """The IVR's prompts (the sub-menus' too): the menu file's texts and the ones the administrators
    changed."""
    menu = load_menu()
    changed, default = prompts.edited(db), prompts.defaults(menu)
    rows = [
        {"name": n, "label": prompts.label(n), "text": changed.get(n, default[n]), "edited": n in changed}
        for n in prompts.names(menu)
    ]
    ctx = {"rows": rows, "flash": pop_flash(request)}
    return render(request, "admin/ivr.html", ctx)


def _prompt_form(
    request: Request, db: Session, name: str, text: str | None = None, error: str | None = None
) -> Response:
    default = prompts.defaults(load_menu())[name]
    changed = prompts.edited(db)
    ctx = {
        "name": name,
        "label": prompts.label(name),
        "text": text if text is not None else changed.get(name, default),
        "default": default,
        "edited": name in changed,
        "placeholders": sorted(prompts.placeholders(default)),
        "samples": prompts.SAMPLE_VALUES,
        "max_length": prompts.MAX_PROMPT,
        "error": error,
        "flash": pop_flash(request),
    }
    return render(request, "admin/ivr_prompt.html", ctx, status_code=422 if error else 200)


@router.get("/ivr/{name}")
def ivr_prompt(request: Request, db: SessionDep, user: Admin, name: str) -> Response:
    return _prompt_form(request, db, _prompt_name(name))


@router.post("/ivr/{name}")
def save_ivr_prompt(
    request: Request, db: SessionDep, user: Admin, name: str, text: Annotated[str, Form()] = ""
) -> Response:
    name = _prompt_name(name)
    with refused(db, prompts.PromptError) as refusal:
        prompts.set_prompt(db, load_menu(), name, text, actor=user.username)
    if refusal:
        return _prompt_form(request, db, name, text, refusal.message)
    flash(request, "ok", f"已保存提示音“{prompts.label(name)}”，下一通电话起生效。")
    return RedirectResponse(f"/admin/ivr/{name}", status_code=303)


@router.post("/ivr/{name}/default")
def restore_ivr_prompt(request: Request, db: SessionDep, user: Admin, name: str) -> Response:
    name = _prompt_name(name)
    with refused(db, prompts.PromptError) as refusal:
        prompts.restore_default(db, load_menu(), name, actor=user.username)
    if refusal:
        return _prompt_form(request, db, name, error=refusal.message)
    flash(request, "ok", f"提示音“{prompts.label(name)}”已恢复默认，下一通电话起生效。")
    return RedirectResponse(f"/admin/ivr/{name}", status_code=303)


@router.get("/ivr/{name}/preview.wav")
def preview_ivr_prompt(user: Admin, name: str, text: str = "") -> Response:
    """试听: the text (not yet saved) in the configured voice, as a caller hears it (a WAV at 8 kHz);
    400 with the reason (text/plain) when it could not be spoken."""
    name = _prompt_name(name)
    try:
        path = prompts.preview(load_menu(), name, text[:4000])
    except prompts.PromptError as exc:
        return PlainTextResponse(str(exc), status_code=400)
    return FileResponse(path, media_type="audio/wav", headers={"Cache-Control": "no-store"})


# -- audit trail ---------------------------------------------------------------------------------


@router.get("/audit")
def audit_page(
    request: Request, db: SessionDep, user: Admin, entity: str = "", entity_id: str = "", actor: str = ""
) -> Response:
    """The latest audit entries, by kind of record, record and actor."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(LIST_LIMIT)
    if entity.strip():
        stmt = stmt.where(AuditEntry.entity == entity.strip()[:32])
    if entity_id.strip():
        stmt = stmt.where(AuditEntry.entity_id == entity_id.strip()[:64])
    if actor.strip():
        stmt = stmt.where(AuditEntry.actor == actor.strip()[:64])
    ctx = {"entries": list(db.scalars(stmt)), "entity": entity.strip(), "actor": actor.strip()}
    return render(request, "admin/audit.html", ctx)


# -- the e-mail intake's mailbox ------------------------------------------------------------------


def _mailbox_fields(
    mail_enabled: Annotated[str, Form()] = "",
    imap_host: Annotated[str, Form()] = "",
    imap_port: Annotated[str, Form()] = "",
    imap_tls: Annotated[str, Form()] = "",
    imap_user: Annotated[str, Form()] = "",
    imap_password: Annotated[str, Form()] = "",
    clear_imap_password: Annotated[str, Form()] = "",
    imap_folder: Annotated[str, Form()] = "",
    smtp_host: Annotated[str, Form()] = "",
    smtp_port: Annotated[str, Form()] = "",
    smtp_tls: Annotated[str, Form()] = "",
    smtp_user: Annotated[str, Form()] = "",
    smtp_password: Annotated[str, Form()] = "",
    clear_smtp_password: Annotated[str, Form()] = "",
    mail_from: Annotated[str, Form()] = "",
    mail_poll_seconds: Annotated[str, Form()] = "",
) -> dict[str, str]:
    return {k: v for k, v in locals().items()}


MailboxFields = Annotated[dict[str, str], Depends(_mailbox_fields)]


def _mailbox_page(
    request: Request,
    db: Session,
    form: dict[str, str] | None = None,
    *,
    checks: list[mailsettings.Check] | None = None,
    error: str = "",
) -> Response:
    """The mailbox form: the values in force, or those just sent (never a password)."""
    shown = mailsettings.view(db)
    values: dict[str, Any] = dict(shown.values)
    if form is not None:
        values |= {k: v for k, v in form.items() if k in mailsettings.FIELDS}
        values["mail_enabled"] = form.get("mail_enabled") in ("1", "on")
    ctx = {
        "mailbox": shown,
        "values": values,
        "tls_modes": mailsettings.TLS_MODES,
        "checks": checks,
        "error": error,
        "flash": pop_flash(request),
    }
    return render(request, "admin/mailbox.html", ctx, status_code=400 if error else 200)


@router.get("/mailbox")
def mailbox_page(request: Request, db: SessionDep, user: Admin) -> Response:
    return _mailbox_page(request, db)


@router.post("/mailbox")
def save_mailbox(request: Request, db: SessionDep, user: Admin, form: MailboxFields) -> Response:
    with refused(db, CaseError) as refusal:
        mailsettings.save(db, form, actor=user.username)
    if refusal:
        return _mailbox_page(request, db, form, error=refusal.message)
    flash(request, "ok", "邮箱设置已保存，下一轮收信和发信起生效。")
    return RedirectResponse("/admin/mailbox", status_code=303)


@router.post("/mailbox/test")
def test_mailbox(request: Request, db: SessionDep, user: Admin, form: MailboxFields) -> Response:
    """Try the servers with the values on the form (a blank password: the stored one); nothing saved."""
    with refused(db, CaseError) as refusal:
        settings = mailsettings.candidate(db, form)
    if refusal:
        return _mailbox_page(request, db, form, error=refusal.message)
    checks = mailsettings.check_connection(db, settings, actor=user.username)
    return _mailbox_page(request, db, form, checks=checks)
