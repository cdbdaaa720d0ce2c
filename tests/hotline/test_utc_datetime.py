"""hotline.db.UtcDateTime: every stored moment comes back timezone-aware in UTC, on both databases,
whatever offset it was written with; comparisons in queries use the same instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import DateTime, inspect, select

from hotline.db import Base, UtcDateTime, get_engine, session_scope
from hotline.models import AuditEntry

BEIJING = timezone(timedelta(hours=8))


def test_moments_come_back_aware_in_utc(hotline_env: Path) -> None:
    written = datetime(2026, 11, 27, 9, 30, tzinfo=BEIJING)  # 01:30 UTC
    with session_scope() as db:
        db.add(AuditEntry(at=written, actor="t", action="probe", entity="x", entity_id="beijing"))
        db.add(
            AuditEntry(
                at=datetime(2026, 11, 27, 2, 0), actor="t", action="probe", entity="x", entity_id="naive"
            )
        )
    with session_scope() as db:
        rows = dict(
            db.execute(select(AuditEntry.entity_id, AuditEntry.at).where(AuditEntry.action == "probe")).all()
        )
        assert rows["beijing"] == written and rows["beijing"].tzinfo == UTC
        assert rows["naive"] == datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # a naive value is taken as UTC
        later = db.scalars(
            select(AuditEntry.entity_id).where(AuditEntry.at > datetime(2026, 11, 27, 9, 45, tzinfo=BEIJING))
        ).all()
        assert later == ["naive"]
        newest = db.scalar(
            select(AuditEntry.at).where(AuditEntry.action == "probe").order_by(AuditEntry.at.desc())
        )
        assert newest is not None and newest.tzinfo == UTC


def test_every_model_moment_is_utc_aware(hotline_env: Path) -> None:
    """No datetime column of any model is a plain DateTime (which gives naive values on SQLite), and
    the database column type stays what the migrations made."""
    import casework.models  # noqa: F401
    import kb.models  # noqa: F401
    import selfservice.models  # noqa: F401

    columns = [c for t in Base.metadata.tables.values() for c in t.columns]
    assert [str(c) for c in columns if isinstance(c.type, DateTime)] == []
    assert len([c for c in columns if isinstance(c.type, UtcDateTime)]) > 20
    stored = {col["name"]: col["type"] for col in inspect(get_engine()).get_columns("audit_log")}
    assert stored["at"].python_type is datetime
