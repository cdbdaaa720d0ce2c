"""The ACD's rules in the database (both backends): who is rung, races between nodes, after-call work,
the call-centre KPIs of a local day, call-backs and the recordings' retention."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from hotline.config import get_settings
from hotline.db import session_scope, utcnow
from hotline.models import User
from selfservice import acd
from selfservice.models import AgentSeat, QueuedCall
from selfservice.recordings import purge_recordings
from tests.conftest import make_user

DEFAULT = "综合"


def agent(name: str, extension: str, skills: dict[str, int] | None = None) -> int:
    make_user(name, ["agent"])
    with session_scope() as session:
        user = session.scalars(select(User).filter_by(username=name)).one()
        return acd.sign_in(session, user, extension, skills).id


def queued(call_id: str, group: str = DEFAULT) -> None:
    with session_scope() as session:
        acd.enqueue(session, call_id=call_id, caller_number="13800000000", group=group, node="n1")


def claim(call_id: str, groups: list[str]) -> int | None:
    with session_scope() as session:
        call = acd.get_call(session, call_id)
        seat = acd.claim_agent(session, call, groups, DEFAULT)
        return seat.id if seat else None


def test_the_longest_idle_agent_of_the_group_is_rung_and_skills_choose_the_group(hotline_env: Path) -> None:
    general = agent("a1", "1001")
    social = agent("a2", "1002", {"社保": 5})
    later = agent("a3", "1003")
    queued("c1", "社保")
    queued("c2")
    queued("c3")
    assert claim("c1", ["社保"]) == social
    assert claim("c2", [DEFAULT]) == general  # signed in before a3: idle longest
    assert claim("c3", [DEFAULT]) == later
    queued("c4", "社保")
    assert claim("c4", ["社保", DEFAULT]) is None  # everybody is ringing now
    with session_scope() as session:
        assert session.get(AgentSeat, social).state == "ringing"


def test_two_nodes_claiming_the_last_ready_agent_at_once_ring_it_once(hotline_env: Path) -> None:
    only = agent("a1", "1001")
    queued("c1")
    queued("c2")
    barrier = threading.Barrier(2)
    won: list[int | None] = []

    def node(call_id: str) -> None:
        barrier.wait()
        won.append(claim(call_id, [DEFAULT]))

    threads = [threading.Thread(target=node, args=(c,)) for c in ("c1", "c2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won, key=lambda x: x is None) == [only, None]
    with session_scope() as session:
        ringing = session.scalars(select(QueuedCall).where(QueuedCall.status == "ringing")).all()
        assert len(ringing) == 1


def test_an_unanswered_ring_sets_the_agent_not_ready_and_the_call_keeps_its_place(hotline_env: Path) -> None:
    seat = agent("a1", "1001")
    queued("c1")
    queued("c2")
    assert claim("c1", [DEFAULT]) == seat
    with session_scope() as session:
        acd.ring_failed(session, "c1", seat, 408)
    with session_scope() as session:
        assert session.get(AgentSeat, seat).reason == "未接听"
        first = acd.get_call(session, "c1")
        assert (first.status, first.attempts) == ("waiting", 1)
        assert acd.position(session, first) == 1
        assert acd.position(session, acd.get_call(session, "c2")) == 2


def test_after_call_work_ends_by_itself_and_is_counted_on_the_call(hotline_env: Path) -> None:
    seat = agent("a1", "1001")
    queued("c1")
    claim("c1", [DEFAULT])
    with session_scope() as session:
        acd.answered(session, "c1", seat, "")
        acd.agent_left(session, "c1", seat)
        assert session.get(AgentSeat, seat).state == "wrap_up"
        assert acd.end_wrap_ups(session, wrap_seconds=3600) == 0
        acd.finish(session, "c1")
    with session_scope() as session:
        assert acd.end_wrap_ups(session, wrap_seconds=0) == 1
    with session_scope() as session:
        assert session.get(AgentSeat, seat).state == "ready"
        call = acd.get_call(session, "c1")
        assert call.status == "ended" and call.wrap_seconds is not None and call.talk_seconds is not None


DAY = date(2026, 11, 26)


def test_kpis_of_a_local_day_follow_the_national_definitions(hotline_env: Path) -> None:
    start = datetime(2026, 11, 25, 16, 30, tzinfo=UTC)  # 00:30 on the 26th in Beijing
    # (wait seconds, answered, status, talk seconds)
    calls = [
        (8, True, "ended", 100),
        (14, True, "ended", 200),
        (40, True, "ended", 300),
        (3, False, "abandoned", None),  # a short abandon
        (25, False, "abandoned", None),
    ]
    with session_scope() as session:
        for n, (wait, answered, status, talk) in enumerate(calls):
            session.add(
                QueuedCall(
                    call_id=f"k{n}", caller_number="13800000000", group=DEFAULT, node="n1", status=status,
                    enqueued_at=start + timedelta(hours=n), wait_seconds=wait, talk_seconds=talk, legs=[],
                    answered_at=start + timedelta(hours=n, seconds=wait) if answered else None,
                )
            )
        session.add(QueuedCall(call_id="other-day", caller_number="1", group=DEFAULT, node="n1",
                               status="abandoned", enqueued_at=start - timedelta(minutes=31), legs=[]))
    with session_scope() as session:
        figures = acd.kpis(session, DAY)
        hours = acd.kpis_by_hour(session, DAY)
    assert figures["offered"] == 5 and figures["answered"] == 3
    assert figures["connection_rate"] == pytest.approx(3 / 5)
    assert figures["answered_15s_rate"] == pytest.approx(2 / 5)
    assert figures["abandon_rate"] == pytest.approx(2 / 5) and figures["short_abandoned"] == 1
    assert figures["average_wait"] == pytest.approx((8 + 14 + 40) / 3)
    assert figures["average_talk"] == pytest.approx(200)
    assert [h["offered"] for h in hours[:5]] == [1, 1, 1, 1, 1]


def test_abandoned_calls_wait_for_a_call_back_until_reached_or_tried_three_times(hotline_env: Path) -> None:
    make_user("a1", ["agent"])
    queued("c1")
    queued("c2")
    with session_scope() as session:
        acd.finish(session, "c1")
        acd.finish(session, "c2")
    with session_scope() as session:
        user = session.scalars(select(User).filter_by(username="a1")).one()
        assert [c.call_id for c in acd.callbacks_due(session)] == ["c1", "c2"]
        acd.record_callback(session, user, "c1", "reached")
        for _ in range(3):
            acd.record_callback(session, user, "c2", "no_answer")
        assert acd.callbacks_due(session) == []
        with pytest.raises(acd.AcdError):
            acd.record_callback(session, user, "c2", "no_answer")


def test_recordings_past_their_retention_are_deleted_and_the_call_records_stay(hotline_env: Path) -> None:
    old = get_settings().recordings_dir / "calls" / "old.wav"
    new = get_settings().recordings_dir / "calls" / "new.wav"
    old.parent.mkdir(parents=True, exist_ok=True)
    old.write_bytes(b"RIFF")
    new.write_bytes(b"RIFF")
    with session_scope() as session:
        for call_id, path, age in (("old", old, 200), ("new", new, 1)):
            session.add(QueuedCall(call_id=call_id, caller_number="1", group=DEFAULT, node="n1", status="ended",
                                   enqueued_at=utcnow() - timedelta(days=age), recording_path=str(path), legs=[]))
    with session_scope() as session:
        assert purge_recordings(session, utcnow() - timedelta(days=180)) == 1
    assert not old.exists() and new.exists()
    with session_scope() as session:
        assert acd.get_call(session, "old").recording_path is None


def test_a_call_waiting_past_its_groups_overflow_time_also_goes_to_the_overflow_group(hotline_env: Path) -> None:
    import time
    from types import SimpleNamespace

    from selfservice.menu import load_menu
    from selfservice.switchboard import Switchboard, Waiting

    general = agent("a1", "1001")  # 综合 only
    menu = load_menu()
    board = Switchboard(SimpleNamespace(config=SimpleNamespace(host="127.0.0.1", port=5070)), menu)  # type: ignore[arg-type]
    queued("c1", "社保")
    fresh = Waiting(call_id="c1", channel=SimpleNamespace(), group="社保")  # type: ignore[arg-type]
    assert board._claim(fresh) is None  # nobody takes 社保 calls yet
    overflow = menu.queue.group("社保").overflow_after
    fresh.started = time.monotonic() - overflow - 1
    assert board._claim(fresh) == (general, "1001")
