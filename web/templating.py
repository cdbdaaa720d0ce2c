"""Jinja2 templates with block rendering (jinja2-fragments): one template serves page and htmx fragment."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Depends, Request
from jinja2_fragments.fastapi import Jinja2Blocks

from casework.calendar import LOCAL_TZ
from hotline.masking import mask_phone
from web.security import csrf_token, current_user_optional

templates = Jinja2Blocks(directory=str(Path(__file__).parent / "templates"))
templates.env.globals["mask_phone"] = mask_phone


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored (UTC) moment in the centre's local time (settings: time_zone; casework.calendar.LOCAL_TZ):
    every template shows times through this filter, `{{ moment|local_time }}`."""
    if value is None:
        return ""
    return value.astimezone(LOCAL_TZ).strftime(fmt)


templates.env.filters["local_time"] = local_time


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    block: str | None = None,
    status_code: int = 200,
):
    """Render a page; with `block`, only that block (for htmx swaps)."""
    ctx: dict[str, Any] = {
        "request": request,
        "csrf_token": csrf_token(request),
        "user": current_user_optional(request),
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, name, ctx, block_name=block, status_code=status_code)


def flash(request: Request, kind: str, text: str) -> None:
    """A message (kind ok or error) for the next page this visitor sees."""
    request.session["flash"] = {"kind": kind, "text": text}


def pop_flash(request: Request) -> dict[str, str] | None:
    return request.session.pop("flash", None)


def back_to(page: str) -> Any:
    """A route dependency naming the page an action goes back to (a pattern with the route's path
    parameters), also with the message of a refused request (KbError, CaseError: web.app). By default
    that is the action's URL without its last segment (/agent/cases/1/close -> /agent/cases/1)."""

    def remember(request: Request) -> None:
        request.state.back_page = page.format(**request.path_params)

    return Depends(remember)


def back_page(request: Request) -> str:
    return getattr(request.state, "back_page", None) or request.url.path.rsplit("/", 1)[0] or "/"
