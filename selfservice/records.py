"""Call records: start, note steps, finish; queries for agents and the supervisor dashboard."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from hotline import audit
from hotline.db import utcnow
from selfservice.models import OUTCOMES, CallRecord

LOCAL_ZONE = ZoneInfo("Asia/Shanghai")


def start_call(session: Session, *, call_id: str, channel: str, caller_number: str) -> CallRecord:
    record = CallRecord(
        call_id=call_id,
        channel=channel,
        caller_number=caller_number,
        path=[],
        documents=[],
        searches=[],
        note="",
    )
    session.add(record)
    session.flush()
    return record


def get_call(session: Session, call_id: str) -> CallRecord | None:
    return session.scalar(select(CallRecord).where(CallRecord.call_id == call_id))


def append(session: Session, call_id: str, field: str, item: Any) -> None:
    """Add one step / document / search to a call's JSON list."""
    record = get_call(session, call_id)
    if record is None:
        return
    values = list(getattr(record, field) or [])
    values.append(item)
    setattr(record, field, values)
    flag_modified(record, field)
    session.flush()


def finish_call(
    session: Session,
    call_id: str,
    *,
    outcome: str,
    case_number: str | None = None,
    transfer_target: str | None = None,
) -> CallRecord | None:
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown call outcome {outcome!r}")
    record = get_call(session, call_id)
    if record is None:
        return None
    record.outcome = outcome
    record.ended_at = utcnow()
    record.case_number = case_number or record.case_number
    record.transfer_target = transfer_target or record.transfer_target
    audit.record(
        session,
        actor="ivr",
        action=f"call.{outcome}",
        entity="ivr_call",
        entity_id=record.id,
        detail={"call_id": call_id, "case_number": record.case_number},
    )
    session.flush()
    return record


def recent_calls(session: Session, caller_number: str | None = None, limit: int = 20) -> list[CallRecord]:
    """Newest calls first, optionally of one caller."""
    stmt = select(CallRecord).order_by(CallRecord.started_at.desc(), CallRecord.id.desc()).limit(limit)
    if caller_number:
        stmt = stmt.where(CallRecord.caller_number == caller_number)
    return list(session.scalars(stmt))


def call_context(session: Session, call_id: str | int) -> dict[str, Any]:
    """What an agent needs when a call is transferred: number, path, last document, last query."""
    record = session.get(CallRecord, call_id) if isinstance(call_id, int) else get_call(session, str(call_id))
    if record is None:
        return {}
    return {
        "call_id": record.call_id,
        "number": record.caller_number,
        "channel": record.channel,
        "started_at": record.started_at,
        "path": list(record.path or []),
        "last_document": record.documents[-1] if record.documents else None,
        "last_query": (record.searches or [{}])[-1].get("query") if record.searches else None,
        "outcome": record.outcome,
        "case_number": record.case_number,
    }


def call_outcomes(session: Session, day: date) -> dict[str, int]:
    """How the finished calls of one local day ended: outcome -> count.

    The bounds are given in UTC, as the times are stored (SQLite keeps no offset: a local bound
    compared with UTC times missed the calls of the first 8 hours of the local day)."""
    start = datetime.combine(day, time.min, LOCAL_ZONE).astimezone(UTC)
    end = start + timedelta(days=1)
    return dict(
        session.execute(
            select(CallRecord.outcome, func.count())
            .where(CallRecord.started_at >= start, CallRecord.started_at < end)
            .where(CallRecord.outcome != "in_progress")
            .group_by(CallRecord.outcome)
        ).all()
    )


def self_service_rate(session: Session, day: date) -> float | None:
    """Share of the finished calls of one local day that were served by the IVR alone (None: no calls)."""
    rows = call_outcomes(session, day)
    total = sum(rows.values())
    return rows.get("self_served", 0) / total if total else None


STEP_WORDS = {
    "progress:ok": "查询办理进度",
    "progress:rejected": "查询密码有误",
    "progress:locked": "查询被暂停",
    "voicemail": "留言",
    "search": "语音提问",
    "max-retries": "多次输入无效",
    "direct": "直接转人工",
    "after-hours": "非工作时间",
}
MENU_ACTION_WORDS = {"progress": "查询办理进度", "voicemail": "留言", "agent": "人工服务", "search": "语音提问"}


def path_in_words(record: CallRecord, menu_items: Mapping[str, tuple[str, str | None]] | None = None) -> str:
    """What the caller did in the self-service, for the agent's screen pop:
    "自助语音：办事指南 > 《公积金提取》（听了2段） > 人工服务". `menu_items`: key -> (action, category)."""
    titles = {str(d.get("id")): d.get("title", "") for d in (record.documents or []) if isinstance(d, dict)}
    queries = [s.get("query", "") for s in (record.searches or []) if isinstance(s, dict)]
    words: list[str] = []
    for step in record.path or []:
        kind, _, arg = str(step).partition(":")
        if kind == "key" and menu_items and arg in menu_items:
            action, category = menu_items[arg]
            word = category or MENU_ACTION_WORDS.get(action, "")
        elif kind == "doc":
            word = f"《{titles.get(arg, '文档')}》"
        elif kind == "search":
            word = f"语音提问“{queries.pop(0)}”" if queries else "语音提问"
        elif kind in ("sms", "fax"):
            word = "短信发送" if kind == "sms" else "传真发送"
        elif kind == "agent":
            word = f"人工服务（{arg}）" if arg else "人工服务"
        else:
            word = STEP_WORDS.get(str(step), "")
        if word and (not words or words[-1] != word):
            words.append(word)
    return "自助语音：" + " > ".join(words) if words else "自助语音：未使用菜单"
