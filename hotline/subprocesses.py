"""Child programs the project starts (Kamailio, HAProxy): stopped the same way everywhere."""

from __future__ import annotations

import subprocess


def stop(process: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL when the program has not ended within `timeout` seconds; waits for it."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
