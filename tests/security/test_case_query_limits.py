"""Progress-query limits: per case and client (the citizen asking from elsewhere is not locked out by
someone else's guesses), counted before the check so parallel guesses cannot exceed them, and on
/voice keyed by the client address rather than the connection (both databases)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import casework
from hotline.db import session_scope
from selfservice.engine import Dialog
from selfservice.menu import load_menu
from selfservice.simulator import SimulatedChannel, parse_script
from tests.selfservice.conftest import DATA, ivr_env, prompt_cache  # noqa: F401 - fixtures


def new_case() -> tuple[str, str]:
    with session_scope() as s:
        case, password = casework.create_case(
            s, channel="phone", caller_number="13900001111", content="小区路灯不亮", actor="agent"
        )
        return case.case_number, password


def wrong(password: str) -> str:
    return "000000" if password != "000000" else "111111"


def query(number: str, password: str, caller: str) -> str:
    with session_scope() as s:  # failures are counted in the database: commit them too
        try:
            casework.check_progress(s, number, password, caller_key=caller)
        except casework.CaseQueryLocked:
            return "locked"
        except casework.CaseQueryRejected:
            return "rejected"
    return "ok"


def test_guesses_lock_the_guesser_not_the_citizen(hotline_env: Path) -> None:
    number, password = new_case()
    assert [query(number, wrong(password), "web:198.51.100.9") for _ in range(4)] == ["rejected"] * 3 + [
        "locked"
    ]
    assert query(number, password, "web:198.51.100.9") == "locked"
    assert query(number, password, "13900001111") == "ok"  # the citizen, calling from the phone
    assert query(number, password, "web:192.0.2.8") == "ok"  # or from another address


def test_a_citizen_may_ask_again_and_again(hotline_env: Path) -> None:
    number, password = new_case()
    assert {query(number, password, "web:192.0.2.8") for _ in range(6)} == {"ok"}  # successes do not count


def test_many_guessers_lock_a_case_only_after_the_daily_limit(hotline_env: Path) -> None:
    number, password = new_case()
    for n in range(casework.cases.CASE_FAILURES_PER_DAY):
        assert query(number, wrong(password), f"web:10.0.{n}.1") == "rejected"
    assert query(number, password, "13900001111") == "locked"


def test_parallel_guesses_check_at_most_the_limit(hotline_env: Path) -> None:
    number, password = new_case()
    barrier = threading.Barrier(20)
    results: list[str] = []

    def guess() -> None:
        barrier.wait()
        results.append(query(number, wrong(password), "web:203.0.113.66"))

    threads = [threading.Thread(target=guess) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("rejected") == casework.cases.MAX_FAILURES
    assert results.count("locked") == 20 - casework.cases.MAX_FAILURES


def test_web_progress_page_locks_per_client_address(sqlite_env: Path) -> None:
    from web.app import create_app

    number, password = new_case()

    def post(client: TestClient, pw: str) -> int:
        token = client.get("/api/session").json()["csrf_token"]
        form = {"case_number": number, "password": pw, "csrf_token": token}
        return client.post("/progress", data=form).status_code

    with TestClient(create_app(), client=("198.51.100.9", 1)) as attacker:
        assert [post(attacker, wrong(password)) for _ in range(4)] == [404, 404, 404, 429]
    with TestClient(create_app(), client=("192.0.2.8", 1)) as citizen:
        assert post(citizen, password) == 200


def browser_call(script: str, client_key: str) -> list[str]:
    """A browser-voice call (no calling number) from one client address, through the real dialog."""
    channel = SimulatedChannel(parse_script(script, DATA), "")
    channel.name = "browser"
    channel.client_key = client_key  # what web/routes/voice.py sets
    asyncio.run(Dialog(channel, load_menu()).run())
    return [line[5:] for line in channel.log.lines if line.startswith("IVR: ")]


@pytest.mark.usefixtures("ivr_env")
def test_voice_progress_queries_are_limited_per_address_not_per_connection() -> None:
    number, password = new_case()
    bad = wrong(password)
    for _ in range(3):  # three connections, one wrong guess each
        prompts = browser_call(f"press 3\npress {number}#\npress {bad}#\nhangup", "web:198.51.100.9")
        assert "工单编号或密码不正确。" in prompts
    prompts = browser_call(f"press 3\npress {number}#\npress {password}#\nhangup", "web:198.51.100.9")
    assert any(p.startswith("查询失败次数过多") for p in prompts)
    prompts = browser_call(f"press 3\npress {number}#\npress {password}#\nhangup", "web:192.0.2.8")
    assert any(p.startswith("您的工单") for p in prompts)
