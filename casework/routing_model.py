"""The learned routing model: which category a citizen's request is and which departments handle it.

Two linear classifiers (TF-IDF over jieba words, multinomial logistic regression: scikit-learn) trained on
- the bundled real messages (data/casework/routing_train.jsonl, built by scripts/build_case_data.py):
  9,210 messages labelled with their first-level category, and the messages whose official reply names
  one city department as the handling unit;
- each department's remit and keywords as the administrator keeps them (one short text per keyword),
  and for the departments that alone handle a first-level category (departments.json "categories"),
  the messages of that category;
- the centre's own answered cases (their handling department), as they accumulate.
The category is the subject area of the official tree (附件1's first level: 城乡建设, 劳动和社会保障, ...).
`hotline case route --retrain` trains a new version into HOTLINE_HOME/models/ (routing-<n>.joblib, the
newest is used); without one the model is trained on first use. Probabilities are the classifiers'
own; a suggestion below PRESELECT is listed, never preselected.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from hotline.config import REPO_ROOT, get_settings
from kb.search import analysis

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

TRAINING_FILE = REPO_ROOT / "data" / "casework" / "routing_train.jsonl"
DEPARTMENTS_FILE = REPO_ROOT / "data" / "casework" / "departments.json"
MODEL_PREFIX = "routing-"
BUNDLED_MODEL = REPO_ROOT / "data" / "models" / "routing" / "routing.joblib"  # built by scripts/install
PRESELECT = 0.5  # a department is preselected for the agent from this confidence up
REASONS = 4  # words shown as the reasons of a suggestion
OWN_CASES = 20_000  # newest answered cases of the centre taken into training
WORD = re.compile(r"[\u4e00-\u9fa5A-Za-z0-9]{2,}")


def words(text: str) -> list[str]:
    """The words of a text the model sees: the knowledge base's analysis (jieba's precise mode, folded,
    no stop words), two characters or more, no punctuation."""
    return [w for w in analysis.words(text) if WORD.fullmatch(w)]


@dataclass(frozen=True)
class Guess:
    """One suggested label with its probability and the words that weighed most for it."""

    name: str
    confidence: float
    reasons: tuple[str, ...] = ()


@dataclass
class Classifier:
    """A TF-IDF + logistic regression text classifier whose suggestions carry their reasons."""

    vectorizer: TfidfVectorizer
    model: LogisticRegression
    terms: list[str]  # the vectorizer's vocabulary by column

    @classmethod
    def fit(cls, texts: list[str], labels: list[str]) -> Classifier:
        vectorizer = TfidfVectorizer(analyzer=words, sublinear_tf=True, min_df=1)
        matrix = vectorizer.fit_transform(texts)
        # balanced: a department with few examples (or only its keywords) is not drowned by the large ones
        model = LogisticRegression(C=10, max_iter=3000, class_weight="balanced")
        model.fit(matrix, labels)
        return cls(vectorizer, model, [str(t) for t in vectorizer.get_feature_names_out()])

    @property
    def labels(self) -> list[str]:
        return [str(c) for c in self.model.classes_]

    def guess(self, text: str, limit: int = 3) -> list[Guess]:
        """The `limit` likeliest labels, best first."""
        row = self.vectorizer.transform([text])
        if not row.nnz:
            return []
        probabilities = self.model.predict_proba(row)[0]
        found: list[Guess] = []
        for index in np.argsort(-probabilities)[:limit]:
            weights = row.multiply(self.model.coef_[index]).tocoo()
            ranked = sorted(zip(weights.data, weights.col, strict=True), key=lambda p: -p[0])
            reasons = tuple(self.terms[col] for weight, col in ranked[:REASONS] if weight > 0)
            found.append(Guess(self.labels[index], round(float(probabilities[index]), 3), reasons))
        return found


@dataclass
class RoutingModel:
    """The two classifiers and what they were trained on."""

    category: Classifier
    department: Classifier
    trained_at: str
    examples: dict[str, int] = field(default_factory=dict)
    version: int = 0

    def route(self, text: str, limit: int = 3) -> tuple[list[Guess], list[Guess]]:
        """Categories and departments for a request's text, likeliest first."""
        return self.category.guess(text, limit), self.department.guess(text, limit)


def bundled_examples() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(text, category) and (text, department) pairs of the bundled training file."""
    categories: list[tuple[str, str]] = []
    departments: list[tuple[str, str]] = []
    with TRAINING_FILE.open(encoding="utf-8") as fh:
        for line in fh:
            item = json.loads(line)
            if item.get("category"):
                categories.append((item["text"], item["category"]))
            elif item.get("department"):
                departments.append((item["text"], item["department"]))
    return categories, departments


def department_texts(session: Session | None) -> list[tuple[str, str]]:
    """Each active department's remit and keywords (from the database, else the bundled list)."""
    rows: list[tuple[str, str, list[str]]]
    if session is not None:
        from sqlalchemy import select

        from casework.models import Department

        found = session.execute(
            select(Department.name, Department.remit, Department.keywords).where(Department.active.is_(True))
        )
        rows = [(name, remit or "", list(keywords or [])) for name, remit, keywords in found]
    else:
        bundled = json.loads(DEPARTMENTS_FILE.read_text(encoding="utf-8"))
        rows = [(d["name"], d.get("remit", ""), d.get("keywords", [])) for d in bundled]
    texts: list[tuple[str, str]] = []
    for name, remit, keywords in rows:
        texts.append((remit, name))
        texts.extend((word, name) for word in keywords if word)
    return texts


def category_owners() -> dict[str, list[str]]:
    """Department -> the first-level categories it alone handles (bundled departments.json)."""
    bundled = json.loads(DEPARTMENTS_FILE.read_text(encoding="utf-8"))
    return {d["name"]: d.get("categories", []) for d in bundled}


def own_cases(session: Session | None) -> list[tuple[str, str]]:
    """The centre's answered cases as (text, handling department). (Their category is the request's
    kind, 咨询/投诉/..., not the subject area the category classifier learns.)"""
    if session is None:
        return []
    from sqlalchemy import select

    from casework.lifecycle import DONE_STATUSES
    from casework.models import Case, Department

    stmt = (
        select(Case.topic, Case.content, Department.name)
        .join(Department, Department.id == Case.department_id)
        .where(Case.status.in_(DONE_STATUSES))
        .order_by(Case.id.desc())
        .limit(OWN_CASES)
    )
    return [(f"{topic or ''} {content or ''}", name) for topic, content, name in session.execute(stmt)]


def train(session: Session | None = None, *, include_own: bool = True) -> RoutingModel:
    """Train both classifiers on the bundled messages, the departments' remits and keywords and (with a
    session) the centre's answered cases."""
    categories, departments = bundled_examples()
    mine = own_cases(session) if include_own else []
    remits = department_texts(session)
    known = {name for _, name in remits}
    owners = {c: name for name, cs in category_owners().items() if name in known for c in cs}
    by_category = [(text, owners[category]) for text, category in categories if category in owners]
    # a department of the bundled messages that this centre does not have (or disabled) is not suggested
    departments = [(text, name) for text, name in departments + by_category if name in known] + mine
    category = Classifier.fit(*_columns(categories))
    texts, names = _columns(departments + remits)
    department = Classifier.fit(texts, names)
    return RoutingModel(
        category=category,
        department=department,
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        examples={
            "category": len(categories),
            "department": len(departments),
            "remit_texts": len(remits),
            "own_cases": len(mine),
        },
    )


def _columns(pairs: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    return [text for text, _ in pairs], [label for _, label in pairs]


def model_dir() -> Path:
    return get_settings().home / "models"


def saved_versions() -> list[Path]:
    """The saved model files, oldest first."""
    return sorted(model_dir().glob(f"{MODEL_PREFIX}*.joblib"), key=_version_of)


def _version_of(path: Path) -> int:
    digits = path.stem.removeprefix(MODEL_PREFIX)
    return int(digits) if digits.isdigit() else 0


def save(model: RoutingModel) -> Path:
    """Write the model as the next version (the file appears whole: written aside, then renamed)."""
    folder = model_dir()
    folder.mkdir(parents=True, exist_ok=True)
    versions = saved_versions()
    model.version = (_version_of(versions[-1]) if versions else 0) + 1
    path = folder / f"{MODEL_PREFIX}{model.version}.joblib"
    partial = path.with_suffix(".part")
    joblib.dump(model, partial)
    partial.replace(path)
    return path


_lock = threading.Lock()
_loaded: dict[Path, tuple[float, RoutingModel]] = {}


def current(session: Session | None = None) -> RoutingModel:
    """The newest model retrained in this HOTLINE_HOME, else the one built at install from the bundled
    data (scripts/install), else one trained now and saved. Another process's retraining is picked up
    at the next call."""
    with _lock:
        versions = saved_versions()
        if not versions and not BUNDLED_MODEL.is_file():
            save(train(session))
            versions = saved_versions()
        path = versions[-1] if versions else BUNDLED_MODEL
        stamp = path.stat().st_mtime
        cached = _loaded.get(path)
        if cached is None or cached[0] != stamp:
            _loaded.clear()
            model: Any = joblib.load(path)  # our own file, under HOTLINE_HOME (0600)
            cached = _loaded[path] = (stamp, model)
        return cached[1]


def build_bundled() -> Path:
    """Train on the bundled data alone into data/models/routing/ (scripts/install runs this once)."""
    model = train()
    BUNDLED_MODEL.parent.mkdir(parents=True, exist_ok=True)
    partial = BUNDLED_MODEL.with_suffix(".part")
    joblib.dump(model, partial)
    partial.replace(BUNDLED_MODEL)
    return BUNDLED_MODEL
