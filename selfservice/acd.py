"""Automatic call distribution: agents' states, the queues of waiting calls, and the call-centre KPIs.

All state lives in the database, so every web worker (the agents' consoles) and every media node agree.
Claiming an agent for a call is one conditional UPDATE (ready -> ringing): two nodes never ring the
same agent. Every function takes the caller's Session and flushes (never commits).

The KPIs, as the national hotline rules name them (docs/callcentre.md):
- 接通率: calls answered by an agent / calls offered to agents (entered a queue);
- 15秒接通率: calls answered within 15 s of entering the queue / calls offered;
- 平均等待时长: mean wait of the answered calls;
- 放弃率: calls abandoned in the queue / calls offered; short abandons (under 5 s) counted apart;
- 平均通话时长 / 平均话后处理时长: per answered call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from hotline import audit, nodefiles
from hotline.db import changed_rows, utcnow
from hotline.models import User
from selfservice.models import AgentSeat, CallControl, QueuedCall

LOCAL_ZONE = ZoneInfo("Asia/Shanghai")

# Agents' states: (label, may the agent choose it on the console)
AGENT_STATES: dict[str, str] = {
    "offline": "未签入",
    "ready": "空闲",
    "not_ready": "示忙",
    "ringing": "振铃中",
    "on_call": "通话中",
    "wrap_up": "话后处理",
}
CHOOSABLE = ("ready", "not_ready")  # the states an agent sets by hand (others follow the calls)
NOT_READY_REASONS = ("小休", "会议", "培训", "处理工单", "未接听", "话机未注册")

# Calls offered to agents
CALL_STATUSES: dict[str, str] = {
    "waiting": "排队中",
    "ringing": "振铃中",
    "connected": "通话中",
    "held": "保持中",
    "ended": "已结束",
    "abandoned": "排队中挂机",
    "voicemail": "转留言",
    "callback": "预约回拨",
    "self_service": "自助服务中（排队位置保留）",
}
LIVE_STATUSES = ("waiting", "ringing", "connected", "held")
ANSWERED_WITHIN = 15.0  # seconds: 15秒接通率
SHORT_ABANDON = 5.0  # seconds: abandons shorter than this are counted apart
CALLBACK_RESULTS = {"reached": "已联系", "no_answer": "无人接听", "wrong_number": "号码错误"}


class AcdError(ValueError):
    """An agent's request that does not fit the state (message in Chinese, for the console)."""


def seconds_since(moment: datetime | None, now: datetime) -> float:
    """Seconds from a stored time to `now`; 0 when there is none."""
    return max(0.0, (now - moment).total_seconds()) if moment else 0.0


# -- agents -----------------------------------------------------------------------------------------


def seat_of(session: Session, user_id: int) -> AgentSeat | None:
    return session.scalar(select(AgentSeat).where(AgentSeat.user_id == user_id))


def sign_in(session: Session, user: User, extension: str, skills: dict[str, int] | None = None) -> AgentSeat:
    """Sign an agent in at a phone (SIP extension or URI); the agent is ready at once."""
    extension = extension.strip()
    if not extension or len(extension) > 32 or any(c.isspace() for c in extension):
        raise AcdError("请填写正确的分机号。")
    taken = session.scalar(select(AgentSeat).where(AgentSeat.extension == extension))
    if taken is not None and taken.user_id != user.id:
        if taken.state != "offline":
            raise AcdError(f"分机 {extension} 已被其他坐席签入使用。")
        taken.extension = f"~{taken.id}"  # the other agent's old phone: free it
        session.flush()
    seat = seat_of(session, user.id)
    now = utcnow()
    if seat is None:
        seat = AgentSeat(user_id=user.id, extension=extension, skills=skills or {}, idle_since=now)
        session.add(seat)
    elif seat.state not in ("offline", "ready", "not_ready", "wrap_up"):
        raise AcdError("通话中不能重新签入。")
    seat.extension = extension
    if skills is not None:
        seat.skills = skills
        flag_modified(seat, "skills")
    seat.state, seat.reason, seat.state_since, seat.idle_since = "ready", "", now, now
    session.flush()
    audit.record(session, actor=user.username, action="acd.sign_in", entity="acd_agent", entity_id=seat.id,
                 detail={"extension": extension})
    return seat


def sign_out(session: Session, user: User) -> None:
    seat = seat_of(session, user.id)
    if seat is None or seat.state == "offline":
        return
    if seat.state in ("ringing", "on_call"):
        raise AcdError("通话结束后才能签出。")
    seat.state, seat.reason, seat.state_since, seat.call_id = "offline", "", utcnow(), None
    session.flush()
    audit.record(session, actor=user.username, action="acd.sign_out", entity="acd_agent", entity_id=seat.id)


def set_state(session: Session, user: User, state: str, reason: str = "") -> AgentSeat:
    """The agent's own choice: 空闲 (ready) or 示忙 (not ready, with a reason); also ends after-call work."""
    seat = seat_of(session, user.id)
    if seat is None or seat.state == "offline":
        raise AcdError("请先签入。")
    if state not in CHOOSABLE:
        raise AcdError("无效的状态。")
    if seat.state in ("ringing", "on_call"):
        raise AcdError("通话中不能更改状态。")
    now = utcnow()
    if seat.state == "wrap_up":
        _end_wrap_up(session, seat, now)
    if state == "ready" and seat.state != "ready":
        seat.idle_since = now
    seat.state, seat.reason, seat.state_since = state, (reason.strip()[:60] if state == "not_ready" else ""), now
    session.flush()
    return seat


def serves(seat: AgentSeat, group: str, default_group: str) -> bool:
    """Whether an agent takes calls of a skill group (an agent without skills takes the default group)."""
    skills = seat.skills or {}
    return skills.get(group, 0) > 0 if skills else group == default_group


def claim_agent(session: Session, call: QueuedCall, groups: list[str], default_group: str) -> AgentSeat | None:
    """The longest-idle ready agent of the first group that has one, now set ringing for this call."""
    ready = list(session.scalars(select(AgentSeat).where(AgentSeat.state == "ready").order_by(AgentSeat.idle_since)))
    for group in groups:
        for seat in ready:
            if not serves(seat, group, default_group):
                continue
            claimed = changed_rows(
                session,
                update(AgentSeat)
                .where(AgentSeat.id == seat.id, AgentSeat.state == "ready")
                .values(state="ringing", call_id=call.call_id, state_since=utcnow())
                .execution_options(synchronize_session=False),
            )
            if claimed:
                session.refresh(seat)
                call.status, call.agent_id = "ringing", seat.id
                session.flush()
                return seat
    return None


def agents_for(session: Session, group: str, default_group: str) -> list[AgentSeat]:
    """Signed-in agents who take the group's calls."""
    seats = session.scalars(select(AgentSeat).where(AgentSeat.state != "offline"))
    return [s for s in seats if serves(s, group, default_group)]


def end_wrap_ups(session: Session, wrap_seconds: float) -> int:
    """Agents whose after-call work has lasted `wrap_seconds` become ready."""
    now = utcnow()
    count = 0
    for seat in session.scalars(select(AgentSeat).where(AgentSeat.state == "wrap_up")):
        if seconds_since(seat.state_since, now) >= wrap_seconds:
            _end_wrap_up(session, seat, now)
            seat.state, seat.state_since, seat.idle_since = "ready", now, now
            count += 1
    session.flush()
    return count


def _end_wrap_up(session: Session, seat: AgentSeat, now: datetime) -> None:
    """Note the after-call work time on the call it followed."""
    if seat.call_id is not None:
        call = get_call(session, seat.call_id)
        if call is not None and call.agent_id == seat.id and call.wrap_seconds is None:
            call.wrap_seconds = seconds_since(seat.state_since, now)
    seat.call_id = None


# -- calls ------------------------------------------------------------------------------------------


def enqueue(session: Session, *, call_id: str, caller_number: str, group: str, node: str) -> QueuedCall:
    """The call joins the group's queue; a caller back from self-service takes the place kept."""
    call = get_call(session, call_id, for_update=True)
    if call is not None and call.status == "self_service" and call.ended_at is None:
        call.status, call.group, call.node = "waiting", group, node
        session.flush()
        return call
    call = QueuedCall(call_id=call_id, caller_number=caller_number, group=group, node=node, legs=[])
    session.add(call)
    session.flush()
    return call


def step_out(session: Session, call_id: str) -> None:
    """The caller uses the self-service while waiting: out of the queue, the place kept (enqueue)."""
    call = get_call(session, call_id, for_update=True)
    if call is not None and call.status in ("waiting", "ringing"):
        call.status = "self_service"
        _leg(call, kind="self_service", result="自助服务，排队位置保留")
        session.flush()


def get_call(session: Session, call_id: str, *, for_update: bool = False) -> QueuedCall | None:
    """The queued call; `for_update` locks its row (PostgreSQL) so that two writers of its legs list
    do not lose each other's entry."""
    stmt = select(QueuedCall).where(QueuedCall.call_id == call_id)
    return session.scalar(stmt.with_for_update() if for_update else stmt)


def position(session: Session, call: QueuedCall) -> int:
    """1 for the first caller waiting in the call's group."""
    ahead = session.scalar(
        select(func.count())
        .select_from(QueuedCall)
        .where(QueuedCall.status.in_(("waiting", "ringing")), QueuedCall.group == call.group)
        .where(QueuedCall.enqueued_at < call.enqueued_at)
    )
    return int(ahead or 0) + 1


def expected_wait(session: Session, call: QueuedCall, default_group: str) -> float:
    """Seconds this caller may still wait: the callers ahead times the recent mean talk time, spread
    over the group's signed-in agents (at least 30 s per caller ahead when there is no history)."""
    since = utcnow() - timedelta(hours=2)
    talk = session.scalar(
        select(func.avg(QueuedCall.talk_seconds)).where(
            QueuedCall.answered_at >= since, QueuedCall.talk_seconds.is_not(None)
        )
    )
    agents = max(1, len(agents_for(session, call.group, default_group)))
    return (position(session, call) - 1 + 1) * float(talk or 30.0) / agents


def _leg(call: QueuedCall, **entry: Any) -> None:
    call.legs = [*(call.legs or []), {"at": utcnow().isoformat(timespec="seconds"), **entry}]
    flag_modified(call, "legs")


def ring_failed(session: Session, call_id: str, seat_id: int, code: int) -> None:
    """The agent's phone was not answered: the agent is set not ready (so the next caller does not ring
    an empty desk), the call waits again with its place kept."""
    reason = "话机未注册" if code in (404, 480) else "未接听"
    session.execute(
        update(AgentSeat)
        .where(AgentSeat.id == seat_id, AgentSeat.state == "ringing")
        .values(state="not_ready", reason=reason, state_since=utcnow(), call_id=None)
        .execution_options(synchronize_session=False)
    )
    call = get_call(session, call_id, for_update=True)
    if call is not None and call.status == "ringing":
        call.status, call.agent_id = "waiting", None
        call.attempts += 1
        _leg(call, kind="agent", agent=seat_id, result=f"未接通（{code}）")
    session.flush()


def release_ring(session: Session, seat_id: int) -> None:
    """The caller left while the agent's phone rang: the agent is ready again, still the longest idle."""
    session.execute(
        update(AgentSeat)
        .where(AgentSeat.id == seat_id, AgentSeat.state == "ringing")
        .values(state="ready", call_id=None)
        .execution_options(synchronize_session=False)
    )


def answered(session: Session, call_id: str, seat_id: int, recording_path: str) -> QueuedCall | None:
    now = utcnow()
    call = get_call(session, call_id, for_update=True)
    seat = session.get(AgentSeat, seat_id)
    if call is None or seat is None:
        return None
    if call.answered_at is None:
        call.answered_at = now
        call.wait_seconds = seconds_since(call.enqueued_at, now)
        call.recording_path = recording_path
        nodefiles.remember(session, Path(recording_path))
    call.status, call.agent_id = "connected", seat_id
    _leg(call, kind="agent", agent=seat_id, extension=seat.extension, result="接通")
    seat.state, seat.state_since, seat.call_id, seat.reason = "on_call", now, call_id, ""
    session.flush()
    return call


def agent_left(session: Session, call_id: str, seat_id: int) -> None:
    """The agent's leg ended (hung up, transferred the call on): after-call work begins."""
    now = utcnow()
    seat = session.get(AgentSeat, seat_id)
    if seat is not None and seat.call_id == call_id and seat.state in ("on_call", "ringing"):
        seat.state, seat.state_since = "wrap_up", now  # call_id kept: the wrap-up time is the call's
    session.flush()


def set_status(session: Session, call_id: str, status: str, **changes: Any) -> None:
    if status not in CALL_STATUSES:
        raise ValueError(f"unknown call status {status!r}")
    call = get_call(session, call_id)
    if call is None:
        return
    call.status = status
    for name, value in changes.items():
        setattr(call, name, value)
    session.flush()


def note_leg(session: Session, call_id: str, **entry: Any) -> None:
    call = get_call(session, call_id, for_update=True)
    if call is not None:
        _leg(call, **entry)
        session.flush()


def finish(session: Session, call_id: str, status: str | None = None) -> QueuedCall | None:
    """The caller's call is over: waiting -> abandoned (or `status`), connected -> ended; a caller who
    went to the self-service and did not come back stays self_service (neither answered nor abandoned)."""
    now = utcnow()
    call = get_call(session, call_id)
    if call is None or call.ended_at is not None:
        return call
    if status is None:
        status = "ended" if call.answered_at is not None else "self_service" if call.status == "self_service" else "abandoned"
    call.status, call.ended_at = status, now
    if call.answered_at is None:
        call.wait_seconds = seconds_since(call.enqueued_at, now)
        if status == "abandoned":
            call.callback_state = "pending"  # the national rules: abandoned calls get a call-back
            call.callback_number = call.callback_number or call.caller_number
    else:
        call.talk_seconds = seconds_since(call.answered_at, now)
    if status == "callback":
        call.callback_state = "pending"
    session.flush()
    return call


def recording_path_of(session: Session, call_id: str) -> str | None:
    call = get_call(session, call_id)
    return call.recording_path if call is not None else None


def link_case(session: Session, call_id: str, case_number: str) -> None:
    """The case registered during (or after) this call: both call records name it."""
    from selfservice.records import get_call as ivr_call

    call = get_call(session, call_id)
    if call is not None:
        call.case_number = case_number
    record = ivr_call(session, call_id)
    if record is not None:
        record.case_number = record.case_number or case_number
    session.flush()


# -- console controls (web workers -> the media node holding the call) -------------------------------

CONTROL_ACTIONS = {
    "hangup": "挂断",
    "hold": "保持",
    "resume": "恢复通话",
    "transfer": "转接",
    "consult": "咨询转接",
    "complete": "完成转接",
    "cancel": "取消咨询",
    "conference": "三方通话",
}


def request_control(session: Session, user: User, action: str, target: str = "") -> CallControl:
    """Ask the media node to act on the agent's current call."""
    if action not in CONTROL_ACTIONS:
        raise AcdError("不支持的操作。")
    seat = seat_of(session, user.id)
    if seat is None or seat.call_id is None or seat.state != "on_call":
        raise AcdError("当前没有通话。")
    target = target.strip()
    if action in ("transfer", "consult", "conference") and not target:
        raise AcdError("请选择转接或邀请的对象。")
    control = CallControl(call_id=seat.call_id, action=action, target=target[:120], actor=user.username)
    session.add(control)
    session.flush()
    audit.record(session, actor=user.username, action=f"acd.{action}", entity="acd_call", entity_id=control.id,
                 detail={"call_id": seat.call_id, "target": target})
    return control


def take_controls(session: Session, call_ids: list[str]) -> list[CallControl]:
    """Pending requests for calls this node holds, oldest first, marked taken."""
    if not call_ids:
        return []
    return _take(
        session,
        select(CallControl).where(CallControl.call_id.in_(call_ids), CallControl.action != "dial"),
    )


def _take(session: Session, pending: Any) -> list[CallControl]:
    """The pending requests of `pending` (a select of CallControl) that this caller marks taken first:
    each one conditional update, so that two nodes never carry out the same request."""
    now = utcnow()
    taken = []
    for control in list(session.scalars(pending.where(CallControl.done_at.is_(None)).order_by(CallControl.id))):
        claimed = changed_rows(
            session,
            update(CallControl)
            .where(CallControl.id == control.id, CallControl.done_at.is_(None))
            .values(done_at=now)
            .execution_options(synchronize_session=False),
        )
        if claimed:
            taken.append(control)
    return taken


def control_result(session: Session, control_id: int, result: str) -> None:
    control = session.get(CallControl, control_id)
    if control is not None:
        control.result = result[:200]
        session.flush()


def last_control(session: Session, call_id: str) -> CallControl | None:
    return session.scalar(
        select(CallControl).where(CallControl.call_id == call_id).order_by(CallControl.id.desc()).limit(1)
    )


# -- what the consoles and the wallboard show ----------------------------------------------------------


@dataclass
class Wallboard:
    waiting: int
    longest_wait: float  # seconds
    agents: dict[str, int]  # state -> count
    offered_today: int
    answered_today: int
    abandoned_today: int


def wallboard(session: Session) -> Wallboard:
    now = utcnow()
    waiting = list(session.scalars(select(QueuedCall).where(QueuedCall.status.in_(("waiting", "ringing")))))
    states = dict(session.execute(select(AgentSeat.state, func.count()).group_by(AgentSeat.state)).all())
    figures = kpis(session, now.astimezone(LOCAL_ZONE).date())
    return Wallboard(
        waiting=len(waiting),
        longest_wait=max((seconds_since(c.enqueued_at, now) for c in waiting), default=0.0),
        agents={state: int(states.get(state, 0)) for state in AGENT_STATES},
        offered_today=figures["offered"],
        answered_today=figures["answered"],
        abandoned_today=figures["abandoned"],
    )


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, LOCAL_ZONE).astimezone(UTC)
    return start, start + timedelta(days=1)


def kpis(session: Session, day: date, *, agent_id: int | None = None, group: str | None = None) -> dict[str, Any]:
    """The call-centre KPIs of one local day (see the module's docstring for the definitions)."""
    start, end = _day_bounds(day)
    stmt = select(QueuedCall).where(QueuedCall.enqueued_at >= start, QueuedCall.enqueued_at < end)
    if agent_id is not None:
        stmt = stmt.where(QueuedCall.agent_id == agent_id)
    if group is not None:
        stmt = stmt.where(QueuedCall.group == group)
    calls = [c for c in session.scalars(stmt) if c.status != "self_service"]  # chose the IVR over waiting
    offered = len(calls)
    answered = [c for c in calls if c.answered_at is not None]
    abandoned = [c for c in calls if c.status == "abandoned"]
    short = [c for c in abandoned if (c.wait_seconds or 0) < SHORT_ABANDON]
    within = [c for c in answered if (c.wait_seconds or 0) <= ANSWERED_WITHIN]

    def mean(values: list[float]) -> float | None:
        return sum(values) / len(values) if values else None

    def share(part: int) -> float | None:
        return part / offered if offered else None

    return {
        "offered": offered,
        "answered": len(answered),
        "answered_within_15s": len(within),
        "abandoned": len(abandoned),
        "short_abandoned": len(short),
        "connection_rate": share(len(answered)),
        "answered_15s_rate": share(len(within)),
        "abandon_rate": share(len(abandoned)),
        "average_wait": mean([c.wait_seconds or 0.0 for c in answered]),
        "average_talk": mean([c.talk_seconds for c in answered if c.talk_seconds is not None]),
        "average_wrap": mean([c.wrap_seconds for c in answered if c.wrap_seconds is not None]),
    }


def kpis_by_hour(session: Session, day: date) -> list[dict[str, Any]]:
    """Offered / answered / abandoned per local hour of one day."""
    start, end = _day_bounds(day)
    hours = [{"hour": h, "offered": 0, "answered": 0, "abandoned": 0} for h in range(24)]
    for call in session.scalars(
        select(QueuedCall).where(QueuedCall.enqueued_at >= start, QueuedCall.enqueued_at < end)
    ):
        row = hours[call.enqueued_at.astimezone(LOCAL_ZONE).hour]
        row["offered"] += 1
        row["answered"] += call.answered_at is not None
        row["abandoned"] += call.status == "abandoned"
    return hours


def kpis_by_agent(session: Session, day: date) -> list[dict[str, Any]]:
    rows = []
    for seat, user in session.execute(select(AgentSeat, User).join(User, User.id == AgentSeat.user_id)):
        figures = kpis(session, day, agent_id=seat.id)
        rows.append({"agent": user.display_name or user.username, "extension": seat.extension, **figures})
    return rows


# -- call-backs -------------------------------------------------------------------------------------


def callbacks_due(session: Session, limit: int = 100) -> list[QueuedCall]:
    """Calls waiting for a call-back (abandoned in the queue, or asked for), oldest first."""
    return list(
        session.scalars(
            select(QueuedCall)
            .where(QueuedCall.callback_state == "pending")
            .order_by(QueuedCall.enqueued_at)
            .limit(limit)
        )
    )


def request_dial_back(session: Session, user: User, call_id: str) -> CallControl:
    """Click-to-call from the call-back list: the media node rings the agent's phone, then the citizen.
    The agent is busy (on_call) from now until the call-back ends."""
    call = get_call(session, call_id)
    if call is None or call.callback_state != "pending":
        raise AcdError("该回拨已处理。")
    number = call.callback_number or call.caller_number
    if not number or not number.isdigit():
        raise AcdError("该来电没有可回拨的号码。")
    seat = seat_of(session, user.id)
    if seat is None or seat.state == "offline":
        raise AcdError("请先在话务条签入话机。")
    taken = changed_rows(
        session,
        update(AgentSeat)
        .where(AgentSeat.id == seat.id, AgentSeat.state.in_(("ready", "not_ready", "wrap_up")))
        .values(state="on_call", call_id=call_id, state_since=utcnow(), reason="")
        .execution_options(synchronize_session=False),
    )
    if not taken:
        raise AcdError("通话中不能回拨。")
    control = CallControl(call_id=call_id, action="dial", target=f"{seat.extension}>{number}", actor=user.username)
    session.add(control)
    session.flush()
    audit.record(session, actor=user.username, action="acd.dial_back", entity="acd_call", entity_id=call.id,
                 detail={"call_id": call_id})
    return control


def take_dials(session: Session) -> list[CallControl]:
    """Click-to-call requests not yet taken by any media node (each is taken by one)."""
    return _take(session, select(CallControl).where(CallControl.action == "dial"))


def dial_back_ended(session: Session, call_id: str, extension: str) -> None:
    """The call-back is over: the agent's after-call work begins."""
    seat = session.scalar(select(AgentSeat).where(AgentSeat.extension == extension))
    if seat is not None and seat.call_id == call_id and seat.state == "on_call":
        seat.state, seat.state_since = "wrap_up", utcnow()
        seat.call_id = None
    session.flush()


def record_callback(session: Session, user: User, call_id: str, result: str) -> QueuedCall:
    if result not in CALLBACK_RESULTS:
        raise AcdError("请选择回拨结果。")
    call = get_call(session, call_id)
    if call is None or call.callback_state != "pending":
        raise AcdError("该回拨已处理。")
    call.callback_attempts += 1
    call.callback_result = result
    if result in ("reached", "wrong_number") or call.callback_attempts >= 3:
        call.callback_state = "done"
    session.flush()
    audit.record(session, actor=user.username, action="acd.callback", entity="acd_call", entity_id=call.id,
                 detail={"call_id": call_id, "result": result, "attempt": call.callback_attempts})
    return call
