"""The semantic signal (kb.search.semantic): sentence vectors kept in step with publishing, and the
re-ranking by meaning that finds a paraphrased question's document BM25 alone puts lower."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import kb
from hotline.config import REPO_ROOT
from hotline.db import session_scope
from kb import indexing
from kb.models import Document
from kb.retrieval import uses_semantic
from kb.search import IndexDoc, open_index, semantic
from kb.search.semantic import Vectors, unit_key, unit_text
from tests.kb.helpers import doc_input, published_document

CASE = Path(__file__).with_name("semantic_case.jsonl")


def build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_kb_embeddings", REPO_ROOT / "scripts" / "build_kb_embeddings.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def semantic_env(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Path:
    monkeypatch.setenv("HOTLINE_SEARCH_SEMANTIC", "1")
    return request.getfixturevalue("sqlite_env")


def stored_key(doc_id: int) -> str | None:
    store = indexing.get_index().semantic
    assert store is not None
    return store.key_of(doc_id)


def live_unit(doc_id: int) -> str:
    with session_scope() as s:
        return unit_text(indexing.to_index_doc(s.get(Document, doc_id)))


def test_meaning_lifts_a_paraphrased_questions_document(tmp_path):
    """A real dev question (data/eval/ncp_dev_queries.jsonl) over its 8 best lexical candidates among the
    policies: its document (抗击疫情同聚力 落实优惠促发展, tax relief for reopening businesses, which words
    复工复产 otherwise) is ranked higher with the re-ranking by meaning than by the words alone."""
    rows = [json.loads(line) for line in CASE.read_text(encoding="utf-8").splitlines()]
    docs = [
        IndexDoc(n, r["external_id"], r["title"], r["category"], body=r["body"])
        for n, r in enumerate(rows, 1)
    ]
    index = open_index(tmp_path, results_cached=0, semantic=True)
    index.upsert(docs)
    assert index.semantic is not None and index.semantic.count() == len(docs)
    question, answer = "税务是如何支持企业复工复产？", "ncp-022dfe79b98d3df5876da4a3e4b45318"

    def rank(semantic: bool) -> int:
        found = [docs[h.id - 1].external_id for h in index.search(question, semantic=semantic).hits]
        return found.index(answer) + 1

    assert rank(semantic=True) < rank(semantic=False)
    # drafts and editors' searches have no vectors: include_unpublished stays lexical
    assert index.search(question, public_only=False, semantic=True) == index.search(
        question, public_only=False
    )


def test_vectors_follow_publish_edit_withdraw_and_reindex(semantic_env):
    with session_scope() as s:
        draft = kb.create_document(
            s, doc_input("居住证办理指南", body="居住证向居住地派出所申领。"), actor="alice"
        ).id
    assert stored_key(draft) is None  # drafts have no vector
    doc_id = published_document(body="职工购买自住住房的，可以申请提取住房公积金。")
    first = stored_key(doc_id)
    assert first == unit_key(live_unit(doc_id)) and "公积金" in live_unit(doc_id)

    with session_scope() as s:  # an edit is embedded when it is published, not before
        kb.update_document(
            s, doc_id, doc_input(body="离休、退休的职工可以提取住房公积金账户余额。"), actor="alice"
        )
    assert stored_key(doc_id) == first
    with session_scope() as s:
        kb.submit_document(s, doc_id, actor="alice")
    with session_scope() as s:
        kb.approve_document(s, doc_id, actor="bob")
    assert stored_key(doc_id) == unit_key(live_unit(doc_id)) != first

    with session_scope() as s:
        kb.withdraw_document(s, doc_id, actor="bob")
    assert stored_key(doc_id) is None

    store = indexing.get_index().semantic
    assert store is not None
    store.path.unlink()  # vectors lost (or the signal just turned on): the next start makes them
    kb.ensure_index()
    assert store.count() == 0  # nothing published
    with session_scope() as s:
        kb.submit_document(s, doc_id, actor="alice")
    with session_scope() as s:
        kb.approve_document(s, doc_id, actor="bob")
    store.path.unlink()
    kb.ensure_index()
    assert stored_key(doc_id) == unit_key(live_unit(doc_id))

    # the IVR's searches are re-ranked by meaning (the default channel list), the web's are not
    assert uses_semantic("ivr") and not uses_semantic("web")
    with session_scope() as s:
        assert [h.id for h in kb.search(s, "退休了公积金怎么取", channel="ivr", log_gaps=False).hits] == [
            doc_id
        ]


def test_bundled_vectors_are_reused_and_only_changed_units_embedded(tmp_path, monkeypatch):
    """scripts/build_kb_embeddings.py embeds each document's unit once; run again after one document
    changed, it embeds only that one; an index given the file (as a fresh install is given
    data/kb/embeddings.npz) embeds nothing for the documents it covers."""
    kb_dir = tmp_path / "kb"
    kb_dir.mkdir()
    rows = [json.loads(line) for line in CASE.read_text(encoding="utf-8").splitlines()][:3]
    (kb_dir / "case.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    script = build_script()
    embedded: list[int] = []
    passages = semantic.Embedder.passages

    def counting(self, texts):  # type: ignore[no-untyped-def]
        embedded.append(len(texts))
        return passages(self, texts)

    monkeypatch.setattr(semantic.Embedder, "passages", counting)
    script.main(["--kb", str(kb_dir)])
    assert sum(embedded) == 3
    bundle = Vectors.load(kb_dir / "embeddings.npz")
    assert bundle.vecs.dtype == np.float16 and bundle.vecs.shape == (3, 384)

    rows[1]["body"] = "各级税务机关延长申报纳税期限。" + rows[1]["body"]
    (kb_dir / "case.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    script.main(["--kb", str(kb_dir)])
    assert sum(embedded) == 4  # the changed one only

    docs = script.documents(kb_dir)
    index = open_index(
        tmp_path / "index", results_cached=0, semantic=True, bundled_vectors=kb_dir / "embeddings.npz"
    )
    index.upsert(docs)
    assert sum(embedded) == 4
    assert index.semantic is not None and all(
        index.semantic.key_of(d.id) == unit_key(unit_text(d)) for d in docs
    )
