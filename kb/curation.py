"""Editors' tools around search: synonym groups and the search-gap log."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline import audit
from hotline.db import utcnow
from kb.errors import KbError
from kb.models import SearchGap, SynonymGroup

MAX_WORD = 32
MAX_GAP_QUERY = 256


def list_synonym_groups(session: Session) -> list[SynonymGroup]:
    return list(session.scalars(select(SynonymGroup).order_by(SynonymGroup.id)))


def synonym_lists(session: Session) -> list[list[str]]:
    """All groups as word lists, for query rewriting."""
    return [list(words) for words in session.scalars(select(SynonymGroup.words).order_by(SynonymGroup.id))]


def save_synonym_group(
    session: Session, words: list[str], *, actor: str, group_id: int | None = None
) -> SynonymGroup:
    """Create a group (or replace the words of group_id). Needs at least two different words."""
    cleaned: list[str] = []
    for word in words:
        word = (word or "").strip()
        if word and word not in cleaned:
            cleaned.append(word)
    if len(cleaned) < 2:
        raise KbError("同义词组至少需要两个不同的词。")
    if any(len(w) > MAX_WORD for w in cleaned):
        raise KbError(f"每个词不能超过 {MAX_WORD} 个字。")
    if group_id is None:
        group = SynonymGroup(words=cleaned, updated_by=actor)
        session.add(group)
        action = "kb.synonyms.create"
    else:
        found = session.get(SynonymGroup, group_id)
        if found is None:
            raise KbError("同义词组不存在。")
        group = found
        group.words = cleaned
        group.updated_by = actor
        action = "kb.synonyms.update"
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=action,
        entity="kb_synonyms",
        entity_id=group.id,
        comment="=".join(cleaned),
    )
    session.flush()
    return group


def delete_synonym_group(session: Session, group_id: int, *, actor: str) -> None:
    group = session.get(SynonymGroup, group_id)
    if group is None:
        raise KbError("同义词组不存在。")
    audit.record(
        session,
        actor=actor,
        action="kb.synonyms.delete",
        entity="kb_synonyms",
        entity_id=group.id,
        comment="=".join(group.words),
    )
    session.delete(group)
    session.flush()


def log_gap(session: Session, query: str, channel: str) -> SearchGap:
    """Count a query that found nothing (a resolved gap that comes back is reopened). Two processes
    logging the same new gap at once: the loser of the insert race counts on the winner's row."""
    query = " ".join(query.split())[:MAX_GAP_QUERY]
    channel = (channel or "web")[:16]
    stmt = select(SearchGap).where(SearchGap.query == query, SearchGap.channel == channel)
    gap = session.scalar(stmt)
    now = utcnow()
    if gap is None:
        try:
            with session.begin_nested():
                gap = SearchGap(
                    query=query, channel=channel, count=1, first_seen=now, last_seen=now, resolved=False
                )
                session.add(gap)
            return gap
        except IntegrityError:
            gap = session.scalars(stmt).one()
    gap.count = SearchGap.count + 1
    gap.last_seen = now
    gap.resolved = False
    session.flush()
    return gap


def list_gaps(session: Session, *, resolved: bool = False, limit: int = 100) -> list[SearchGap]:
    """Gaps, most frequent first."""
    stmt = (
        select(SearchGap)
        .where(SearchGap.resolved.is_(resolved))
        .order_by(SearchGap.count.desc(), SearchGap.last_seen.desc())
        .limit(max(1, limit))
    )
    return list(session.scalars(stmt))


def resolve_gap(session: Session, gap_id: int, *, actor: str) -> SearchGap:
    gap = session.get(SearchGap, gap_id)
    if gap is None:
        raise KbError("检索缺口记录不存在。")
    gap.resolved = True
    gap.resolved_by = actor
    gap.resolved_at = utcnow()
    audit.record(
        session, actor=actor, action="kb.gap.resolve", entity="kb_gap", entity_id=gap.id, comment=gap.query
    )
    session.flush()
    return gap
