"""Routing suggestions (which category, which department) and duplicate detection."""

from __future__ import annotations

from datetime import timedelta
from typing import NamedTuple

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from casework import routing_model
from casework.lifecycle import OPEN_STATUSES
from casework.models import Case, Department
from hotline.textsim import bigrams, jaccard

KEYWORD_FULL = 4  # characters of a new department's keywords found in a text for full confidence
DUPLICATE_WINDOW = timedelta(days=30)
DUPLICATE_THRESHOLD = 0.5
SAME_CALLER_THRESHOLD = 0.3
DUPLICATE_STATUSES = OPEN_STATUSES


class Suggestion(NamedTuple):
    """A department suggested for a request, how sure the suggestion is (0..1) and why."""

    department: Department
    confidence: float
    reasons: tuple[str, ...]

    @property
    def preselect(self) -> bool:
        """Sure enough to be chosen for the agent (who can still change it)."""
        return self.confidence >= routing_model.PRESELECT


def suggest_department(session: Session, text: str, limit: int = 3) -> list[Suggestion]:
    """The likeliest handling departments of a request, best first: the learned routing model's
    probabilities (casework.routing_model) for the active departments it knows, with the words that
    weighed most; a department added since the model was trained is suggested from the keywords the
    administrator gave it (their share of KEYWORD_FULL characters found in the text), until a retrain
    (`hotline case route --retrain`) lets the model learn it."""
    text = (text or "").strip()
    if not text:
        return []
    model = routing_model.current(session)
    active = {d.name: d for d in session.scalars(select(Department).where(Department.active.is_(True)))}
    known = set(model.department.labels)
    found = [
        Suggestion(active[g.name], g.confidence, g.reasons)
        for g in model.department.guess(text, limit=len(known))
        if g.name in active and g.confidence > 0
    ]
    for name, dept in active.items():
        matched = tuple(w for w in dept.keywords or [] if w and w in text)
        if name not in known and matched:
            share = min(1.0, sum(len(w) for w in matched) / KEYWORD_FULL)
            found.append(Suggestion(dept, round(share, 3), matched))
    found.sort(key=lambda s: (-s.confidence, s.department.name))
    return found[:limit]


def route(session: Session, text: str, limit: int = 3) -> dict[str, object]:
    """The suggested category (the official tree's first level) and departments of a text, as
    `hotline case route --json` prints them."""
    categories = routing_model.current(session).category.guess(text, limit)
    departments = suggest_department(session, text, limit)
    return {
        "category": categories[0].name if categories else None,
        "categories": [{"name": g.name, "confidence": g.confidence} for g in categories],
        "departments": [
            {"name": s.department.name, "confidence": s.confidence, "reasons": list(s.reasons)}
            for s in departments
        ],
    }


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
