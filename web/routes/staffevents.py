"""Live notices for staff (casework/staffnotices.py) in the pages: the unread count in the navigation, a
toast when one arrives (web/static/staff-notices.js), the staff member's notice page with the SMS setting.

GET /staff/events is a server-sent event stream per logged-in page: `count` events (the unread count)
and `notice` events (id = the notice's id, so a reconnecting EventSource sends Last-Event-ID and misses
nothing). Every web worker serves it from the database: each connection polls the notice table every
POLL_SECONDS in a thread (the event loop carries live calls), so a notice written by any worker reaches
every page. The stream is not activity: it does not extend the session's idle time, and ends when the
session would (or after STREAM_SECONDS; the browser reconnects), or when the account logs out."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Header, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel

from casework import staffnotices
from casework.staffnotices import Listener, NoticeView
from hotline import audit
from hotline.config import get_settings
from hotline.db import session_scope
from hotline.models import User
from web.security import (
    SESSION_SEEN,
    SESSION_STARTED,
    SESSION_VERSION,
    SessionDep,
    load_user,
    require_roles,
)
from web.templating import pop_flash, render, templates

router = APIRouter()
stream_router = APIRouter()  # web.app mounts it without the last-seen refresh of load_user
Staff = Annotated[User, Depends(require_roles())]

POLL_SECONDS = 1.5
STREAM_SECONDS = 600.0
HEARTBEAT_SECONDS = 15.0
COUNT_EVERY = 5  # polls between recounts (a colleague may read a shared notice)
RECHECK_EVERY = 20  # polls between checks that the account is still logged in
LOOKBACK = 100  # ids below the newest seen that are looked at again: a transaction that committed late
CASE_PAGES = {
    "department": "/department/cases/",
    "agent": "/agent/cases/",
    "supervisor": "/supervisor/cases/",
}
SETTING_CHANGED = "user.notice_sms"


def listener(user: User) -> Listener:
    with session_scope() as db:
        return staffnotices.listener_for(db, user)


def notice_unread(user: User | None) -> int:
    """The navigation's count."""
    if user is None:
        return 0
    with session_scope() as db:
        return staffnotices.unread_count(db, staffnotices.listener_for(db, user))


templates.env.globals.update(notice_unread=notice_unread, notice_cap=staffnotices.COUNT_CAP)


def case_url(notice: NoticeView, user: User) -> str | None:
    """Where a notice leads: its case on the page of the audience it was addressed to."""
    if notice.case_number is None:
        return None
    audience = notice.audience
    if audience not in CASE_PAGES or not user.has_role(*_roles_of(audience)):
        audience = next((a for a in CASE_PAGES if user.has_role(*_roles_of(a))), "")
    return CASE_PAGES[audience] + notice.case_number if audience else None


def _roles_of(audience: str) -> tuple[str, ...]:
    return ("supervisor", "leader") if audience == "supervisor" else (audience,)


class NoticePublic(BaseModel):
    id: int
    kind: str
    label: str
    text: str
    case_number: str | None
    url: str
    created_at: str
    read: bool
    urgent: bool


class NoticeList(BaseModel):
    unread: int
    notices: list[NoticePublic]


def public(notice: NoticeView, user: User) -> NoticePublic:
    data = asdict(notice)
    data.pop("audience")
    data["created_at"] = notice.created_at.isoformat()
    return NoticePublic(url=f"/staff/notices/{notice.id}", **data)


# -- the stream -----------------------------------------------------------------------------------


def stream_user(request: Request) -> User:
    """The logged-in user of an event stream, without counting the stream as activity."""
    seen = request.session.get(SESSION_SEEN)
    user = load_user(request)
    if user is None:
        raise HTTPException(status_code=401, detail="请先登录。")
    if isinstance(seen, int):
        request.session[SESSION_SEEN] = seen
    if user.must_change_password:
        raise HTTPException(status_code=403, detail="请先修改密码。")
    return user


def _session_end(request: Request) -> float:
    """When this session ends by itself (idle or absolute timeout), as a monotonic time."""
    settings = get_settings()
    now = time.time()
    seen = request.session.get(SESSION_SEEN, now)
    started = request.session.get(SESSION_STARTED, now)
    end = min(seen + settings.session_idle_minutes * 60, started + settings.session_max_hours * 3600)
    return time.monotonic() + max(0.0, min(end - now, STREAM_SECONDS))


def _event(name: str, data: object, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _start(who: Listener, last_event_id: int | None) -> tuple[int, set[int], int]:
    """Where a stream starts: after Last-Event-ID (a reconnect) or after the newest notice; the ids
    already delivered in the look-back window; the unread count."""
    with session_scope() as db:
        floor = last_event_id if last_event_id is not None else staffnotices.latest_id(db)
        seen = {
            n.id
            for n in staffnotices.since(db, who, max(0, floor - LOOKBACK), limit=LOOKBACK)
            if n.id <= floor
        }
        return floor, seen, staffnotices.unread_count(db, who)


def _poll(who: Listener, after: int) -> list[NoticeView]:
    """The listener's notices above `after` (the look-back window holds at most LOOKBACK delivered ones:
    the limit leaves room for new ones)."""
    with session_scope() as db:
        return staffnotices.since(db, who, after, limit=2 * LOOKBACK)


def server_exiting() -> bool:
    """Whether uvicorn is shutting down (its SIGTERM/SIGINT handler is Server.handle_exit, which sets
    should_exit): it waits for open responses to end, so streams end at once instead of holding the
    worker's graceful stop for STREAM_SECONDS."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        server = getattr(signal.getsignal(sig), "__self__", None)
        if getattr(server, "should_exit", False):
            return True
    return False


def _count(who: Listener) -> int:
    with session_scope() as db:
        return staffnotices.unread_count(db, who)


def _still_in(user_id: int, version: object) -> bool:
    with session_scope() as db:
        return staffnotices.still_listening(db, user_id, version)


async def _events(
    request: Request, user: User, who: Listener, last_event_id: int | None, until: float
) -> AsyncIterator[str]:
    version = request.session.get(SESSION_VERSION)
    newest, delivered, count = await asyncio.to_thread(_start, who, last_event_id)
    yield f"retry: 3000\n\n{_event('count', {'unread': count})}"
    polls, quiet_since = 0, time.monotonic()
    while time.monotonic() < until:
        await asyncio.sleep(POLL_SECONDS)
        if server_exiting():
            return
        polls += 1
        fresh = [n for n in await asyncio.to_thread(_poll, who, newest - LOOKBACK) if n.id not in delivered]
        out = []
        for notice in fresh:
            delivered.add(notice.id)
            newest = max(newest, notice.id)
            out.append(_event("notice", public(notice, user).model_dump(), notice.id))
        delivered = {i for i in delivered if i > newest - LOOKBACK}
        if fresh or polls % COUNT_EVERY == 0:
            now_count = await asyncio.to_thread(_count, who)
            if fresh or now_count != count:
                count = now_count
                out.append(_event("count", {"unread": count}))
        if polls % RECHECK_EVERY == 0 and not await asyncio.to_thread(_still_in, user.id, version):
            return
        if not out and time.monotonic() - quiet_since >= HEARTBEAT_SECONDS:
            out.append(": keep-alive\n\n")
        if out:
            quiet_since = time.monotonic()
            yield "".join(out)


@stream_router.get("/staff/events")
async def events(
    request: Request,
    user: Annotated[User, Depends(stream_user)],
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """The logged-in user's notices as server-sent events (`count`, `notice`)."""
    after = (
        int(last_event_id) if last_event_id and last_event_id.isdigit() and len(last_event_id) < 12 else None
    )
    who = await asyncio.to_thread(listener, user)
    return StreamingResponse(
        _events(request, user, who, after, _session_end(request)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache, no-store", "X-Accel-Buffering": "no"},
    )


# -- pages ----------------------------------------------------------------------------------------


@router.get("/staff/notices")
def notices_page(request: Request, db: SessionDep, user: Staff, unread: bool = False) -> Response:
    who = staffnotices.listener_for(db, user)
    items = staffnotices.inbox(db, who, unread_only=unread)
    account = db.get(User, user.id)
    ctx = {
        "notices": [(n, case_url(n, user)) for n in items],
        "unread_only": unread,
        "unread": staffnotices.unread_count(db, who),
        "sms_on": bool(account and account.notice_sms),
        "phone": account.phone if account else None,
        "urgent_labels": [staffnotices.KINDS[k].label for k in staffnotices.URGENT_KINDS],
        "flash": pop_flash(request),
    }
    return render(request, "staff/notices.html", ctx)


@router.get("/api/staff/notices", response_model=NoticeList)
def notices_json(db: SessionDep, user: Staff) -> NoticeList:
    """The unread count and the latest unread notices (JSON)."""
    who = staffnotices.listener_for(db, user)
    items = staffnotices.inbox(db, who, unread_only=True, limit=20)
    return NoticeList(unread=staffnotices.unread_count(db, who), notices=[public(n, user) for n in items])


@router.get("/staff/notices/{notice_id}")
def open_notice(db: SessionDep, user: Staff, notice_id: int) -> Response:
    """Open a notice: it is read, and its case's page follows."""
    who = staffnotices.listener_for(db, user)
    notice = staffnotices.get(db, who, notice_id)
    if notice is None:
        raise HTTPException(status_code=404, detail="提醒不存在。")
    staffnotices.mark_read(db, who, notice_id)
    return RedirectResponse(case_url(notice, user) or "/staff/notices", status_code=303)


@router.post("/staff/notices/read")
def read_notices(
    request: Request, db: SessionDep, user: Staff, notice_id: Annotated[int | None, Form()] = None
) -> Response:
    """Mark one notice (notice_id) or all of the user's notices read."""
    who = staffnotices.listener_for(db, user)
    changed = staffnotices.mark_read(db, who, notice_id)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"changed": changed, "unread": staffnotices.unread_count(db, who)})
    return RedirectResponse("/staff/notices", status_code=303)


@router.post("/staff/notices/settings")
def save_settings(
    request: Request, db: SessionDep, user: Staff, sms: Annotated[str, Form()] = ""
) -> Response:
    """The staff member's own setting: urgent notices by SMS to their phone, on or off (audited)."""
    account = db.get(User, user.id)
    if account is None:
        raise HTTPException(status_code=404, detail="账号不存在。")
    wanted = sms == "1"
    if account.notice_sms != wanted:
        account.notice_sms = wanted
        audit.record(db, actor=user.username, action=SETTING_CHANGED, entity="user", entity_id=user.id,
                     comment="开启" if wanted else "关闭")  # fmt: skip
    request.session["flash"] = {
        "kind": "ok",
        "text": "已开启紧急提醒短信。" if wanted else "已关闭紧急提醒短信。",
    }
    return RedirectResponse("/staff/notices", status_code=303)
