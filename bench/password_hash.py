#!/usr/bin/env python3
"""Password hashing cost: one argon2 check of a case query password and of a staff password, and what
trying every 6-digit case password (10^6) of one case would cost a thief of the database.

Usage: python bench/password_hash.py [--rounds 20]
Prints the median wall and CPU milliseconds of one check, for the current parameters and the earlier,
lighter case-password ones, and the CPU-hours of 10^6 checks at the median CPU time (CPU time, so that
a machine busy with other work does not inflate it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from argon2 import PasswordHasher  # noqa: E402

from casework import cases  # noqa: E402
from hotline import users  # noqa: E402

HASHERS = {
    "case password (now)": cases._hasher,
    "case password (before: 8 MiB, 2 passes)": PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1),
    "staff password": users._hasher,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    for name, hasher in HASHERS.items():
        hashed = hasher.hash("246810")
        wall, cpu = [], []
        for _ in range(args.rounds):
            start, start_cpu = time.perf_counter(), time.process_time()
            hasher.verify(hashed, "246810")
            wall.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
        per_check = statistics.median(cpu)
        print(
            f"{name:42s} m={hasher.memory_cost // 1024} MiB t={hasher.time_cost} p={hasher.parallelism}: "
            f"{statistics.median(wall):6.1f} ms wall, {per_check:6.1f} ms CPU a check; "
            f"10^6 checks = {per_check * 1e6 / 3.6e6:,.1f} CPU-hours"
        )

if __name__ == "__main__":
    main()
