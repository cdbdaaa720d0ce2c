"""E-mail intake: the hotline's mailbox polled over IMAP, replies and notices sent by SMTP.

- Each new mail (UNSEEN in `imap_folder`) becomes a submission in the agents' review queue (channel
  "email", status pending_review), with the sender's address as the contact, the subject and the plain
  text (HTML turned into text) as the content, and its attachments kept (casework.attachments: the
  same type and size checks as uploads; a refused file is named in the content). The sender gets a
  reply "[12345工单 <number>] 来信已收到" with the case number and the query password.
- A mail whose subject carries "[12345工单 <number>]" of an open case that came from the same address
  is a follow-up: its text and files go into that case (event `mail_followup`), not a new case. The
  number alone is not enough: a stranger cannot add text to someone else's case.
- Notices about a case whose contact is an e-mail address go by mail (outbox channel "email", the
  case number in the subject), delivered by MailTransport like SMS and fax (deliver_outbox).
- Delivery is at least once and never twice: a mail is marked \\Seen only after its case is committed,
  and the audit entry that records it (entity "mail", its Message-ID's hash) is looked for first, so a
  mail read again after a crash is skipped. Auto-replies and bounces are never answered (no mail loops).
"""

from __future__ import annotations

import hashlib
import imaplib
import io
import logging
import re
import smtplib
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import formatdate, parseaddr
from html.parser import HTMLParser
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework import attachments
from casework.cases import add_event, create_case, get_case
from casework.errors import CaseError
from casework.inbound import Received, guess_category
from casework.ledger import SentLedger
from casework.lifecycle import FINAL_STATUSES
from casework.models import Case, OutboxMessage
from casework.notices import SIGNATURE
from casework.outbox import CAP_WINDOW, OUTBOUND_REFUSED
from hotline import attempts, audit
from hotline.config import Settings, get_settings
from hotline.models import AuditEntry
from hotline.text import CONTROL_CHARS

log = logging.getLogger("hotline.mail")

ACTOR = "email"
CHANNEL = "email"
AUDIT_ENTITY = "mail"
RECEIVED = "case.mail_received"  # audit action: a mail taken (as a submission or a follow-up) or ignored
SUBJECT_TAG = "12345工单"
_CASE_IN_SUBJECT = re.compile(r"\[\s*12345工单\s*(\d{8,20})\s*\]")
_ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,}$")
_MOBILE_IN_TEXT = re.compile(r"(?<!\d)(1[3-9]\d{9})(?!\d)")
MAX_CONTENT = 5000  # create_case's limit
MAX_MAIL_BYTES = 40 * 1024 * 1024  # larger mails are not fetched (attachments are 10 MB each)
PER_ROUND = 50  # mails taken per poll
MAX_CONTACT = 64  # Case.contact; a longer address cannot be answered (the mail is still taken)
_GB = {"gb2312", "gbk", "x-gbk", "cp936", "euc-cn"}  # labelled so, often GB18030 in fact
SUBJECTS = {  # the subject of a notice by mail, after "[12345工单 N] "
    "mail_received": "来信已收到",
    "mail_followup": "补充材料已收到",
    "registration": "诉求已登记",
    "acceptance": "诉求已受理",
    "referral_citizen": "已转交承办单位办理",
    "reply_citizen": "已有办理结果",
    "extension_citizen": "延期办理",
    "return_citizen": "重新确定承办单位",
    "rework_citizen": "已要求重新办理",
    "closing": "诉求已办结",
}
TEXTS = {
    "mail_received": "{sig}您的来信已收到，工单编号{number}，查询密码{password}。我们将尽快审核受理，"
    "可拨打12345或登录网站查询办理进度。如需补充材料，请直接回复本邮件（请保留主题中的工单编号）。",
    "mail_followup": "{sig}您对工单{number}的补充材料已收到，我们将一并办理。",
}


# -- reading a mail ------------------------------------------------------------------------------


class _TextOfHtml(HTMLParser):
    """The readable text of an HTML mail body: blocks on their own lines, no scripts or styles."""

    BLOCKS = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote"}
    )
    HIDDEN = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _clean(text: str) -> str:
    return CONTROL_CHARS.sub("", text.replace("\r\n", "\n")).strip()


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = (part.get_content_charset() or "utf-8").lower()
    charset = "gb18030" if charset in _GB else charset
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:  # a charset Python does not know
        return payload.decode("utf-8", errors="replace")


@dataclass
class IncomingMail:
    """What the hotline takes from a mail."""

    key: str  # the hash of its Message-ID (or of its bytes): the same mail is never taken twice
    sender: str  # the address, lower case; "" when there is none or it is not an address
    name: str
    subject: str
    text: str
    files: list[attachments.Upload] = field(default_factory=list)
    automatic: bool = False  # an auto-reply, a bounce or a mailing list: never answered

    @property
    def case_number(self) -> str | None:
        match = _CASE_IN_SUBJECT.search(self.subject)
        return match[1] if match else None


def _is_automatic(msg: EmailMessage, sender: str) -> bool:
    auto = str(msg.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(msg.get("Precedence", "")).strip().lower()
    local = sender.split("@")[0]
    return (
        auto not in ("", "no")
        or precedence in ("bulk", "junk", "list", "auto_reply")
        or msg.get("List-Id") is not None
        or msg.get("X-Autoreply") is not None
        or local in ("mailer-daemon", "postmaster", "noreply", "no-reply")
        or msg.get_content_type() == "multipart/report"
    )


def parse_mail(raw: bytes) -> IncomingMail:
    """The sender, subject, text and files of a mail as received (RFC 5322 bytes)."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    message_id = str(msg.get("Message-ID", "") or "").strip()
    key = hashlib.sha256(message_id.encode() if message_id else raw).hexdigest()
    name, sender = parseaddr(str(msg.get("From", "") or ""))
    sender = sender.strip().lower()
    if not _ADDRESS.match(sender):
        sender = ""
    subject = _clean(" ".join(str(msg.get("Subject", "") or "").split()))
    body = msg.get_body(preferencelist=("plain", "html"))
    text = ""
    if body is not None:
        text = _part_text(body)
        if body.get_content_type() == "text/html":
            text = html_to_text(text)
    files = []
    for part in msg.iter_attachments():
        data = part.get_payload(decode=True)
        if isinstance(data, bytes) and data:
            files.append(attachments.Upload(part.get_filename() or "附件", io.BytesIO(data)))
    return IncomingMail(
        key=key,
        sender=sender,
        name=_clean(name)[:64],
        subject=subject,
        text=_clean(text),
        files=files,
        automatic=_is_automatic(msg, sender),
    )


# -- taking it: a submission or a follow-up -----------------------------------------------------


def already_taken(session: Session, key: str) -> bool:
    stmt = select(AuditEntry.id).where(AuditEntry.entity == AUDIT_ENTITY, AuditEntry.entity_id == key)
    return session.scalar(stmt.limit(1)) is not None


def _record(session: Session, mail: IncomingMail, outcome: Received) -> Received:
    audit.record(
        session, actor=ACTOR, action=RECEIVED, entity=AUDIT_ENTITY, entity_id=mail.key, comment=outcome.kind,
        detail={"case_number": outcome.case_number, "reason": outcome.reason, "files": len(mail.files)},
    )  # fmt: skip
    session.flush()
    return outcome


def _store_files(mail: IncomingMail, already: int) -> tuple[list[attachments.StoredFile], list[str]]:
    """The mail's files that pass the attachment checks, and a note for each that does not."""
    stored: list[attachments.StoredFile] = []
    notes: list[str] = []
    limit = get_settings().attachment_max_files
    for upload in mail.files:
        if already + len(stored) >= limit:
            notes.append(f"附件“{attachments.clean_name(upload.name)}”未保存：每个工单最多{limit}个附件。")
            continue
        try:
            stored += attachments.store([upload], already=already + len(stored))
        except attachments.AttachmentRefused as refused:
            notes.append(f"附件未保存：{refused}")
    return stored, notes


def _content(subject: str, text: str, notes: list[str]) -> str:
    tail = "\n".join(notes)
    room = MAX_CONTENT - len(subject) - len(tail) - 8
    body = text if len(text) <= room else text[: max(room - 12, 0)] + "……（正文过长，已截断）"
    return "\n\n".join(part for part in (subject, body, tail) if part) or "（空白邮件）"


def _followup_case(session: Session, mail: IncomingMail) -> Case | None:
    number = mail.case_number
    case = get_case(session, number) if number else None
    if case is None or case.status in FINAL_STATUSES or not mail.sender:
        return None
    return case if (case.contact or "").lower() == mail.sender else None


def receive_email(session: Session, mail: IncomingMail) -> Received:
    """Take one mail: a follow-up to its sender's open case, or a new submission for review. Runs in
    the caller's transaction (commit after it, also when it returns "ignored": that is recorded too, so
    the mail is not looked at again)."""
    if already_taken(session, mail.key):
        return Received("ignored", reason="already taken")
    from casework import mailsettings

    settings = mailsettings.effective(get_settings(), session)
    own = (settings.mail_from or settings.imap_user).strip().lower()
    if mail.automatic or not mail.sender or mail.sender == own:
        return _record(session, mail, Received("ignored", reason="automatic, no sender or our own"))
    case = _followup_case(session, mail)
    if case is not None:
        stored, notes = _store_files(mail, attachments.count(session, case))
        comment = _content(mail.subject[:200], mail.text, notes)
        add_event(session, case, actor=ACTOR, action="mail_followup", comment=comment)
        attachments.attach(session, case, stored, purpose="submission", actor=ACTOR, role="citizen")
        _reply(session, case, "mail_followup")
        return _record(session, mail, Received("followup", case.case_number))
    stored, notes = _store_files(mail, 0)
    content = _content(mail.subject[:200], mail.text, notes)
    contact = mail.sender if len(mail.sender) <= MAX_CONTACT else None
    phone = _MOBILE_IN_TEXT.search(mail.text)
    try:
        case, password = create_case(
            session,
            channel=CHANNEL,
            caller_number=phone[1] if phone else "",
            contact=contact,
            name=mail.name or None,
            topic=mail.subject[:200],
            content=content,
            category=guess_category(session, f"{mail.subject}\n{mail.text}"),
            actor=ACTOR,
            client_key=f"mail:{mail.sender}",
        )
    except CaseError as exc:  # too many from this address within the hour
        log.warning("mail from %s not taken: %s", mail.sender, exc)
        return _record(session, mail, Received("ignored", reason=str(exc)))
    attachments.attach(session, case, stored, purpose="submission", actor=ACTOR, role="citizen")
    _reply(session, case, "mail_received", password=password)
    return _record(session, mail, Received("submission", case.case_number))


def _reply(session: Session, case: Case, kind: str, **values: object) -> None:
    text = TEXTS[kind].format(sig=SIGNATURE, number=case.case_number, **values)
    notify(session, case, kind, text)


# -- mail out: notices and replies through the outbox ------------------------------------------


def is_address(value: str | None) -> bool:
    return bool(value) and _ADDRESS.match(value or "") is not None


def subject_for(case_number: str, kind: str) -> str:
    return f"[{SUBJECT_TAG} {case_number}] {SUBJECTS.get(kind, '办理进度通知')}"


def notify(session: Session, case: Case, kind: str, text: str) -> OutboxMessage | None:
    """Queue a mail about `case` to its contact address (notice `kind`, `text` as for an SMS); None
    when the address has had its daily number of mails (refusal audited, the case work goes on)."""
    to = (case.contact or "").strip().lower()
    if not is_address(to):
        return None
    key = f"email:to:{to}"
    if attempts.hit_all(session, {key: get_settings().mail_per_destination_per_day}, CAP_WINDOW):
        attempts.take_back(session, [key])
        audit.record(session, actor=ACTOR, action=OUTBOUND_REFUSED, entity=CHANNEL, entity_id=case.case_number,
                     comment="destination_cap", detail={"kind": kind})  # fmt: skip
        session.flush()
        log.warning("mail about case %s not queued: the address's daily cap is reached", case.case_number)
        return None
    msg = OutboxMessage(
        message_id=uuid.uuid4().hex,
        channel=CHANNEL,
        to=to,
        title=subject_for(case.case_number, kind),
        body=text,
        kind=kind,
        ref=case.case_number,
    )
    session.add(msg)
    session.flush()
    return msg


@dataclass
class MailTransport:
    """Sends outbox mails by SMTP (TLS as configured); a message id already sent is not sent again."""

    host: str
    port: int
    tls: str
    user: str
    password: str
    sender: str
    ledger: SentLedger
    timeout: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> MailTransport:
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            tls=settings.smtp_tls,
            user=settings.smtp_user,
            password=settings.smtp_password,
            sender=settings.mail_from or settings.imap_user,
            ledger=SentLedger(Path(settings.outbox_dir) / "mail-sent.sqlite"),
        )

    def compose(self, message: OutboxMessage) -> EmailMessage:
        mail = EmailMessage()
        domain = self.sender.rpartition("@")[2] or "localhost"
        mail["From"] = Address("12345政务服务便民热线", addr_spec=self.sender)
        mail["To"] = message.to
        mail["Subject"] = message.title
        mail["Date"] = formatdate(localtime=True)
        mail["Message-ID"] = f"<{message.message_id}@{domain}>"
        mail["Auto-Submitted"] = "auto-replied"  # their auto-responder does not answer it
        mail.set_content(message.body)
        return mail

    def send(self, message: OutboxMessage) -> None:
        if self.ledger.seen(message.message_id):
            return
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.tls == "ssl":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.tls == "starttls":
                smtp.starttls(context=context)
            if self.user:
                smtp.login(self.user, self.password)
            smtp.send_message(self.compose(message))
        self.ledger.mark(message.message_id)


# -- polling the mailbox ------------------------------------------------------------------------


def _connect(settings: Settings) -> imaplib.IMAP4:
    context = ssl.create_default_context()
    conn: imaplib.IMAP4
    if settings.imap_tls == "ssl":
        conn = imaplib.IMAP4_SSL(settings.imap_host, settings.imap_port, ssl_context=context, timeout=30)
    else:
        conn = imaplib.IMAP4(settings.imap_host, settings.imap_port, timeout=30)
        if settings.imap_tls == "starttls":
            conn.starttls(context)
    conn.login(settings.imap_user, settings.imap_password)
    return conn


def _fetch(conn: imaplib.IMAP4, uid: str) -> bytes | None:
    """The mail's bytes without marking it read (BODY.PEEK), or None when it is too large."""
    status, data = conn.uid("FETCH", uid, "(RFC822.SIZE)")
    size = re.search(rb"RFC822\.SIZE (\d+)", data[0] if status == "OK" and data and isinstance(data[0], bytes)
                     else b"")  # fmt: skip
    if size and int(size[1]) > MAX_MAIL_BYTES:
        return None
    status, data = conn.uid("FETCH", uid, "(BODY.PEEK[])")
    for item in data if status == "OK" else []:
        if isinstance(item, tuple) and len(item) == 2:
            return bytes(item[1])
    return None


def poll_mailbox(session_factory: Callable[[], Session], settings: Settings | None = None) -> dict[str, int]:
    """Take the mailbox's new mails (at most PER_ROUND), each in its own transaction, marked \\Seen once
    it is committed. Returns counts: submission, followup, ignored, failed."""
    settings = settings or get_settings()
    counts = {"submission": 0, "followup": 0, "ignored": 0, "failed": 0}
    conn = _connect(settings)
    try:
        status, _ = conn.select(settings.imap_folder)
        if status != "OK":
            raise imaplib.IMAP4.error(f"cannot open folder {settings.imap_folder!r}")
        status, data = conn.uid("SEARCH", "UNSEEN")
        uids = data[0].decode().split()[:PER_ROUND] if status == "OK" and data and data[0] else []
        for uid in uids:
            counts[_take(conn, uid, session_factory)] += 1
    finally:
        try:
            conn.logout()
        except (imaplib.IMAP4.error, OSError):
            pass
    return counts


def _take(conn: imaplib.IMAP4, uid: str, session_factory: Callable[[], Session]) -> str:
    raw = _fetch(conn, uid)
    try:
        if raw is None:
            log.warning("mail %s is larger than %d bytes: left flagged in the mailbox", uid, MAX_MAIL_BYTES)
            outcome = "failed"
        else:
            mail = parse_mail(raw)
            with session_factory() as session:
                outcome = receive_email(session, mail).kind
                session.commit()
    except Exception:  # noqa: BLE001 - one bad mail must not stop the others
        log.exception("mail %s could not be taken: left flagged in the mailbox", uid)
        outcome = "failed"
    flags = r"(\Seen \Flagged)" if outcome == "failed" else r"(\Seen)"
    conn.uid("STORE", uid, "+FLAGS", flags)
    return outcome
