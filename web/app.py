"""FastAPI application factory: middleware, error pages and one router per audience."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from casework import CaseError, IllegalTransition, OutboundRefused, intake
from hotline.config import get_settings
from hotline.db import session_scope
from hotline.users import UserError
from kb import KbError, NotPermitted, WorkflowError
from kb import indexing as kb_indexing
from kb import run_schedule as kb_run_schedule
from selfservice.acd import AcdError
from web import apidocs
from web.hygiene import check_input
from web.routes import (
    admin,
    agent,
    analysis,
    attachments,
    auth,
    briefing,
    caselists,
    citizen,
    department,
    editor,
    nodefiles,
    phone,
    public,
    recordings,
    sms,
    staffevents,
    supervisor,
    voice,
)
from web.security import (
    PASSWORD_PATH,
    BodySizeLimitMiddleware,
    ClientAddressMiddleware,
    LoginRequired,
    PasswordChangeRequired,
    SecurityHeadersMiddleware,
    StaffOriginMiddleware,
    load_user,
    login_redirect_target,
    verify_csrf,
)
from web.templating import back_page, flash, render

log = logging.getLogger("hotline.web")

ROUTERS = (
    public, citizen, auth, editor, caselists, agent, phone, recordings, department, supervisor, admin, voice, sms,
    attachments, staffevents, analysis, briefing, nodefiles,
)  # fmt: skip
SIP_LOCK = "sip.lock"


class PortalSessionMiddleware(SessionMiddleware):
    """The signed session cookie, except on the anonymous read-only API paths (`sessionless`): these
    neither read nor set it."""

    def __init__(self, app: ASGIApp, /, sessionless: set[str], **options: Any) -> None:
        super().__init__(app, **options)
        self.sessionless = frozenset(sessionless)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in self.sessionless:
            await self.app(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def _error(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": message}, status_code=status)
    return render(request, "error.html", {"status": status, "message": message}, status_code=status)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Answer the IVR's SIP line when the settings enable it (`hotline serve` does): in exactly one
    of the web workers, the one holding <home>/sip.lock; the others stand by to take it over."""
    settings = get_settings()
    follower = kb_indexing.start_follower()  # the node's search index follows the change log (kb.feed)
    schedule = _start_kb_schedule(settings.kb_schedule_seconds)
    line = None
    if settings.sip_enabled:
        from selfservice.sip.ownership import SipLine

        line = SipLine(settings.home / SIP_LOCK)
        await line.start()
    polling = intake.start_polling()  # e-mail and fax intake, when enabled (casework/intake.py)
    try:
        yield
    finally:
        await intake.stop_polling(polling)
        if line is not None:
            await line.stop()
        if schedule is not None:
            schedule.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await schedule
        if follower is not None:
            await asyncio.to_thread(follower.stop)


def _start_kb_schedule(every: float) -> asyncio.Task[None] | None:
    """The knowledge base's scheduled publish and withdrawal (kb.run_schedule) every `every` seconds, in
    a thread (database work stays off the event loop). Every worker runs it: each step is a
    compare-and-set, so a document is published or withdrawn once."""
    if every <= 0:
        return None

    def step() -> None:
        with session_scope() as session:
            done = kb_run_schedule(session)
        if any(done.values()):
            log.info("knowledge base schedule: %s", done)

    async def run() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await asyncio.to_thread(step)
            except Exception:  # the next round tries again
                log.exception("the knowledge base's scheduled publish/withdrawal failed")

    return asyncio.create_task(run())


def create_app() -> FastAPI:
    settings = get_settings()
    app = FastAPI(
        title="hotline 12345",
        description="12345 政务服务便民热线平台 API",
        lifespan=lifespan,
        docs_url=None,  # web.apidocs serves /docs and /redoc with bundled assets (no CDN)
        redoc_url=None,
    )
    apidocs.install(app)
    app.add_middleware(StaffOriginMiddleware)  # inside the session middleware: reads the session
    app.add_middleware(
        PortalSessionMiddleware,
        sessionless={route.path for route in public.api_router.routes if isinstance(route, APIRoute)},
        secret_key=settings.session_secret(),
        session_cookie="hotline_session",
        same_site="lax",
        https_only=settings.session_cookie_secure,
        max_age=settings.session_max_hours * 3600,  # the server ends sessions sooner: web.security
    )
    app.add_middleware(BodySizeLimitMiddleware)  # before the session, the CSRF check and any parsing
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(ClientAddressMiddleware, trusted=settings.trusted_proxies)  # outermost
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    app.include_router(public.api_router, dependencies=[Depends(check_input)])
    # live notices: the route loads its user itself (a stream is not activity: no last-seen refresh)
    app.include_router(staffevents.stream_router, dependencies=[Depends(check_input)])
    for module in ROUTERS:
        checks = [Depends(load_user), Depends(verify_csrf), Depends(check_input)]
        app.include_router(module.router, dependencies=checks)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(login_redirect_target(exc.next_url), status_code=303)

    @app.exception_handler(PasswordChangeRequired)
    async def _password_change(request: Request, exc: PasswordChangeRequired) -> Response:
        return RedirectResponse(PASSWORD_PATH, status_code=303)

    @app.exception_handler(StarletteHTTPException)  # also FastAPI's own (body parsing, 405)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {400: "请求内容无法解析，请检查后重试。", 404: "您访问的页面不存在。", 405: "不支持该操作。"}
        # our messages are Chinese; the framework's English ones ("There was an error parsing the body")
        # are replaced by the status's own
        ours = isinstance(exc.detail, str) and not exc.detail.isascii()
        detail = exc.detail if ours and exc.status_code not in (404, 405) else None
        return _error(request, exc.status_code, detail or messages.get(exc.status_code, "请求无法完成。"))

    @app.exception_handler(404)
    async def _not_found(request: Request, exc: Exception) -> Response:
        detail = getattr(exc, "detail", None)
        if isinstance(detail, str) and detail != "Not Found":
            return _error(request, 404, detail)
        return _error(request, 404, "您访问的页面不存在。")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if exc.errors() and all(e.get("loc", ("",))[0] == "path" for e in exc.errors()):
            return _error(request, 404, "您访问的页面不存在。")  # /documents/abc names nothing
        if _wants_json(request):
            # where and what kind of error, never the input itself (it may be large or hostile)
            errors = [{k: e[k] for k in ("type", "loc", "msg") if k in e} for e in exc.errors()]
            return JSONResponse({"detail": "请求参数有误。", "errors": errors}, status_code=422)
        return _error(request, 422, "提交的内容不完整或格式有误，请检查后重试。")

    @app.exception_handler(KbError)
    @app.exception_handler(CaseError)
    @app.exception_handler(AcdError)
    @app.exception_handler(UserError)
    async def _refused(request: Request, exc: Exception) -> Response:
        """A request the domain refused (the unit of work, web.security.get_db, rolled it back): a JSON
        error for the API, else the message on the page the action came from (web.templating.back_to)."""
        if isinstance(exc, NotPermitted):
            return _error(request, 403, str(exc))
        if _wants_json(request):
            conflict = isinstance(exc, WorkflowError | IllegalTransition)
            return JSONResponse({"detail": str(exc)}, status_code=409 if conflict else 400)
        flash(request, "error", str(exc))
        return RedirectResponse(back_page(request), status_code=303)

    @app.exception_handler(OutboundRefused)
    async def _outbound_refused(request: Request, exc: OutboundRefused) -> Response:
        return _error(request, 429, str(exc))  # a cap or a number the hotline may not send to

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(request, 500, "系统繁忙，请稍后再试。如需帮助请拨打12345。")

    return app
