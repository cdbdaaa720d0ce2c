"""Staff login and logout."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from hotline import users
from hotline.models import User
from web.security import SessionDep, client_address, csrf_token, load_user, safe_next, start_session
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
            db.commit()
    request.session.clear()
    return RedirectResponse("/", status_code=303)


@router.get("/api/session")
def session_info(request: Request) -> dict:
    """The CSRF token for API clients, and who is logged in."""
    user = getattr(request.state, "user", None)
    return {
        "csrf_token": csrf_token(request),
        "user": None if user is None else {"username": user.username, "roles": sorted(user.role_set)},
    }
