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
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

import kb
import speech
from hotline import nodefiles
from hotline.config import get_settings
from hotline.db import session_scope
from hotline.textsim import similarity
from selfservice import prompts, records, voicemail
from selfservice.channel import (
    CallerHungUp,
    Channel,
    Input,
    beep,
    read_wav_mono,
    voiced_seconds,
    write_wav_durably,
)
from selfservice.menu import REPEAT_KEY, Menu, MenuItem
from selfservice.understanding import (
    PLAUSIBLE,
    Command,
    command_phrases,
    menu_vocabulary,
    spot_command,
)
from speech.executors import in_recognition

if TYPE_CHECKING:
    from types import ModuleType

    from casework.models import Case
    from casework.outbox import Origin
    from selfservice.switchboard import Switchboard

log = logging.getLogger("hotline.ivr")

CHOICE_WORDS = ["第一个", "第二个", "第三个"]
DIGIT_WORDS = ["零", "洞", "幺", "一", "二", "两", "三", "四", "五", "六", "七", "拐", "八", "九"]
YES_WORDS = ["对", "是的", "正确", "确认"]
YES_NO_WORDS = [*YES_WORDS, "不对", "不是", "错了", "重新输入"]
MOBILE = re.compile(r"^1[3-9]\d{9}$")
CALLBACK = re.compile(r"^\d{5,12}$")  # a number that can be called back (mobile, landline, extension)
NO_NUMBER = "未留号码"  # the case's number when a browser caller leaves none
MIN_VOICE_SECONDS = 1.0  # a voicemail with less voice than this is no message


class _ToAgent(Exception):
    """The caller asked for (or needs) a person (of a skill group, when the menu item names one)."""

    def __init__(self, group: str | None = None) -> None:
        super().__init__(group)
        self.group = group


class _ToMain(Exception):
    """The caller pressed # : back to the main menu."""


class _CallOver(Exception):
    """The IVR's part of the call is over (transferred, voicemail left)."""


class _Back(Exception):
    """The caller pressed * in an entry: back to where the entry was asked for."""


class _GoTo(Exception):
    """The caller said a main-menu item's words ("办事指南", "查询进度") somewhere else: go there."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _check_progress(cw: ModuleType, number: str, password: str, caller_key: str) -> tuple[Any, str | None]:
    """A progress query in its own transaction (failures are counted in the database: committed too),
    run in a thread: the password's hash takes ~0.15 s of CPU. Returns (view, None) or (None, reason)."""
    with session_scope() as session:
        try:
            return cw.check_progress(session, number, password, caller_key=caller_key), None
        except cw.CaseQueryLocked:
            return None, "locked"
        except cw.CaseQueryRejected:
            return None, "rejected"


FOLLOW_UP_KEYS = {"1": "满意", "2": "基本满意", "3": "不满意"}


def _waiting_for_follow_up(cw: ModuleType, case_number: str) -> bool:
    with session_scope() as session:
        case = cw.get_case(session, case_number)
        return case is not None and case.status == "reviewed"


def _record_follow_up(cw: ModuleType, case_number: str, satisfaction: str) -> bool:
    """The caller's 回访 answer (casework.follow_up; 不满意: rework); False when the case moved on."""
    with session_scope() as session:
        case = cw.get_case(session, case_number)
        try:
            cw.follow_up(session, case, actor="ivr", satisfaction=satisfaction)
        except cw.CaseError:
            return False
        return True


def _casework():  # noqa: ANN202 - the casework module, when its API is present
    import casework

    return casework if hasattr(casework, "create_case") else None


def _case_number(case: Case) -> str:
    return case.case_number


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


SMS_SUMMARY_CHARS = 300


def sms_summary(text: str, limit: int = SMS_SUMMARY_CHARS) -> str:
    """The text on one line, cut at the last sentence end within `limit` characters (or at the limit
    with an ellipsis when no sentence ends there)."""
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) <= limit:
        return text
    head = text[:limit]
    end = max(head.rfind(mark) for mark in "。！？；")
    return head[: end + 1] if end >= limit // 3 else head[: limit - 1] + "…"


def without_title(title: str, sections: list[str]) -> list[str]:
    """The document's parts without the title at the start of the text (it is read once, before)."""
    first = sections[0]
    if first.startswith(title):
        rest = first[len(title) :].lstrip(" \n\t。：:，,.")
        if rest:
            return [rest, *sections[1:]]
        if len(sections) > 1:
            return sections[1:]
    return sections


def spoken_document(doc: kb.DocumentView) -> tuple[str, list[str]]:
    """What the IVR reads of a document: its title ("" when the text itself begins with it: it is read
    once) and its sections as plain text (no "##", list markers or link syntax read out)."""
    sections = [t for t in (speech.plain_text(s) for s in without_title(doc.title, doc.sections or [doc.body])) if t]
    sections = sections or [doc.title]
    return ("" if _spoken_words(sections[0]).startswith(_spoken_words(doc.title)) else doc.title), sections


def prerender_documents(menu: Menu, limit: int, rate: int) -> int:
    """Render into the TTS cache what callers reach by keys and read most: every listing the menu's
    keys lead to (its prompt, and each listed document) and the `limit` most-read documents, as the IVR
    reads them (title, then each section's parts), so that their first callers hear them at once;
    returns the texts and parts rendered (those already in the cache cost a look-up). limit 0: none."""
    if limit <= 0:
        return 0
    with session_scope() as session:
        menu = prompts.effective_menu(session, menu)  # the prompts as the administrators edited them
        listings = {
            item.category: category_listing(session, item.category, item.items)
            for _, item in menu.category_items()
            if item.category  # always (category_items), said for the type checker
        }
        listed = [doc_id for entries in listings.values() for doc_id, _ in entries]
        docs = {doc.id: doc for doc in kb.popular_documents(session, limit=limit)}
        for doc_id in listed:
            doc = docs.get(doc_id) or kb.get_document(session, doc_id)
            if doc is not None:
                docs[doc_id] = doc
    said = [listing_prompt(menu, category, entries) for category, entries in listings.items() if entries]
    speech.prerender(said, rate=rate)
    rendered = len(said)
    for doc in docs.values():
        title, sections = spoken_document(doc)
        texts = ([menu.say("document_title", title=title)] if title else []) + sections
        for part in (part for text in texts for part in speech.sentence_parts(text)):
            speech.prerender_part(part, rate=rate)  # behind any caller's render (speech.executors)
            rendered += 1
    return rendered


def listing_prompt(menu: Menu, category: str, docs: list[tuple[int, str]]) -> str:
    """What the IVR says for a category's listing: the intro, each title with its key, the tail."""
    items = "".join(menu.say("category_item", n=n, title=title) for n, (_, title) in enumerate(docs, 1))
    return menu.say("category_intro", category=category) + items + menu.prompts["category_tail"]


def category_listing(session: Session, category: str, limit: int) -> list[tuple[int, str]]:
    """(id, title) of a category's listing, never by views (a key must read the same document on the
    next call): the editors' pinned documents first, in their order, then a stable order (kb.ivr)."""
    return kb.ivr_listing(session, category, limit)


def _is(command: Command | None, action: str) -> bool:
    return command is not None and command.action == action


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
        switchboard: Switchboard | None = None,
    ) -> None:
        self.channel = channel
        self.switchboard = switchboard  # the call centre's queue (SIP calls); None: transfer by SIP REFER
        self.channel.barge_in_level_dbfs = menu.timing.barge_in_level_dbfs
        self.channel.end_silence = menu.timing.end_silence
        self.menu = menu
        self.call_id = call_id or uuid.uuid4().hex
        self.clock = clock
        self.agents_free = agents_free or (lambda: menu.agents.seats > 0)
        self.menu_words = menu_vocabulary([(i.key, i.action, i.category) for i in menu.menu])
        self.command_grammar = command_phrases(self.menu_words)
        self.outcome: str | None = None
        self.served = False
        self.documents_read = 0  # documents the caller heard (a spoken question is answered by one)
        self.case_number: str | None = None
        self.transcription: Future[str | None] | None = None  # a voicemail's transcript, when one is left

    # -- call lifecycle -------------------------------------------------------------------------

    async def run(self) -> str:
        with session_scope() as session:
            # the prompts as the administrators edited them, read per call: an edit holds from the next call
            self.menu = prompts.effective_menu(session, self.menu)
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
            if self.switchboard is not None:  # a caller who left the queue for the menu: close the queued call
                await asyncio.to_thread(self.switchboard.call_over, self.call_id)
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
        main_menu: bool = False,
        commands: bool = False,
    ) -> Input:
        """Play a prompt and wait for one of `keys` (or speech); retries, then an agent.
        Key 0 always means an agent, # the main menu, 9 (REPEAT_KEY) the prompt again. Spoken commands
        come first: "人工" is an agent everywhere, a menu item's words are its key in the main menu (and
        lead there from elsewhere), filler ("喂") is not searched. With `commands`, a step that takes keys
        only also listens for spoken commands (other speech there counts as no input)."""
        timing = self.menu.timing
        listen = speech_allowed or commands
        tries = 0
        while tries < timing.max_retries:
            if prompt:
                await self.channel.play(prompt, speech_barge_in=speech_allowed and timing.speech_barge_in)
            got = await self.channel.gather(
                max_digits=1,
                timeout=timing.speech_timeout if speech_allowed else timing.digit_timeout,
                speech_allowed=listen,
                grammar=grammar if speech_allowed else self.command_grammar,
            )
            command = self.spoken_command(got)
            if (
                got.kind == "speech"
                and not speech_allowed
                and (command is None or command.action == "filler")
            ):
                got, command = Input("timeout"), None  # only commands count here
            if _is(command, "repeat") and prompt is None and REPEAT_KEY in keys:
                return Input("digits", REPEAT_KEY)  # the step repeats by itself (a document's part)
            if _is(command, "repeat") or (main_menu and _is(command, "main")):
                continue  # the prompt again; not a mistake
            if command is not None and command.action != "filler":
                if main_menu and command.key is not None and command.key in keys and command.key != "0":
                    return Input("digits", command.key)
                self.follow(command)
            if got.kind == "speech" and command is None:
                return got
            if got.kind == "digits" and got.digits == REPEAT_KEY and REPEAT_KEY not in keys:
                continue  # the prompt again; not a wrong key
            tries += 1
            if command is not None:  # filler ("喂", "你好"): nothing to search
                await self.say("not_understood")
                continue
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

    def spoken_command(self, got: Input) -> Command | None:
        """A spoken command in the caller's words (None for keys, a timeout or a question)."""
        if got.kind != "speech" or got.recognition is None:
            return None
        command = spot_command(got.recognition.pinyin, self.menu_words)
        if command is not None:
            self._step(
                f"said:{command.action}"
                + (f":{command.key}" if command.key and command.action != "agent" else "")
            )
            self.channel.log.add("IVR", f"[指令：{command.phrase or command.action}]")
        return command

    def follow(self, command: Command) -> None:
        """Act on a spoken command: a person, or the main-menu item it names (raises)."""
        if command.action == "agent":
            raise _ToAgent
        if command.action == "main":
            raise _ToMain
        if command.key is not None:
            raise _GoTo(command.key)

    async def entry(
        self,
        prompt: str,
        *,
        max_digits: int,
        speech_allowed: bool = False,
        retries: int | None = None,
        allow_empty: bool = False,
    ) -> str | None:
        """A longer number (case number, password, fax number): keys ended by # (also at full length),
        or spoken digits (read back for confirmation). 0 alone is an agent, * cancels (raises _Back),
        # alone gives "" when `allow_empty`; None after `retries` (max_retries) failed tries."""
        timing = self.menu.timing
        for _ in range(retries or timing.max_retries):
            await self.channel.play(prompt, speech_barge_in=speech_allowed and timing.speech_barge_in)
            got = await self.channel.gather(
                max_digits=max_digits,
                timeout=timing.speech_timeout if speech_allowed else timing.digit_timeout,
                interdigit_timeout=timing.interdigit_timeout,
                speech_allowed=speech_allowed,
                grammar=DIGIT_WORDS if speech_allowed else None,
            )
            value = got.digits
            command = self.spoken_command(got)
            if _is(command, "repeat"):
                continue
            if command is not None and command.action != "filler":
                self.follow(command)
            if got.kind == "speech" and got.recognition is not None:
                value = speech.spoken_digits("".join(got.recognition.words))
            if value == "*":
                raise _Back
            if value == "0":
                raise _ToAgent
            if allow_empty and got.kind == "digits" and got.terminated and not value:
                return ""
            if value.isdigit() and got.kind == "speech":
                if await self.confirm_number(value):
                    return value
                continue
            if value.isdigit():
                return value
            await self.say("no_input" if got.kind == "timeout" else "invalid")
        return None

    async def confirm_hit(self, title: str) -> bool:
        """ "您是想咨询……吗？": 1 (or "对/是的") reads the document, 2 (or "不是") is a no-result."""
        got = await self.ask(
            self.menu.say("search_confirm", title=title), "12", speech_allowed=True, grammar=YES_NO_WORDS
        )
        if got.kind == "speech":
            said = got.recognition.words if got.recognition else []
            return bool(said) and said[0] in YES_WORDS
        return got.digits == "1"

    async def confirm_number(self, number: str) -> bool:
        """Read a spoken number back: 1 (or "对/是/正确") confirms, 2 (or "不对/重新输入") asks again."""
        self._step("confirm-number")
        got = await self.ask(
            self.menu.say("confirm_number", number=number), "12", speech_allowed=True, grammar=YES_NO_WORDS
        )
        if got.kind == "speech":
            said = got.recognition.words if got.recognition else []
            return bool(said) and said[0] in YES_WORDS
        return got.digits == "1"

    # -- main menu ------------------------------------------------------------------------------

    async def _main(self) -> None:
        await self.say("welcome", speech_barge_in=True)  # a caller may start talking at once
        if self.menu.queue.direct_now(self.clock(), self.menu.hours.timezone):
            self._step("direct")  # service mode "direct": a person first, no menu
            await self.agent()
        self._step("main")
        said: str | None = None  # a main-menu item named by voice elsewhere (_GoTo)
        while True:
            try:
                if said is not None:
                    got, said = Input("digits", said), None
                else:
                    got = await self.ask(
                        self.menu.prompts["main_menu"],
                        "".join(i.key for i in self.menu.menu),
                        speech_allowed=True,
                        main_menu=True,
                    )
                if got.kind == "speech":
                    await self.search_spoken(got)
                    continue
                item = self.menu.item(got.digits)
                assert item is not None
                self._step(f"key:{item.key}")
                await self.run_item(item)
            except _ToMain:
                self._step("main")
            except _GoTo as goto:
                said = goto.key
            except _ToAgent as request:
                await self.agent(request.group)

    async def run_item(self, item: MenuItem) -> None:
        """What a menu key does; returns when the caller goes back (*) to the menu that offered it."""
        if item.action == "category":
            await self.browse(item.category or "", item.items)
        elif item.action == "progress":
            await self.progress()
        elif item.action == "voicemail":
            await self.voicemail()
        elif item.action == "search":
            await self.say("search_ask", speech_barge_in=True)
            await self.search_spoken(await self._listen())
        elif item.action == "menu":
            await self.submenu(item)
        else:
            raise _ToAgent(item.group)

    async def submenu(self, menu: MenuItem) -> None:
        """A sub-menu of the menu file (any depth): its prompt and keys until * goes back up; 0, # and 9
        work as everywhere (ask)."""
        keys = "".join(i.key for i in menu.menu) + "*"
        while True:
            got = await self.ask(menu.prompt, keys, commands=True)
            if got.digits == "*":
                return
            item = next(i for i in menu.menu if i.key == got.digits)
            self._step(f"key:{item.key}")
            await self.run_item(item)

    async def _listen(self) -> Input:
        return await self.channel.gather(
            max_digits=1, timeout=self.menu.timing.speech_timeout, speech_allowed=True
        )

    # -- reading documents ----------------------------------------------------------------------

    async def browse(self, category: str, limit: int = 5) -> None:
        """A category's short listing, in a stable order (the same key reads the same document on every
        call): see `category_listing`."""
        with session_scope() as session:
            docs = category_listing(session, category, limit)
        if not docs:
            await self.say("category_empty")
            return
        listing = listing_prompt(self.menu, category, docs)
        keys = "".join(str(n) for n in range(1, len(docs) + 1)) + "*"
        while True:
            got = await self.ask(listing, keys, commands=True)
            if got.digits == "*":
                return
            await self.read_document(docs[int(got.digits) - 1][0])

    async def read_document(self, doc_id: int) -> None:
        with session_scope() as session:
            doc = kb.get_document(session, doc_id)
            if doc is None:
                await self.say("category_empty")
                return
            kb.record_view(session, doc_id, "ivr", client=self.caller_key)
            records.append(session, self.call_id, "documents", {"id": doc.id, "title": doc.title})
            self.documents_read += 1
            records.append(session, self.call_id, "path", f"doc:{doc.id}")
        title, sections = spoken_document(doc)
        index, replay, keys_told = 0, True, False
        timeouts = 0
        while True:
            if replay:
                # part by part, the next rendered while the caller hears this one (Channel.read_aloud)
                intro = [self.menu.say("document_title", title=title)] if title else []
                await self.channel.read_aloud(*intro, sections[index])
                title = ""
                self.served = True
                if not keys_told:
                    await self.say("document_keys")
                    keys_told = True
            replay = False
            got = await self.ask(None, "123*78#" + REPEAT_KEY, on_timeout=lambda: None, commands=True)
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
            elif key in ("2", REPEAT_KEY):
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
        """To the calling mobile number only (a typed number is not verified; docs/security.md)."""
        self._step(f"sms:{doc.id}")
        cw = _casework()
        if cw is None:
            await self.say("service_unavailable")
            return
        origin = self._origin(cw)
        summary = sms_summary(speech.plain_text(doc.body))
        text = f"【12345】{doc.title}：{summary}" + (f" 详见：{doc.source_url}" if doc.source_url else "")
        refused = None
        with session_scope() as session:  # a refusal is audited: commit it too
            try:
                cw.queue_sms(
                    session,
                    to=origin.verified_number or "",
                    text=text,
                    kind="document",
                    ref=doc.external_id,
                    origin=origin,
                )
            except cw.OutboundRefused as exc:
                refused = exc
        if refused is not None:
            self._step(f"sms-refused:{refused.reason}")
            await self.channel.play(str(refused))
            return
        await self.say("sms_sent")

    @property
    def caller_key(self) -> str:
        """The caller, for the per-client limits (progress queries, counted views and logged gaps:
        docs/security.md): the calling number on SIP, the client address on /voice (`web:<address>`,
        shared with the web pages), else this call."""
        return self.channel.caller_number or getattr(self.channel, "client_key", "") or self.call_id

    def _origin(self, cw: ModuleType) -> Origin:
        """This call as the sender of what it queues (caps, verified number: docs/security.md)."""
        return cw.Origin.call(
            channel=self.channel.name,
            call_id=self.call_id,
            caller_number=self.channel.caller_number or "",
            client_key=getattr(self.channel, "client_key", ""),
        )

    async def send_fax(self, doc: kb.DocumentView) -> None:
        self._step(f"fax:{doc.id}")
        cw = _casework()
        if cw is None:
            await self.say("service_unavailable")
            return
        origin = self._origin(cw)
        refused = None
        try:
            cw.check_sender(origin, "fax")  # an anonymous browser call: say so before asking
        except cw.OutboundRefused as exc:
            refused = exc
        if refused is None:
            try:
                number = await self.entry(self.menu.prompts["fax_number"], max_digits=20)
            except _Back:
                return
            if not number or len(number) < 5:
                await self.say("send_failed")
                return
            with session_scope() as session:  # a refusal is audited: commit it too
                try:
                    cw.queue_fax(
                        session,
                        to=number,
                        title=doc.title,
                        body=speech.plain_text(doc.body),
                        ref=doc.external_id,
                        origin=origin,
                    )
                except cw.OutboundRefused as exc:
                    refused = exc
        if refused is not None:
            self._step(f"fax-refused:{refused.reason}")
            await self.channel.play(str(refused))
            return
        await self.say("fax_sent")

    # -- speech search --------------------------------------------------------------------------

    async def search_spoken(self, got: Input, *, retries: int = 2) -> None:
        """Search a spoken question. Commands and filler are never searched; a best hit that answers
        it (kb's relevance above its threshold, as on the web) gives the top titles, a plausible one
        (relevance >= PLAUSIBLE) "您是想咨询……吗？", and anything weaker an honest no-result (ask
        again, voicemail or a person). A question after which the caller heard no document is a gap
        in the editors' report (kb.record_unanswered)."""
        command = self.spoken_command(got)
        if command is not None and command.action != "filler":
            self.follow(command)
        text = got.recognition.text.strip() if got.kind == "speech" and got.recognition else ""
        if not text or command is not None:
            self._step("search:not-understood")
            await self.say("not_understood")
            return
        # in the recognition pool, like the recognition before it: never behind TTS renders, and the
        # event loop keeps carrying the other calls
        hits, confidence, answered = await in_recognition(self._search, text)
        self.channel.log.add("IVR", f"[识别：{text}]")
        self.channel.log.add("IVR", f"[把握：{confidence:.2f}]")
        read = self.documents_read
        try:
            if hits and PLAUSIBLE <= confidence and not answered:
                self._step("search:confirm")
                if await self.confirm_hit(hits[0][1]):
                    await self.read_document(hits[0][0])
                    return
            if not hits or not answered:
                self._step("search:none")
                got = await self.ask(self.menu.prompts["search_none"], "14#", commands=True)
                if got.digits == "1" and retries > 0:
                    await self.say("search_ask", speech_barge_in=True)
                    await self.search_spoken(await self._listen(), retries=retries - 1)
                    return
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
        finally:
            if self.documents_read == read:  # the caller heard no document: a gap for the editors
                with session_scope() as session:
                    kb.record_unanswered(session, text, channel="ivr", client=self.caller_key)

    def _search(self, text: str) -> tuple[list[tuple[int, str]], float, bool]:
        """The spoken question searched and kept in the call record: (id, title) of the titles to read,
        the best hit's relevance, whether it answers the question."""
        with session_scope() as session:
            # no gap logged here: whether the question was answered is known when the caller heard a document
            results = kb.search(session, text, limit=3 * LISTED_RESULTS, channel="ivr", log_gaps=False)
            hits = distinct_titles([(h.id, h.title) for h in results.hits])[:LISTED_RESULTS]
            top = results.hits[0] if results.hits else None
            confidence = top.relevance if top else 0.0  # kb's relevance: the web's "answered" too
            answered = top is not None and top.answered
            records.append(
                session,
                self.call_id,
                "searches",
                {"query": text, "hits": [h[0] for h in hits], "confidence": round(confidence, 2)},
            )
            records.append(session, self.call_id, "path", "search")
        return hits, confidence, answered

    # -- case progress --------------------------------------------------------------------------

    async def progress(self) -> None:
        cw = _casework()
        if cw is None:
            await self.say("service_unavailable")
            return
        for _ in range(3):
            try:
                number = await self.entry(
                    self.menu.prompts["progress_case"], max_digits=20, speech_allowed=True
                )
                if number is None:
                    raise _ToAgent
                password = await self.entry(self.menu.prompts["progress_password"], max_digits=6)
            except _Back:
                return
            if password is None:
                raise _ToAgent
            view, refused = await asyncio.to_thread(_check_progress, cw, number, password, self.caller_key)
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
            if await asyncio.to_thread(_waiting_for_follow_up, cw, view.case_number):
                await self.follow_up(cw, view.case_number)
            return
        self._step("progress:locked")
        got = await self.ask(self.menu.prompts["progress_locked"], "4#", commands=True)  # 0: in ask
        if got.digits == "4":
            await self.voicemail()
        raise _ToMain

    async def follow_up(self, cw: ModuleType, case_number: str) -> None:
        """回访 by keys, after the caller (who has the case's password) heard its approved result:
        1 满意, 2 基本满意, 3 不满意 (the case goes back to its department); # or silence skips."""
        got = await self.ask(self.menu.prompts["followup_ask"], "123#", on_timeout=lambda: None)
        if got.kind != "digits" or got.digits not in FOLLOW_UP_KEYS:
            return
        if await asyncio.to_thread(_record_follow_up, cw, case_number, FOLLOW_UP_KEYS[got.digits]):
            self._step(f"followup:{got.digits}")
            await self.say("followup_rework" if got.digits == "3" else "followup_thanks")

    # -- voicemail ------------------------------------------------------------------------------

    async def voicemail(self) -> None:
        """Record a message and open a case for it. The recording is saved before anything else; a
        recording with less than MIN_VOICE_SECONDS of voice makes no case (the caller is told); a saved
        message whose case cannot be opened is logged as an error and kept in the call record."""
        self._step("voicemail")
        cw = _casework()
        if cw is None:
            await self.say("service_unavailable")
            return
        self.channel.discard_keys()  # keys typed ahead must not cut the intro and the beep
        callback = await self._callback_number()
        await self.say("voicemail_intro")
        rate = self.channel.sample_rate
        beep_path = get_settings().audio_cache_dir / f"beep-{rate}.wav"
        if not beep_path.exists():
            write_wav_durably(beep_path, beep(rate), rate)
        await self.channel.play(audio=beep_path)
        path = self._recording_path()
        hung_up = await self.channel.record(path, max_seconds=self.menu.timing.voicemail_max_seconds)
        voiced = voiced_seconds(read_wav_mono(path, rate), rate) if path.exists() else 0.0
        if voiced < MIN_VOICE_SECONDS:
            self._step("voicemail:empty")
            if hung_up:
                raise CallerHungUp
            await self.say("voicemail_empty")
            return
        try:
            case_number, password = await asyncio.to_thread(self._voicemail_case, cw, path, callback)
        except Exception:
            log.exception("voicemail %s of call %s is saved but no case was opened", path, self.call_id)
            self._step(f"voicemail:no-case:{path.name}")
            self.outcome = "voicemail"
            if hung_up:
                raise CallerHungUp from None
            await self.say("voicemail_kept")
            await self.say("goodbye")
            await self.channel.hangup()
            raise _CallOver from None
        self.outcome, self.case_number = "voicemail", case_number
        if hung_up:
            raise CallerHungUp
        await self.say("voicemail_saved", case_number=case_number, password=password)
        await self.say("goodbye")
        await self.channel.hangup()
        raise _CallOver

    async def _callback_number(self) -> str:
        """The number to call back: the caller's own, or (browser, withheld number) one keyed in;
        NO_NUMBER when the caller gives none (the case is kept all the same)."""
        number = self.channel.caller_number or ""
        if CALLBACK.match(number):
            return number
        try:
            keyed = await self.entry(
                self.menu.prompts["voicemail_number"], max_digits=12, retries=1, allow_empty=True
            )
        except (_Back, _ToAgent):
            keyed = None
        if keyed and CALLBACK.match(keyed):
            return keyed
        return NO_NUMBER

    def _recording_path(self) -> Path:
        day = self.clock().strftime("%Y%m%d")
        return get_settings().recordings_dir / "voicemail" / day / f"{self.call_id}.wav"

    def _voicemail_case(self, cw, path: Path, number: str) -> tuple[str, str]:  # noqa: ANN001 - casework
        """The recording is already on disk: open the case (casework texts the case number and password
        to mobile callers); its transcript is written afterwards (selfservice.voicemail)."""
        kind = "网上语音留言" if self.channel.name == "browser" else "电话留言"
        with session_scope() as session:
            case, password = cw.create_case(
                session,
                channel="voicemail",
                caller_number=number,
                content=voicemail.pending_content(kind),
                actor="ivr",
                audio_path=str(path),
            )
            nodefiles.remember(session, path)
            case_number = _case_number(case)
        self.transcription = voicemail.transcribe_later(case_number)
        return case_number, password

    # -- agents ---------------------------------------------------------------------------------

    async def _online_agent(self) -> None:
        """The browser voice page cannot be bridged to an agent's phone: the caller is told the hotline
        number to dial and may leave a voicemail with a number to be called back (as in the phone
        queue's key 4); anything else returns to the main menu."""
        self._step("agent:online")
        try:
            got = await self.ask(self.menu.prompts["online_agent"], "4", on_timeout=lambda: None)
        except (_ToAgent, _ToMain):  # 0 again, # or no valid key: back to the main menu
            return
        if got.digits == "4":
            await self.voicemail()  # asks for the number to call back

    async def agent(self, group: str | None = None) -> None:
        """A person: the call centre's queue where this call has one (SIP behind the switchboard), else a
        SIP transfer to the agents' number; voicemail when nobody is on duty."""
        self._step("agent" if group is None else f"agent:{group}")
        if not self.channel.can_transfer:
            await self._online_agent()
            return
        if self.switchboard is not None:
            outcome = await self.switchboard.serve(self, group)
            if outcome == "self_service":
                self._step("queue:self-service")
                return  # to the menu; 0 rejoins the queue at the place kept
            if outcome is not None:
                self.outcome = self.outcome or outcome
                raise _CallOver
            self._step("no-agents")
            await self.say("queue_no_agents")
            await self.voicemail()
            raise _CallOver
        if not self.menu.hours.is_open(self.clock()):
            self._step("after-hours")
            await self.say("after_hours")
            await self.voicemail()
            raise _CallOver
        if not self.agents_free():
            self._step("agents-busy")
            try:
                got = await self.ask(self.menu.prompts["agents_busy"], "14", on_timeout=lambda: None)
            except (_ToAgent, _ToMain):  # 0 or # here: the caller still wants a person
                got = Input("digits", "1")
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
