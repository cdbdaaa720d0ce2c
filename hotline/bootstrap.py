"""Bringing a data directory to a usable state: migrations, search index, bundled knowledge base."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from hotline import migrate
from hotline.config import get_settings

START_LOCK = 0x686C_696E  # "hlin": PostgreSQL advisory lock of the schema and the first import


def init(load_bundled: bool = False) -> dict[str, int]:
    """Create/migrate the database and the index (idempotent); optionally import the bundled KB
    when the knowledge base is still empty. Returns import counts (empty when nothing was imported)."""
    import kb

    get_settings().ensure_home()
    with one_node_at_a_time():
        migrate.upgrade()
    kb.ensure_index()
    if load_bundled:
        with one_node_at_a_time():
            return kb.load_bundled_corpus()
    return {}


@contextmanager
def one_node_at_a_time() -> Iterator[None]:
    """On PostgreSQL, the nodes of a cluster starting together on one database migrate it and import
    the bundled knowledge base one after the other (a session advisory lock), so the first does it and
    the others find it done. SQLite is one machine's: nothing to do."""
    from sqlalchemy import text

    from hotline.db import get_engine

    engine = get_engine()
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": START_LOCK})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": START_LOCK})
            conn.commit()


def has_staff_accounts() -> bool:
    """Whether any staff account exists (the first start has none)."""
    from sqlalchemy import func, select

    from hotline.db import session_scope
    from hotline.models import User

    with session_scope() as session:
        return bool(session.scalar(select(func.count(User.id))))
