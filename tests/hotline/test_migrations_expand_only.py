"""Rolling upgrades: while nodes are upgraded one by one, the old code runs on the new schema. So a
migration only adds (expand); dropping or renaming a table or column, or adding a NOT NULL column
without a server default (old code's inserts would fail), waits for a later release that declares
itself a contract step (`contract = True` in the migration module) once no running code uses the old
shape (docs/deployment.md, "Rolling upgrade")."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MIGRATION_DIRS = ("hotline/migrations/versions", "kb/migrations", "casework/migrations", "selfservice/migrations")
DESTRUCTIVE = {"drop_table", "drop_column", "rename_table", "drop_constraint"}
# written before several nodes could run at once; kept as they are (migrations are never edited)
BEFORE_ROLLING_UPGRADES = {"casework_0002_shared_attempts.py"}


def migration_files() -> list[Path]:
    return sorted(p for d in MIGRATION_DIRS for p in (ROOT / d).glob("*.py") if p.name not in ("__init__.py", "env.py"))


def _is_false(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def breaking_steps(source: str) -> list[str]:
    """What the module's upgrade() does that code of the release before could not run on."""
    tree = ast.parse(source)
    upgrade = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade"), None)
    found: list[str] = []
    for node in ast.walk(upgrade) if upgrade else ():
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name, keywords = node.func.attr, {k.arg: k.value for k in node.keywords}
        if name in DESTRUCTIVE:
            found.append(f"line {node.lineno}: {name}")
        elif name == "alter_column" and ("new_column_name" in keywords or _is_false(keywords.get("nullable"))):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif name == "add_column" and node.args and isinstance(column := node.args[-1], ast.Call):
            column_keywords = {k.arg: k.value for k in column.keywords}
            if _is_false(column_keywords.get("nullable")) and "server_default" not in column_keywords:
                found.append(f"line {node.lineno}: NOT NULL column without a server default: {ast.unparse(column)}")
    return found


def declares_contract(source: str) -> bool:
    return any(
        isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "contract" for t in n.targets)
        and isinstance(n.value, ast.Constant) and n.value.value is True
        for n in ast.parse(source).body
    )


def test_migrations_only_expand_unless_they_declare_a_contract_step() -> None:
    files = migration_files()
    assert len(files) >= 15  # the four branches were found
    offenders = {
        p.name: steps
        for p in files
        if p.name not in BEFORE_ROLLING_UPGRADES
        and not declares_contract(text := p.read_text())
        and (steps := breaking_steps(text))
    }
    assert not offenders, offenders


def test_the_check_finds_what_old_code_cannot_run_on() -> None:
    source = '''
import sqlalchemy as sa
from alembic import op
def upgrade():
    op.add_column("cases", sa.Column("a", sa.Integer(), nullable=True))
    op.add_column("cases", sa.Column("b", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("cases", sa.Column("c", sa.Integer(), nullable=False))
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("d")
        batch.alter_column("e", new_column_name="f")
def downgrade():
    op.drop_table("cases")
'''
    steps = breaking_steps(source)
    assert [s.split(":")[0] for s in steps] == ["line 7", "line 9", "line 10"], steps
    assert not declares_contract(source)
    assert declares_contract("contract = True\n" + source)
