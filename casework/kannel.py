"""SMS through Kannel's HTTP sendsms interface (smsbox): Chinese text as UTF-8, sent as UCS-2 (coding=2),
with a delivery-report URL that carries our message id."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx

from casework.ledger import SentLedger
from casework.models import OutboxMessage
from hotline.config import Settings


class SmsSendError(RuntimeError):
    pass


@dataclass
class KannelTransport:
    """`url` is smsbox's sendsms endpoint, e.g. http://127.0.0.1:13013/cgi-bin/sendsms."""

    url: str
    username: str
    password: str
    sender: str
    ledger: SentLedger
    dlr_url: str | None = None
    timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> KannelTransport:
        return cls(
            url=settings.kannel_url or "",
            username=settings.kannel_user,
            password=settings.kannel_password,
            sender=settings.sms_sender,
            ledger=SentLedger(Path(settings.outbox_dir) / "sms-sent.sqlite"),
            dlr_url=settings.kannel_dlr_url,
        )

    def params(self, message: OutboxMessage) -> dict[str, str]:
        params = {
            "username": self.username,
            "password": self.password,
            "from": self.sender,
            "to": message.to,
            "text": message.body,
            "charset": "UTF-8",
            "coding": "2",
        }
        if self.dlr_url:
            # Kannel fills in %d (report type); our id travels in the URL
            sep = "&" if "?" in self.dlr_url else "?"
            params["dlr-mask"] = "3"
            params["dlr-url"] = f"{self.dlr_url}{sep}id={quote(message.message_id)}&type=%d"
        return params

    def send(self, message: OutboxMessage) -> None:
        if self.ledger.seen(message.message_id):
            return
        try:
            resp = httpx.get(self.url, params=self.params(message), timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise SmsSendError(f"Kannel unreachable at {self.url}: {exc}") from exc
        if resp.status_code not in (200, 202):
            raise SmsSendError(
                f"Kannel refused the message: HTTP {resp.status_code} {resp.text.strip()[:200]}"
            )
        self.ledger.mark(message.message_id)
