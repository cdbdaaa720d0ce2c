"""`hotline user add` refuses empty user names and departments that do not exist; staff of an existing
department are created with it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from hotline.cli import app
from hotline.db import session_scope
from hotline.models import AuditEntry, User


def add(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["user", "add", *args, "--password", "s3cret-pass"])


def test_user_add_refuses_empty_names_and_unknown_departments(sqlite_env: Path) -> None:
    for name in ("", "   "):
        result = add(name, "--roles", "agent")
        assert result.exit_code == 2 and "用户名不能为空" in result.output, result.output
    unknown = add("dep1", "--roles", "department", "--department", "不存在的局")
    assert unknown.exit_code == 2 and "承办部门“不存在的局”不存在" in unknown.output
    no_role = add("dep1", "--roles", ",")
    assert no_role.exit_code == 2 and "请至少选择一个角色" in no_role.output
    with session_scope() as db:
        assert db.scalars(select(User)).all() == []
    made = add("dep1", "--roles", "department", "--department", "市住房公积金管理中心")
    assert made.exit_code == 0, made.output
    with session_scope() as db:
        user = db.scalars(select(User)).one()
        assert user.department == "市住房公积金管理中心"
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "user_created")).one()
        assert entry.actor == "cli" and entry.entity_id == str(user.id)
