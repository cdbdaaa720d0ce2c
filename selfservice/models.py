"""Call records: one row per IVR call."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, utcnow

OUTCOMES = ("in_progress", "self_served", "transferred", "voicemail", "abandoned")


class CallRecord(Base):
    __tablename__ = "ivr_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    channel: Mapped[str] = mapped_column(String(20))  # sip | web | simulator
    caller_number: Mapped[str] = mapped_column(String(40), default="", index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    path: Mapped[list[str]] = mapped_column(JSON, default=list)
    documents: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    searches: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    outcome: Mapped[str] = mapped_column(String(20), default="in_progress", index=True)
    case_number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    transfer_target: Mapped[str | None] = mapped_column(String(200), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
