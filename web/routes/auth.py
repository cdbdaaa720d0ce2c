"""Staff login and logout; changing one's own password (forced after an administrator's reset)."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from hotline import users
from hotline.models import User
from web.apimodels import STAFF_SESSION, SessionOut
from web.security import (
    PASSWORD_PATH,
    LoginRequired,
    SessionDep,
    client_address,
    csrf_token,
    load_user,
    refused,
    safe_next,
    start_session,
)
from web.templating import render

router = APIRouter()

REFUSALS = {
    "limited": (429, "尝试次数过多，请5分钟后再试。"),
    "wrong": (401, "用户名或密码错误。"),
    "busy": (503, "系统繁忙，请稍后再试。"),
}


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", {"next": safe_next(next), "error": None})


@router.post("/login")
def login(
    request: Request,
    username: str = Form(...),
    password: str = Form(...),
    next: str = Form("/"),
) -> Response:
    result = users.login(username, password, address=client_address(request))
    if result.user is None:
        status, message = REFUSALS[result.refused or "wrong"]
        return render(request, "login.html", {"next": safe_next(next), "error": message}, status_code=status)
    start_session(request, result.user)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request, db: SessionDep) -> Response:
    """End the session on the server too: the user's session version moves on, so a copy of the
    cookie opens nothing (every session of the account ends)."""
    user = load_user(request)
    if user is not None:
        account = db.get(User, user.id)
        if account is not None:
            users.end_sessions(db, account, actor=user.username, reason="logout")
    request.session.clear()
    return RedirectResponse("/", status_code=303)


def _account(request: Request, db: SessionDep) -> User:
    user = load_user(request)
    account = db.get(User, user.id) if user is not None else None
    if account is None:
        raise LoginRequired(PASSWORD_PATH)
    return account


@router.get(PASSWORD_PATH)
def password_form(request: Request, db: SessionDep) -> Response:
    account = _account(request, db)
    return render(request, "password.html", {"forced": account.must_change_password, "error": None})


@router.post(PASSWORD_PATH)
def change_password(
    request: Request,
    db: SessionDep,
    current: str = Form(...),
    new: str = Form(...),
    confirm: str = Form(...),
) -> Response:
    """A new password of one's own: the account's other sessions end, this one goes on."""
    account = _account(request, db)
    checked = users.login(
        account.username, current, address=client_address(request), action="password_confirmed"
    )
    error = None
    if checked.user is None:  # the login's limits hold here too: a session is no way to guess the password
        error = "当前密码不正确。" if checked.refused == "wrong" else REFUSALS[checked.refused or "wrong"][1]
    elif new != confirm:
        error = "两次输入的新密码不一致。"
    elif new == current:
        error = "新密码不能与当前密码相同。"
    else:
        with refused(db, users.UserError) as refusal:
            users.set_password(db, account, new, actor=account.username)
        error = refusal.message or None
    if error:
        ctx = {"forced": account.must_change_password, "error": error}
        return render(request, "password.html", ctx, status_code=422)
    start_session(request, account)
    return RedirectResponse("/", status_code=303)


@router.get("/api/session", tags=[STAFF_SESSION], response_model=SessionOut)
def session_info(request: Request) -> dict:
    """The CSRF token for API clients, and who is logged in."""
    user = getattr(request.state, "user", None)
    return {
        "csrf_token": csrf_token(request),
        "user": None if user is None else {"username": user.username, "roles": sorted(user.role_set)},
    }
