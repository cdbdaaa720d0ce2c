"""Delivering the outbox: at least once, with retries and back-off, idempotent by message id.

Each message goes through its own short transactions: claim (queued -> sending, attempts + 1,
committed), send through the channel's transport, mark sent (committed). A process that dies after
claiming leaves the message in `sending`; after LEASE it is claimed again and sent again, and the
transport drops the repeat because it has already seen that message id. A claim is a
compare-and-set UPDATE, so two delivery processes never send the same message at the same time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from casework.models import OutboxMessage
from hotline.db import utcnow

MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=5)
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)


class Transport(Protocol):
    """Sends one message; raises on failure; must treat a repeated message_id as already sent."""

    def send(self, message: OutboxMessage) -> None: ...


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at 1 hour."""
    return min(BASE_DELAY * (2 ** max(attempts - 1, 0)), MAX_DELAY)


def _due(now: datetime):  # type: ignore[no-untyped-def]
    return or_(
        (OutboxMessage.status == "queued") & (OutboxMessage.next_attempt_at <= now),
        (OutboxMessage.status == "sending") & (OutboxMessage.next_attempt_at <= now - LEASE),
    )


def claim(session: Session, message: OutboxMessage, now: datetime) -> bool:
    """Compare-and-set: take the message for sending; False when another process got it first."""
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message.id,
            OutboxMessage.status == message.status,
            OutboxMessage.attempts == message.attempts,
        )
        .values(status="sending", attempts=message.attempts + 1, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def deliver_outbox(
    session_factory: Callable[[], Session],
    transports: Mapping[str, Transport],
    *,
    now: datetime | None = None,
    limit: int = 100,
) -> dict[str, int]:
    """Send what is due. Returns counts: sent, retry (failed, will be tried again), failed (gave up),
    skipped (no transport for the channel, or claimed by another process)."""
    now = now or utcnow()
    counts = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    with session_factory() as session:
        due = list(
            session.scalars(
                select(OutboxMessage)
                .where(_due(now))
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(limit)
            )
        )
        session.expunge_all()
    for message in due:
        transport = transports.get(message.channel)
        if transport is None:
            counts["skipped"] += 1
            continue
        with session_factory() as session:
            if not claim(session, message, now):
                counts["skipped"] += 1
                continue
            session.commit()
            message.attempts += 1
        try:
            transport.send(message)
        except Exception as exc:  # noqa: BLE001 - any transport failure is retried
            outcome = "failed" if message.attempts >= MAX_ATTEMPTS else "retry"
            values = {
                "status": "failed" if outcome == "failed" else "queued",
                "next_attempt_at": now + backoff(message.attempts),
                "last_error": f"{type(exc).__name__}: {exc}"[:1000],
            }
        else:
            outcome = "sent"
            values = {"status": "sent", "sent_at": utcnow(), "last_error": ""}
        with session_factory() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.id == message.id).values(**values))
            session.commit()
        counts[outcome] += 1
    return counts


def record_delivery_report(session: Session, message_id: str, *, delivered: bool, detail: str = "") -> bool:
    """A delivery report (Kannel dlr-url callback) for a sent SMS; False when the id is unknown."""
    message = session.scalar(select(OutboxMessage).where(OutboxMessage.message_id == message_id))
    if message is None:
        return False
    if delivered:
        message.delivered_at = utcnow()
    else:
        message.last_error = f"DLR: {detail}"[:1000]
    session.flush()
    return True


def default_transports() -> dict[str, Transport]:
    """The transports the settings configure: Kannel SMS when kannel_url is set, fax always (spool
    directory, or HylaFAX sendfax when fax_command is set)."""
    from casework.fax import FaxTransport
    from casework.kannel import KannelTransport
    from hotline.config import get_settings

    settings = get_settings()
    transports: dict[str, Transport] = {"fax": FaxTransport.from_settings(settings)}
    if settings.kannel_url:
        transports["sms"] = KannelTransport.from_settings(settings)
    return transports
