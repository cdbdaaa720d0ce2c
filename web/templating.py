"""Jinja2 templates with block rendering (jinja2-fragments): one template serves page and htmx fragment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from jinja2_fragments.fastapi import Jinja2Blocks

from hotline.masking import mask_phone
from web.security import csrf_token, current_user_optional

templates = Jinja2Blocks(directory=str(Path(__file__).parent / "templates"))
templates.env.globals["mask_phone"] = mask_phone


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
