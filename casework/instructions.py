"""批示 (instructions) after they are issued (casework.workflow.supervise, by supervisors and leaders) and
acknowledged by the department (acknowledge_instruction): the department reports how it carries them out
(落实情况), as often as there is news; each report is on the case's timeline."""

from __future__ import annotations

from sqlalchemy.orm import Session

from casework.cases import add_event
from casework.errors import CaseError
from casework.models import Case, Instruction

MAX_REPORT = 2000


def report_on_instruction(
    session: Session, case: Case, instruction_id: int, *, actor: str, text: str
) -> Instruction:
    """The department's report on an acknowledged instruction (the latest is kept on the instruction)."""
    row = session.get(Instruction, instruction_id)
    if row is None or row.case_id != case.id:
        raise CaseError("批示不存在。")
    if row.acknowledged_at is None:
        raise CaseError("请先确认该批示，再反馈落实情况。")
    text = (text or "").strip()
    if not text:
        raise CaseError("请填写落实情况。")
    if len(text) > MAX_REPORT:
        raise CaseError(f"落实情况最多{MAX_REPORT}个字。")
    row.response = text
    add_event(session, case, actor=actor, action="instruction_reported", comment=text)
    session.flush()
    return row
