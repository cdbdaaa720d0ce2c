"""HOTLINE_HOME holds citizens' data: `hotline` keeps it to its own user (folders 0700, files 0600),
whatever the umask it was started with, and tightens a data directory an older version left open."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hotline.config import REPO_ROOT

HOTLINE = [sys.executable, "-c", "from hotline.cli import app; app()"]


def hotline(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOTLINE_HOME": str(home)}
    env.pop("HOTLINE_DATABASE_URL", None)
    return subprocess.run(
        [*HOTLINE, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=lambda: os.umask(0o022),  # a usual login umask: 0644 files, 0755 folders
    )


def modes(home: Path) -> dict[str, int]:
    found = {".": home.stat().st_mode & 0o777}
    for path in home.rglob("*"):
        found[str(path.relative_to(home))] = path.stat().st_mode & 0o777
    return found


def open_to_others(home: Path) -> dict[str, str]:
    return {name: oct(mode) for name, mode in modes(home).items() if mode & 0o077}


def test_a_new_data_directory_is_private(tmp_path):
    home = tmp_path / "home"
    result = hotline(home, "init")
    assert result.returncode == 0, result.stderr
    found = modes(home)
    assert found["."] == 0o700 and found["recordings"] == 0o700 and found["index"] == 0o700
    assert found["hotline.db"] == 0o600
    assert open_to_others(home) == {}


def test_an_old_open_data_directory_is_tightened(tmp_path):
    home = tmp_path / "home"
    assert hotline(home, "init").returncode == 0
    home.chmod(0o755)
    (home / "recordings").chmod(0o755)
    for name in ("hotline.db", "hotline.db-wal"):
        if (home / name).exists():
            (home / name).chmod(0o644)
    result = hotline(home, "kb", "search", "公积金")
    assert result.returncode == 0, result.stderr
    assert open_to_others(home) == {}
