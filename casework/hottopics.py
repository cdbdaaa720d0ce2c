"""Hot topics of a day's cases (热点问题 of the daily brief): the cases are clustered over their text and
each cluster of three or more is a topic, labelled by its own top terms (never by category names).

- Terms: the knowledge base's analysis (`kb.search.analysis.words`: jieba's precise mode with the
  government-terms dictionary, folded, no function words), Chinese words of two characters or more, minus
  the words any request says (GENERIC: 投诉, 请求, 问题, 反映 ...). A term must occur in two cases.
- Weights: sublinear term frequency times jieba's IDF table (a large general corpus: a small day's own
  document frequencies would make its most common topic words look generic), each case L2-normalised.
- Clusters: scikit-learn's agglomerative clustering, average linkage on cosine distance, merged up to
  MAX_DISTANCE (no number of topics to guess, singletons stay alone, deterministic: the same cases give
  the same topics on every run, in any order). On a day of more than FULL_LIMIT cases an even sample
  (every k-th case by number) is clustered and the other cases join the nearest topic centre when close
  enough (JOIN_SIMILARITY), so time and memory stay bounded.
- Labels: the terms the cluster's cases share, by weight (weight in the cluster x share of its cases
  that use the term): the first, then those used by half of its cases or more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from kb.search import analysis

csr_matrix = Any  # a scipy.sparse CSR matrix (scipy ships no type information)

MIN_CASES = 3  # a topic is three cases or more: one or two are no trend
MAX_DISTANCE = 0.85  # average cosine distance within a topic (tuned on the TipDM hot-issue messages)
FULL_LIMIT = 1000  # cases clustered with all pairwise distances (~0.4 s); a bigger day is sampled
JOIN_SIMILARITY = 0.4  # a case out of the sample joins the nearest topic centre this close (cosine)
HAN_WORD = re.compile(r"[\u4e00-\u9fa5]{2,}")
ADDRESSED = re.compile(r".+(书记|市长|局长|主任|县长|区长|同志)")  # 胡书记, 张市长: whom a letter is to
LABEL_SHARE = 0.5  # a label term (after the first) is used by half of the topic's cases or more
# Words every kind of request uses: never a topic's term (the brief's labels must say what it is about).
GENERIC = frozenset(
    """
    问题 反映 希望 请问 咨询 情况 相关 部门 领导 我们 没有 现在 已经 市民 政府 要求 投诉 举报 求助 建议
    请求 表扬 处理 解决 市里 有关 单位 工作人员 一直 时间 尊敬 您好 你好 谢谢 感谢 严重 影响 问下 目前
    今年 去年 至今 多次 进行 存在 导致 造成 出现 为什么 是不是 这个 那个 这样 因为 所以 如果 但是 还是
    以及 不能 不到 知道 告诉 给予 一个 一些 很多 非常 之前 以后 其中 同时 还有 这些 那些 怎么回事 到底
    为何 相关部门 有关部门 市长 书记 信访 回复 答复 办理 落实 帮助 恳请 麻烦 本人 他们 大家 自己 当时
    然后 而且 并且 还要 就是 只是 可能 应该 需要 是否 能否 不是 没有人 每天 经常 小区 市委 市政府 加快
    """.split()
)


@dataclass
class HotTopic:
    """A topic of the day: its label terms, how many cases, and which (in case-number order)."""

    keywords: list[str]
    count: int
    case_numbers: list[str]

    @property
    def label(self) -> str:
        return "、".join(self.keywords)


def terms(text: str) -> list[str]:
    """The words of a case that can make or name a topic."""
    return [
        w
        for w in analysis.words(text)
        if HAN_WORD.fullmatch(w) and w not in GENERIC and not ADDRESSED.fullmatch(w)
    ]


@lru_cache(maxsize=1)
def _idf() -> tuple[dict[str, float], float]:
    import jieba.analyse

    tfidf = jieba.analyse.default_tfidf
    return tfidf.idf_freq, tfidf.median_idf


def _weights(texts: list[str]) -> tuple[csr_matrix, list[str]] | None:
    """Cases x terms (sublinear tf x jieba IDF, rows L2-normalised), or None when no term is shared."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.preprocessing import normalize

    counts = CountVectorizer(analyzer=terms, min_df=2, dtype=np.float32)
    try:
        matrix = counts.fit_transform(texts)
    except ValueError:  # no term in two cases
        return None
    vocabulary = [str(t) for t in counts.get_feature_names_out()]
    idf, median = _idf()
    matrix.data = np.log1p(matrix.data)
    weighted = matrix.multiply(np.array([[idf.get(t, median) for t in vocabulary]], dtype=np.float32))
    return normalize(weighted.tocsr()), vocabulary


def _clusters(matrix: csr_matrix) -> np.ndarray:
    """A cluster label per case: average linkage over all pairwise cosine distances (from the sparse
    product), merged up to MAX_DISTANCE."""
    from sklearn.cluster import AgglomerativeClustering

    distances = np.clip(1.0 - (matrix @ matrix.T).toarray().astype(np.float64), 0.0, 2.0)
    np.fill_diagonal(distances, 0.0)
    model = AgglomerativeClustering(
        n_clusters=None, distance_threshold=MAX_DISTANCE, metric="precomputed", linkage="average"
    )
    return model.fit_predict(distances)


def _join_nearest(matrix: csr_matrix, groups: list[np.ndarray], others: np.ndarray) -> list[np.ndarray]:
    """The cases left out of the clustered sample join the group whose centre is nearest, if it is
    within JOIN_SIMILARITY (cosine)."""
    from sklearn.preprocessing import normalize

    if not groups or not len(others):
        return groups
    centres = normalize(np.vstack([np.asarray(matrix[g].mean(axis=0)) for g in groups]))
    similarity = np.asarray(matrix[others] @ centres.T)
    nearest = similarity.argmax(axis=1)
    close = similarity[np.arange(len(others)), nearest] >= JOIN_SIMILARITY
    return [np.sort(np.concatenate([g, others[close & (nearest == n)]])) for n, g in enumerate(groups)]


def _label(members: csr_matrix, vocabulary: list[str], top: int) -> list[str]:
    share = np.asarray((members > 0).mean(axis=0)).ravel()
    score = np.asarray(members.mean(axis=0)).ravel() * share
    ranked = np.argsort(-score, kind="stable")
    ranked = ranked[score[ranked] > 0]
    common = ranked[1:][share[ranked[1:]] >= LABEL_SHARE]
    return [vocabulary[i] for i in [*ranked[:1], *common[: top - 1]]]


def hot_topics(texts: dict[str, str], *, limit: int = 8, top_terms: int = 4) -> list[HotTopic]:
    """The day's topics (case number -> text), biggest first: clusters of MIN_CASES cases or more."""
    numbers = sorted(texts)  # one order whatever order the cases came in
    if len(numbers) < MIN_CASES:
        return []
    found = _weights([texts[n] for n in numbers])
    if found is None:
        return []
    matrix, vocabulary = found
    usable = np.flatnonzero(matrix.getnnz(axis=1))  # a case sharing no term with another stays out
    if len(usable) < MIN_CASES:
        return []
    step = -(-len(usable) // FULL_LIMIT)  # a big day: every step-th case is clustered, the rest join
    sample = usable[::step]
    labels = _clusters(matrix[sample])
    groups = [sample[labels == c] for c in np.unique(labels) if (labels == c).sum() >= 2]  # a pair may grow
    groups = _join_nearest(matrix, groups, np.setdiff1d(usable, sample)) if step > 1 else groups
    biggest = sorted((g for g in groups if len(g) >= MIN_CASES), key=lambda g: (-len(g), numbers[g[0]]))
    return [
        HotTopic(_label(matrix[members], vocabulary, top_terms), len(members), [numbers[i] for i in members])
        for members in biggest[:limit]  # only the topics the brief shows are labelled
    ]
