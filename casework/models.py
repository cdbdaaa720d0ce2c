"""Case-work tables: departments, cases (工单), their timeline, rate limits, extensions, supervision,
urging, the notification outbox and the holiday calendar."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql import text

from casework.lifecycle import STATUS_LABELS, label
from hotline.db import Base, UtcDateTime, utcnow

STATUS_CHECK = "status IN (" + ", ".join(f"'{s}'" for s in STATUS_LABELS) + ")"
# made by raw DDL, described by no model: the case search's own tables (casework_0010; SQLite's FTS5
# table with its shadow tables, PostgreSQL's narrow table); schema comparisons skip them
# (hotline.migrate.include_object)
Base.metadata.info.setdefault("unmanaged_tables", set()).update({"case_fts", "case_search"})


class Department(Base):
    """A handling unit (承办单位) with its remit keywords and contact channels."""

    __tablename__ = "case_departments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    remit: Mapped[str] = mapped_column(Text, default="")  # description of its responsibilities
    keywords: Mapped[list] = mapped_column(JSON, default=list)
    contact_phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    sms_number: Mapped[str | None] = mapped_column(String(32), nullable=True)
    fax: Mapped[str | None] = mapped_column(String(32), nullable=True)
    contacts: Mapped[str] = mapped_column(Text, default="")  # contact persons, one a line
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("case_departments.id"), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def __repr__(self) -> str:
        return f"<Department {self.name}>"


class Case(Base):
    """One citizen request (工单)."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_caller_created", "caller_number", "created_at"),
        Index("ix_cases_status_deadline", "status", "deadline"),
        CheckConstraint(STATUS_CHECK, name="status"),
        # full-text case search on PostgreSQL (an expression for alembic, which compares it there only)
        Index("ix_cases_search", text("search_text"), postgresql_using="gin").ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_number: Mapped[str] = mapped_column(String(20), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str] = mapped_column(String(16))
    caller_number: Mapped[str] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    contact: Mapped[str | None] = mapped_column(String(64), nullable=True)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    category: Mapped[str] = mapped_column(String(8), index=True)
    topic: Mapped[str] = mapped_column(String(200), default="")
    content: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(255), nullable=True)
    district: Mapped[str | None] = mapped_column(String(64), nullable=True)
    urgency: Mapped[str] = mapped_column(String(8), default="normal")
    status: Mapped[str] = mapped_column(String(16), index=True)
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_departments.id"), nullable=True, index=True
    )
    sign_deadline: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    deadline: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    due_level: Mapped[str | None] = mapped_column(String(8), nullable=True)  # None / yellow / red
    flags: Mapped[list] = mapped_column(JSON, default=list)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    reply_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    satisfaction: Mapped[str | None] = mapped_column(String(8), nullable=True)
    supervised: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True)
    audio_path: Mapped[str | None] = mapped_column(String(512), nullable=True)
    # casework.search.index_text: a tsvector on PostgreSQL, its text form on SQLite; searched through the
    # tables casework_0010 keeps in step with it (case_search, case_fts)
    search_text: Mapped[str] = mapped_column(Text().with_variant(TSVECTOR(), "postgresql"), default="")
    created_by: Mapped[str] = mapped_column(String(64), default="system", index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    referred_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    replied_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)

    department: Mapped[Department | None] = relationship(lazy="joined")
    instructions: Mapped[list[Instruction]] = relationship(
        back_populates="case", order_by="Instruction.id", lazy="selectin"
    )
    # loaded when a page reads it (casework/attachments.py decides who may see them)
    attachments: Mapped[list[Attachment]] = relationship(order_by="Attachment.id", lazy="select", viewonly=True)
    # the departments on the case: the lead (主办; "lead" > "assist") first, then the assisting ones (协办)
    units: Mapped[list[HandlingUnit]] = relationship(
        order_by=lambda: [HandlingUnit.role.desc(), HandlingUnit.id], lazy="select", viewonly=True
    )

    @property
    def status_label(self) -> str:
        return label(self.status)

    def __repr__(self) -> str:
        return f"<Case {self.case_number} {self.status}>"


ACTION_LABELS = {
    "submitted": "网上提交",
    "registered": "登记",
    "accepted_submission": "受理网上诉求",
    "rejected_submission": "不予受理",
    "answered": "直接答复",
    "referred": "转派",
    "accepted": "签收",
    "started": "开始办理",
    "replied": "办结反馈",
    "returned": "退回",
    "extension_requested": "申请延期",
    "extension_granted": "同意延期",
    "extension_refused": "不同意延期",
    "reviewed": "审核通过",
    "review_rejected": "审核退回重办",
    "followed_up": "回访",
    "survey_sent": "短信回访",
    "reworked": "不满意重办",
    "closed": "办结归档",
    "urged": "催办",
    "supervised": "督办批示",
    "instruction_acknowledged": "确认批示",
    "instruction_reported": "批示落实情况",
    "merged": "合并重复工单",
    "merged_duplicate": "并入重复工单",
    "mail_followup": "来信补充",
    "assist_opinion": "协办意见",
    "assist_added": "增加协办单位",
    "assist_removed": "移除协办单位",
    "due_soon": "即将到期",
    "overdue": "已超期",
}


class CaseEvent(Base):
    """One entry of a case's timeline."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    comment: Mapped[str] = mapped_column(Text, default="")
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(16), nullable=True)

    @property
    def label(self) -> str:
        return ACTION_LABELS.get(self.action, self.action)


class ExtensionRequest(Base):
    """A department's request for more working days (延期申请)."""

    __tablename__ = "case_extensions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    days: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending/granted/refused
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    comment: Mapped[str] = mapped_column(Text, default="")

    case: Mapped[Case] = relationship(lazy="joined")


class Instruction(Base):
    """A supervisor's or leader's instruction on a supervised case (督办批示)."""

    __tablename__ = "case_instructions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    issued_by: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    response: Mapped[str] = mapped_column(Text, default="")

    case: Mapped[Case] = relationship(back_populates="instructions")


class Urge(Base):
    """A reminder sent to the handling department (催办)."""

    __tablename__ = "case_urges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("case_departments.id"), nullable=True)
    message: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class OutboxMessage(Base):
    """An SMS or fax waiting to be delivered (at least once; transports dedupe by message_id)."""

    __tablename__ = "case_outbox"
    __table_args__ = (Index("ix_case_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(8))  # sms / fax
    to: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(12), default="queued")  # queued/sending/sent/failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # a notice sent as part of an earlier message to the same number (status "collapsed": outbox.collapse_into)
    collapsed_into: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Holiday(Base):
    """A calendar exception: a public holiday (workday=False) or a make-up working day (workday=True)."""

    __tablename__ = "case_holidays"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    workday: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str] = mapped_column(String(32), default="")


class CaseSequence(Base):
    """The last case number sequence used per day (case numbers are date + sequence)."""

    __tablename__ = "case_sequences"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Attachment(Base):
    """A file added to a case (casework/attachments.py): a citizen's photo with a web submission, an
    agent's document, a department's reply. The content is stored once per SHA-256 under
    HOTLINE_HOME/attachments; `name` is the original name, cleaned, only for showing and downloading."""

    __tablename__ = "case_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # submission / case / reply
    uploaded_by: Mapped[str] = mapped_column(String(64))  # a staff username, or "citizen"
    uploader_role: Mapped[str] = mapped_column(String(16))  # citizen / agent / department / ...
    name: Mapped[str] = mapped_column(String(255))
    mime: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class StaffNotice(Base):
    """A live notice for staff (casework/staffnotices.py), addressed to one user, a department's staff or a
    role; a shared in-tray: read by one of its recipients, read for all of them."""

    __tablename__ = "staff_notices"
    __table_args__ = (
        Index("ix_staff_notices_user_read", "user_id", "read_at"),
        Index("ix_staff_notices_department_read", "department_id", "read_at"),
        Index("ix_staff_notices_role_read", "role", "read_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("case_departments.id"), nullable=True)
    role: Mapped[str | None] = mapped_column(String(16), nullable=True)
    kind: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True, index=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    read_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Announcement(Base):
    """A business announcement (业务公告) sent by SMS and/or fax to groups of recipients
    (casework/announcements.py); its messages are the outbox rows with ref "announcement:<id>"."""

    __tablename__ = "case_announcements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    channels: Mapped[str] = mapped_column(String(16))  # "sms", "fax" or "sms,fax"
    audience: Mapped[str] = mapped_column(String(500), default="")  # the groups chosen, in words
    queued: Mapped[int] = mapped_column(Integer, default=0)  # messages put in the outbox
    refused: Mapped[int] = mapped_column(Integer, default=0)  # numbers the outbox refused (caps, format)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)


class BriefMark(Base):
    """A case staff marked for the day's key-issues brief (报要情) with a one-line reason."""

    __tablename__ = "case_brief_marks"
    __table_args__ = (Index("ux_case_brief_marks_case_day", "case_id", "day", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    day: Mapped[date] = mapped_column(Date, index=True)  # the brief's (Beijing) day
    reason: Mapped[str] = mapped_column(String(200))
    marked_by: Mapped[str] = mapped_column(String(64))
    marked_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    case: Mapped[Case] = relationship()


class BriefIssue(Base):
    """One day's brief as the compiler (a supervisor) made it: its number (期号), summary, the marked
    cases chosen in their order, and when it was issued to the leaders."""

    __tablename__ = "case_brief_issues"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    number: Mapped[int] = mapped_column(Integer)  # 期号: the year's issues in order of their days
    summary: Mapped[str] = mapped_column(Text, default="")
    case_ids: Mapped[list[int]] = mapped_column(JSON, default=list)  # the chosen marked cases, in order
    compiled_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    issued_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    issued_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


UNIT_ROLES = {"lead": "主办", "assist": "协办"}


class HandlingUnit(Base):
    """A department on a case (casework/assisting.py): the lead (主办, role "lead": the same department as
    cases.department_id, which the queries, deadlines and KPIs read) or an assisting one (协办, "assist"),
    which sees the case and gives its opinion (协办意见) for the lead's reply."""

    __tablename__ = "case_handling_units"
    __table_args__ = (
        CheckConstraint("role IN ('lead', 'assist')", name="role"),
        Index("ux_case_handling_units_case_department", "case_id", "department_id", unique=True),
        Index("ux_case_handling_units_lead", "case_id", unique=True,
              sqlite_where=text("role = 'lead'"), postgresql_where=text("role = 'lead'")),
        Index("ix_case_handling_units_department_role", "department_id", "role", "case_id"),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("case_departments.id"))
    role: Mapped[str] = mapped_column(String(8))  # lead / assist
    opinion: Mapped[str] = mapped_column(Text, default="")  # 协办意见 (the latest; each one is on the timeline)
    opinion_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    opinion_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    added_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    added_by: Mapped[str] = mapped_column(String(64))

    department: Mapped[Department] = relationship(lazy="joined")

    @property
    def role_label(self) -> str:
        return UNIT_ROLES.get(self.role, self.role)
