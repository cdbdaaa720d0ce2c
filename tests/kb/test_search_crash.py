"""Crash safety: a writer killed before its commit leaves the last committed index usable."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kb.search import ENGINES, IndexDoc, open_index

ROOT = Path(__file__).resolve().parents[2]

# Runs in a child process: adds documents, then dies with SIGKILL at the moment of committing.
KILLED_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from kb.search import IndexDoc, open_index

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    engine = sys.argv[2]
    if engine == "tantivy":
        import tantivy
        from kb.search.engines import tantivy_engine
        original = tantivy_engine.TantivyEngine._writer
        def writer(self):
            w = original(self)
            class Dying:
                def __getattr__(self, name):
                    return die if name == "commit" else getattr(w, name)
            return Dying()
        tantivy_engine.TantivyEngine._writer = writer
    else:
        from whoosh.writing import SegmentWriter
        SegmentWriter.commit = die
    index = open_index(Path(sys.argv[1]), engine)
    index.upsert(
        IndexDoc(id=1000 + i, external_id=f"new-{i}", title=f"新增文件{i}", body="半途写入的公积金内容。" * 20)
        for i in range(300)
    )
    """
)


@pytest.mark.parametrize("engine", ENGINES)
def test_killed_writer_leaves_a_usable_index(tmp_path: Path, engine: str) -> None:
    directory = tmp_path / "index"
    index = open_index(directory, engine)
    index.upsert(
        IndexDoc(id=i, external_id=f"d{i}", title=f"社保卡补办{i}", body="社保卡丢失可以补办。")
        for i in range(50)
    )
    assert index.count() == 50

    child = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(directory), engine],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -9, child.stderr

    reopened = open_index(directory, engine)
    assert reopened.count() == 50
    assert reopened.search("半途写入").total == 0
    assert reopened.search("社保卡补办").total == 50
    # the dead writer's lock is gone: the index takes new writes at once
    reopened.upsert([IndexDoc(id=999, external_id="after", title="恢复后写入", body="崩溃之后的新文件。")])
    assert reopened.count() == 51
    assert [h.id for h in reopened.search("恢复后写入").hits] == [999]
