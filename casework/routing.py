"""Routing suggestions (which department) and duplicate detection."""

from __future__ import annotations

from datetime import timedelta

import jieba
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from casework.lifecycle import OPEN_STATUSES
from casework.models import Case, Department
from hotline.textsim import bigrams, jaccard

jieba.setLogLevel(60)
DUPLICATE_WINDOW = timedelta(days=30)
DUPLICATE_THRESHOLD = 0.5
SAME_CALLER_THRESHOLD = 0.3
DUPLICATE_STATUSES = OPEN_STATUSES


def suggest_department(session: Session, text: str, limit: int = 3) -> list[tuple[Department, float]]:
    """Departments whose remit keywords occur in the text, best first; score in 0..1 (share of the
    best match). Longer keywords weigh more; words jieba finds as whole tokens count double."""
    text = (text or "").strip()
    if not text:
        return []
    tokens = set(jieba.cut_for_search(text))
    scored: list[tuple[Department, float]] = []
    for dept in session.scalars(select(Department).where(Department.active.is_(True))):
        score = 0.0
        for word in dept.keywords or []:
            if word and word in text:
                score += len(word) * (2 if word in tokens else 1)
        if score:
            scored.append((dept, score))
    if not scored:
        return []
    scored.sort(key=lambda item: (-item[1], item[0].name))
    top = scored[0][1]
    return [(dept, round(score / top, 3)) for dept, score in scored[:limit]]


def find_duplicates(session: Session, case: Case, limit: int = 10) -> list[Case]:
    """Open cases of the last 30 days that look like the same request: very similar text, or
    the same caller with a fairly similar text. Most similar first. Candidates are compared on a few
    columns; only the matches are loaded as cases."""
    since = case.created_at - DUPLICATE_WINDOW
    stmt = (
        select(Case.id, Case.caller_number, Case.topic, Case.content)
        .where(
            Case.id != case.id,
            Case.created_at >= since,
            Case.status.in_(DUPLICATE_STATUSES),
            or_(Case.caller_number == case.caller_number, Case.category == case.category),
        )
        .order_by(Case.created_at.desc())
        .limit(2000)
    )
    mine = bigrams(f"{case.topic} {case.content}")
    found: list[tuple[float, int]] = []
    for other_id, caller, topic, content in session.execute(stmt):
        score = jaccard(mine, bigrams(f"{topic} {content}"))
        threshold = SAME_CALLER_THRESHOLD if caller == case.caller_number else DUPLICATE_THRESHOLD
        if score >= threshold:
            found.append((score, other_id))
    found.sort(key=lambda item: -item[0])
    ids = [other_id for _, other_id in found[:limit]]
    by_id = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(ids)))} if ids else {}
    return [by_id[i] for i in ids]
