"""Several processes (web workers, the CLI) write the same index at once: each batch waits for the
others (cross-process lock) instead of failing, and no process's documents are lost."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kb.search import ENGINES, open_index

ROOT = Path(__file__).resolve().parents[2]
BATCHES = 12
PER_BATCH = 5

# Runs in a child process: many small batches, each its own commit, as the web workers write them.
WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from kb.search import IndexDoc, open_index

    directory, engine, first, batches, per_batch = sys.argv[1:6]
    first, batches, per_batch = int(first), int(batches), int(per_batch)
    index = open_index(Path(directory), engine)
    for b in range(batches):
        ids = range(first + b * per_batch, first + (b + 1) * per_batch)
        index.upsert(IndexDoc(id=i, external_id=f"d{i}", title=f"公积金提取指南{i}", body="公积金") for i in ids)
    index.delete([first])
    print("done", flush=True)
    """
)


@pytest.mark.parametrize("engine", ENGINES)
def test_two_processes_writing_at_once(tmp_path: Path, engine: str) -> None:
    firsts = (1, 10_001, 20_001)
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), engine, str(first), str(BATCHES), str(PER_BATCH)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for first in firsts
    ]
    for proc in writers:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0 and out.strip() == "done", err
    index = open_index(tmp_path, engine)
    assert index.count() == len(firsts) * (BATCHES * PER_BATCH - 1)
    found = {h.id for h in index.search("公积金", limit=500, public_only=False).hits}
    expected = {first + k for first in firsts for k in range(1, BATCHES * PER_BATCH)}
    assert found == expected
