"""Demo cases from the bundled real messages (data/casework/seed_messages.jsonl), spread over the
last days in various stages, so the dashboard and the daily brief have something to show."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework import workflow
from casework.cases import CATEGORIES, create_case
from casework.models import Department
from casework.routing import suggest_department
from hotline.config import get_settings
from hotline.db import utcnow

DISTRICTS = ("A1区", "A2区", "A3区", "A4区", "A5区", "A6区", "A7区")
CATEGORY_OF_TOPIC = {
    "投诉": "投诉",
    "举报": "举报",
    "建议": "建议",
    "咨询": "咨询",
    "请问": "咨询",
    "求助": "求助",
}


def seed_messages() -> list[dict]:
    path = get_settings().data_dir / "casework" / "seed_messages.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _category(topic: str, rng: random.Random) -> str:
    for word, category in CATEGORY_OF_TOPIC.items():
        if word in topic:
            return category
    return rng.choice(CATEGORIES[:3])


def seed_demo(
    session: Session, count: int = 200, *, days: int = 7, seed: int = 12345, now: datetime | None = None
) -> int:
    """Create `count` demo cases (deterministic for a seed); returns how many were created."""
    rng = random.Random(seed)
    now = now or utcnow()
    messages = seed_messages()
    departments = list(session.scalars(select(Department)))
    for i in range(count):
        msg = messages[i % len(messages)]
        created = now - timedelta(minutes=rng.randint(0, days * 24 * 60))
        case, _ = create_case(
            session,
            channel=rng.choice(("phone", "phone", "phone", "voicemail")),
            caller_number=f"139{rng.randint(0, 99999999):08d}",
            content=msg["content"] or msg["topic"],
            topic=msg["topic"][:200],
            category=_category(msg["topic"], rng),
            district=rng.choice(DISTRICTS),
            actor="demo",
            now=created,
        )
        stage = rng.random()
        if stage < 0.2:
            workflow.answer_directly(session, case, actor="demo", answer="已根据知识库直接答复。")
            continue
        suggestions = suggest_department(session, f"{case.topic} {case.content}")
        department = suggestions[0][0] if suggestions else rng.choice(departments)
        if stage < 0.3:
            continue
        workflow.refer(session, case, department, actor="demo")
        if stage < 0.45:
            continue
        workflow.accept(session, case, actor="demo")
        if stage < 0.6:
            continue
        workflow.reply(session, case, actor="demo", reply="经核查，已按规定处理并答复来电人。")
        workflow.review(session, case, actor="demo", approved=True)
        workflow.follow_up(
            session, case, actor="demo", satisfaction=rng.choice(("满意", "满意", "基本满意", "不满意"))
        )
        if stage < 0.9 and case.status == "followed_up":  # 不满意 sent it back for rework
            workflow.close(session, case, actor="demo")
    session.flush()
    return count
