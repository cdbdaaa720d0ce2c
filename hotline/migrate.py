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
