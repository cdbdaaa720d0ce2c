"""The outbox: what may enter it (origins, verified numbers, caps) and delivering it: at least once, with retries and back-off, idempotent by message id.

Each message goes through its own short transactions: claim (queued -> sending, attempts + 1,
committed), send through the channel's transport, mark sent (committed). A process that dies after
claiming leaves the message in `sending`; after LEASE it is claimed again and sent again, and the
transport drops the repeat because it has already seen that message id. A claim is a
compare-and-set UPDATE, so two delivery processes never send the same message at the same time, and
the outcome (sent, retry, failed) is written only by the process that still holds the claim.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from casework.errors import CaseError
from casework.models import OutboxMessage
from hotline import attempts, audit
from hotline.config import Settings
from hotline.db import changed_rows, utcnow
from hotline.masking import mask_phone

log = logging.getLogger("hotline.outbox")

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


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        (OutboxMessage.status == "queued") & (OutboxMessage.next_attempt_at <= now),
        (OutboxMessage.status == "sending") & (OutboxMessage.next_attempt_at <= now - LEASE),
    )


def claim(session: Session, message: OutboxMessage, now: datetime) -> bool:
    """Compare-and-set: take the message for sending; False when another process got it first."""
    taken = changed_rows(
        session,
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message.id,
            OutboxMessage.status == message.status,
            OutboxMessage.attempts == message.attempts,
        )
        .values(status="sending", attempts=message.attempts + 1, next_attempt_at=now)
        .execution_options(synchronize_session=False),
    )
    return taken == 1


def _claimed_by(message: OutboxMessage) -> tuple[ColumnElement[bool], ...]:
    """The claim this process holds (after `claim`): its outcome is written only while it still holds
    it, so a process that outlived its lease never overwrites the outcome of the one that took over."""
    return (
        OutboxMessage.id == message.id,
        OutboxMessage.status == "sending",
        OutboxMessage.attempts == message.attempts,
    )


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
            # what is sent is what the claim froze: a notice collapsed into it (collapse_into) after the
            # list was read is in it, none can join it any more
            message.title, message.body = session.execute(
                select(OutboxMessage.title, OutboxMessage.body).where(OutboxMessage.id == message.id)
            ).one()
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
            ours = changed_rows(
                session,
                update(OutboxMessage)
                .where(*_claimed_by(message))
                .values(**values)
                .execution_options(synchronize_session=False),
            )
            session.commit()
        if ours != 1:
            log.warning("outbox message %s was claimed again while this process sent it", message.message_id)
        counts[outcome] += 1
    return counts


COLLAPSE_WINDOW = timedelta(minutes=1)
COLLAPSED = "collapsed"  # the status of a notice whose text travels in an earlier message (collapsed_into)


def collapse_into(
    session: Session,
    *,
    channel: str,
    to: str,
    ref: str,
    kinds: Collection[str],
    addition: str,
    now: datetime | None = None,
) -> OutboxMessage | None:
    """Two notices about the same case to the same number queued within COLLAPSE_WINDOW are sent as one
    (a case answered on the phone: registration and closing): the earlier one, still queued and never
    tried (case notices wait COLLAPSE_WINDOW before their first attempt), gets `addition` appended. A
    compare-and-set on its body, so two notices joining at once, or a delivery claiming it meanwhile,
    lose nothing: the loser is queued on its own. Returns the message joined, or None."""
    now = now or utcnow()
    carrier = session.scalar(
        select(OutboxMessage)
        .where(
            OutboxMessage.channel == channel,
            OutboxMessage.to == to,
            OutboxMessage.ref == ref,
            OutboxMessage.kind.in_(list(kinds)),
            OutboxMessage.status == "queued",
            OutboxMessage.attempts == 0,
            OutboxMessage.created_at >= now - COLLAPSE_WINDOW,
        )
        .order_by(OutboxMessage.id)
        .limit(1)
    )
    if carrier is None:
        return None
    joined = changed_rows(
        session,
        update(OutboxMessage)
        .where(
            OutboxMessage.id == carrier.id,
            OutboxMessage.status == "queued",
            OutboxMessage.attempts == 0,
            OutboxMessage.body == carrier.body,
        )
        .values(body=carrier.body + addition)
        .execution_options(synchronize_session=False),
    )
    if joined != 1:
        return None
    session.expire(carrier, ["body"])
    return carrier


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
    directory, or HylaFAX sendfax when fax_command is set), mail by SMTP when smtp_host is set."""
    from casework.fax import FaxTransport
    from casework.kannel import KannelTransport
    from hotline.config import get_settings

    settings = get_settings()
    transports: dict[str, Transport] = {"fax": FaxTransport.from_settings(settings)}
    if settings.kannel_url:
        transports["sms"] = KannelTransport.from_settings(settings)
    from casework import mailsettings

    mail = mailsettings.effective(settings)  # the mailbox as set on /admin/mailbox, if it was
    if mail.smtp_host:
        from casework.mailintake import MailTransport

        transports["email"] = MailTransport.from_settings(mail)
    return transports


# -- what may enter the outbox: who asks, to which number, how often (docs/security.md) ---------

OUTBOUND_REFUSED = "outbound_refused"  # audit action of a refused SMS or fax
CAP_WINDOW = timedelta(days=1)
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_NATIONAL_PREFIXES = ("+86", "0086")


class OutboundRefused(CaseError):
    """The hotline will not send this SMS or fax; the message can be said or shown as is.
    `reason`: unverified | no_number | international | destination_cap | source_cap | call_cap."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Origin:
    """Who makes the hotline send a message. channel: "system" (case-work notices), "staff", or the
    IVR channel ("sip", "browser", "simulator"); source: whose daily cap it counts against
    ("user:<name>", "number:<calling number>", "web:<client address>", "call:<id>"). An anonymous
    origin sends only to its verified number (SMS) and, when it has one, faxes to typed domestic
    numbers; without one (browser voice) it sends nothing."""

    channel: str
    source: str
    call_id: str | None = None
    verified_number: str | None = None
    anonymous: bool = False

    @classmethod
    def staff(cls, username: str) -> Origin:
        return cls("staff", f"user:{username}")

    @classmethod
    def call(cls, *, channel: str, call_id: str, caller_number: str = "", client_key: str = "") -> Origin:
        """An IVR call. The calling number (SIP) is its verified number; a browser call has none and is
        counted by its client address (`client_key`)."""
        number = normalize_number(caller_number)
        source = client_key or (f"number:{number}" if number else f"call:{call_id}")
        return cls(channel, source, call_id=call_id, verified_number=number or None, anonymous=True)


SYSTEM = Origin("system", "system")
_current: ContextVar[Origin] = ContextVar("hotline_outbound_origin", default=SYSTEM)


@contextmanager
def acting_as(origin: Origin) -> Iterator[None]:
    """Messages queued inside count as `origin`'s (the web app sets the staff user per request)."""
    token = _current.set(origin)
    try:
        yield
    finally:
        _current.reset(token)


def current_origin() -> Origin:
    return _current.get()


def normalize_number(number: str) -> str:
    """Digits only; +86 / 0086 become the national form (0 + area code, or the mobile number).
    International numbers keep their 00 prefix."""
    raw = (number or "").strip()
    digits = "".join(ch for ch in raw if ch.isdigit())
    if raw.startswith("+") and not raw.startswith("+86"):
        return "00" + digits
    for prefix in _NATIONAL_PREFIXES:
        if raw.replace(" ", "").startswith(prefix):
            rest = digits[len(prefix.lstrip("+")) :]
            return rest if _MOBILE.match(rest) else "0" + rest.lstrip("0")
    return digits


def is_international(number: str) -> bool:
    return normalize_number(number).startswith("00")


def check_sender(origin: Origin, channel: str) -> None:
    """Refuse at once an origin that may not send this kind of message at all (an anonymous channel
    without a verified number): the IVR says so before asking for a number."""
    if origin.anonymous and not origin.verified_number:
        what = "短信" if channel == "sms" else "传真"
        raise OutboundRefused(
            f"为保护信息安全，网上语音咨询不能发送{what}。您可以拨打12345热线，或在网站上查看本文。",
            reason="no_number",
        )


def admit(session: Session, origin: Origin, channel: str, to: str, *, capped_destination: bool) -> str:
    """Check an SMS or fax against the rules and count it; returns the normalised number. Raises
    OutboundRefused (audited in the session: the caller commits also when it catches this). The
    counts are taken atomically (hotline.attempts.hit_all), so the caps hold under concurrency."""
    from hotline.config import get_settings

    settings = get_settings()
    number = normalize_number(to)
    what = "短信" if channel == "sms" else "传真"
    try:
        check_sender(origin, channel)
        if not number or len(to) > 64:
            raise CaseError("请提供正确的接收号码。")
        if origin.anonymous and channel == "sms" and number != origin.verified_number:
            raise OutboundRefused("为保护信息安全，短信只能发送到您来电所用的手机号码。", reason="unverified")
        if channel == "sms" and origin.anonymous and not _MOBILE.match(number):
            raise OutboundRefused("短信只能发送到手机号码，请用手机拨打12345。", reason="unverified")
        if number.startswith("00") and not (channel == "fax" and settings.fax_international):
            raise OutboundRefused(f"{what}只能发送到国内号码。", reason="international")
        limits = _caps(origin, channel, number, capped_destination, settings)
        over = attempts.hit_all(session, limits, CAP_WINDOW)
        if over:
            attempts.take_back(session, limits)  # refused: not sent, not counted
            reason = over[0].split(":")[1] + "_cap"
            if reason == "to_cap":
                raise OutboundRefused(
                    f"该号码今天接收的{what}已达上限，请明天再试。", reason="destination_cap"
                )
            raise OutboundRefused(f"{what}发送次数已达上限，请稍后再试或联系人工服务。", reason=reason)
    except OutboundRefused as refused:
        audit.record(
            session,
            actor=origin.source[:64],
            action=OUTBOUND_REFUSED,
            entity=channel,
            entity_id=mask_phone(number) or "-",
            comment=refused.reason,
            detail={"channel": origin.channel, "call_id": origin.call_id},
        )
        session.flush()
        log.warning("%s to %s refused for %s: %s", channel, mask_phone(number), origin.source, refused.reason)
        raise
    return number


def _caps(
    origin: Origin, channel: str, number: str, capped_destination: bool, settings: Settings
) -> dict[str, int]:
    limits: dict[str, int] = {}
    if capped_destination:
        limits[f"{channel}:to:{number}"] = getattr(settings, f"{channel}_per_destination_per_day")
    if origin.anonymous:
        limits[f"{channel}:source:{origin.source}"] = getattr(settings, f"{channel}_per_source_per_day")
        if origin.call_id:
            limits[f"{channel}:call:{origin.call_id}"] = getattr(settings, f"{channel}_per_call")
    elif origin.channel == "staff":
        limits[f"{channel}:source:{origin.source}"] = getattr(settings, f"{channel}_per_staff_per_day")
    return limits
