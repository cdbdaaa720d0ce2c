"""The IVR menu file (data/ivr/menu.toml): prompts, menu keys and rules, validated at start."""

from __future__ import annotations

import tomllib
from datetime import date, datetime, time
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
    "voicemail_empty transfer after_hours agents_busy service_unavailable"
).split()


class MenuError(ValueError):
    """The menu file is missing or invalid; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Timing(_Strict):
    digit_timeout: float = Field(5.0, gt=0, le=60)
    interdigit_timeout: float = Field(4.0, gt=0, le=60)
    max_retries: int = Field(3, ge=1, le=10)
    speech_timeout: float = Field(6.0, gt=0, le=60)
    voicemail_max_seconds: int = Field(120, ge=5, le=600)
    speech_barge_in: bool = True  # talking over a prompt that asks for speech stops it
    barge_in_level_dbfs: float = Field(-35.0, ge=-60, le=-10)  # voice louder than this counts


class Hours(_Strict):
    timezone: str = "Asia/Shanghai"
    open: time = time(8, 0)
    close: time = time(20, 0)
    weekdays: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7])
    holidays: list[date] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except Exception as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("weekdays")
    @classmethod
    def _iso_weekdays(cls, value: list[int]) -> list[int]:
        if any(d < 1 or d > 7 for d in value):
            raise ValueError("weekdays are ISO numbers 1 (Monday) .. 7 (Sunday)")
        return value

    def is_open(self, moment: datetime) -> bool:
        """Are agents on duty at this moment (aware datetime)?"""
        local = moment.astimezone(ZoneInfo(self.timezone))
        if local.date() in self.holidays or local.isoweekday() not in self.weekdays:
            return False
        return self.open <= local.time() < self.close


class Agents(_Strict):
    target: str = "sip:agents@127.0.0.1"
    seats: int = Field(20, ge=0)


class MenuItem(_Strict):
    key: str = Field(pattern=r"^[0-9]$")
    action: Literal["category", "progress", "voicemail", "agent", "search"]
    category: str | None = None

    @model_validator(mode="after")
    def _category_needs_name(self) -> MenuItem:
        if self.action == "category" and not self.category:
            raise ValueError("action 'category' needs a 'category' name")
        return self


class Menu(_Strict):
    timing: Timing = Field(default_factory=Timing)
    hours: Hours = Field(default_factory=Hours)
    agents: Agents = Field(default_factory=Agents)
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
        keys = [item.key for item in value]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"duplicate menu keys: {', '.join(dupes)}")
        if "0" in keys and next(i for i in value if i.key == "0").action != "agent":
            raise ValueError("key 0 is reserved for the agent")
        return value

    def item(self, key: str) -> MenuItem | None:
        return next((i for i in self.menu if i.key == key), None)

    def say(self, name: str, **values: object) -> str:
        return self.prompts[name].format(**values)

    def static_prompts(self) -> list[str]:
        """Prompts without placeholders (to pre-render into the TTS cache at start-up)."""
        return [text for text in self.prompts.values() if "{" not in text]


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
