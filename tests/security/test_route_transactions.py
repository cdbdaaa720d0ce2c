"""Routes are the happy path: the unit of work (web.security.get_db) commits or rolls back, and a route
that shows its form again after a refusal does it through web.security.refused, never by hand."""

from __future__ import annotations

from pathlib import Path

ROUTES = Path(__file__).parents[2] / "web" / "routes"


def test_no_route_commits_or_rolls_back_by_hand() -> None:
    by_hand = [
        f"{path.name}:{n}"
        for path in sorted(ROUTES.glob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if ".commit()" in line or ".rollback()" in line
    ]
    assert by_hand == []
