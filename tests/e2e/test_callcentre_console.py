"""An agent's day in a real browser with a real phone: the agent signs in at the console, a caller who
pressed 0 rings the agent's baresip phone through Kamailio, the console pops the caller's number and
IVR path without a reload, the agent holds and resumes from the page, hangs up, and registers the case
with the call's recording attached."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import make_user
from tests.e2e.test_case_flow import log_in, shot
from tests.selfservice.baresip import BARESIP
from tests.selfservice.callcentre import (
    CallCentre,
    queued_call,
    seat,
    tone_wav,
    use_call_centre_settings,
    wait_for,
)

CALLER = "13912345678"


@pytest.fixture
def centre(live_server, monkeypatch: pytest.MonkeyPatch, sqlite_env: Path):  # type: ignore[no-untyped-def]
    if not Path(BARESIP).exists():
        pytest.fail("baresip not installed (scripts/install installs baresip-core)")
    use_call_centre_settings(monkeypatch)
    with CallCentre(sqlite_env) as live:
        yield live


def test_a_call_pops_up_on_the_console_and_is_controlled_from_it(page, centre, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    make_user("agent1", ["agent"], display_name="坐席小李")
    phone = centre.phone("agent1", "1001", tone_wav(tmp_path / "agent.wav", 1400, seconds=60), register=True)
    log_in(page, "agent1")
    page.goto("/agent")
    page.get_by_label("分机号").fill("1001")
    page.get_by_role("button", name="签入").click()
    page.locator("#agent-state", has_text="空闲").wait_for()

    caller = centre.phone("caller", CALLER, tone_wav(tmp_path / "caller.wav", 600, seconds=60, lead=4))
    caller.dial(centre.number)
    time.sleep(1.0)
    caller.press("0")

    page.get_by_text("来电振铃，请在话机上接听").wait_for(timeout=20000)  # no reload: the phone bar polls
    assert page.locator("#phone-number").inner_text() == CALLER
    page.locator("#caller-panel", has_text="该号码此前没有工单记录").wait_for()  # the screen pop
    assert page.locator("#f-caller_number").input_value() == CALLER
    assert page.locator("#caller-number").input_value() == CALLER  # KB answers by SMS go to the caller
    assert "自助语音：人工服务" in page.locator("#caller-panel").inner_text()
    shot(page, "callcentre-ringing")

    phone.answer(10)  # the agent answers on the phone, not on the page
    page.get_by_role("button", name="保持").wait_for(timeout=10000)
    page.get_by_role("button", name="保持").click()
    page.locator("#phone-control-result", has_text="已保持").wait_for(timeout=10000)
    page.get_by_role("button", name="恢复通话").click()
    page.locator("#phone-control-result", has_text="已恢复通话").wait_for(timeout=10000)
    shot(page, "callcentre-talking")
    page.get_by_role("button", name="挂断").click()
    assert caller.closed(10) and phone.closed(10)
    wait_for(lambda: seat("agent1").state in ("wrap_up", "ready"), 10, "after-call work")

    page.get_by_label("诉求内容").fill("来电人咨询公积金提取需要准备哪些材料，已电话解答。")
    page.get_by_role("button", name="登记工单").click()
    page.wait_for_url("**/agent/cases/*")
    case_number = page.url.rsplit("/", 1)[1]
    assert queued_call(CALLER).case_number == case_number
    audio = page.locator("audio")
    assert audio.get_attribute("src") == f"/recordings/cases/{case_number}"
    response = page.request.get(f"/recordings/cases/{case_number}")
    assert response.status == 200 and response.body()[:4] == b"RIFF"
    shot(page, "callcentre-case")
