"""How a notification leaves: e-mail over SMTP, or a signed JSON POST to a webhook.

Each channel makes one attempt and says how it went; retrying is the dispatcher's business.
Everything a receiver needs to recognise a retry is in the message itself: the same
`Message-ID` / `X-OrderLedger-Delivery` on every attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Protocol

import httpx
import orjson

from api.settings import Settings
from projections.deliveries import Claimed


@dataclass(frozen=True)
class Sent:
    """One attempt's result: delivered, or why not (with the HTTP status when there was one)."""

    ok: bool
    error: str | None = None
    http_status: int | None = None


class Channel(Protocol):
    def send(self, notification: Claimed) -> Sent: ...

    def close(self) -> None: ...


def message_id(notification_id: str, sender: str) -> str:
    """The same on every attempt, so a mailbox can drop a second copy."""
    domain = sender.rpartition("@")[2] or "orderledger"
    return f"<{notification_id}@{domain}>"


def email_message(notification: Claimed, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = notification.recipient
    message["Subject"] = notification.subject
    message["Message-ID"] = message_id(notification.notification_id, sender)
    message["Date"] = format_datetime(_as_datetime(notification.created_at))
    message["X-OrderLedger-Delivery"] = notification.notification_id
    message["X-OrderLedger-Event"] = notification.kind
    message.set_content(notification.body)
    return message


class EmailChannel:
    """smtplib to the configured server: a connection per message keeps failures apart."""

    def __init__(self, settings: Settings) -> None:
        if settings.smtp_host is None:
            raise ValueError("an e-mail channel needs ORDERLEDGER_SMTP_HOST")
        self.host, self.port = settings.smtp_host, settings.smtp_port
        self.sender = settings.smtp_from
        self.starttls = settings.smtp_starttls
        self.username = settings.smtp_username
        password = settings.smtp_password
        self.password = password.get_secret_value() if password else ""
        self.timeout = settings.notify_timeout_seconds

    def send(self, notification: Claimed) -> Sent:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password)
                smtp.send_message(email_message(notification, self.sender))
        except (smtplib.SMTPException, OSError) as error:
            return Sent(False, _describe(error))
        return Sent(True)

    def close(self) -> None:
        """Nothing held between messages."""


def sign(secret: str, body: bytes) -> str:
    """`X-OrderLedger-Signature`: HMAC-SHA256 of the exact body bytes, hex, `sha256=` first."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_body(notification: Claimed) -> bytes:
    """Built from the stored row alone, so every retry sends the very same bytes."""
    created = _as_datetime(notification.created_at).isoformat()
    return orjson.dumps({
        "id": notification.notification_id, "event": notification.kind, "created_at": created,
        "order_number": notification.order_number, "data": orjson.loads(notification.payload),
    })  # fmt: skip


def webhook_headers(notification: Claimed, body: bytes, secret: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-OrderLedger-Signature": sign(secret, body),
        "X-OrderLedger-Delivery": notification.notification_id,
        "X-OrderLedger-Event": notification.kind,
    }


class WebhookChannel:
    """POST to the subscription's URL; a 2xx is delivered, anything else is tried again."""

    def __init__(self, secrets: Mapping[str, str], timeout: float) -> None:
        self.secrets = dict(secrets)
        self.timeout = timeout
        self._client: httpx.Client | None = None  # made on the first send (TLS set-up costs)

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout, follow_redirects=False)
        return self._client

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookChannel:
        # Looked up when sending: a rotated secret signs the retries too.
        secrets: dict[str, str] = {}
        for hook in settings.webhooks:
            secrets.setdefault(hook.url, hook.secret.get_secret_value())
        return cls(secrets, settings.notify_timeout_seconds)

    def send(self, notification: Claimed) -> Sent:
        secret = self.secrets.get(notification.recipient)
        if secret is None:
            return Sent(False, "no webhook subscription is configured for this URL any more")
        body = webhook_body(notification)
        headers = webhook_headers(notification, body, secret)
        try:
            response = self.client.post(notification.recipient, content=body, headers=headers)
        except httpx.HTTPError as error:
            return Sent(False, _describe(error))
        if 200 <= response.status_code < 300:
            return Sent(True, http_status=response.status_code)
        return Sent(False, f"HTTP {response.status_code}", response.status_code)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:500]


def _as_datetime(value: Any) -> datetime:
    """PostgreSQL returns datetimes, SQLite ISO text."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
