"""The case life cycle, declared once: the statuses and one transition table. The workflow checks, the
open/final/deadline sets, the buttons a user sees (allowed_actions), the database CHECK on cases.status
(tests/casework/test_lifecycle_table.py) and the diagram in docs/casework.md all derive from it.

`python -m casework.lifecycle` prints the diagram (mermaid) for the docs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from casework.errors import IllegalTransition

if TYPE_CHECKING:
    from casework.models import Case
    from hotline.models import User


@dataclass(frozen=True)
class Status:
    """A case status: staff label, what the citizen reads (may use {department}, {reply}, {answer}),
    whether the case is still open (the department has not answered yet), final (nothing more can
    happen) and whether its handling deadline runs."""

    key: str
    label: str
    citizen: str
    open: bool = True
    final: bool = False
    deadline_runs: bool = False


_STATUSES = (
    Status("pending_review", "待审核", "您的诉求已提交，正在等待受理审核。"),
    Status("registered", "已登记", "您的诉求已登记，正在处理中。", deadline_runs=True),
    Status("referred", "已转派", "您的诉求已转交{department}办理。", deadline_runs=True),
    Status("accepted", "已签收", "{department}已签收，正在办理。", deadline_runs=True),
    Status("in_progress", "办理中", "{department}正在办理。", deadline_runs=True),
    Status("returned", "已退回", "您的诉求正在重新分派承办单位。", deadline_runs=True),
    Status("replied", "已反馈", "{department}已反馈办理结果，热线中心正在审核。"),
    Status("reviewed", "已审核", "办理结果：{reply}", open=False),
    Status("followed_up", "已回访", "办理结果：{reply}", open=False),
    Status("closed", "已办结", "已办结。{answer}", open=False, final=True),
    Status("rejected", "不予受理", "您的诉求不予受理，如有疑问请拨打12345。", open=False, final=True),
    Status("merged", "已合并", "您的诉求已并入其他工单办理。", open=False, final=True),
)
STATUSES: dict[str, Status] = {s.key: s for s in _STATUSES}
STATUS_LABELS: dict[str, str] = {s.key: s.label for s in _STATUSES}
INITIAL = ("pending_review", "registered")  # web/SMS submissions wait for review; the rest are registered


@dataclass(frozen=True)
class Transition:
    """One row of the table. `action` names the workflow function and the button, `event` the timeline
    entry; `target` None means the status stays. `notices` are notice kinds (casework/notices.py)
    queued when it happens; `deadline` says what it does to the clocks; `unit`: whose staff take a department
action, the lead department's (LEAD) or an assisting department's (ASSIST: casework/assisting.py)."""

    action: str
    event: str
    label: str
    sources: tuple[str, ...]
    target: str | None
    roles: tuple[str, ...]
    notices: tuple[str, ...] = ()
    deadline: str = ""
    unit: str = "lead"  # department actions: by the lead department's staff (主办) or an assisting one's (协办)


WITH_DEPARTMENT = ("referred", "accepted", "in_progress")
OPEN_STATUSES = tuple(s.key for s in _STATUSES if s.open)
FINAL_STATUSES = tuple(s.key for s in _STATUSES if s.final)
DEADLINE_STATUSES = tuple(s.key for s in _STATUSES if s.deadline_runs)
DONE_STATUSES = ("replied", "reviewed", "followed_up", "closed")  # answered (by a department or directly)
_NOT_FINAL = tuple(s.key for s in _STATUSES if not s.final)
AGENT, DEPARTMENT, SUPERVISOR = ("agent",), ("department",), ("supervisor",)
VISIT = ("agent", "citizen")  # 回访: the agent's form, the citizen's SMS answer or online rating
INSTRUCTING = ("supervisor", "leader")  # 批示: leaders are its usual authors
LEAD, ASSIST = "lead", "assist"  # 主办 and 协办 departments (casework/assisting.py)

TRANSITIONS: tuple[Transition, ...] = (
    Transition("accept_submission", "accepted_submission", "受理", ("pending_review",), "registered", AGENT,
               ("acceptance",), "处理时限起算"),
    Transition("reject_submission", "rejected_submission", "不予受理", ("pending_review",), "rejected", AGENT),
    Transition("answer_directly", "answered", "直接答复", ("registered",), "closed", AGENT, ("closing",),
               "停止计时"),
    Transition("refer", "referred", "转派", ("registered", "returned"), "referred", AGENT,
               ("referral_citizen", "referral_department", "assist_department"), "签收时限起算"),
    Transition("accept", "accepted", "签收", ("referred",), "accepted", DEPARTMENT),
    Transition("start_work", "started", "开始办理", ("accepted",), "in_progress", DEPARTMENT),
    Transition("reply", "replied", "办结反馈", ("accepted", "in_progress"), "replied", DEPARTMENT,
               deadline="停止计时"),
    Transition("return_case", "returned", "退回", WITH_DEPARTMENT, "returned", DEPARTMENT, ("return_citizen",)),
    Transition("approve_reply", "reviewed", "审核通过", ("replied",), "reviewed", AGENT,
               ("reply_citizen", "survey")),
    Transition("reject_reply", "review_rejected", "退回重办", ("replied",), "in_progress", AGENT,
               deadline="恢复计时"),
    Transition("follow_up", "followed_up", "回访", ("reviewed",), "followed_up", VISIT),
    Transition("rework", "reworked", "不满意重办", ("reviewed",), "in_progress", VISIT,
               ("rework", "rework_citizen"), "重新计算办理时限"),
    Transition("close", "closed", "办结归档", ("reviewed", "followed_up"), "closed", AGENT, ("closing",)),
    Transition("merge", "merged", "合并", ("pending_review", "registered", "returned", "referred"), "merged",
               AGENT, deadline="停止计时"),
    Transition("request_extension", "extension_requested", "申请延期", WITH_DEPARTMENT, None, DEPARTMENT),
    Transition("decide_extension", "extension_granted", "审批延期", WITH_DEPARTMENT, None, SUPERVISOR,
               ("extension_citizen",), "同意则延长办理期限"),
    Transition("urge", "urged", "催办", WITH_DEPARTMENT, None, SUPERVISOR, ("urge",)),
    Transition("supervise", "supervised", "督办", _NOT_FINAL, None, INSTRUCTING, ("instruction",)),
    Transition("add_opinion", "assist_opinion", "协办意见", WITH_DEPARTMENT, None, DEPARTMENT, unit=ASSIST),
    Transition("add_assist", "assist_added", "增加协办单位", WITH_DEPARTMENT, None, SUPERVISOR,
               ("assist_department",)),
    Transition("remove_assist", "assist_removed", "移除协办单位", WITH_DEPARTMENT, None, SUPERVISOR),
)  # fmt: skip
ACTIONS: dict[str, Transition] = {t.action: t for t in TRANSITIONS}



def label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def check(case: Case, action: str) -> Transition:
    """The transition `action` from the case's status, or IllegalTransition (Chinese message)."""
    transition = ACTIONS[action]
    if case.status not in transition.sources:
        raise IllegalTransition(
            f"工单{case.case_number}当前状态为“{label(case.status)}”，不能{transition.label}。"
        )
    return transition


def citizen_text(case: Case) -> str:
    """The latest news for the citizen, in plain words (no staff names, no internal notes)."""
    status = STATUSES.get(case.status)
    if status is None:
        return label(case.status)
    department = case.department.name if case.department else "相关部门"
    text = status.citizen.format(
        department=department, reply=case.reply_text or "", answer=case.answer or case.reply_text or ""
    )
    return text.strip()


def allowed_actions(case: Case, user: User | None) -> set[str]:
    """The actions this user may take on this case now (the buttons on the case pages). Department staff
    act only on their own department's cases: the lead department's (主办) take the handling actions, an
    assisting department's (协办) give their opinion; leaders write 批示 (supervise) and otherwise read."""
    if user is None:
        return set()
    name = getattr(user, "department", None)
    own = case.department is not None and case.department.name == name
    candidates = [t for t in TRANSITIONS if case.status in t.sources and user.has_role(*t.roles)]
    assisting = bool(name) and any(t.unit == ASSIST for t in candidates) and any(
        u.role == ASSIST and u.department.name == name for u in case.units
    )
    return {t.action for t in candidates if t.roles != DEPARTMENT or (own if t.unit == LEAD else assisting)}


def mermaid() -> str:
    """The state diagram for docs/casework.md (transitions that change the status)."""
    lines = ["stateDiagram-v2"]
    lines += [f"    {s}: {s} {label(s)}" for s in STATUS_LABELS]
    lines += [f"    [*] --> {s}" for s in INITIAL]
    for t in TRANSITIONS:
        if t.target is None:
            continue
        for source in t.sources:
            lines.append(f"    {source} --> {t.target}: {t.label}（{'/'.join(t.roles)}）")
    lines += [f"    {s} --> [*]" for s in FINAL_STATUSES]
    return "\n".join(lines)


def table_markdown() -> str:
    """The transition table as Markdown (docs/casework.md)."""
    rows = ["| action | from | to | roles | notices | deadline |", "|---|---|---|---|---|---|"]
    for t in TRANSITIONS:
        target = t.target or "(unchanged)"
        roles = ", ".join(t.roles) + ("（协办单位）" if t.unit == ASSIST else "")
        rows.append(
            f"| {t.action} {t.label} | {', '.join(t.sources)} | {target} | {roles} "
            f"| {', '.join(t.notices)} | {t.deadline} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    print(f"```mermaid\n{mermaid()}\n```\n\n{table_markdown()}")
