"""Browser voice audio is taken at most at real time, and recognised off the event loop: a page that
floods /voice with audio cannot stall the other requests and calls of its worker."""

from __future__ import annotations

import asyncio
import threading

from selfservice import browser_channel, live_channel
from selfservice.browser_channel import RATE, RESERVE_SECONDS, BrowserChannel


async def _ignore(_: object) -> None:
    return None


def second(seconds: float) -> bytes:
    return b"\x01\x00" * int(seconds * RATE)


def test_audio_faster_than_real_time_is_dropped(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(browser_channel.time, "monotonic", lambda: clock[0])
    channel = BrowserChannel(_ignore, _ignore)
    channel.on_audio(second(60))  # a minute of audio in one burst: the reserve is taken, the rest dropped
    assert channel.audio_position() == len(second(RESERVE_SECONDS))
    assert channel.refused == len(second(60 - RESERVE_SECONDS))
    clock[0] += 1.0  # a second later, a second more is taken
    channel.on_audio(second(5))
    assert channel.audio_position() == len(second(RESERVE_SECONDS + 1))
    for _ in range(80):  # a microphone in real time loses nothing
        clock[0] += 0.125
        channel.on_audio(second(0.125))
    assert channel.audio_position() == len(second(RESERVE_SECONDS + 11))
    assert channel.refused == len(second(60 - RESERVE_SECONDS + 4))


class RecordingStream:
    """Stands in for the recogniser: notes the thread each chunk is decoded on."""

    heard_speech = False
    endpoint_detected = False

    def __init__(self) -> None:
        self.threads: list[int] = []
        self.bytes = 0

    def accept_pcm(self, data: bytes) -> None:
        self.threads.append(threading.get_ident())
        self.bytes += len(data)


def test_speech_is_decoded_off_the_event_loop(monkeypatch):
    stream = RecordingStream()
    monkeypatch.setattr(live_channel.speech, "open_stream", lambda *a, **kw: stream)
    channel = BrowserChannel(_ignore, _ignore)

    async def call() -> tuple[int, object]:
        async def speak() -> None:
            for _ in range(5):
                await asyncio.sleep(0.06)
                channel.on_audio(second(0.05))

        talking = asyncio.create_task(speak())
        heard = await channel.gather(timeout=0.5, speech_allowed=True)
        await talking
        return threading.get_ident(), heard

    loop_thread, heard = asyncio.run(call())
    assert heard.kind == "timeout"
    assert stream.bytes == len(second(0.05)) * 5
    assert stream.threads and loop_thread not in stream.threads
