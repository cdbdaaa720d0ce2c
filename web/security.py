"""Login sessions, roles, CSRF protection and database-session dependencies."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, HTTPException, Request, WebSocketException, status
from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection

from hotline.db import new_session
from hotline.models import User

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


class LoginRequired(Exception):
    """Raised for anonymous access to a staff page; HTML pages redirect to the login form."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def get_db() -> Iterator[Session]:
    """A database session per request; committed by the route, rolled back on error."""
    session = new_session()
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_db)]


def csrf_token(request: Request) -> str:
    """The visitor's CSRF token (created on first use, kept in the signed session cookie)."""
    token = request.session.get(CSRF_FIELD)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = token
    return token


async def verify_csrf(request: HTTPConnection) -> None:
    """Reject unsafe requests without the session's token (form field or X-CSRF-Token header), and
    WebSocket handshakes from another site's page (their Origin must be this host)."""
    if request.scope["type"] == "websocket":
        origin = request.headers.get("origin")
        if origin and urlsplit(origin).netloc != request.headers.get("host"):
            raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason="cross-site")
        return
    assert isinstance(request, Request)
    if request.method not in UNSAFE_METHODS:
        return
    expected = request.session.get(CSRF_FIELD)
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(str(expected), str(sent)):
        raise HTTPException(status_code=403, detail="页面已过期或请求来源无效，请刷新页面后重试。")


def load_user(request: HTTPConnection) -> User | None:
    """Load the logged-in user once per request into request.state.user."""
    if hasattr(request.state, "user"):
        return request.state.user
    user = None
    uid = request.session.get("uid")
    if uid is not None:
        with new_session() as session:
            user = session.get(User, uid)
            if user is not None and not user.active:
                user = None
            if user is not None:
                session.expunge(user)
    request.state.user = user
    return user


def current_user_optional(request: Request) -> User | None:
    return getattr(request.state, "user", None) if hasattr(request, "state") else None


def require_roles(*roles: str) -> Callable[[Request], User]:
    """Dependency factory: the logged-in user holding one of `roles` (admin holds all)."""

    def dependency(request: Request) -> User:
        user = load_user(request)
        if user is None:
            if request.url.path.startswith("/api/"):
                raise HTTPException(status_code=401, detail="请先登录。")
            raise LoginRequired(
                str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
            )
        if roles and not user.has_role(*roles):
            raise HTTPException(status_code=403, detail="您没有访问该页面的权限。")
        return user

    return dependency


def login_redirect_target(next_url: str) -> str:
    return "/login?next=" + quote(next_url, safe="")


def safe_next(next_url: str | None) -> str:
    """Only same-site relative paths are followed after login."""
    if next_url and next_url.startswith("/") and not next_url.startswith("//"):
        return next_url
    return "/"


LOGIN_MAX_FAILURES = 5  # per address and username ...
LOGIN_MAX_FAILURES_PER_ADDRESS = 30  # ... and per address over all usernames (password spraying)
LOGIN_WINDOW = timedelta(minutes=5)


def login_attempt_keys(request: Request, username: str) -> dict[str, int]:
    """The rate-limit keys of a login attempt (hotline.attempts) with their limits: the client
    address with the username, and the address alone."""
    host = request.client.host if request.client else "-"
    return {
        f"login:{host}:{username[:64]}": LOGIN_MAX_FAILURES,
        f"login:{host}": LOGIN_MAX_FAILURES_PER_ADDRESS,
    }
