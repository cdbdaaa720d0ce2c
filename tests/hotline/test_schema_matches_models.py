"""The alembic migrations of every package build exactly the tables the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from hotline.db import Base, get_engine
from hotline.migrate import include_object


def test_migrations_match_the_models(hotline_env: Path) -> None:
    with get_engine().connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"include_object": include_object}), Base.metadata
        )
    assert diff == []
