"""The densest stretch of a text: shared by passage evidence (ranking) and snippets (display)."""

from __future__ import annotations

from collections.abc import Callable, Sequence


def densest_window(
    events: Sequence[tuple[int, str]], weight: Callable[[str], float], span: int
) -> tuple[float, int]:
    """The stretch holding the most weight of distinct keys, and where it starts.

    events: (position, key) sorted by position; a stretch holds the events whose positions lie
    within `span` characters after its first one. Each distinct key counts once, with weight(key).
    Returns (weight held, position of the stretch's first event); (0.0, 0) without events. The
    first of equally heavy stretches wins. One pass: O(len(events)).
    """
    counts: dict[str, int] = {}
    held = best = 0.0
    best_start = left = 0
    for pos, key in events:
        if not counts.get(key):
            held += weight(key)
        counts[key] = counts.get(key, 0) + 1
        while pos - events[left][0] > span:
            gone = events[left][1]
            counts[gone] -= 1
            if not counts[gone]:
                held -= weight(gone)
            left += 1
        if held > best:
            best, best_start = held, events[left][0]
    return best, best_start
