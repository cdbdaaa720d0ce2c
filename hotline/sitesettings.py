"""Settings the administrators edit on the admin pages, kept in the database (every process and node
reads the same): one JSON value per key, each change audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from hotline import audit
from hotline.db import utcnow
from hotline.models import SiteSetting

SERVICE_HOURS = (
    "service_hours"  # when agents are on duty: {"open": "08:00", "close": "20:00", "weekdays": [1..7]}
)
CASE_DEADLINES = (
    "case_deadlines"  # handling periods in working days: {"normal": {...}, "urgent": {...}, "sign": {...}}
)
IVR_PROMPTS = "ivr_prompts"  # the IVR prompts the administrators edited: {name: text} (selfservice.prompts)


def read(session: Session, key: str) -> dict[str, Any] | None:
    """The stored value, or None when the administrators never set it (the owner's defaults apply)."""
    row = session.get(SiteSetting, key)
    return dict(row.value) if row is not None else None


def write(
    session: Session, key: str, value: dict[str, Any], *, actor: str, secret: tuple[str, ...] = ()
) -> None:
    """Store a value (validated by its owner before), audited with the old and the new value; the
    `secret` entries (sealed passwords) only as "changed" or not."""
    row = session.get(SiteSetting, key)
    old = dict(row.value) if row is not None else None
    if row is None:
        row = SiteSetting(key=key)
        session.add(row)
    row.value, row.updated_by, row.updated_at = value, actor, utcnow()
    audit.record(
        session,
        actor=actor,
        action="setting_changed",
        entity="setting",
        entity_id=key,
        detail={"old": _redacted(old, secret), "new": _redacted(value, secret, old or {})},
    )
    session.flush()


def _redacted(
    value: dict[str, Any] | None, secret: tuple[str, ...], before: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """The value for the audit trail: a secret entry as "已设置" (set), or, for the new value compared
    with `before`, "未更改" / "已设置" / "已清除"."""
    if value is None or not secret:
        return value
    shown = {k: v for k, v in value.items() if k not in secret}
    for name in secret:
        if name in value:
            same = before is not None and before.get(name) == value[name]
            shown[name] = "未更改" if same else "已设置"
        elif before and name in before:
            shown[name] = "已清除"
    return shown
