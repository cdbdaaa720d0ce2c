"""Input hygiene in one place: a dependency of every router (after the CSRF check) that refuses, before
any route code runs, what no route should have to handle:
- control characters (hotline.text: NUL, ANSI escapes, ...) in the path, the query string, a form or a
  JSON body: 400 with a clear message (NUL was a 500 on PostgreSQL);
- integer path ids outside the database's INTEGER range: 404 (`/documents/99999999999999999999999`),
  integer query parameters outside it: 400;
- JSON that is not strict JSON (NaN, Infinity, numbers that overflow a float) or nested too deeply: 400.
"""

from __future__ import annotations

import json
import math
from types import UnionType
from typing import Any, NoReturn, Union, get_args, get_origin

from fastapi import HTTPException, WebSocketException, status
from starlette.requests import HTTPConnection, Request

from hotline.text import CONTROL_MESSAGE, contains_control, has_control

MAX_INT = 2**31 - 1  # INTEGER columns (ids) on PostgreSQL; SQLite overflowed past 2**63
BAD_JSON = "请求内容不是有效的 JSON（不允许 NaN、Infinity 或过深的嵌套）。"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _is_int(annotation: Any) -> bool:
    if annotation is int:
        return True
    return get_origin(annotation) in (Union, UnionType) and int in get_args(annotation)


def _out_of_range(raw: str) -> bool:
    text = raw.strip().lstrip("+-")
    if not text.isdigit():
        return False  # not a number at all: FastAPI's validation answers it (422)
    return len(text) > 10 or int(text) > MAX_INT


def _refuse(conn: HTTPConnection, status_code: int, message: str) -> NoReturn:
    if conn.scope["type"] == "websocket":
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason="invalid input")
    raise HTTPException(status_code=status_code, detail=message)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _strict_json(constant: str) -> NoReturn:
    raise ValueError(constant)


def parse_strict_json(body: bytes) -> Any:
    """JSON as RFC 8259 has it: NaN, Infinity and floats that overflow are errors (ValueError);
    nesting deeper than the parser's stack is a RecursionError."""
    return json.loads(body, parse_constant=_strict_json, parse_float=_finite)


async def check_input(conn: HTTPConnection) -> None:
    query = conn.query_params.multi_items()
    if any(has_control(v) for v in conn.path_params.values()) or any(
        has_control(k) or has_control(v) for k, v in query
    ):
        _refuse(conn, 400, CONTROL_MESSAGE)
    dependant = getattr(conn.scope.get("route"), "dependant", None)
    if dependant is not None:
        for field in dependant.path_params:
            raw = conn.path_params.get(field.alias)
            if raw is not None and _is_int(field.field_info.annotation) and _out_of_range(str(raw)):
                _refuse(conn, 404, "您访问的页面不存在。")
        ints = {f.alias for f in dependant.query_params if _is_int(f.field_info.annotation)}
        if any(k in ints and _out_of_range(v) for k, v in query):
            _refuse(conn, 400, "请求参数超出范围。")
    if not isinstance(conn, Request) or conn.method in ("GET", "HEAD", "OPTIONS"):
        return
    content_type = conn.headers.get("content-type", "")
    if content_type.startswith(FORM_TYPES):
        form = await conn.form()  # bounded by BodySizeLimitMiddleware; cached for the route
        if any(has_control(k) or (isinstance(v, str) and has_control(v)) for k, v in form.multi_items()):
            _refuse(conn, 400, CONTROL_MESSAGE)
    elif "json" in content_type:
        body = await conn.body()
        if not body.strip():
            return
        try:
            value = parse_strict_json(body)
        except (ValueError, RecursionError):
            _refuse(conn, 400, BAD_JSON)
        if contains_control(value):
            _refuse(conn, 400, CONTROL_MESSAGE)
