"""`hotline kb reindex` swaps a new index in while searches go on; an import that died between its
commit and the index write is repaired by the next command."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest
from typer.testing import CliRunner

import kb
from hotline.cli import app
from hotline.config import REPO_ROOT
from hotline.db import reset_caches, session_scope
from kb import indexing
from kb.search import ENGINES
from tests.kb.test_import_cli import write_jsonl

runner = CliRunner()


def documents(n: int, prefix: str = "doc") -> list[dict[str, str]]:
    return [
        {
            "external_id": f"{prefix}-{i}",
            "title": f"社会保障卡补办指南第{i}号",
            "category": "办事指南",
            "body": f"社会保障卡丢失后先挂失，再到服务网点补办。第{i}号网点地址见附件。" * 5,
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_searches_during_a_reindex_keep_finding_documents(sqlite_env, tmp_path, monkeypatch, engine):
    monkeypatch.setenv("HOTLINE_SEARCH_ENGINE", engine)
    reset_caches()
    path = write_jsonl(tmp_path / "docs.jsonl", documents(400))
    assert runner.invoke(app, ["kb", "import", str(path), "--publish"]).exit_code == 0

    finished = threading.Event()
    counted: list[int] = []

    def reindex() -> None:
        try:
            with session_scope() as s:
                counted.append(kb.reindex(s))
        finally:
            finished.set()

    totals: list[int] = []
    worker = threading.Thread(target=reindex)
    worker.start()
    while not finished.is_set():
        totals.append(indexing.get_index().search("社会保障卡补办", limit=10).total)
    worker.join()
    assert counted == [400]
    assert len(totals) >= 3, "the reindex ended before searches could overlap it"
    assert set(totals) == {400}, f"{totals.count(0)} of {len(totals)} searches found nothing"
    assert indexing.get_index().count() == 400


def test_searches_in_another_process_keep_finding_documents_during_a_cli_reindex(sqlite_env, tmp_path):
    path = write_jsonl(tmp_path / "docs.jsonl", documents(1500))
    assert runner.invoke(app, ["kb", "import", str(path), "--publish"]).exit_code == 0
    reindex = subprocess.Popen(
        [sys.executable, "-c", "from hotline.cli import app; app()", "kb", "reindex"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    index = indexing.get_index()
    totals: list[int] = []
    while reindex.poll() is None:
        totals.append(index.search("社会保障卡补办", limit=10).total)
    assert "reindexed 1500 documents" in reindex.stdout.read()
    assert totals and set(totals) == {1500}, f"{totals.count(0)} of {len(totals)} searches found nothing"
    assert index.search("社会保障卡补办", limit=10).total == 1500


# A `hotline kb import` that dies (SIGKILL) after its first batch committed, before the index write.
DIES_BEFORE_INDEXING = """
import os, signal, sys
from kb import importer, indexing
open_index, import_batch, imported = indexing.get_index, importer.import_batch, []
importer.import_batch = lambda *a, **kw: imported.append(1) or import_batch(*a, **kw)
indexing.get_index = lambda: os.kill(os.getpid(), signal.SIGKILL) if imported else open_index()
sys.argv = ["hotline", "kb", "import", sys.argv[1], "--publish"]
from hotline.cli import app
app()
"""


def test_a_crashed_import_is_repaired_by_the_next_command(sqlite_env, tmp_path):
    path = write_jsonl(tmp_path / "docs.jsonl", documents(5, "crash"))
    child = subprocess.run(
        [sys.executable, "-c", DIES_BEFORE_INDEXING, str(path)], cwd=REPO_ROOT, capture_output=True, timeout=120
    )
    assert child.returncode == -9, child.stderr
    with session_scope() as s:
        assert kb.list_documents(s)[1] == 5  # committed, and published
    assert indexing.get_index().count() == 0  # never indexed

    reset_caches()  # the next command is a new process
    indexing._open.clear()
    result = runner.invoke(app, ["kb", "search", "社会保障卡补办", "--json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 5
    assert not list(sqlite_env.joinpath("index").glob(f"{indexing.MARKER_PREFIX}*"))


def test_a_marker_whose_process_id_now_names_another_process_is_repaired(sqlite_env):
    import os

    from sqlalchemy import update

    from kb.models import Document
    from tests.kb.helpers import public_ids, published_document

    doc_id = published_document()
    with session_scope() as s:  # a committed change whose index write never happened
        s.execute(update(Document).where(Document.id == doc_id).values(body="办理居住证需要租房合同。"))
    live = os.getppid()  # a live process that reused the dead writer's id: another start time
    (sqlite_env / "index" / f"{indexing.MARKER_PREFIX}{live}").write_text("1")
    kb.ensure_index()
    assert public_ids("租房合同", log_gaps=False) == [doc_id]
    assert not list(sqlite_env.joinpath("index").glob(f"{indexing.MARKER_PREFIX}*"))
