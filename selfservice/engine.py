"""The IVR dialog: menus, document reading, speech search, case progress, voicemail, transfer.

Transport-independent: it talks to a `Channel` (SIP, browser voice, simulator) and to kb, speech and
casework through their public APIs. Each database step is its own short transaction.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import kb
import speech
from hotline.config import get_settings
from hotline.db import session_scope
from hotline.textsim import similarity
from selfservice import records
from selfservice.channel import CallerHungUp, Channel, Input, beep, write_wav_durably
from selfservice.menu import Menu

log = logging.getLogger("hotline.ivr")

CHOICE_WORDS = ["第一个", "第二个", "第三个"]
DIGIT_WORDS = ["零", "洞", "幺", "一", "二", "两", "三", "四", "五", "六", "七", "拐", "八", "九"]
MOBILE = re.compile(r"^1[3-9]\d{9}$")


class _ToAgent(Exception):
    """The caller asked for (or needs) a person."""


class _ToMain(Exception):
    """The caller pressed # : back to the main menu."""


class _CallOver(Exception):
    """The IVR's part of the call is over (transferred, voicemail left)."""


def _casework():  # noqa: ANN202 - the casework module, when its API is present
    import casework

    return casework if hasattr(casework, "create_case") else None


def _case_number(case: object) -> str:
    return str(getattr(case, "case_number", None) or case.number)


_HAN = re.compile(r"[\u4e00-\u9fff]+")
LISTED_RESULTS = 3  # titles read to a caller after a spoken question
SAME_TITLE = 0.8  # titles this similar sound the same to a caller (a copy, a 转发 of the same notice)


def _spoken_words(title: str) -> str:
    return "".join(_HAN.findall(title))


def distinct_titles(hits: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The hits without those whose title sounds like one read before it (the best-ranked copy is
    kept): titles are compared on their Chinese characters, so 指引 and 指引（8c4baa） are one."""
    kept: list[tuple[int, str]] = []
    for doc_id, title in hits:
        if all(similarity(_spoken_words(title), _spoken_words(other)) < SAME_TITLE for _, other in kept):
            kept.append((doc_id, title))
    return kept


class Dialog:
    """One call's dialog. `run()` returns the outcome stored in the call record."""

    def __init__(
        self,
        channel: Channel,
        menu: Menu,
        *,
        call_id: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        agents_free: Callable[[], bool] | None = None,
    ) -> None:
        self.channel = channel
        self.channel.barge_in_level_dbfs = menu.timing.barge_in_level_dbfs
        self.menu = menu
        self.call_id = call_id or uuid.uuid4().hex
        self.clock = clock
        self.agents_free = agents_free or (lambda: menu.agents.seats > 0)
        self.outcome: str | None = None
        self.served = False
        self.case_number: str | None = None

    # -- call lifecycle -------------------------------------------------------------------------

    async def run(self) -> str:
        with session_scope() as session:
            records.start_call(
                session,
                call_id=self.call_id,
                channel=self.channel.name,
                caller_number=self.channel.caller_number,
            )
        try:
            await self._main()
        except (CallerHungUp, _CallOver):
            pass
        finally:
            outcome = self.outcome or ("self_served" if self.served else "abandoned")
            with session_scope() as session:
                records.finish_call(session, self.call_id, outcome=outcome, case_number=self.case_number)
            self.channel.log.add("IVR", f"[通话结束：{outcome}]")
        return outcome

    def _step(self, step: str) -> None:
        with session_scope() as session:
            records.append(session, self.call_id, "path", step)

    async def say(self, name: str, *, speech_barge_in: bool = False, **values: object) -> None:
        barge_in = speech_barge_in and self.menu.timing.speech_barge_in
        await self.channel.play(self.menu.say(name, **values), speech_barge_in=barge_in)

    async def ask(
        self,
        prompt: str | None,
        keys: str,
        *,
        speech_allowed: bool = False,
        grammar: list[str] | None = None,
        on_timeout: Callable[[], None] | None = None,
    ) -> Input:
        """Play a prompt and wait for one of `keys` (or speech); retries, then an agent.
        Key 0 always means an agent, # the main menu."""
        timing = self.menu.timing
        for _ in range(timing.max_retries):
            if prompt:
                await self.channel.play(prompt, speech_barge_in=speech_allowed and timing.speech_barge_in)
            got = await self.channel.gather(
                max_digits=1,
                timeout=timing.speech_timeout if speech_allowed else timing.digit_timeout,
                speech_allowed=speech_allowed,
                grammar=grammar,
            )
            if got.kind == "speech":
                return got
            if got.kind == "digits" and got.digits == "0":
                raise _ToAgent
            if got.kind == "digits" and got.digits == "#" and "#" not in keys:
                raise _ToMain
            if got.kind == "digits" and got.digits in keys:
                return got
            if got.kind == "timeout" and on_timeout is not None:
                return got
            await self.say("no_input" if got.kind == "timeout" else "invalid")
        self._step("max-retries")
        raise _ToAgent

    async def entry(self, prompt: str, *, max_digits: int, speech_allowed: bool = False) -> str | None:
        """A longer number (case number, password, fax number): keys ended by #, or spoken digits."""
        timing = self.menu.timing
        for _ in range(timing.max_retries):
            await self.channel.play(prompt, speech_barge_in=speech_allowed and timing.speech_barge_in)
            got = await self.channel.gather(
                max_digits=max_digits,
                timeout=timing.speech_timeout if speech_allowed else timing.digit_timeout,
                interdigit_timeout=timing.interdigit_timeout,
                speech_allowed=speech_allowed,
                grammar=DIGIT_WORDS if speech_allowed else None,
            )
            value = got.digits
            if got.kind == "speech" and got.recognition is not None:
                value = speech.spoken_digits("".join(got.recognition.words))
            if value == "0":
                raise _ToAgent
            if value.isdigit():
                return value
            await self.say("no_input" if got.kind == "timeout" else "invalid")
        return None

    # -- main menu ------------------------------------------------------------------------------

    async def _main(self) -> None:
        await self.say("welcome")
        self._step("main")
        while True:
            try:
                got = await self.ask(
                    self.menu.prompts["main_menu"],
                    "".join(i.key for i in self.menu.menu),
                    speech_allowed=True,
                )
                if got.kind == "speech":
                    await self.search_spoken(got)
                    continue
                item = self.menu.item(got.digits)
                assert item is not None
                self._step(f"key:{item.key}")
                if item.action == "category":
                    await self.browse(item.category or "")
                elif item.action == "progress":
                    await self.progress()
                elif item.action == "voicemail":
                    await self.voicemail()
                elif item.action == "search":
                    await self.say("search_ask", speech_barge_in=True)
                    await self.search_spoken(await self._listen())
                else:
                    raise _ToAgent
            except _ToMain:
                self._step("main")
            except _ToAgent:
                await self.agent()

    async def _listen(self) -> Input:
        return await self.channel.gather(
            max_digits=1, timeout=self.menu.timing.speech_timeout, speech_allowed=True
        )

    # -- reading documents ----------------------------------------------------------------------

    async def browse(self, category: str) -> None:
        with session_scope() as session:
            docs = kb.popular_documents(session, category=category, limit=9)
        if not docs:
            await self.say("category_empty")
            return
        listing = self.menu.say("category_intro", category=category) + "".join(
            self.menu.say("category_item", n=n, title=d.title) for n, d in enumerate(docs, 1)
        )
        listing += self.menu.prompts["category_tail"]
        keys = "".join(str(n) for n in range(1, len(docs) + 1)) + "*"
        while True:
            got = await self.ask(listing, keys)
            if got.digits == "*":
                return
            await self.read_document(docs[int(got.digits) - 1].id)

    async def read_document(self, doc_id: int) -> None:
        with session_scope() as session:
            doc = kb.get_document(session, doc_id)
            if doc is None:
                await self.say("category_empty")
                return
            kb.record_view(session, doc_id, "ivr")
            records.append(session, self.call_id, "documents", {"id": doc.id, "title": doc.title})
            records.append(session, self.call_id, "path", f"doc:{doc.id}")
        sections = doc.sections or [doc.body]
        await self.say("document_title", title=doc.title)
        index, replay, keys_told = 0, True, False
        timeouts = 0
        while True:
            if replay:
                await self.channel.play(sections[index])
                self.served = True
                if not keys_told:
                    await self.say("document_keys")
                    keys_told = True
            replay = False
            got = await self.ask(None, "123*78#", on_timeout=lambda: None)
            if got.kind == "timeout":
                if index + 1 < len(sections):
                    index, replay = index + 1, True
                    continue
                timeouts += 1
                if timeouts >= self.menu.timing.max_retries:
                    raise _ToMain
                await self.say("document_end")
                await self.say("document_keys")
                continue
            key = got.digits
            if key == "#":
                raise _ToMain
            if key == "*":
                return
            if key == "1":
                index, replay = max(0, index - 1), True
            elif key == "2":
                replay = True
            elif key == "3":
                if index + 1 < len(sections):
                    index, replay = index + 1, True
                else:
                    await self.say("document_end")
            elif key == "7":
                await self.send_sms(doc)
            elif key == "8":
                await self.send_fax(doc)

    async def send_sms(self, doc: kb.DocumentView) -> None:
        self._step(f"sms:{doc.id}")
        number = self.channel.caller_number
        if not MOBILE.match(number or ""):
            number = await self.entry(self.menu.prompts["sms_number"], max_digits=11) or ""
        cw = _casework()
        if cw is None or not MOBILE.match(number):
            await self.say("send_failed" if cw else "service_unavailable")
            return
        summary = re.sub(r"\s+", " ", doc.body)[:300]
        text = f"【12345】{doc.title}：{summary}" + (f" 详见：{doc.source_url}" if doc.source_url else "")
        with session_scope() as session:
            cw.queue_sms(session, to=number, text=text, kind="document", ref=doc.external_id)
        await self.say("sms_sent")

    async def send_fax(self, doc: kb.DocumentView) -> None:
        self._step(f"fax:{doc.id}")
        number = await self.entry(self.menu.prompts["fax_number"], max_digits=20)
        cw = _casework()
        if cw is None or not number or len(number) < 5:
            await self.say("send_failed" if cw else "service_unavailable")
            return
        with session_scope() as session:
            cw.queue_fax(session, to=number, title=doc.title, body=doc.body, ref=doc.external_id)
        await self.say("fax_sent")

    # -- speech search --------------------------------------------------------------------------

    async def search_spoken(self, got: Input) -> None:
        text = got.recognition.text.strip() if got.kind == "speech" and got.recognition else ""
        if not text:
            self._step("search:not-understood")
            await self.say("not_understood")
            return
        with session_scope() as session:
            results = kb.search(session, text, limit=3 * LISTED_RESULTS, channel="ivr")
            hits = distinct_titles([(h.id, h.title) for h in results.hits])[:LISTED_RESULTS]
            records.append(session, self.call_id, "searches", {"query": text, "hits": [h[0] for h in hits]})
            records.append(session, self.call_id, "path", "search")
        self.channel.log.add("IVR", f"[识别：{text}]")
        if not hits:
            got = await self.ask(self.menu.prompts["search_none"], "4#")
            if got.digits == "4":
                await self.voicemail()
            raise _ToMain
        listing = self.menu.prompts["search_results"] + "".join(
            self.menu.say("search_item", n=n, title=title) for n, (_, title) in enumerate(hits, 1)
        )
        listing += self.menu.prompts["search_choose"]
        keys = "".join(str(n) for n in range(1, len(hits) + 1)) + "*"
        while True:
            got = await self.ask(listing, keys, speech_allowed=True, grammar=CHOICE_WORDS[: len(hits)])
            if got.kind == "speech":
                said = [w for w in (got.recognition.words if got.recognition else []) if w in CHOICE_WORDS]
                if not said or CHOICE_WORDS.index(said[0]) >= len(hits):
                    await self.say("not_understood")
                    continue
                choice = CHOICE_WORDS.index(said[0])
            elif got.digits == "*":
                return
            else:
                choice = int(got.digits) - 1
            await self.read_document(hits[choice][0])

    # -- case progress --------------------------------------------------------------------------

    async def progress(self) -> None:
        cw = _casework()
        if cw is None:
            await self.say("service_unavailable")
            return
        caller_key = self.channel.caller_number or self.call_id
        for _ in range(3):
            number = await self.entry(self.menu.prompts["progress_case"], max_digits=20, speech_allowed=True)
            if number is None:
                raise _ToAgent
            password = await self.entry(self.menu.prompts["progress_password"], max_digits=6)
            if password is None:
                raise _ToAgent
            with session_scope() as session:  # failures are counted in the database: commit them too
                try:
                    view, refused = cw.check_progress(session, number, password, caller_key=caller_key), None
                except cw.CaseQueryLocked:
                    view, refused = None, "locked"
                except cw.CaseQueryRejected:
                    view, refused = None, "rejected"
            if refused == "locked":
                break
            if view is None:
                self._step("progress:rejected")
                await self.say("progress_wrong")
                continue
            self._step("progress:ok")
            self.served = True
            await self.say(
                "progress_result",
                case_number=view.case_number,
                status=view.status_label,
                update=view.last_update_text,
            )
            return
        self._step("progress:locked")
        await self.say("progress_locked")
        raise _ToAgent

    # -- voicemail ------------------------------------------------------------------------------

    async def voicemail(self) -> None:
        self._step("voicemail")
        cw = _casework()
        if cw is None:
            await self.say("service_unavailable")
            return
        await self.say("voicemail_intro")
        rate = self.channel.sample_rate
        beep_path = get_settings().audio_cache_dir / f"beep-{rate}.wav"
        if not beep_path.exists():
            write_wav_durably(beep_path, beep(rate), rate)
        await self.channel.play(audio=beep_path)
        path = self._recording_path()
        hung_up = await self.channel.record(path, max_seconds=self.menu.timing.voicemail_max_seconds)
        if not path.exists():
            if hung_up:
                raise CallerHungUp
            await self.say("voicemail_empty")
            return
        case_number, password = await asyncio.to_thread(self._voicemail_case, cw, path)
        self.outcome, self.case_number = "voicemail", case_number
        if hung_up:
            raise CallerHungUp
        await self.say("voicemail_saved", case_number=case_number, password=password)
        await self.say("goodbye")
        await self.channel.hangup()
        raise _CallOver

    def _recording_path(self) -> Path:
        day = self.clock().strftime("%Y%m%d")
        return get_settings().recordings_dir / "voicemail" / day / f"{self.call_id}.wav"

    def _voicemail_case(self, cw, path: Path) -> tuple[str, str]:  # noqa: ANN001 - the casework module
        """The recording is already on disk: transcribe it, then open the case (casework texts the
        case number and password to mobile callers)."""
        try:
            text = speech.recognize_file(path).text
        except speech.SpeechError:
            text = ""
        content = f"电话留言（语音自动转写）：{text}" if text else "电话留言（语音未能自动转写，请听录音）"
        number = self.channel.caller_number
        with session_scope() as session:
            case, password = cw.create_case(
                session,
                channel="voicemail",
                caller_number=number,
                content=content,
                actor="ivr",
                audio_path=str(path),
            )
            # casework sends the registration SMS (case number and password) to mobile callers
        return _case_number(case), password

    # -- agents ---------------------------------------------------------------------------------

    async def agent(self) -> None:
        if not self.menu.hours.is_open(self.clock()):
            self._step("after-hours")
            await self.say("after_hours")
            await self.voicemail()
            raise _CallOver
        if not self.agents_free():
            self._step("agents-busy")
            got = await self.ask(self.menu.prompts["agents_busy"], "14", on_timeout=lambda: None)
            if got.digits == "4":
                await self.voicemail()
                raise _CallOver
        await self.say("transfer")
        target = self.menu.agents.target
        self._step("transfer")
        with session_scope() as session:
            record = records.get_call(session, self.call_id)
            if record is not None:
                record.transfer_target = target
        self.outcome = "transferred"
        await self.channel.transfer(target)
        raise _CallOver
