"""Polling the intake channels that the hotline fetches itself: the mailbox (casework.mailintake) and the
fax receive folder (casework.faxintake). `hotline serve` polls in every web worker every
`mail_poll_seconds` (start_polling), `hotline intake poll` from the command line; a lock file in
HOTLINE_HOME lets one process poll at a time (the others skip that round). The mailbox settings the
administrators keep on /admin/mailbox (casework.mailsettings) override the environment's and are read
every round."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator

from casework import mailsettings
from hotline.config import Settings, get_settings
from hotline.db import new_session

log = logging.getLogger("hotline.intake")

LOCK_FILE = "intake.lock"


def enabled(settings: Settings) -> bool:
    return settings.mail_enabled or settings.fax_inbox is not None


@contextlib.contextmanager
def _exclusive(settings: Settings) -> Iterator[bool]:
    """True when this process holds the intake lock (released on leaving), False when another does."""
    settings.ensure_home()
    fd = os.open(settings.home / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # releases the lock


def poll_once(settings: Settings | None = None, *, mail: bool = True, fax: bool = True) -> dict[str, int]:
    """One round over the enabled channels; counts prefixed "mail_" and "fax_" ({"busy": 1} when another
    process is polling)."""
    from casework.faxintake import poll_fax_inbox
    from casework.mailintake import poll_mailbox

    settings = settings or mailsettings.effective(get_settings())
    counts: dict[str, int] = {}
    with _exclusive(settings) as mine:
        if not mine:
            return {"busy": 1}
        if mail and settings.mail_enabled:
            counts |= {f"mail_{k}": v for k, v in poll_mailbox(new_session, settings).items()}
        if fax and settings.fax_inbox is not None:
            counts |= {f"fax_{k}": v for k, v in poll_fax_inbox(new_session, settings).items()}
    return counts


def start_polling() -> asyncio.Task[None] | None:
    """The web worker's polling task (None when HOTLINE_MAIL_POLL_SECONDS is 0: polling is left to cron):
    a round every mail_poll_seconds in a thread, so the mail server and the database never hold up the
    event loop. Each round reads the administrators' mailbox settings first: a mailbox enabled on the
    page is polled from the next round on (the first round waits one interval unless the environment
    enables a channel)."""
    settings = get_settings()
    if settings.mail_poll_seconds <= 0:
        return None

    async def run() -> None:
        interval = settings.mail_poll_seconds
        if not enabled(settings):
            await asyncio.sleep(interval)
        while True:
            try:
                current = await asyncio.to_thread(mailsettings.effective, settings)
                interval = max(current.mail_poll_seconds, 1.0)
                if enabled(current):
                    counts = await asyncio.to_thread(poll_once, current)
                    if any(v for k, v in counts.items() if k != "busy"):
                        log.info("intake: %s", counts)
            except Exception:  # noqa: BLE001 - the mail server may be down: the next round tries again
                log.exception("the intake poll failed")
            await asyncio.sleep(interval)

    return asyncio.create_task(run())


async def stop_polling(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
