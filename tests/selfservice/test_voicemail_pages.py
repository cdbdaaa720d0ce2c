"""Agents read a voicemail's transcript beside its recording: on the call-back page's voicemail list and
on the case page (both databases; real recording, real transcription)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from selfservice import voicemail
from tests.conftest import login, make_user
from tests.selfservice.conftest import SPEECH

pytestmark = pytest.mark.usefixtures("ivr_env_both")

MESSAGE = SPEECH / "wenet_BAC009S0724W0121.wav"  # real recording: 广州市房地产中介协会分析


def test_an_agent_reads_the_transcript_beside_the_recording(call, client: TestClient) -> None:
    number = call(f"press 4\nsay {MESSAGE}\npress #\nhangup").record.case_number
    assert number
    voicemail.drain()
    make_user("agent1", ["agent"])
    login(client, "agent1")
    listing = client.get("/agent/callbacks")
    assert listing.status_code == 200
    row = listing.text.split(f">{number}</a>", 1)[1].split("</tr>", 1)[0]
    assert "电话留言（语音自动转写，请以录音为准）：" in row and "协会" in row
    assert f'<audio controls preload="none" src="/recordings/cases/{number}">' in row
    page = client.get(f"/agent/cases/{number}").text
    assert "协会" in page and f'src="/recordings/cases/{number}"' in page
    audio = client.get(f"/recordings/cases/{number}")
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
