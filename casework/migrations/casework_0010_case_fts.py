"""casework: the case search's own full-text tables, kept in step with cases.search_text by triggers and
filled for the cases already there (casework/search.py).

- SQLite: case_fts, an FTS5 table over cases.search_text (external content).
- PostgreSQL: case_search (case_id, terms) with the GIN index: a search reads its small rows, never the
  wide rows of cases; each row's terms also hold its id block's lexeme ("~b" + id // 4096), so the
  index finds the newest matches of a common word in the newest blocks.
  The GIN index on cases.search_text (casework_0003) stays while nodes of the release before may still
  search there (a rolling upgrade only expands); nothing of this release reads it, a later contract step
  may drop it.

Revision ID: casework_0010
Revises: casework_0009
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "casework_0010"
down_revision: str | Sequence[str] | None = "casework_0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# -- SQLite --
# One token per quoted lexeme of search_text: only spaces and control characters separate tokens, so
# "'垃圾'" and "'a@b.cn'" are each one token (casework.search builds the MATCH queries the same way).
# detail=none and columnsize=0: the search asks only which cases hold the terms (no phrases, no ranking).
TOKENIZER = "unicode61 remove_diacritics 0 categories 'L* N* M* P* S* Co Cf Cs Cn'"
CREATE = (
    "CREATE VIRTUAL TABLE case_fts USING fts5(search_text, content='cases', content_rowid='id', "
    f'tokenize="{TOKENIZER}", detail=none, columnsize=0)'
)
TRIGGERS = {
    "case_fts_insert": "AFTER INSERT ON cases BEGIN "
    "INSERT INTO case_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "case_fts_delete": "AFTER DELETE ON cases BEGIN "
    "INSERT INTO case_fts(case_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); END",
    "case_fts_update": "AFTER UPDATE OF search_text ON cases BEGIN "
    "INSERT INTO case_fts(case_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO case_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
}

# -- PostgreSQL --
BLOCK = 4096  # ids per block lexeme: casework.search.ID_BLOCK


def _terms(text: str, case_id: str) -> str:
    """The SQL of a case's indexed terms: its search_text and its id block's lexeme."""
    return f"{text} || ('''~b' || ({case_id} / {BLOCK}) || '''')::tsvector"


PG_CREATE = (
    "CREATE TABLE case_search (case_id integer PRIMARY KEY REFERENCES cases (id) ON DELETE CASCADE, "
    "terms tsvector NOT NULL) WITH (toast_tuple_target = 128)"
)
PG_SYNC = (
    "CREATE FUNCTION case_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    f"INSERT INTO case_search (case_id, terms) VALUES (NEW.id, {_terms('NEW.search_text', 'NEW.id')}) "
    "ON CONFLICT (case_id) DO UPDATE SET terms = EXCLUDED.terms; RETURN NULL; END $$"
)
PG_TRIGGER = (
    "CREATE TRIGGER case_search_sync AFTER INSERT OR UPDATE OF search_text ON cases "
    "FOR EACH ROW EXECUTE FUNCTION case_search_sync()"
)
PG_FILL = f"INSERT INTO case_search (case_id, terms) SELECT id, {_terms('search_text', 'id')} FROM cases"
# fastupdate off: no pending list that every search would scan after a burst of new cases
PG_INDEX = "CREATE INDEX ix_case_search_terms ON case_search USING gin (terms) WITH (fastupdate = off)"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for statement in (PG_CREATE, PG_SYNC, PG_TRIGGER, PG_FILL, PG_INDEX):
            op.execute(statement)
    elif dialect == "sqlite":
        op.execute(CREATE)
        for name, body in TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
        op.execute("INSERT INTO case_fts(case_fts) VALUES ('rebuild')")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS case_search_sync ON cases")
        op.execute("DROP FUNCTION IF EXISTS case_search_sync()")
        op.execute("DROP TABLE IF EXISTS case_search")
    elif dialect == "sqlite":
        for name in TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS case_fts")
