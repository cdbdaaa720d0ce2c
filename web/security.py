"""Login sessions, roles, CSRF protection, client addresses, security headers and database-session
dependencies."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
import time
from base64 import b64encode, urlsafe_b64encode
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated
from urllib.parse import quote, urlsplit

from cryptography.fernet import Fernet, InvalidToken
from fastapi import Depends, HTTPException, Request, WebSocketException, status
from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hotline import users
from hotline.config import get_settings
from hotline.db import new_session, session_scope
from hotline.models import User

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


SEALED_SECONDS = 600  # a sealed value read back later than this is gone


def _sealer() -> Fernet:
    key = hashlib.sha256(b"hotline-sealed-session-value:" + get_settings().session_secret().encode()).digest()
    return Fernet(urlsafe_b64encode(key))


def seal(text: str) -> str:
    """Text encrypted for the session, whose cookie is signed but readable (a new case's query
    password between the registration and the case page)."""
    return _sealer().encrypt(text.encode()).decode()


def unseal(token: object) -> str | None:
    """The sealed text, or None when token is not one of ours or older than SEALED_SECONDS."""
    try:
        return _sealer().decrypt(str(token).encode(), ttl=SEALED_SECONDS).decode()
    except (InvalidToken, ValueError):
        return None


class LoginRequired(Exception):
    """Raised for anonymous access to a staff page; HTML pages redirect to the login form."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class PasswordChangeRequired(Exception):
    """Raised for a staff page while the account must choose a new password (after a reset by an
    administrator); HTML pages redirect to the password form."""


PASSWORD_PATH = "/password"


def get_db() -> Iterator[Session]:
    """The request's unit of work: committed when the route returns (before the response is sent),
    rolled back when it raises (web.app turns a KbError or CaseError into the page's message)."""
    with session_scope() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_db, scope="function")]


class Refusal:
    """What `refused` caught: the domain's error and its message, or none (false) when the attempt
    went through."""

    def __init__(self) -> None:
        self.error: Exception | None = None
        self.message = ""

    def __bool__(self) -> bool:
        return bool(self.message)


@contextmanager
def refused(db: Session, *errors: type[Exception]) -> Iterator[Refusal]:
    """An attempt whose refusal (one of `errors`) the route shows on its own form again, instead of
    letting web.app's handler go back with it: the attempt is rolled back, so the unit of work (get_db)
    commits nothing of it, and the message is kept for the form.

        with refused(db, kb.KbError) as refusal:
            kb.create_document(db, data, actor=user.username)
        if refusal:
            return form_page(..., message=refusal.message)
    """
    refusal = Refusal()
    try:
        yield refusal
    except errors as exc:
        db.rollback()
        refusal.error, refusal.message = exc, str(exc) or "操作未能完成，请稍后重试。"


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
    refused = HTTPException(status_code=403, detail="页面已过期或请求来源无效，请刷新页面后重试。")
    expected = request.session.get(CSRF_FIELD)
    origin = request.headers.get("origin")
    # refused before the body is read: no session token to match, or another site's page
    if not expected or (
        origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host")
    ):
        raise refused
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()  # at most the route's body limit (BodySizeLimitMiddleware)
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(str(expected).encode(), sent.encode()):  # bytes: any text
        raise refused


# what a staff session keeps in the signed cookie (besides the CSRF token)
SESSION_USER, SESSION_VERSION, SESSION_STARTED, SESSION_SEEN = "uid", "sv", "t0", "seen"
SEEN_RESOLUTION = 60  # seconds: last-seen is rewritten at most once a minute


def start_session(request: Request, user: User) -> None:
    """A new staff session (a fresh cookie content: nothing of the anonymous one is kept)."""
    now = int(time.time())
    request.session.clear()
    request.session.update(
        {
            SESSION_USER: user.id,
            SESSION_VERSION: user.session_version,
            SESSION_STARTED: now,
            SESSION_SEEN: now,
        }
    )
    csrf_token(request)


def _session_alive(data: dict, now: float) -> bool:
    settings = get_settings()
    started, seen = data.get(SESSION_STARTED), data.get(SESSION_SEEN)
    if not isinstance(started, int) or not isinstance(seen, int):
        return False
    return (
        now - started < settings.session_max_hours * 3600 and now - seen < settings.session_idle_minutes * 60
    )


def load_user(request: HTTPConnection) -> User | None:
    """Load the logged-in user once per request into request.state.user. The session is over (and
    the cookie emptied) after the idle or the absolute timeout, and when the user's session version
    moved on (logout, password change, disabled) or the account is disabled."""
    if hasattr(request.state, "user"):
        return request.state.user
    user = None
    uid = request.session.get(SESSION_USER)
    if uid is not None:
        now = time.time()
        if _session_alive(request.session, now):
            with new_session() as session:
                user = session.get(User, uid) if isinstance(uid, int) else None
                if user is not None and (
                    not user.active or user.session_version != request.session.get(SESSION_VERSION)
                ):
                    user = None
                if user is not None:
                    session.expunge(user)
        if user is None:
            request.session.clear()
        elif now - request.session[SESSION_SEEN] >= SEEN_RESOLUTION:
            request.session[SESSION_SEEN] = int(now)
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
        if user.must_change_password:
            if request.url.path.startswith("/api/"):
                raise HTTPException(status_code=403, detail="请先修改密码。")
            raise PasswordChangeRequired
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


LOGIN_MAX_FAILURES = users.LOGIN_MAX_PER_ADDRESS_AND_USER
LOGIN_MAX_FAILURES_PER_ADDRESS = users.LOGIN_MAX_PER_ADDRESS
LOGIN_WINDOW = users.LOGIN_WINDOW


def client_address(request: HTTPConnection) -> str:
    """The client's address (the proxy's client when a trusted proxy forwarded the request: see
    ClientAddressMiddleware)."""
    return request.client.host if request.client else "-"


def _networks(entries: list[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip())


def _in(address: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


class ClientAddressMiddleware:
    """X-Forwarded-For is believed only from the `trusted_proxies` (addresses or networks): the
    client is the right-most address in it that is not a trusted proxy itself. From anyone else
    the header is ignored (uvicorn's own proxy-header handling is switched off in hotline.workers).
    X-Forwarded-Proto from a trusted proxy sets the scheme (https behind a TLS proxy)."""

    def __init__(self, app: ASGIApp, trusted: list[str]) -> None:
        self.app = app
        self.trusted = _networks(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.trusted:
            client = scope.get("client")
            if client and _in(client[0], self.trusted):
                headers = dict(scope["headers"])
                forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1")
                hops = [h.strip() for h in forwarded.split(",") if h.strip()]
                while hops and _in(hops[-1], self.trusted):
                    hops.pop()
                if hops:
                    scope = dict(scope, client=(hops[-1][:64], 0))
                proto = headers.get(b"x-forwarded-proto", b"").decode("latin-1").strip().lower()
                if proto in ("http", "https"):
                    ws = scope["type"] == "websocket"
                    scope = dict(scope, scheme={"http": "ws", "https": "wss"}[proto] if ws else proto)
        await self.app(scope, receive, send)


# the one inline event handler of the pages (public/document.html's print button), allowed by hash
INLINE_HANDLERS = ("window.print()",)
_HANDLER_HASHES = " ".join(
    f"'sha256-{b64encode(hashlib.sha256(h.encode()).digest()).decode()}'" for h in INLINE_HANDLERS
)
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; "
    f"script-src 'self' 'unsafe-hashes' {_HANDLER_HASHES}; "
    "style-src 'self' 'unsafe-inline'; "  # style="" attributes in templates, htmx's indicator style
    "img-src 'self' data:; "
    "connect-src 'self'; "  # /voice/ws is same-origin (CSP 3 'self' covers ws:/wss:)
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"  # the brief's own iframe
)
SECURITY_HEADERS = (
    (b"x-frame-options", b"SAMEORIGIN"),  # the daily brief is shown in an iframe of its own page
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), geolocation=(), microphone=(self)"),
)
NO_CSP_PATHS = ("/docs", "/redoc")  # the API pages set their own (web.apidocs.CSP)


class SecurityHeadersMiddleware:
    """CSP, X-Frame-Options, nosniff, Referrer-Policy and Permissions-Policy on every HTTP response
    (a header the route set itself is kept)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = list(SECURITY_HEADERS)
        if not scope["path"].startswith(NO_CSP_PATHS):
            extra.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in extra if name not in present]
                message = dict(message, headers=headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class StaffOriginMiddleware:
    """SMS and faxes queued during a logged-in request count against that staff account's daily caps
    (casework.acting_as): the routes need not pass it. Runs inside the session middleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        uid = scope.get("session", {}).get(SESSION_USER) if scope["type"] == "http" else None
        if uid is None:
            await self.app(scope, receive, send)
            return
        import casework

        with casework.acting_as(casework.Origin.staff(f"uid:{uid}")):
            await self.app(scope, receive, send)


MAX_BODY_BYTES = 1024 * 1024  # a request body on any route, unless it is one that takes attachments
# the routes that take attachments (web/routes/attachments.py, /submit, the agent's registration form and
# case page, a department's reply):
# their limit is the attachments' own (HOTLINE_ATTACHMENT_MAX_FILES x _MAX_BYTES) plus the form beside them
UPLOAD_PATHS = re.compile(r"/submit|/agent/cases(/\d+/attachments)?|/department/cases/\d+/reply")
UPLOAD_FORM_BYTES = 256 * 1024  # the case form's fields and the multipart framing around the files


def body_limit(path: str) -> int:
    if UPLOAD_PATHS.fullmatch(path):
        settings = get_settings()
        return settings.attachment_max_files * settings.attachment_max_bytes + UPLOAD_FORM_BYTES
    return MAX_BODY_BYTES


class BodySizeLimitMiddleware:
    """Refuse request bodies over the route's limit before anything parses them: a Content-Length
    over it is answered 413 at once; a body that grows past it while read (chunked) stops the read
    with a 413 HTTPException (the CSRF check and the form parser never see more than the limit)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["path"])
        length = dict(scope["headers"]).get(b"content-length", b"0").decode("latin-1")
        if not length.isdigit() or int(length) > limit:
            await _plain(
                send, 413 if length.isdigit() else 400, "请求内容过大。" if length.isdigit() else "请求无效。"
            )
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(status_code=413, detail="请求内容过大。")
            return message

        await self.app(scope, limited, send)


async def _plain(send: Send, status_code: int, text: str) -> None:
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
