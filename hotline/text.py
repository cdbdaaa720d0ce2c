"""Characters no input may carry, whatever its channel (web forms, JSON, query strings, imports).

NUL makes PostgreSQL refuse the whole statement (a 500 before this check); the other C0/C1 control
characters (ANSI escapes among them) and lone UTF-16 surrogates are never text a person typed.
Tab, line feed and carriage return are allowed: text areas send them.
"""

from __future__ import annotations

import re

CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
CONTROL_MESSAGE = "输入内容含有不可见的控制字符（如 NUL），请删除后重试。"


def has_control(text: str) -> bool:
    return CONTROL_CHARS.search(text) is not None


def contains_control(value: object) -> bool:
    """True when any string in value (nested dicts and lists included, keys too) has a control
    character; iterative, so deeply nested JSON cannot exhaust the stack."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if has_control(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False
