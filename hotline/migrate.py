"""Database migrations (alembic). Each package keeps its own branch of revisions in <pkg>/migrations/;
`upgrade()` brings every branch to its head."""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command
from alembic.config import Config

from hotline.config import REPO_ROOT

MODEL_MODULES = ("hotline.models", "kb.models", "casework.models", "selfservice.models")
BRANCH_DIRS = (
    "hotline/migrations/versions",
    "kb/migrations",
    "casework/migrations",
    "selfservice/migrations",
)


def import_all_models() -> None:
    """Import every package's models so that Base.metadata knows all tables."""
    for name in MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Schema comparisons (autogenerate, tests) skip the tables a package declares unmanaged in
    `Base.metadata.info["unmanaged_tables"]` (made by raw DDL: SQLite's FTS5 tables and their shadow
    tables, named after them)."""
    if type_ != "table" or not reflected or compare_to is not None or not name:
        return True
    from hotline.db import Base

    unmanaged = Base.metadata.info.get("unmanaged_tables", ())
    return not any(name == t or name.startswith(t + "_") for t in unmanaged)


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(REPO_ROOT / "hotline" / "migrations"))
    locations = [str(REPO_ROOT / d) for d in BRANCH_DIRS if (REPO_ROOT / d).is_dir()]
    cfg.set_main_option("version_locations", " ".join(locations))
    cfg.set_main_option("path_separator", "space")
    return cfg


def upgrade() -> None:
    """Create or migrate the database to the newest schema; idempotent."""
    command.upgrade(alembic_config(), "heads")


def revision(message: str, branch_dir: str, head: str) -> None:
    """Developer helper: autogenerate a revision into a package's branch."""
    command.revision(
        alembic_config(), message=message, autogenerate=True, head=head, version_path=str(Path(branch_dir))
    )
