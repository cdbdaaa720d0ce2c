"""The IVR menu file (data/ivr/menu.toml): prompts, menu keys and rules, validated at start."""

from __future__ import annotations

import re
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hotline.config import get_settings

REQUIRED_PROMPTS = (
    "welcome main_menu invalid no_input goodbye category_intro category_item category_tail category_empty "
    "document_title document_keys document_end sms_sent sms_number fax_number fax_sent send_failed search_ask "
    "search_results search_item search_choose search_none not_understood progress_case progress_password "
    "progress_result progress_wrong progress_locked voicemail_intro voicemail_saved "
    "voicemail_empty transfer online_agent after_hours agents_busy service_unavailable "
    "voicemail_number voicemail_kept confirm_number search_confirm "
    "queue_notice queue_position queue_next queue_callback_booked queue_no_agents queue_transfer_failed "
    "followup_ask followup_thanks followup_rework"
).split()


REPEAT_KEY = "9"  # repeats the prompt at every step (selfservice.engine)


class MenuError(ValueError):
    """The menu file is missing or invalid; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Timing(_Strict):
    digit_timeout: float = Field(5.0, gt=0, le=60)
    interdigit_timeout: float = Field(4.0, gt=0, le=60)
    max_retries: int = Field(3, ge=1, le=10)
    speech_timeout: float = Field(6.0, gt=0, le=60)
    end_silence: float = Field(0.7, ge=0.3, le=3.0)  # silence after speech that ends the caller's utterance
    voicemail_max_seconds: int = Field(120, ge=5, le=600)
    speech_barge_in: bool = True  # talking over a prompt that asks for speech stops it
    barge_in_level_dbfs: float = Field(-35.0, ge=-60, le=-10)  # voice louder than this counts


class Hours(_Strict):
    """The time zone of `direct_hours`. When agents are on duty (service hours, holidays, make-up working
    days) is the one calendar that the case deadlines read too: casework.agents_on_duty, edited on the
    admin pages."""

    timezone: str = "Asia/Shanghai"

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, value: object) -> object:
        moved = sorted(
            {"open", "close", "weekdays", "holidays"} & set(value if isinstance(value, dict) else ())
        )
        if moved:
            raise ValueError(
                f"{', '.join(moved)}: service hours and holidays are set on the admin pages (系统管理 → 服务时间与节假日)"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except Exception as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    def is_open(self, moment: datetime) -> bool:
        """Are agents on duty at this moment (aware datetime)?"""
        import casework

        return casework.agents_on_duty(moment)


class Agents(_Strict):
    target: str = "sip:agents@127.0.0.1"
    seats: int = Field(20, ge=0)


class QueueGroup(_Strict):
    """A skill group's queue; a call waiting longer than `overflow_after` seconds also goes to the agents
    of `overflow_to`."""

    name: str = Field(min_length=1, max_length=40)
    overflow_to: str | None = None
    overflow_after: float = Field(60.0, ge=0)


class Queue(_Strict):
    """Callers waiting for a person: skill groups, announcements and the service mode."""

    default_group: str = "综合"
    groups: list[QueueGroup] = Field(default_factory=lambda: [QueueGroup(name="综合")])
    announce_every: float = Field(30.0, ge=5, le=600)  # position and expected wait, repeated
    # menu: the IVR first, 0 for a person; direct: straight to the queue (self-service offered while
    # waiting), during `direct_hours` ("HH:MM-HH:MM", local time; empty: always) when mode is direct
    mode: Literal["menu", "direct"] = "menu"
    direct_hours: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known_groups(self) -> Queue:
        names = {g.name for g in self.groups}
        if self.default_group not in names:
            raise ValueError(f"default_group {self.default_group!r} is not one of the groups")
        for group in self.groups:
            if group.overflow_to and group.overflow_to not in names:
                raise ValueError(f"group {group.name!r}: overflow_to {group.overflow_to!r} is not a group")
        for period in self.direct_hours:
            if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d", period):
                raise ValueError(f"direct_hours: {period!r} is not HH:MM-HH:MM")
        return self

    def group(self, name: str | None) -> QueueGroup:
        return next((g for g in self.groups if g.name == name), None) or next(
            g for g in self.groups if g.name == self.default_group
        )

    def direct_now(self, moment: datetime, timezone: str) -> bool:
        """Whether callers go straight to the queue at this moment."""
        if self.mode != "direct":
            return False
        if not self.direct_hours:
            return True
        now = moment.astimezone(ZoneInfo(timezone)).strftime("%H:%M")
        for period in self.direct_hours:
            start, end = period.split("-")
            if (start <= now < end) if start <= end else (now >= start or now < end):
                return True
        return False


def _check_keys(items: list[MenuItem]) -> list[MenuItem]:
    """One menu level: keys unique, 0 only for a person, 9 kept for repeating."""
    keys = [item.key for item in items]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise ValueError(f"duplicate menu keys: {', '.join(dupes)}")
    if "0" in keys and next(i for i in items if i.key == "0").action != "agent":
        raise ValueError("key 0 is reserved for the agent")
    if REPEAT_KEY in keys:
        raise ValueError(f"key {REPEAT_KEY} is reserved for repeating the prompt")
    return items


def _check_zero_first(prompt: str, where: str) -> None:
    """A person is always reachable: a menu prompt names key 0 before any other key."""
    keys = re.findall(r"请按([0-9])", prompt)
    if keys and keys[0] != "0":
        raise ValueError(f"{where} must announce key 0 (人工服务请按0) before the other keys")


class MenuItem(_Strict):
    key: str = Field(pattern=r"^[0-9]$")
    action: Literal["category", "progress", "voicemail", "agent", "search", "menu"]
    category: str | None = None
    group: str | None = None  # action agent: the skill group whose queue the caller joins
    items: int = Field(5, ge=1, le=8)  # documents a category listing reads (keys 1..items)
    # action menu: a sub-menu (any depth) with its own prompt and keys; * goes back up
    prompt: str | None = None
    menu: list[MenuItem] = Field(default_factory=list)

    @model_validator(mode="after")
    def _category_needs_name(self) -> MenuItem:
        if self.action == "category" and not self.category:
            raise ValueError("action 'category' needs a 'category' name")
        if self.action == "menu":
            if not (self.prompt or "").strip() or not self.menu:
                raise ValueError("action 'menu' needs a 'prompt' and its own [[...menu]] items")
            _check_keys(self.menu)
            _check_zero_first(self.prompt or "", f"the prompt of sub-menu {self.key}")
        elif self.menu or self.prompt:
            raise ValueError("'prompt' and 'menu' belong to action 'menu' only")
        return self


class Menu(_Strict):
    timing: Timing = Field(default_factory=Timing)
    hours: Hours = Field(default_factory=Hours)
    agents: Agents = Field(default_factory=Agents)
    queue: Queue = Field(default_factory=Queue)
    prompts: dict[str, str]
    menu: list[MenuItem]

    @field_validator("prompts")
    @classmethod
    def _all_prompts(cls, value: dict[str, str]) -> dict[str, str]:
        missing = [name for name in REQUIRED_PROMPTS if not value.get(name, "").strip()]
        if missing:
            raise ValueError(f"missing prompts: {', '.join(missing)}")
        return value

    @field_validator("menu")
    @classmethod
    def _unique_keys(cls, value: list[MenuItem]) -> list[MenuItem]:
        return _check_keys(value)

    @model_validator(mode="after")
    def _agent_announced_first(self) -> Menu:
        _check_zero_first(self.prompts.get("main_menu", ""), "prompts.main_menu")
        return self

    def item(self, key: str) -> MenuItem | None:
        return next((i for i in self.menu if i.key == key), None)

    def tree(self) -> list[tuple[str, MenuItem]]:
        """Every item of the tree with its key path from the main menu ("2", "2.1" ...), depth first in
        key order."""

        def below(items: list[MenuItem], prefix: str) -> list[tuple[str, MenuItem]]:
            found = []
            for item in sorted(items, key=lambda i: i.key):
                found.append((prefix + item.key, item))
                found.extend(below(item.menu, f"{prefix}{item.key}."))
            return found

        return below(self.menu, "")

    def category_items(self) -> list[tuple[str, MenuItem]]:
        """The document listings (action category) of the whole tree with their key paths, in key order:
        what editors curate."""
        found: dict[str, tuple[str, MenuItem]] = {}  # a category listed in two places is curated once
        for path, item in self.tree():
            if item.action == "category" and item.category:
                found.setdefault(item.category, (path, item))
        return list(found.values())

    def submenus(self) -> dict[str, MenuItem]:
        """The sub-menus (action menu) by key path, in key order: each has a prompt of its own."""
        return {path: item for path, item in self.tree() if item.action == "menu"}

    def with_submenu_prompts(self, texts: dict[str, str]) -> Menu:
        """A copy whose sub-menus at these key paths speak these prompts instead of the file's."""

        def replaced(items: list[MenuItem], prefix: str) -> list[MenuItem]:
            return [
                item.model_copy(
                    update={
                        "prompt": texts.get(prefix + item.key, item.prompt),
                        "menu": replaced(item.menu, f"{prefix}{item.key}."),
                    }
                )
                if item.action == "menu"
                else item
                for item in items
            ]

        return self.model_copy(update={"menu": replaced(self.menu, "")})

    def say(self, name: str, **values: object) -> str:
        return self.prompts[name].format(**values)

    def fixed_texts(self) -> list[str]:
        """What is said the same on every call, to pre-render into the TTS cache at start-up: the prompts
        without placeholders, the sub-menus' too, and the words before the first placeholder of the others
        ("您是想咨询{title}吗" -> "您是想咨询"), which a caller then hears while the rest is rendered
        (speech.quick_parts)."""
        texts = [*self.prompts.values(), *(item.prompt or "" for item in self.submenus().values())]
        heads = [text.split("{", 1)[0].strip() for text in texts if "{" in text]
        return [text for text in texts if text and "{" not in text] + [h for h in heads if len(h) >= 2]


def spoken_path(path: str) -> str:
    """A key path as the pages show it: "2.1" -> "按2 → 按1"."""
    return " → ".join(f"按{key}" for key in path.split("."))


def default_menu_path() -> Path:
    return get_settings().data_dir / "ivr" / "menu.toml"


def load_menu(path: Path | None = None) -> Menu:
    """Read and validate the menu file; raises MenuError naming the file and the offending key."""
    path = path or default_menu_path()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise MenuError(f"{path}: menu file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise MenuError(f"{path}: invalid TOML: {exc}") from exc
    try:
        return Menu.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors()
        )
        raise MenuError(f"{path}: {problems}") from exc
