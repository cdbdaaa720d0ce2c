"""Bringing a data directory to a usable state: migrations, search index, bundled knowledge base."""

from __future__ import annotations

from hotline import migrate
from hotline.config import get_settings


def init(load_bundled: bool = False) -> dict[str, int]:
    """Create/migrate the database and the index (idempotent); optionally import the bundled KB
    when the knowledge base is still empty. Returns import counts (empty when nothing was imported)."""
    import kb

    get_settings().ensure_home()
    migrate.upgrade()
    kb.ensure_index()
    if load_bundled:
        return kb.load_bundled_corpus()
    return {}


def has_staff_accounts() -> bool:
    """Whether any staff account exists (the first start has none)."""
    from sqlalchemy import func, select

    from hotline.db import session_scope
    from hotline.models import User

    with session_scope() as session:
        return bool(session.scalar(select(func.count(User.id))))
