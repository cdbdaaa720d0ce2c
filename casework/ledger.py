"""A transport's record of the message ids it has handed on, so a repeated delivery is dropped."""

from __future__ import annotations

import sqlite3
from pathlib import Path


class SentLedger:
    """Message ids already sent, in a small SQLite file (durable, safe across processes)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS sent (message_id TEXT PRIMARY KEY, at TEXT DEFAULT CURRENT_TIMESTAMP)"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def seen(self, message_id: str) -> bool:
        with self._connect() as db:
            return db.execute("SELECT 1 FROM sent WHERE message_id = ?", (message_id,)).fetchone() is not None

    def mark(self, message_id: str) -> None:
        with self._connect() as db:
            db.execute("INSERT OR IGNORE INTO sent (message_id) VALUES (?)", (message_id,))
