"""Browser voice ("网上语音咨询") as a dialog `Channel`: the page sends 16 kHz 16-bit PCM from the
microphone and keypad presses; the IVR sends prompt captions and prompt audio (16 kHz PCM).

Messages to the page (JSON text frames unless noted):
    {"type": "prompt", "text": ...} followed by one binary frame of the prompt's PCM; a document's
                            later parts come as binary frames only, played right after it
    {"type": "stop"}        stop playing (the caller pressed a key)
    {"type": "hangup"}
The page cannot be bridged to an agent's phone (`can_transfer`): key 0 offers the hotline number to
dial and a voicemail with a number to call back (Dialog.agent).
From the page: binary frames of microphone PCM; {"type": "digit", "digit": "1"}; {"type": "hangup"}.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from selfservice.channel import read_wav_mono
from selfservice.live_channel import LiveChannel

RATE = 16000
MAX_BUFFER_SECONDS = 600  # keep at most ten minutes of the caller's audio
# audio is taken at real time, plus a reserve of this much (a page that starts sending late, network
# bursts); what a client sends beyond that is dropped
RESERVE_SECONDS = 20.0


class BrowserChannel(LiveChannel):
    name = "browser"
    sample_rate = RATE
    can_transfer = False

    def __init__(
        self, send_json: Callable[[dict], Awaitable[None]], send_bytes: Callable[[bytes], Awaitable[None]]
    ) -> None:
        super().__init__("")
        self.send_json = send_json
        self.send_bytes = send_bytes
        self.audio = bytearray()
        self.dropped = 0  # bytes trimmed from the front of `audio`
        self.refused = 0  # bytes that came faster than real time and were dropped
        self._reserve = RESERVE_SECONDS * RATE * 2  # bytes that may come now
        self._reserve_at = time.monotonic()

    # from the page
    def on_audio(self, pcm: bytes) -> None:
        """Keep the caller's audio, paced: a microphone sends in real time, so what arrives faster than
        that beyond the reserve is dropped (a client flooding audio cannot make the recogniser work
        faster than real time for it)."""
        now = time.monotonic()
        full = RESERVE_SECONDS * RATE * 2
        self._reserve = min(full, self._reserve + (now - self._reserve_at) * RATE * 2)
        self._reserve_at = now
        kept = int(min(len(pcm), self._reserve)) // 2 * 2
        self._reserve -= kept
        self.refused += len(pcm) - kept
        self.audio += pcm[:kept]
        excess = len(self.audio) - MAX_BUFFER_SECONDS * RATE * 2
        if excess > 0:
            del self.audio[:excess]
            self.dropped += excess

    # the transport
    def audio_position(self) -> int:
        return self.dropped + len(self.audio)

    def read_audio(self, start: int, end: int) -> bytes:
        lo = max(start - self.dropped, 0)
        return bytes(self.audio[lo : max(end - self.dropped, lo)])

    async def start_prompt(self, text: str | None, audio: Path, *, queued: bool = False) -> float:
        """The page schedules each piece of audio right after the one before (voice.js): queued parts
        play back to back."""
        samples = read_wav_mono(audio, RATE)
        if text is not None:
            await self.send_json({"type": "prompt", "text": text})
        await self.send_bytes(samples.astype("<i2").tobytes())
        return samples.size / RATE

    async def stop_prompt(self) -> None:
        await self.send_json({"type": "stop"})

    async def transfer(self, target: str) -> None:
        raise NotImplementedError("网上语音不能转接人工坐席（can_transfer）")

    async def hangup(self) -> None:
        self.log.add("IVR", "[挂机]")
        if not self.ended.is_set():
            self.ended.set()
            await self.send_json({"type": "hangup"})
