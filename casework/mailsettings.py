"""The e-mail intake's mailbox as the administrators set it on /admin/mailbox: IMAP and SMTP servers,
accounts, passwords, the poll interval. Kept in site_settings (key "mailbox", hotline.sitesettings), it
overrides the HOTLINE_IMAP_* / SMTP_* / MAIL_* defaults of the environment for every process.

Passwords are stored sealed with the installation's secret key (a database dump does not reveal them),
never shown back on the page, and the audit trail records only that one was changed. `test_connection`
logs into the servers and reports their answer in Chinese (audited)."""

from __future__ import annotations

import hashlib
import imaplib
import re
import smtplib
import socket
import ssl
from base64 import urlsafe_b64encode
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.orm import Session

from casework.errors import CaseError
from hotline import audit, sitesettings
from hotline.config import Settings, get_settings
from hotline.db import new_session

KEY = "mailbox"
TESTED = "mailbox_tested"  # audit action of a connection test
SECRETS = ("imap_password", "smtp_password")
TLS_MODES = {
    "ssl": "SSL/TLS（端口直接加密）",
    "starttls": "STARTTLS（先明文后加密）",
    "none": "不加密（仅限本机或内网）",
}
FIELDS = (
    "mail_enabled", "imap_host", "imap_port", "imap_tls", "imap_user", "imap_folder", "smtp_host", "smtp_port",
    "smtp_tls", "smtp_user", "mail_from", "mail_poll_seconds",
)  # fmt: skip
MIN_POLL, MAX_POLL = 10, 3600
TEST_TIMEOUT = 10.0
_HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.:-]{0,252})$")
_ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class MailboxError(CaseError):
    """A mailbox setting the page cannot take (the message names the field)."""


# -- what is in force ---------------------------------------------------------------------------


def _sealer() -> Fernet:
    secret = get_settings().session_secret().encode()
    return Fernet(urlsafe_b64encode(hashlib.sha256(b"hotline-mailbox-password:" + secret).digest()))


def _seal(password: str) -> str:
    return _sealer().encrypt(password.encode()).decode()


def _unseal(token: str) -> str | None:
    """The password, or None when it was sealed with another secret key (it must be typed again)."""
    try:
        return _sealer().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None


def stored(session: Session) -> dict[str, Any]:
    return sitesettings.read(session, KEY) or {}


def effective(base: Settings | None = None, session: Session | None = None) -> Settings:
    """The settings with the administrators' mailbox values over the environment's (read in `session`, or
    in a session of its own)."""
    base = base or get_settings()
    if session is None:
        with new_session() as own:
            values = stored(own)
    else:
        values = stored(session)
    if not values:
        return base
    update = {k: v for k, v in values.items() if k in FIELDS}
    for name in SECRETS:
        token = values.get(f"{name}_sealed")
        if token:
            password = _unseal(token)
            if password is not None:
                update[name] = password
    return base.model_copy(update=update)


@dataclass(frozen=True)
class MailboxView:
    """What the page shows: the values in force (passwords only as set or not) and where they come from."""

    values: dict[str, Any]
    password_set: dict[str, bool]
    unreadable: tuple[str, ...]  # passwords sealed with another secret key: to be typed again
    from_database: bool


def view(session: Session) -> MailboxView:
    values = stored(session)
    settings = effective(get_settings(), session)
    unreadable = tuple(
        n for n in SECRETS if values.get(f"{n}_sealed") and _unseal(values[f"{n}_sealed"]) is None
    )
    return MailboxView(
        values={name: getattr(settings, name) for name in FIELDS},
        password_set={name: bool(getattr(settings, name)) for name in SECRETS},
        unreadable=unreadable,
        from_database=bool(values),
    )


# -- what the page sends ------------------------------------------------------------------------


def _text(form: dict[str, str], name: str, label: str, limit: int) -> str:
    value = (form.get(name) or "").strip()
    if len(value) > limit or _CONTROL.search(value):
        raise MailboxError(f"{label}不能超过 {limit} 个字符，也不能含控制字符。")
    return value


def _host(form: dict[str, str], name: str, label: str) -> str:
    value = _text(form, name, label, 253)
    if value and not _HOST.match(value):
        raise MailboxError(f"{label}应为域名或 IP 地址，如 mail.example.gov.cn。")
    return value


def _number(form: dict[str, str], name: str, label: str, low: int, high: int) -> int:
    value = (form.get(name) or "").strip()
    if not value.isdigit() or not low <= int(value) <= high:
        raise MailboxError(f"{label}应为 {low} 至 {high} 之间的整数。")
    return int(value)


def _tls(form: dict[str, str], name: str, label: str) -> str:
    value = (form.get(name) or "").strip()
    if value not in TLS_MODES:
        raise MailboxError(f"请选择{label}的加密方式。")
    return value


def parse(form: dict[str, str]) -> dict[str, Any]:
    """The page's fields as settings values (MailboxError names the first bad one). Passwords are not
    among them (see `save`)."""
    values: dict[str, Any] = {
        "mail_enabled": form.get("mail_enabled") in ("1", "on", "true"),
        "imap_host": _host(form, "imap_host", "收信服务器（IMAP）地址"),
        "imap_port": _number(form, "imap_port", "收信服务器端口", 1, 65535),
        "imap_tls": _tls(form, "imap_tls", "收信服务器"),
        "imap_user": _text(form, "imap_user", "收信账号", 254),
        "imap_folder": _text(form, "imap_folder", "收信文件夹", 100) or "INBOX",
        "smtp_host": _host(form, "smtp_host", "发信服务器（SMTP）地址"),
        "smtp_port": _number(form, "smtp_port", "发信服务器端口", 1, 65535),
        "smtp_tls": _tls(form, "smtp_tls", "发信服务器"),
        "smtp_user": _text(form, "smtp_user", "发信账号", 254),
        "mail_from": _text(form, "mail_from", "发信地址", 254).lower(),
        "mail_poll_seconds": _number(form, "mail_poll_seconds", "收信间隔（秒）", MIN_POLL, MAX_POLL),
    }
    if values["mail_from"] and not _ADDRESS.match(values["mail_from"]):
        raise MailboxError("发信地址应为电子邮件地址，如 12345@example.gov.cn。")
    if values["mail_enabled"] and not (values["imap_host"] and values["imap_user"]):
        raise MailboxError("启用邮件受理前，请填写收信服务器地址和收信账号。")
    return values


def _passwords(form: dict[str, str], previous: dict[str, Any]) -> dict[str, str]:
    """The sealed passwords to keep: a typed one replaces the stored one, "clear_<name>" removes it,
    an empty field keeps it."""
    sealed: dict[str, str] = {}
    for name in SECRETS:
        typed = form.get(name) or ""
        if len(typed) > 256 or _CONTROL.search(typed):
            raise MailboxError("密码不能超过 256 个字符，也不能含控制字符。")
        if typed:
            sealed[f"{name}_sealed"] = _seal(typed)
        elif form.get(f"clear_{name}") not in ("1", "on") and previous.get(f"{name}_sealed"):
            sealed[f"{name}_sealed"] = previous[f"{name}_sealed"]
    return sealed


def candidate(session: Session, form: dict[str, str]) -> Settings:
    """The settings the page's fields would give (for a connection test before saving)."""
    values = parse(form)
    settings = effective(get_settings(), session).model_copy(update=values)
    update: dict[str, str] = {}
    for name in SECRETS:
        if form.get(name):
            update[name] = form[name]
        elif form.get(f"clear_{name}") in ("1", "on"):
            update[name] = ""
    return settings.model_copy(update=update)


def save(session: Session, form: dict[str, str], *, actor: str) -> None:
    """Store the page's values (audited; passwords recorded only as changed or not)."""
    previous = stored(session)
    value = parse(form) | _passwords(form, previous)
    sitesettings.write(session, KEY, value, actor=actor, secret=tuple(f"{n}_sealed" for n in SECRETS))


# -- testing the connection ---------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    server: str  # "收信服务器（IMAP）" | "发信服务器（SMTP）"
    ok: bool
    lines: tuple[str, ...]  # what happened, step by step, with the server's own answers


def _answer(data: object) -> str:
    """A server's answer as one readable line."""
    if isinstance(data, (list, tuple)):
        data = b" ".join(d if isinstance(d, bytes) else str(d).encode() for d in data)
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
    return " ".join(text.split())[:300]


def _error_text(exc: BaseException) -> str:
    """imaplib's error as the server said it (its argument is often the answer's bytes)."""
    return _answer(exc.args[0]) if exc.args else str(exc)


def _network_error(exc: BaseException, host: str, port: int) -> str:
    if isinstance(exc, socket.gaierror):
        return f"找不到服务器 {host}（域名解析失败）。"
    if isinstance(exc, ConnectionRefusedError):
        return f"连接被拒绝：{host} 的 {port} 端口没有邮件服务在监听。"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"连接 {host}:{port} 超时（{TEST_TIMEOUT:.0f} 秒内无应答）。"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"服务器证书校验失败：{exc.verify_message or exc}。"
    if isinstance(exc, ssl.SSLError):
        return f"加密连接失败（{exc.reason or exc}）：请检查加密方式与端口是否匹配。"
    if isinstance(exc, (ConnectionError, OSError)):
        return f"网络错误：{exc.strerror or exc}。"
    return f"出错：{exc}"


def check_imap(settings: Settings) -> Check:
    """Connect, log in and open the folder as the poller does; each step with the server's answer."""
    server, lines = "收信服务器（IMAP）", list[str]()
    host, port = settings.imap_host, settings.imap_port
    if not host or not settings.imap_user:
        return Check(server, False, ("未填写收信服务器地址或账号。",))
    context = ssl.create_default_context()
    try:
        conn: imaplib.IMAP4
        if settings.imap_tls == "ssl":
            conn = imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=TEST_TIMEOUT)
        else:
            conn = imaplib.IMAP4(host, port, timeout=TEST_TIMEOUT)
        lines.append(f"已连接 {host}:{port}，服务器应答：{_answer(conn.welcome)}")
        try:
            if settings.imap_tls == "starttls":
                conn.starttls(context)
                lines.append("STARTTLS 加密已建立。")
            try:
                _, logged_in = conn.login(settings.imap_user, settings.imap_password)
            except imaplib.IMAP4.error as exc:
                lines.append(f"登录失败（账号 {settings.imap_user}），服务器应答：{_error_text(exc)}")
                return Check(server, False, tuple(lines))
            lines.append(f"登录成功，服务器应答：{_answer(logged_in)}")
            status, data = conn.select(settings.imap_folder, readonly=True)
            if status != "OK":
                lines.append(f"无法打开文件夹“{settings.imap_folder}”，服务器应答：{_answer(data)}")
                return Check(server, False, tuple(lines))
            total = _answer(data)
            status, found = conn.search(None, "UNSEEN")
            unseen = len(found[0].split()) if status == "OK" and found and found[0] else 0
            lines.append(f"文件夹“{settings.imap_folder}”共有 {total} 封邮件，其中未读 {unseen} 封。")
        finally:
            try:
                conn.logout()
            except (imaplib.IMAP4.error, OSError):
                pass
    except (imaplib.IMAP4.error, OSError) as exc:
        lines.append(
            _network_error(exc, host, port) if isinstance(exc, OSError) else f"服务器应答：{_error_text(exc)}"
        )
        return Check(server, False, tuple(lines))
    return Check(server, True, tuple(lines))


def check_smtp(settings: Settings) -> Check:
    """Connect (and log in when an account is set) as the mail transport does; sends nothing."""
    server, lines = "发信服务器（SMTP）", list[str]()
    host, port = settings.smtp_host, settings.smtp_port
    if not host:
        return Check(server, False, ("未填写发信服务器地址：回复邮件和邮件通知不会发出（留在发件箱）。",))
    context = ssl.create_default_context()
    try:
        smtp: smtplib.SMTP
        if settings.smtp_tls == "ssl":
            smtp = smtplib.SMTP_SSL(timeout=TEST_TIMEOUT, context=context)
        else:
            smtp = smtplib.SMTP(timeout=TEST_TIMEOUT)
        with smtp:
            code, banner = smtp.connect(host, port)
            lines.append(f"已连接 {host}:{port}，服务器应答：{code} {_answer(banner)}")
            code, reply = smtp.ehlo()
            lines.append(f"EHLO 应答：{code} {_answer(reply.splitlines()[0] if reply else b'')}")
            if settings.smtp_tls == "starttls":
                code, reply = smtp.starttls(context=context)
                lines.append(f"STARTTLS 应答：{code} {_answer(reply)}")
            if settings.smtp_user:
                try:
                    code, reply = smtp.login(settings.smtp_user, settings.smtp_password)
                except smtplib.SMTPAuthenticationError as exc:
                    lines.append(
                        f"登录失败（账号 {settings.smtp_user}），服务器应答：{exc.smtp_code} {_answer(exc.smtp_error)}"
                    )
                    return Check(server, False, tuple(lines))
                lines.append(f"登录成功，服务器应答：{code} {_answer(reply)}")
            else:
                lines.append("未设置发信账号：不登录直接发信（服务器须允许本机转发）。")
    except smtplib.SMTPNotSupportedError as exc:
        lines.append(f"服务器不支持此操作：{exc}（请检查加密方式，或清空发信账号）。")
        return Check(server, False, tuple(lines))
    except smtplib.SMTPResponseException as exc:
        lines.append(f"服务器拒绝，应答：{exc.smtp_code} {_answer(exc.smtp_error)}")
        return Check(server, False, tuple(lines))
    except (smtplib.SMTPException, OSError) as exc:
        lines.append(_network_error(exc, host, port) if isinstance(exc, OSError) else f"出错：{exc}")
        return Check(server, False, tuple(lines))
    return Check(server, True, tuple(lines))


def check_connection(
    session: Session, settings: Settings, *, actor: str,
    checks: tuple[Callable[[Settings], Check], ...] = (check_imap, check_smtp),
) -> list[Check]:  # fmt: skip
    """Try the servers with `settings` (sends no mail, changes no flag); audited with the outcome."""
    results = [check(settings) for check in checks]
    audit.record(
        session, actor=actor, action=TESTED, entity="setting", entity_id=KEY,
        comment="；".join(f"{r.server}{'正常' if r.ok else '失败'}" for r in results),
        detail={"imap_host": settings.imap_host, "smtp_host": settings.smtp_host,
                "results": [{"server": r.server, "ok": r.ok, "lines": list(r.lines)} for r in results]},
    )  # fmt: skip
    session.flush()
    return results
