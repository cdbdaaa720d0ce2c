"""Case query passwords (6 digits) are hashed for a stolen database: argon2id at 64 MiB and 3 passes;
hashes of the earlier, lighter parameters keep working and are replaced by the next right query."""

from __future__ import annotations

from pathlib import Path

from argon2 import PasswordHasher, extract_parameters
from sqlalchemy import text

import casework
from hotline.db import session_scope
from tests.casework.helpers import new_case


def stored_hash(number: str) -> str:
    with session_scope() as s:
        return s.execute(text("SELECT password_hash FROM cases WHERE case_number = :n"), {"n": number}).scalar()


def test_a_new_case_password_is_hashed_for_a_million_guesses(hotline_env: Path) -> None:
    with session_scope() as s:
        case, password = new_case(s)
        number = case.case_number
    params = extract_parameters(stored_hash(number))
    assert params.type.name == "ID" and params.memory_cost == 65536 and params.time_cost >= 3
    assert password not in stored_hash(number)


def test_an_old_light_hash_still_verifies_and_is_upgraded(hotline_env: Path) -> None:
    with session_scope() as s:
        case, _ = new_case(s)
        number = case.case_number
    old = PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1).hash("246810")
    with session_scope() as s:
        s.execute(text("UPDATE cases SET password_hash = :h WHERE case_number = :n"), {"h": old, "n": number})
    with session_scope() as s:
        assert casework.check_progress(s, number, "246810", caller_key="ip:owner").case_number == number
    upgraded = stored_hash(number)
    assert upgraded != old and extract_parameters(upgraded).memory_cost == 65536
    with session_scope() as s:  # the upgraded hash verifies the same password
        assert casework.check_progress(s, number, "246810", caller_key="ip:owner").case_number == number
