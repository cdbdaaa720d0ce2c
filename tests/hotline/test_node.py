"""`hotline node status` and `hotline node drain` / `undrain`, and /healthz as the load balancer sees it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from hotline.cli import app
from hotline.config import get_settings
from hotline.db import session_scope
from hotline.models import AuditEntry

runner = CliRunner()


def node(*args: str) -> str:
    result = runner.invoke(app, ["node", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_status_and_drain_take_the_node_out_of_the_load_balancer(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTLINE_NODE_NAME", "node-a")
    get_settings.cache_clear()
    status = json.loads(node("status", "--json"))
    position = status["log_position"]
    assert status == {
        "node": "node-a",
        "status": "ok",
        "role": "sqlite" if get_settings().database_url is None else "postgresql-primary",
        "index_position": position,
        "log_position": position,
        "lag": 0,
        "calls_in_progress": None,  # no SIP line on this node
        "sip_line_pid": None,
        "draining": False,
    }
    healthy = client.get("/healthz")
    assert healthy.status_code == 200
    assert healthy.json() == {
        "status": "ok",
        "database": True,
        "index": True,
        "index_position": position,
        "log_position": position,
        "lag": 0,
        "node": "node-a",
    }

    assert "开始排空" in node("drain")
    assert "已在排空中" in node("drain")
    drained = client.get("/healthz")
    assert drained.status_code == 503 and drained.json()["status"] == "draining"
    assert "排空：是" in node("status")
    assert "恢复接收" in node("undrain")
    assert client.get("/healthz").status_code == 200
    with session_scope() as s:
        actions = s.scalars(
            select(AuditEntry.action).where(AuditEntry.entity == "node").order_by(AuditEntry.id)
        )
        assert list(actions) == ["node.drain", "node.undrain"]


def test_healthz_is_503_when_the_database_is_unreachable(
    sqlite_client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"sqlite:///{tmp_path / 'missing' / 'hotline.db'}")
    get_settings.cache_clear()
    down = sqlite_client.get("/healthz")
    assert down.status_code == 503
    assert down.json()["status"] == "database_unavailable" and down.json()["database"] is False
    assert json.loads(node("status", "--json"))["role"] == "unknown"
