"""IVR test fixtures: a small published knowledge base, a shared prompt cache, scripted calls."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from hotline.config import BUNDLED_DATA, REPO_ROOT, get_settings
from hotline.db import session_scope
from kb.importer import import_file
from selfservice import records
from selfservice.engine import Dialog
from selfservice.menu import load_menu
from selfservice.models import CallRecord
from selfservice.simulator import SimulatedChannel, parse_script

DATA = Path(__file__).parent / "data"
SPEECH = REPO_ROOT / "data" / "speech"
OFFICE_HOURS = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Wednesday morning
NIGHT = datetime(2026, 11, 25, 23, 30, tzinfo=ZoneInfo("Asia/Shanghai"))

# The bundled menu file's key 2, and a sub-menu tree to put in its place (TREE_PROMPTS: its prompts by
# key path).
GUIDES = """[[menu]]
key = "2"
action = "category"
category = "办事指南"
"""
TREE = """[[menu]]
key = "2"
action = "menu"
prompt = "人工服务请按0。办事指南请按1，政策文件请按2，返回请按星号键。"

[[menu.menu]]
key = "1"
action = "category"
category = "办事指南"

[[menu.menu]]
key = "2"
action = "menu"
prompt = "人工服务请按0。政策法规请按1，返回上一级请按星号键。"

[[menu.menu.menu]]
key = "1"
action = "category"
category = "政策法规"
items = 3
"""
TREE_PROMPTS = {
    "2": "人工服务请按0。办事指南请按1，政策文件请按2，返回请按星号键。",
    "2.2": "人工服务请按0。政策法规请按1，返回上一级请按星号键。",
}


def menu_text(tree: str = TREE) -> str:
    """The bundled menu file with `tree` in place of main-menu key 2."""
    text = (BUNDLED_DATA / "ivr" / "menu.toml").read_text(encoding="utf-8")
    assert GUIDES in text
    return text.replace(GUIDES, tree)


def use_menu_tree(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOTLINE_DATA_DIR at a copy of the bundled data (the rest linked) whose menu file has TREE
    as key 2; returns the menu file."""
    data = root / "data-with-tree"
    (data / "ivr").mkdir(parents=True)
    for entry in BUNDLED_DATA.iterdir():
        if entry.name != "ivr":
            (data / entry.name).symlink_to(entry)
    menu = data / "ivr" / "menu.toml"
    menu.write_text(menu_text(), encoding="utf-8")
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(data))
    get_settings.cache_clear()
    return menu


@pytest.fixture(scope="session")
def prompt_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One TTS cache for all IVR tests (prompts are rendered once, like a running server)."""
    return tmp_path_factory.mktemp("ivr-audio-cache")


def _share_cache(home: Path, cache: Path) -> None:
    target = home / "audio-cache"
    if target.is_dir() and not target.is_symlink():
        target.rmdir()
    if not target.exists():
        target.symlink_to(cache, target_is_directory=True)


@pytest.fixture
def ivr_env(sqlite_env: Path, prompt_cache: Path) -> Path:
    """SQLite home with the four test documents published."""
    _share_cache(sqlite_env, prompt_cache)
    report = import_file(DATA / "kb.jsonl", publish=True)
    assert not report.errors
    return sqlite_env


@pytest.fixture
def ivr_env_both(hotline_env: Path, prompt_cache: Path) -> Path:
    """Like ivr_env, on SQLite and PostgreSQL."""
    _share_cache(hotline_env, prompt_cache)
    import_file(DATA / "kb.jsonl", publish=True)
    return hotline_env


@dataclass
class CallResult:
    outcome: str
    channel: SimulatedChannel
    record: CallRecord
    dialog: Dialog

    @property
    def transcript(self) -> str:
        return "\n".join(self.channel.log.lines)

    @property
    def prompts(self) -> list[str]:
        return [line[5:] for line in self.channel.log.lines if line.startswith("IVR: ")]


def run_call(
    script: str,
    *,
    caller: str = "13800138000",
    at: datetime = OFFICE_HOURS,
    agents_busy: bool = False,
    base: Path = DATA,
) -> CallResult:
    """Run one scripted call through the real dialog engine, TTS and ASR."""
    channel = SimulatedChannel(parse_script(script, base), caller)
    dialog = Dialog(
        channel, load_menu(), clock=lambda: at, agents_free=(lambda: False) if agents_busy else None
    )
    outcome = asyncio.run(dialog.run())
    with session_scope() as session:
        record = records.get_call(session, dialog.call_id)
        assert record is not None
        session.expunge(record)
    return CallResult(outcome, channel, record, dialog)


@pytest.fixture
def call() -> Callable[..., CallResult]:
    return run_call


@pytest.fixture
def noise_wav(tmp_path: Path) -> Path:
    """Two seconds of loud white noise: audio that is not speech."""
    rng = np.random.default_rng(7)
    samples = (rng.standard_normal(32000) * 8000).clip(-32000, 32000).astype("<i2")
    path = tmp_path / "noise.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(samples.tobytes())
    return path


@pytest.fixture
def spoken(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Synthesise a caller utterance with the real TTS (16 kHz WAV)."""
    import speech

    def make(text: str) -> Path:
        return speech.synthesize(text, rate=16000)

    yield make


def recordings_dir() -> Path:
    return get_settings().recordings_dir
