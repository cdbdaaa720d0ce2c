"""Knowledge base: documents, editorial workflow, Chinese full-text search.

The database is the source of truth; the search index (kb.search) is derived from it and written
only after a transaction commits (kb.indexing). Domain functions take a Session first, flush but
never commit, and write audit entries in the same transaction.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from hotline.db import session_scope
from kb import indexing
from kb.corpus import (
    NO_YEAR,
    CorpusCell,
    CorpusOverview,
    HotQuestion,
    corpus_overview,
    expired_ids,
    hot_questions,
    recategorise,
    retire_expired,
)
from kb.curation import delete_synonym_group, list_gaps, list_synonym_groups, resolve_gap, save_synonym_group
from kb.documents import (
    STATUS_NAMES,
    approve_document,
    create_document,
    document_diff,
    get_document_row,
    history,
    list_documents,
    may_approve,
    reject_document,
    revisions,
    run_schedule,
    schedule_withdrawal,
    submit_document,
    update_document,
    withdraw_document,
)
from kb.editorial import Comparison, FeedbackEntry, compare_revisions, list_feedback, returned_reason
from kb.errors import EditConflict, KbError, NotPermitted, WorkflowError
from kb.importer import load_bundled_corpus
from kb.ivr import MAX_PINS, ivr_listing, pinned_documents, set_pins
from kb.models import Document, Feedback, IvrPin, Revision, SearchGap, SynonymGroup
from kb.retrieval import (
    get_document,
    popular_documents,
    record_feedback,
    record_unanswered,
    record_view,
    search,
    suggest,
)
from kb.schemas import CATEGORIES, DocumentInput, DocumentView, SearchHit, SearchResults
from kb.similar import SimilarDocument, duplicate_groups, similar_documents


def ensure_index() -> None:
    """Open (create) the search index and apply the change log up to its end (kb.feed: an index without
    a position is rebuilt); rebuild it from the database when it is out of step (a process died between
    a commit and the index write, or the document counts differ)."""
    indexing.get_index()
    indexing.applier().catch_up()
    with session_scope() as session:
        if indexing.needs_repair(session):
            indexing.reindex(session)


def reindex(session: Session) -> int:
    """Rebuild the search index from the database; returns the number of documents indexed."""
    return indexing.reindex(session)


__all__ = [
    "CATEGORIES",
    "Comparison",
    "FeedbackEntry",
    "NO_YEAR",
    "CorpusCell",
    "CorpusOverview",
    "HotQuestion",
    "corpus_overview",
    "expired_ids",
    "hot_questions",
    "recategorise",
    "retire_expired",
    "compare_revisions",
    "list_feedback",
    "returned_reason",
    "run_schedule",
    "schedule_withdrawal",
    "STATUS_NAMES",
    "Document",
    "DocumentInput",
    "DocumentView",
    "EditConflict",
    "Feedback",
    "IvrPin",
    "KbError",
    "NotPermitted",
    "MAX_PINS",
    "Revision",
    "SearchGap",
    "SearchHit",
    "SearchResults",
    "SimilarDocument",
    "SynonymGroup",
    "WorkflowError",
    "approve_document",
    "create_document",
    "delete_synonym_group",
    "document_diff",
    "ensure_index",
    "get_document",
    "get_document_row",
    "history",
    "ivr_listing",
    "list_documents",
    "list_gaps",
    "list_synonym_groups",
    "may_approve",
    "pinned_documents",
    "load_bundled_corpus",
    "popular_documents",
    "record_feedback",
    "record_unanswered",
    "record_view",
    "reindex",
    "set_pins",
    "reject_document",
    "resolve_gap",
    "revisions",
    "save_synonym_group",
    "search",
    "similar_documents",
    "duplicate_groups",
    "submit_document",
    "suggest",
    "update_document",
    "withdraw_document",
]
