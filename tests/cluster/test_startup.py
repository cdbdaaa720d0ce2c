"""Nodes of a cluster started together on a new PostgreSQL database: one of them creates the schema and
imports the bundled knowledge base, the others wait for it and find it done."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from hotline.cluster.local import data_dir_with_kb
from tests.cluster.conftest import SMALL_KB

pytestmark = pytest.mark.postgres


def test_nodes_initialising_one_database_at_once_import_the_knowledge_base_once(
    pg_database: str, tmp_path: Path
) -> None:
    data = data_dir_with_kb(tmp_path, SMALL_KB)
    base = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    nodes = [
        subprocess.Popen(
            [sys.executable, "-m", "hotline.cli", "init", "--bundled"],
            env={**base, "HOTLINE_HOME": str(tmp_path / f"node{i}"), "HOTLINE_DATABASE_URL": pg_database,
                 "HOTLINE_DATA_DIR": str(data), "HOTLINE_NODE_NAME": f"node{i}"},  # fmt: skip
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [node.communicate(timeout=300)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], outputs
    assert sum("bundled knowledge base:" in out for out in outputs) == 1, outputs
    engine = create_engine(pg_database)
    try:
        with engine.connect() as conn:
            documents = conn.execute(text("SELECT count(*) FROM kb_documents")).scalar()
    finally:
        engine.dispose()
    assert documents == sum(1 for line in SMALL_KB.read_text(encoding="utf-8").splitlines() if line.strip())
