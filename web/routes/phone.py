"""The agent's phone bar (话务条) on the console: sign in at a phone, ready / not ready, the ringing or
connected call with its screen pop, and call control (hold, transfer, consultation, three-way, hang-up).
The call itself rings and is answered on the agent's SIP phone; this page only asks the media node to
act (selfservice.acd.request_control)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.db import utcnow
from hotline.models import User
from selfservice import acd, records
from selfservice.menu import Menu, default_menu_path, load_menu
from selfservice.models import AgentSeat
from web.security import SessionDep, refused, require_roles
from web.templating import render

router = APIRouter(prefix="/agent/phone")
Agent = Annotated[User, Depends(require_roles("agent"))]


@lru_cache(maxsize=4)
def _menu(path: Path, mtime: float) -> Menu:
    return load_menu(path)


def current_menu() -> Menu:
    path = default_menu_path()
    return _menu(path, path.stat().st_mtime)


def phone_bar(db: Session, user: User, shown: str = "") -> dict[str, Any]:
    """What the phone bar shows; `shown`: the call whose caller the console shows already."""
    seat = acd.seat_of(db, user.id)
    ctx: dict[str, Any] = {
        "seat": seat,
        "states": acd.AGENT_STATES,
        "reasons": [r for r in acd.NOT_READY_REASONS if r not in ("未接听", "话机未注册")],
        "call": None,
        "shown": shown,
        "version": f"{seat.state}|{seat.reason}|{seat.extension}" if seat else "none",
    }
    if seat is None or seat.call_id is None or seat.state not in ("ringing", "on_call", "wrap_up"):
        return ctx
    call = acd.get_call(db, seat.call_id)
    if call is None:
        return ctx
    now = utcnow()
    menu = current_menu()
    record = records.get_call(db, call.call_id)
    items = {i.key: (i.action, i.category) for i in menu.menu}
    ready = db.scalars(
        select(AgentSeat).where(AgentSeat.state == "ready", AgentSeat.id != seat.id).order_by(AgentSeat.extension)
    )
    control = acd.last_control(db, call.call_id)
    ctx.update(
        call=call,
        status=acd.CALL_STATUSES.get(call.status, call.status),
        waited=int(call.wait_seconds if call.wait_seconds is not None else acd.seconds_since(call.enqueued_at, now)),
        ivr_path=records.path_in_words(record, items) if record is not None else "",
        last_query=((record.searches or [{}])[-1] or {}).get("query") if record and record.searches else None,
        groups=[g.name for g in menu.queue.groups],
        ready_agents=[s.extension for s in ready],
        control=control,
        actions=acd.CONTROL_ACTIONS,
        screen_pop=call.call_id != shown,
        shown=call.call_id,  # the next polls: this caller is on the screen
    )
    ctx["version"] += f"|{call.call_id}|{call.status}|{control.id if control else ''}|{control.result if control else ''}"
    return ctx


def _bar(request: Request, db: Session, user: User, shown: str = "", error: str = "") -> Response:
    ctx = phone_bar(db, user, shown)
    ctx["error"] = error
    return render(request, "agent/_phone.html", ctx)


@router.get("")
def bar(request: Request, db: SessionDep, user: Agent, shown: str = "", version: str = "") -> Response:
    """htmx fragment, polled every second by the console: 204 (nothing to swap) while unchanged."""
    ctx = phone_bar(db, user, shown)
    if version and version == ctx["version"]:
        return Response(status_code=204)
    ctx["error"] = ""
    return render(request, "agent/_phone.html", ctx)


def _act(request: Request, db: Session, user: User, change: Any, shown: str) -> Response:
    with refused(db, acd.AcdError) as refusal:
        change()
    if refusal:
        return _bar(request, db, user, shown, error=refusal.message)
    return _bar(request, db, user, shown)


@router.post("/sign-in")
def sign_in(
    request: Request, db: SessionDep, user: Agent, extension: Annotated[str, Form()] = "", shown: Annotated[str, Form()] = ""
) -> Response:
    return _act(request, db, user, lambda: acd.sign_in(db, user, extension), shown)


@router.post("/sign-out")
def sign_out(request: Request, db: SessionDep, user: Agent, shown: Annotated[str, Form()] = "") -> Response:
    return _act(request, db, user, lambda: acd.sign_out(db, user), shown)


@router.post("/state")
def set_state(
    request: Request,
    db: SessionDep,
    user: Agent,
    state: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
    shown: Annotated[str, Form()] = "",
) -> Response:
    return _act(request, db, user, lambda: acd.set_state(db, user, state, reason), shown)


@router.post("/control")
def control(
    request: Request,
    db: SessionDep,
    user: Agent,
    action: Annotated[str, Form()],
    target: Annotated[str, Form()] = "",
    shown: Annotated[str, Form()] = "",
) -> Response:
    return _act(request, db, user, lambda: acd.request_control(db, user, action, target), shown)
