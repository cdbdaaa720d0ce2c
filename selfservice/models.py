"""Call records (one row per IVR call) and the call centre's state: agents' seats, queued and
connected calls with every leg's times, and the control requests from agents' consoles."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, UtcDateTime, utcnow

OUTCOMES = ("in_progress", "self_served", "transferred", "agent", "voicemail", "callback", "abandoned")


class CallRecord(Base):
    __tablename__ = "ivr_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    channel: Mapped[str] = mapped_column(String(20))  # sip | web | simulator
    caller_number: Mapped[str] = mapped_column(String(40), default="", index=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    path: Mapped[list[str]] = mapped_column(JSON, default=list)
    documents: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    searches: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    outcome: Mapped[str] = mapped_column(String(20), default="in_progress", index=True)
    case_number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    transfer_target: Mapped[str | None] = mapped_column(String(200), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")


class AgentSeat(Base):
    """An agent's place in the call centre: the phone (SIP extension) and the ACD state. The states and
    their transitions are declared in selfservice/acd.py."""

    __tablename__ = "acd_agents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    extension: Mapped[str] = mapped_column(String(32), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="offline", index=True)
    reason: Mapped[str] = mapped_column(String(60), default="")
    state_since: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    idle_since: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)  # longest idle first
    skills: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)  # skill group -> level 1..9
    call_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the call ringing or connected


class QueuedCall(Base):
    """A call offered to agents: waits in a skill group's queue, rings agents, is answered (or not).
    The KPIs (接通率, 15秒接通率, average wait, abandon rate, handle time) are computed from these rows."""

    __tablename__ = "acd_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)  # = ivr_calls.call_id
    caller_number: Mapped[str] = mapped_column(String(40), default="", index=True)
    group: Mapped[str] = mapped_column(String(40), default="")
    node: Mapped[str] = mapped_column(String(64), default="")  # the media node holding the caller
    status: Mapped[str] = mapped_column(String(16), default="waiting", index=True)
    enqueued_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    wait_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)  # to answer or abandonment
    talk_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    wrap_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("acd_agents.id"), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # agents' phones that rang unanswered
    legs: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    recording_path: Mapped[str | None] = mapped_column(String(400), nullable=True)
    callback_number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    callback_state: Mapped[str] = mapped_column(String(16), default="", index=True)  # "" | pending | done
    callback_attempts: Mapped[int] = mapped_column(Integer, default=0)
    callback_result: Mapped[str] = mapped_column(String(60), default="")
    case_number: Mapped[str | None] = mapped_column(String(40), nullable=True)


class CallControl(Base):
    """A request from an agent's console to the media node holding the call (hold, transfer, three-way,
    hang up); the node carries it out and writes the result."""

    __tablename__ = "acd_controls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(120), default="")
    actor: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True, index=True)
    result: Mapped[str] = mapped_column(String(200), default="")
