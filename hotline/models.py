"""Core tables: staff users with roles, the audit trail every package writes to, and failed attempts
(rate limits shared by every process)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, false, true
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, UtcDateTime, utcnow

ROLES = ("admin", "editor", "reviewer", "agent", "department", "supervisor", "leader")
ROLE_LABELS = {
    "admin": "系统管理员",
    "editor": "知识编辑",
    "reviewer": "知识审核",
    "agent": "坐席",
    "department": "承办部门",
    "supervisor": "督查督办",
    "leader": "领导",
}


class User(Base):
    """A staff member. `roles` is a comma-separated subset of ROLES; department staff name their unit."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[str] = mapped_column(String(255), default="")
    department: Mapped[str | None] = mapped_column(String(128), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # urgent staff notices (urge, instruction, overdue) by SMS to `phone` too (casework/staffnotices.py)
    notice_sms: Mapped[bool] = mapped_column(default=True, server_default=true())
    active: Mapped[bool] = mapped_column(default=True)
    # raised by logout, a password change and disabling: sessions carrying an older one are over
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # set when an administrator resets the password: the user must choose a new one at next login
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    @property
    def role_set(self) -> set[str]:
        return {r for r in self.roles.split(",") if r}

    def has_role(self, *roles: str) -> bool:
        mine = self.role_set
        return "admin" in mine or bool(mine.intersection(roles))


class SiteSetting(Base):
    """One setting the administrators edit on the admin pages (service hours, case deadlines), as JSON;
    read through hotline.sitesettings."""

    __tablename__ = "site_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class AuditEntry(Base):
    """Who did what to which record, when; written in the same transaction as the change."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64), index=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)


class FailedAttempt(Base):
    """One failed attempt (a login, a case progress query) under a rate-limit key; kept in the database
    so that every web worker and the IVR count the same failures (see hotline.attempts)."""

    __tablename__ = "failed_attempts"
    __table_args__ = (Index("ix_failed_attempts_key_at", "key", "at"), Index("ix_failed_attempts_at", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(160))  # "<scope>:<what>", e.g. "login:127.0.0.1:alice"
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class RateCounter(Base):
    """Attempts under a rate-limit key in the current window, counted by one atomic upsert (see
    hotline.attempts.hit): concurrent attempts each get their own count, on every database."""

    __tablename__ = "rate_counters"
    __table_args__ = (Index("ix_rate_counters_window_start", "window_start"),)

    key: Mapped[str] = mapped_column(String(160), primary_key=True)  # e.g. "login:addr:10.0.0.1"
    window_start: Mapped[datetime] = mapped_column(UtcDateTime())
    count: Mapped[int] = mapped_column(Integer, default=0)


class NodeFile(Base):
    """A recording or attachment file and the node that wrote it, on a cluster without a shared folder
    (hotline.nodefiles): a node without the file fetches it from `url`."""

    __tablename__ = "node_files"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)  # e.g. "recordings/calls/<day>/<id>.wav"
    node: Mapped[str] = mapped_column(String(64))  # the writer's node_name
    url: Mapped[str] = mapped_column(String(200))  # the writer's advertised_url when it wrote the file
    stored_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
