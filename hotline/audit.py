"""Writing and reading the audit trail."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.models import AuditEntry


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: object,
    comment: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to the session (committed with the change it describes)."""
    entry = AuditEntry(
        actor=actor, action=action, entity=entity, entity_id=str(entity_id), comment=comment, detail=detail
    )
    session.add(entry)
    return entry


def history(session: Session, entity: str, entity_id: object) -> list[AuditEntry]:
    """All entries for one record, oldest first."""
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.entity == entity, AuditEntry.entity_id == str(entity_id))
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    return list(session.scalars(stmt))
