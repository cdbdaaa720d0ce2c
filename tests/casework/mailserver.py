"""A real mail server for the tests, from Debian, on free loopback ports with its own configuration in a
temporary folder (the system's own mail services, if any run, are not used):

- Exim (`exim4-daemon-light`) takes mail by SMTP, as a citizen's provider and the hotline's SMTP relay
  would, and hands every message by LMTP to
- Dovecot (`dovecot-imapd`, `dovecot-lmtpd`), which keeps the mailboxes (Maildir) and serves them by IMAP:
  the hotline's mailbox that `hotline intake poll` reads, and the citizens' that the tests read replies in.

Every address of the domain has a mailbox (Dovecot's static userdb), read by IMAP with the server's one
password (a static passdb).
"""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import smtplib
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from tests.casework.kannel_gateway import wait_for_port
from tests.conftest import free_port

DOVECOT = "/usr/sbin/dovecot"
EXIM = "/usr/sbin/exim4"
EXIM_USER = "Debian-exim"
DOMAIN = "hotline.test"


def mail_server_missing_reason() -> str:
    return (
        f"the mail server tests need {DOVECOT} (dovecot-imapd, dovecot-lmtpd) and {EXIM} "
        "(exim4-daemon-light): run scripts/install"
    )


@dataclass
class MailServer:
    """Exim (SMTP) in front of Dovecot (LMTP delivery, IMAP) on free local ports."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="hlmail-", dir="/tmp")))
    ports: dict[str, int] = field(default_factory=dict)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    password: str = "mailbox-secret"  # every mailbox's (a static passdb: no file to reload)

    @staticmethod
    def available() -> bool:
        return Path(DOVECOT).exists() and Path(EXIM).exists()

    @property
    def imap_port(self) -> int:
        return self.ports["imap"]

    @property
    def smtp_port(self) -> int:
        return self.ports["smtp"]

    def _mail_user(self) -> tuple[str, str]:
        """Who owns the mailboxes: nobody when the tests run as root (Dovecot does not deliver as root),
        else the user running them (Dovecot then runs without root altogether)."""
        if os.geteuid() == 0:
            return "nobody", "nogroup"
        me = pwd.getpwuid(os.geteuid()).pw_name
        return me, me

    def dovecot_config(self) -> str:
        r, p = self.root, self.ports
        user, group = self._mail_user()
        internal = "dovecot" if os.geteuid() == 0 else user
        login = "dovenull" if os.geteuid() == 0 else user
        return f"""protocols = imap lmtp
listen = 127.0.0.1
base_dir = {r}/dovecot/run
state_dir = {r}/dovecot/state
instance_name = hotline-test-{p["imap"]}
log_path = {r}/dovecot/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_login_user = {login}
postmaster_address = postmaster@{DOMAIN}
mail_location = maildir:{r}/mail/%n
lmtp_save_to_detail_mailbox = no
passdb {{
  driver = static
  args = password={self.password}
}}
userdb {{
  driver = static
  args = uid={user} gid={group} home={r}/mail/%n allow_all_users=yes
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {p["imap"]}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {p["lmtp"]}
  }}
}}
"""

    def exim_config(self) -> str:
        r, p = self.root, self.ports
        return f"""primary_hostname = mail.{DOMAIN}
qualify_domain = {DOMAIN}
spool_directory = {r}/exim/spool
log_file_path = {r}/exim/log/%slog
pid_file_path = {r}/exim/exim.pid
daemon_smtp_ports = {p["smtp"]}
local_interfaces = 127.0.0.1
disable_ipv6 = true
host_lookup =
rfc1413_hosts =
never_users =
keep_environment =
message_size_limit = 50M
acl_smtp_rcpt = acl_check_rcpt
tls_advertise_hosts =

begin acl

acl_check_rcpt:
  accept

begin routers

to_dovecot:
  driver = accept
  transport = dovecot_lmtp

begin transports

dovecot_lmtp:
  driver = smtp
  protocol = lmtp
  hosts = 127.0.0.1
  port = {p["lmtp"]}
  hosts_override
  allow_localhost

begin retry

*   *   F,10m,1s
"""

    def start(self) -> MailServer:
        self.ports = {"imap": free_port(), "lmtp": free_port(), "smtp": free_port()}
        self.root.chmod(0o755)  # Exim's and Dovecot's own users go through it
        user, group = self._mail_user()
        # explicit modes: the servers' own users read their way through, whatever umask the test
        # process has (`hotline` commands run in it set 077)
        for sub in ("dovecot", "dovecot/run", "dovecot/state", "mail", "exim", "exim/spool", "exim/log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
            (self.root / sub).chmod(0o755)
        shutil.chown(self.root / "mail", user, group)
        if os.geteuid() == 0:
            for sub in ("exim", "exim/spool", "exim/log"):
                shutil.chown(self.root / sub, EXIM_USER, EXIM_USER)
        dovecot_conf = self.root / "dovecot/dovecot.conf"
        self._write(dovecot_conf, self.dovecot_config())
        exim_conf = self.root / "exim.conf"
        self._write(exim_conf, self.exim_config())
        self.procs.append(subprocess.Popen([DOVECOT, "-F", "-c", str(dovecot_conf)], stdout=subprocess.DEVNULL,
                                           stderr=open(self.root / "dovecot.stderr", "wb")))  # fmt: skip
        self.procs.append(subprocess.Popen([EXIM, "-C", str(exim_conf), "-bdf", "-q5s"], stdout=subprocess.DEVNULL,
                                           stderr=open(self.root / "exim.stderr", "wb")))  # fmt: skip
        try:
            for port in self.ports.values():
                wait_for_port(port)
        except RuntimeError as exc:
            logs = "\n".join(self.logs())
            self.stop()
            raise RuntimeError(f"{exc}\n{logs}") from exc
        return self

    @staticmethod
    def _write(path: Path, text: str) -> None:
        path.write_text(text)
        path.chmod(0o644)

    def logs(self) -> list[str]:
        files = [
            "dovecot.stderr",
            "exim.stderr",
            "dovecot/dovecot.log",
            "exim/log/mainlog",
            "exim/log/paniclog",
        ]
        return [f"--- {name}\n{(self.root / name).read_text(errors='replace')[-3000:]}"
                for name in files if (self.root / name).exists()]  # fmt: skip

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def address(self, name: str) -> str:
        """The address of mailbox `name` (read by IMAP as `name` with `password`)."""
        return f"{name}@{DOMAIN}"

    def send(self, message: EmailMessage) -> None:
        """Hand a mail to Exim by SMTP, as the citizen's provider would."""
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=10) as smtp:
            smtp.send_message(message)

    def messages(self, name: str) -> list[tuple[EmailMessage, set[str]]]:
        """The mails in `name`'s inbox with their IMAP flags, oldest first (read without marking them)."""
        with imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=10) as imap:
            imap.login(name, self.password)
            imap.select("INBOX", readonly=True)
            _, data = imap.uid("SEARCH", "ALL")
            found = []
            for uid in data[0].decode().split():
                _, parts = imap.uid("FETCH", uid, "(FLAGS BODY.PEEK[])")
                head, raw = parts[0] if isinstance(parts[0], tuple) else (b"", b"")
                flags = set(imaplib.ParseFlags(head) or ())
                msg = BytesParser(policy=policy.default).parsebytes(raw)
                assert isinstance(msg, EmailMessage)
                found.append((msg, {f.decode() for f in flags}))
            return found

    def wait_for(self, name: str, count: int, seconds: float = 20.0) -> list[tuple[EmailMessage, set[str]]]:
        """`name`'s mails once there are at least `count` (Exim delivers within a moment)."""
        deadline = time.monotonic() + seconds
        while True:
            found = self.messages(name)
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.2)
