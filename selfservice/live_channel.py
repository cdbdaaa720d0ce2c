"""What the live channels (SIP line, browser voice) share: keys arrive as events, the caller's audio
is a growing stream of 16-bit PCM, prompts play in real time and stop at the first key (barge-in) or,
when the prompt asks for speech, as soon as the caller starts talking (speech barge-in)."""

from __future__ import annotations

import asyncio
import time
from abc import abstractmethod
from pathlib import Path

import numpy as np

import speech
from selfservice.channel import CallerHungUp, Channel, Input, SpokenParts, write_wav_durably
from speech.executors import in_recognition

POLL = 0.05  # seconds between looks at keys and audio
HANDOVER = 1.0  # a document's next part goes to the transport when less than this is left to play
NOISE_SECONDS = 3.0  # the caller's audio before a prompt from which the line's noise floor is learnt
MIN_DECODE = 0.1  # seconds of the caller's audio handed to the recogniser at a time, at least
QUIETEST_LEVEL_DBFS = -50.0  # speech barge-in never listens below this (about 9 bits of a G.711 line)


def line_noise_dbfs(audio: bytes, sample_rate: int) -> float | None:
    """The line's noise floor: the 20th percentile of 20 ms frame levels (None under a second of audio)."""
    frame = sample_rate // 50
    samples = np.frombuffer(audio[: len(audio) // 2 * 2], dtype="<i2")
    count = samples.size // frame
    if count < 50:
        return None
    frames = samples[: count * frame].astype(np.float64).reshape(count, frame)
    noise = float(np.percentile(np.sqrt(np.mean(frames * frames, axis=1)), 20))
    return 20 * float(np.log10(max(noise, 1.0) / 32768))


class VoiceOnset:
    """Energy-based detection of the caller starting to talk over a prompt.

    Frames of 20 ms count as voiced when their level exceeds `level_dbfs` (-35 dBFS by default; line
    noise and a quiet room stay well below); speech has started once ONSET_FRAMES of the last
    WINDOW_FRAMES are voiced, so a click or a cough does not cut a prompt short. `start` is where the
    voiced run began, less LEAD seconds, so the recogniser gets the first syllable too.
    """

    ONSET_FRAMES = 10  # 200 ms of voice ...
    WINDOW_FRAMES = 15  # ... within 300 ms
    LEAD = 0.3

    def __init__(self, sample_rate: int, position: int, level_dbfs: float = -35.0) -> None:
        self.voiced_rms = 32768 * 10 ** (level_dbfs / 20)
        self.frame_bytes = sample_rate // 50 * 2
        self.lead_bytes = int(self.LEAD * sample_rate) * 2
        self.position = position  # bytes of caller audio examined so far
        self.recent: list[tuple[int, bool]] = []  # (frame start, voiced) of the last frames
        self.start: int | None = None

    def feed(self, audio: bytes) -> bool:
        """Examine audio that follows `position`; true once speech has started."""
        usable = len(audio) // self.frame_bytes * self.frame_bytes
        if not usable:
            return False
        frames = (
            np.frombuffer(audio[:usable], dtype="<i2").astype(np.float32).reshape(-1, self.frame_bytes // 2)
        )
        rms = np.sqrt(np.mean(frames * frames, axis=1))
        for i, level in enumerate(rms):
            self.recent.append((self.position + i * self.frame_bytes, bool(level > self.voiced_rms)))
            self.recent = self.recent[-self.WINDOW_FRAMES :]
            if sum(voiced for _, voiced in self.recent) >= self.ONSET_FRAMES:
                first = next(at for at, voiced in self.recent if voiced)
                self.start = max(0, first - self.lead_bytes)
                return True
        self.position += usable
        return False


class LiveChannel(Channel):
    """Subclasses feed `on_digit` / `on_hangup`, and provide the caller's audio (`audio_position`,
    `read_audio`) and the prompt player (`start_prompt`, `stop_prompt`)."""

    def __init__(self, caller_number: str = "") -> None:
        super().__init__(caller_number)
        self.ended = asyncio.Event()
        self.transferred_to: str | None = None
        self.speech_from: int | None = None  # audio position where the caller began talking over a prompt

    @property
    def digits(self) -> str:
        """Keys pressed and not yet taken (type-ahead)."""
        return self.keys.pending

    # -- what a transport provides -----------------------------------------------------------------

    @abstractmethod
    def audio_position(self) -> int:
        """Bytes of caller audio received so far."""

    @abstractmethod
    def read_audio(self, start: int, end: int) -> bytes:
        """Caller audio between two positions (as far as it is still available)."""

    @abstractmethod
    async def start_prompt(self, text: str | None, audio: Path, *, queued: bool = False) -> float:
        """Start playing `audio` to the caller (`text`: what it says, None for a document's next
        part); returns its length in seconds. With `queued`, it plays right after the audio now
        playing, without a gap (the transport queues it), instead of replacing it."""

    @abstractmethod
    async def stop_prompt(self) -> None:
        """Stop the prompt now playing."""

    async def ready(self) -> None:
        """Wait until audio can flow (the SIP media is up)."""

    # -- events from the transport --------------------------------------------------------------------

    def on_digit(self, digit: str) -> None:
        if len(digit) == 1 and digit in "0123456789*#":
            kept = self.keys.press(digit, time.monotonic())
            self.log.add("来电", f"按键 {digit}" if kept else f"按键 {digit}（结束输入）")

    def on_hangup(self) -> None:
        self.ended.set()

    def _check(self) -> None:
        if self.ended.is_set():
            raise CallerHungUp

    def barge_in_level(self) -> float:
        """The level above which the caller's audio counts as voice during a prompt, adapted to the line:
        12 dB over its noise floor (learnt from the last NOISE_SECONDS of the caller's audio), never above
        the menu's `barge_in_level_dbfs` and never below QUIETEST_LEVEL_DBFS. A quiet caller on a quiet
        line is heard; on a noisy line the menu's level stands."""
        end = self.audio_position()
        start = max(0, end - int(NOISE_SECONDS * self.sample_rate) * 2)
        noise = line_noise_dbfs(self.read_audio(start, end), self.sample_rate)
        if noise is None:
            return self.barge_in_level_dbfs
        return min(self.barge_in_level_dbfs, max(QUIETEST_LEVEL_DBFS, noise + 12.0))

    # -- the Channel operations -----------------------------------------------------------------------

    def _listen_for_voice(self, speech_barge_in: bool) -> VoiceOnset | None:
        """Speech barge-in from the caller's audio as of now (None when the prompt does not listen)."""
        if not speech_barge_in:
            return None
        return VoiceOnset(self.sample_rate, self.audio_position(), self.barge_in_level())

    async def _interrupted(self, onset: VoiceOnset | None, playing: bool) -> bool:
        """True when the caller pressed a key or started talking (then the prompt playing, if any,
        and the parts queued after it are stopped)."""
        if self.digits:
            if playing:
                await self.stop_prompt()
            return True
        if onset is not None and onset.feed(self.read_audio(onset.position, self.audio_position())):
            self.speech_from = onset.start
            self.log.add("来电", "（开始说话，提示音停止）")
            if playing:
                await self.stop_prompt()
            return True
        return False

    async def play(
        self, text: str | None = None, *, audio: Path | None = None, speech_barge_in: bool = False
    ) -> None:
        self._check()
        if self.digits or self.speech_from is not None:
            return  # the caller already keyed ahead or is talking: do not start the prompt
        if text is not None:
            audio = await self.prompt_audio(text, render=False)
            if audio is None:  # not in the cache: part by part, its first clause first
                await self.read_aloud(text, speech_barge_in=speech_barge_in)
                return
        assert audio is not None
        await self.ready()
        self.log.add("IVR", text if text is not None else f"[音频 {audio.name}]")
        onset = self._listen_for_voice(speech_barge_in)
        deadline = time.monotonic() + await self.start_prompt(text or "", audio) + 0.1
        while time.monotonic() < deadline:
            self._check()
            if await self._interrupted(onset, playing=True):
                return
            await asyncio.sleep(POLL)

    async def play_parts(self, parts: SpokenParts, *, speech_barge_in: bool = False) -> None:
        self._check()
        if self.digits or self.speech_from is not None:
            return
        await self.ready()
        onset = self._listen_for_voice(speech_barge_in)  # also while the first part is being rendered
        ends: float | None = None  # when the audio handed to the transport ends
        while True:
            self._check()
            if await self._interrupted(onset, playing=ends is not None):
                return
            now = time.monotonic()
            if ends is None or ends - now < HANDOVER:
                part = parts.take()
                if part is not None:
                    text, audio = part
                    if text is not None:
                        self.log.add("IVR", text)
                    start = ends if ends is not None and ends > now else now  # after the part still playing
                    ends = start + await self.start_prompt(text, audio, queued=start > now)
                    continue
                if parts.finished and (ends is None or now > ends + 0.1):
                    return
                if ends is None or ends <= now:  # nothing playing: start the next part the moment it is ready
                    await parts.wait(POLL)
                    continue
            await asyncio.sleep(POLL)

    async def gather(
        self,
        *,
        max_digits: int = 1,
        timeout: float,
        interdigit_timeout: float = 4.0,
        terminator: str = "#",
        speech_allowed: bool = False,
        grammar: list[str] | None = None,
    ) -> Input:
        self._check()
        stream: speech.StreamingRecognizer | None = None
        if speech_allowed:  # in the recognition pool: the first stream of a process loads the model
            stream = await in_recognition(self._open_stream, grammar)
        offset = self.audio_position() if self.speech_from is None else self.speech_from
        self.speech_from = None
        started = last_key = fed = time.monotonic()
        taken = ""
        while True:
            self._check()
            now = time.monotonic()
            if self.digits:
                last_key = now
                taken, done = self.keys.take(
                    taken, max_digits=max_digits, terminator=terminator, now=now, grace=interdigit_timeout
                )
                if done is not None:
                    return done
            if taken and now - last_key > interdigit_timeout:
                return Input("digits", taken)
            if stream is not None and not taken:
                end = self.audio_position()
                # decoded in the recognition pool (the loop carries other calls), at most a second at a
                # time, and a tenth of a second at least unless that long has passed (fewer hops)
                if end - offset >= self.sample_rate * 2 * MIN_DECODE or (
                    end > offset and now - fed >= MIN_DECODE
                ):
                    while offset < end:
                        upto = min(end, offset + self.sample_rate * 2)
                        await in_recognition(stream.accept_pcm, self.read_audio(offset, upto))
                        offset = upto
                    fed = now
                if stream.heard_speech and stream.endpoint_detected:
                    recognition = await in_recognition(stream.finish)
                    self.log.add("来电", f"说话：{recognition.text}")
                    return Input("speech", recognition=recognition)
                if stream.heard_speech:
                    started = now  # the caller is talking: wait for the end of the utterance
            if not taken and now - started > timeout:
                return Input("timeout")
            await asyncio.sleep(POLL)

    def _open_stream(self, grammar: list[str] | None) -> speech.StreamingRecognizer:
        endpointing = speech.Endpointing(end_silence=self.end_silence)
        return speech.open_stream(self.sample_rate, grammar=grammar, endpointing=endpointing)

    async def record(self, path: Path, *, max_seconds: float) -> bool:
        self._check()
        await self.ready()
        self.keys.clear()
        start = self.audio_position()
        limit = start + int(max_seconds * self.sample_rate) * 2
        hung_up = False
        while self.audio_position() < limit:
            if self.ended.is_set():
                hung_up = True
                break
            if "#" in self.digits:
                self.keys.pending = self.digits.split("#", 1)[1]
                break
            await asyncio.sleep(POLL)
        samples = np.frombuffer(self.read_audio(start, min(self.audio_position(), limit)), dtype="<i2")
        if samples.size >= self.sample_rate // 2:  # half a second or more: keep it
            write_wav_durably(path, samples, self.sample_rate)
            self.log.add("IVR", f"[录音已保存 {samples.size / self.sample_rate:.1f} 秒]")
        return hung_up
