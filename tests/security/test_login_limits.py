"""Login limits that hold under concurrency: each attempt is counted before its password is checked
(one atomic upsert), at most a few argon2 checks run at once, unknown user names cost the same as
known ones, and the limits are per address and user, per address, and per account (both databases)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hotline import users
from hotline.config import get_settings
from tests.conftest import make_user


class CountingVerifier:
    """Wraps hotline.users.verify_secret: how many checks ran, and how many at most at once."""

    def __init__(self, real: Callable[[str, str], bool]) -> None:
        self.real, self.calls, self.running, self.most = real, 0, 0, 0
        self.lock = threading.Lock()

    def __call__(self, hashed: str, secret: str) -> bool:
        with self.lock:
            self.calls += 1
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            return self.real(hashed, secret)
        finally:
            with self.lock:
                self.running -= 1


@pytest.fixture
def verifier(monkeypatch: pytest.MonkeyPatch) -> CountingVerifier:
    counting = CountingVerifier(users.verify_secret)
    monkeypatch.setattr(users, "verify_secret", counting)
    # on a loaded machine a queue of argon2 checks can outlast the 10 s wait: these tests count checks,
    # they do not test "busy"
    monkeypatch.setattr(users, "PASSWORD_CHECK_WAIT", 600.0)
    return counting


def in_parallel(n: int, attempt: Callable[[int], str]) -> list[str]:
    """Run `attempt(i)` in n threads released together by a barrier; their results."""
    barrier = threading.Barrier(n)
    results: list[str] = []

    def run(i: int) -> None:
        barrier.wait()
        results.append(attempt(i))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def outcome(result: users.LoginResult) -> str:
    return "ok" if result.user is not None else str(result.refused)


def test_40_parallel_wrong_logins_check_at_most_the_limit(
    hotline_env: Path, verifier: CountingVerifier
) -> None:
    make_user("alice", ["agent"])
    results = in_parallel(40, lambda i: outcome(users.login("alice", f"wrong-{i}", address="198.51.100.7")))
    limit = users.LOGIN_MAX_PER_ADDRESS_AND_USER
    assert verifier.calls == results.count("wrong") == limit
    assert results.count("limited") == 40 - limit
    assert verifier.most <= get_settings().password_checks_at_once
    # the right password from that address is refused now, from another address it works
    assert outcome(users.login("alice", "correct-horse", address="198.51.100.7")) == "limited"
    assert outcome(users.login("alice", "correct-horse", address="192.0.2.1")) == "ok"


def test_parallel_guesses_from_many_addresses_meet_the_account_limit(
    hotline_env: Path, verifier: CountingVerifier
) -> None:
    make_user("alice", ["agent"])
    results = in_parallel(30, lambda i: outcome(users.login("alice", "wrong", address=f"10.0.{i}.1")))
    assert results.count("wrong") == users.LOGIN_MAX_PER_ACCOUNT == verifier.calls
    assert results.count("limited") == 30 - users.LOGIN_MAX_PER_ACCOUNT


def test_password_spraying_from_one_address_is_limited(hotline_env: Path, verifier: CountingVerifier) -> None:
    results = in_parallel(40, lambda i: outcome(users.login(f"user{i}", "123456", address="203.0.113.5")))
    assert results.count("wrong") == users.LOGIN_MAX_PER_ADDRESS == verifier.calls


def test_a_successful_login_is_not_counted_against_the_address(hotline_env: Path) -> None:
    """A call centre behind one address: many agents log in in the morning."""
    for n in range(3):
        make_user(f"agent{n}", ["agent"])
    for _ in range(users.LOGIN_MAX_PER_ADDRESS + 5):
        assert outcome(users.login("agent1", "correct-horse", address="192.0.2.10")) == "ok"


def test_unknown_user_names_are_checked_against_a_dummy_hash(
    sqlite_env: Path, verifier: CountingVerifier
) -> None:
    make_user("alice", ["agent"])
    users.login("nobody", "x", address="192.0.2.1")  # the dummy hash is made once, at first use

    def timed(name: str) -> float:
        start = time.perf_counter()
        assert outcome(users.login(name, "wrong-password", address="192.0.2.2")) == "wrong"
        return time.perf_counter() - start

    known = min(timed("alice") for _ in range(3))
    unknown = min(timed(f"ghost{i}") for i in range(3))
    assert verifier.calls == 7  # every attempt ran one full argon2 check
    assert 0.25 < unknown / known < 4.0, (known, unknown)  # was ~46x (415 ms against 9 ms)


def test_no_free_password_check_slot_is_busy_not_counted(
    sqlite_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user("alice", ["agent"])
    monkeypatch.setattr(users, "PASSWORD_CHECK_WAIT", 0.05)
    slots = users._password_checks()
    taken = 0
    while slots.acquire(blocking=False):
        taken += 1
    try:
        assert outcome(users.login("alice", "correct-horse", address="192.0.2.1")) == "busy"
    finally:
        for _ in range(taken):
            slots.release()
    for _ in range(users.LOGIN_MAX_PER_ADDRESS_AND_USER - 1):
        users.login("alice", "wrong", address="192.0.2.1")
    assert outcome(users.login("alice", "correct-horse", address="192.0.2.1")) == "ok"  # busy took nothing


def test_40_parallel_wrong_logins_over_http(client: TestClient, verifier: CountingVerifier) -> None:
    make_user("alice", ["agent"])
    token = client.get("/api/session").json()["csrf_token"]
    form = {"username": "alice", "password": "wrong", "csrf_token": token}
    codes = in_parallel(40, lambda i: str(client.post("/login", data=form).status_code))
    limit = users.LOGIN_MAX_PER_ADDRESS_AND_USER
    assert sorted(codes) == ["401"] * limit + ["429"] * (40 - limit)
    assert verifier.calls == limit
