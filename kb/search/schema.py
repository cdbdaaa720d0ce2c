"""The index schema: which analysed fields exist, their boosts, and how a document fills them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from kb.search import analysis, highlight
from kb.search.types import IndexDoc

NO_EXPIRY = date.max.toordinal()

# Analysed fields (pre-segmented terms, BM25 per field, scores summed with query-time boosts).
# "body" and "grams" hold the whole document (title, keywords, question, answer, body): the title
# counts there like any text (BM25F by repetition) and again, mildly, in its own field.
TITLE_FIELD = "title"  # jieba terms of the title
KEYWORDS_FIELD = "keywords"  # jieba terms of the editors' keywords
QUESTION_FIELD = "question"  # jieba terms of an FAQ question
BODY_FIELD = "body"  # jieba terms of the whole document
GRAMS_FIELD = "grams"  # character bigrams of the whole document (segmentation-independent)
PINYIN_FIELD = "pinyin"  # pinyin syllable bigrams of title, keywords and question (homophones)
WORDPY_FIELD = "wordpy"  # whole-word pinyin and initials (gjj) of title and keyword words
POSITIONAL_FIELDS = (TITLE_FIELD, BODY_FIELD)  # phrase queries need positions
FREQ_FIELDS = (KEYWORDS_FIELD, QUESTION_FIELD, GRAMS_FIELD, PINYIN_FIELD)

# Query-time boosts, measured with bench/kb_quality.py (see docs/search.md).
TERM_BOOSTS: dict[str, float] = {
    BODY_FIELD: 1.0,
    GRAMS_FIELD: 1.5,
    TITLE_FIELD: 0.1,
    KEYWORDS_FIELD: 0.5,
    QUESTION_FIELD: 0.3,
}
# Re-ranking of the best RERANK_WINDOW candidates (pages further down keep the engine's order).
RERANK_WINDOW = 30
# A question that names a province or city is about that place: candidates that do not name it
# score PLACE_PENALTY times less (when some candidate does). A boost for naming it instead would
# pull in documents that only mention the place.
PLACE_PENALTY = 0.8
# Passage evidence (kb.search.passages): a candidate gains PASSAGE_WEIGHT x the best score among the
# candidates x the share of the question's IDF-weighted bigrams found in its title or within
# PASSAGE_WIDTH characters of its text.
PASSAGE_WEIGHT = 1.0
PASSAGE_WIDTH = 150
# Meaning (kb.search.semantic, only where asked for: settings search_semantic[_channels]): each of the best
# SEMANTIC_WINDOW candidates gains SEMANTIC_WEIGHT x the best score x the z-score of its vector's similarity
# to the question's among them. Measured with bench/kb_quality.py --semantic: it lowers MRR@10 at every
# weight tried (docs/performance.md), hence off by default.
SEMANTIC_WINDOW = 10
SEMANTIC_WEIGHT = 0.02
# A hit answers a query when its relevance (kb.search.relevance) reaches this. Learned with
# bench/kb_quality.py on the dev questions and the off-topic ones (data/eval/): the best balanced
# accuracy is at 0.35 on the policies alone and 0.5 with every bundled document (the centre's
# setting); 0.5 keeps off-topic answers rare (4% vs 14%) for 3-10% of answerable questions.
ANSWER_THRESHOLD = 0.5
SUGGESTION_MARGIN = 0.2  # "did you mean" only for a spelling whose answer is clearly more relevant
SYNONYM_WEIGHT = 0.7  # terms of expanded synonyms count a little less than the user's own
PINYIN_BOOST = 0.3  # only when the query has a word unknown to the index (see query.build)
TYPED_PINYIN_BOOST = 2.0  # a query typed in pinyin (gongjijin, gjj, gong积金): its reading is the query
# Proximity: each pair of adjacent query words found near each other in the text.
PHRASE_BOOSTS: dict[str, float] = {BODY_FIELD: 1.0}
PHRASE_SLOP = 2  # search-mode segmentation puts sub-words between two words
# Phrase clauses read positions, the costliest part of a query: a long question keeps only its
# PHRASE_LIMIT rarest word pairs, and a pair whose rarer word is in more than PHRASE_MAX_DF of
# the documents (疫情 防控) is dropped: it separates nothing and costs the most.
PHRASE_LIMIT = 6
PHRASE_MAX_DF = 0.3
POPULARITY_WEIGHT = 0.05  # score x (1 + w * ln(1 + popularity)): a mild prior
BM25_K1 = 1.2  # tantivy's fixed values; whoosh is set to the same
BM25_B = 0.75


@dataclass(frozen=True)
class Row:
    """A document prepared for an engine: stored originals plus analysed term strings."""

    id: int
    external_id: str
    title: str
    category: str
    department: str
    published: bool
    valid_until: int
    popularity: int
    text: str  # question (unless the title), answer and body once, Markdown as plain text: snippets
    terms: dict[str, str]  # field -> whitespace-joined terms


def answer_and_body(answer: str, body: str) -> str:
    """An FAQ's answer and its body, once: the text of snippets and passages (the bundled FAQ
    repeat their answer as body; the ranking terms keep both copies, which measured better)."""
    answer, body = (answer or "").strip(), (body or "").strip()
    if answer and answer in body:
        return body
    if body and body in answer:
        return answer
    return "\n".join(part for part in (answer, body) if part)


def prepare(doc: IndexDoc) -> Row:
    """Analyse a document once; every engine indexes the same terms."""
    keywords = " ".join(doc.keywords)
    body = "\n".join(part for part in (doc.answer, doc.body) if part)  # as ranked (bench/kb_quality.py)
    title_terms = analysis.tokens(doc.title)
    keyword_terms = analysis.tokens(keywords)
    question_terms = analysis.tokens(doc.question)
    whole = "\n".join(part for part in (doc.title, keywords, doc.question, body) if part)
    vocabulary = {t for t in (*title_terms, *keyword_terms) if len(t) >= 2}
    question_text = doc.question if doc.question.strip() != doc.title.strip() else ""  # shown once
    spoken = {analysis.pinyin_of(w) for w in vocabulary} | {analysis.initials(w) for w in vocabulary}
    terms = {
        TITLE_FIELD: analysis.joined(title_terms),
        KEYWORDS_FIELD: analysis.joined(keyword_terms),
        QUESTION_FIELD: analysis.joined(question_terms),
        BODY_FIELD: analysis.joined([*title_terms, *keyword_terms, *question_terms, *analysis.tokens(body)]),
        GRAMS_FIELD: analysis.joined(analysis.char_bigrams(whole)),
        PINYIN_FIELD: analysis.joined(analysis.pinyin_grams(f"{doc.title} {keywords} {doc.question}")),
        WORDPY_FIELD: analysis.joined(sorted(spoken - {""})),
    }
    return Row(
        id=doc.id,
        external_id=doc.external_id,
        title=doc.title,
        category=doc.category or "",
        department=doc.department or "",
        published=doc.published,
        valid_until=doc.valid_until.toordinal() if doc.valid_until else NO_EXPIRY,
        popularity=max(0, int(doc.popularity or 0)),
        text=highlight.plain_text("\n".join(p for p in (question_text, answer_and_body(doc.answer, doc.body)) if p)),
        terms=terms,
    )
