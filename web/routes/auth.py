"""Staff login and logout."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from hotline import attempts, audit
from hotline.users import authenticate
from web.security import LOGIN_WINDOW, SessionDep, csrf_token, login_attempt_keys, safe_next
from web.templating import render

router = APIRouter()


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", {"next": safe_next(next), "error": None})


@router.post("/login")
def login(
    request: Request,
    db: SessionDep,
    username: str = Form(...),
    password: str = Form(...),
    next: str = Form("/"),
) -> Response:
    keys = login_attempt_keys(request, username)
    if any(attempts.blocked(db, key, limit, LOGIN_WINDOW) for key, limit in keys.items()):
        return render(
            request,
            "login.html",
            {"next": safe_next(next), "error": "尝试次数过多，请5分钟后再试。"},
            status_code=429,
        )
    user = authenticate(db, username, password)
    if user is None:
        attempts.record_failure(db, keys, LOGIN_WINDOW)
        db.commit()
        return render(
            request, "login.html", {"next": safe_next(next), "error": "用户名或密码错误。"}, status_code=401
        )
    attempts.clear(db, list(keys)[0])  # this username's count; the address's stays
    request.session.clear()
    request.session["uid"] = user.id
    csrf_token(request)
    audit.record(db, actor=user.username, action="login", entity="user", entity_id=user.id)
    db.commit()
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request) -> Response:
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
