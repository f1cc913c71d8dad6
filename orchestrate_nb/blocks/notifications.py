"""Notification blocks, each with ``notify(body, subject=None)`` (Prefect's names).

Slack, Microsoft Teams, custom webhooks and SMTP email are sent with the standard library;
``AppriseNotificationBlock`` takes any Apprise URL and needs the ``apprise`` extra. As in
Prefect, ``notify`` logs a failure rather than raising it, unless inside
``with block.raise_on_failure():``. Every send gives up after ``TIMEOUT_SECONDS``.
URLs are secret (a webhook URL is its own credential): they are encrypted at rest and
never appear in an error message.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any, Literal

from pydantic import Field, PrivateAttr, SecretStr, field_validator

from orchestrate_nb.blocks.core import Block
from orchestrate_nb.errors import NotificationError
from orchestrate_nb.secret_masking import mask_secrets

TIMEOUT_SECONDS = 10.0
logger = logging.getLogger("orchestrate_nb.notifications")


def _check_http_url(url: str, what: str) -> str:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"{what} must be an http:// or https:// URL with a host")
    return url


class NotificationBlock(Block):
    """The base of notification blocks: ``notify`` sends; subclasses implement ``_send``."""

    _raise_on_failure: bool = PrivateAttr(default=False)

    def notify(self, body: str, subject: str | None = None) -> None:
        try:
            self._send(mask_secrets(body), None if subject is None else mask_secrets(subject))
        except NotificationError as exc:
            if self._raise_on_failure:
                raise
            logger.error("%s notification failed: %s", type(self).__name__, exc)

    @contextmanager
    def raise_on_failure(self) -> Iterator[None]:
        """Inside the block, a failed ``notify`` raises ``NotificationError``."""
        previous, self._raise_on_failure = self._raise_on_failure, True
        try:
            yield
        finally:
            self._raise_on_failure = previous

    def _send(self, body: str, subject: str | None) -> None:
        raise NotImplementedError


def post(url: str, *, method: str = "POST", data: bytes | None = None,
         headers: dict[str, str] | None = None, timeout: float = TIMEOUT_SECONDS,
         what: str = "webhook") -> int:
    """Send one HTTP request; a refusal or an unreachable receiver is a NotificationError
    that names the receiver's host, never the (secret) URL."""
    host = urllib.parse.urlsplit(url).hostname or "?"
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"User-Agent": "orchestrate-nb", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        raise NotificationError(f"{what} at {host} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NotificationError(f"{what} at {host} could not be reached: {reason}") from None


def _post_json(url: str, payload: dict[str, Any], what: str) -> None:
    post(url, data=json.dumps(payload).encode(), what=what,
         headers={"Content-Type": "application/json"})


class _IncomingWebhook(NotificationBlock):
    """A chat service's incoming webhook: a secret http(s) URL the message is posted to."""

    url: SecretStr = Field(description="The incoming webhook's URL")
    allow_private_urls: bool = True

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        _check_http_url(value.get_secret_value(), "url")
        return value


class SlackWebhook(_IncomingWebhook):
    """A Slack incoming webhook: posts ``{"text": ...}``."""

    _block_type_name = "Slack Webhook"

    def _send(self, body: str, subject: str | None) -> None:
        text = f"*{subject}*\n{body}" if subject else body
        _post_json(self.url.get_secret_value(), {"text": text}, "Slack webhook")


class MicrosoftTeamsWebhook(_IncomingWebhook):
    """A Microsoft Teams incoming webhook: posts a MessageCard."""

    _block_type_name = "Microsoft Teams Webhook"

    def _send(self, body: str, subject: str | None) -> None:
        summary = subject or (body.splitlines() or ["orchestrate-nb"])[0]
        card = {"@type": "MessageCard", "@context": "https://schema.org/extensions",
                "summary": summary,
                "title": subject or "", "text": body.replace("\n", "  \n")}
        _post_json(self.url.get_secret_value(), card, "Teams webhook")


class CustomWebhookNotificationBlock(NotificationBlock):
    """Any HTTP endpoint. ``{{subject}}``, ``{{body}}``, ``{{name}}`` and the keys of
    ``secrets`` are replaced in the URL, params, JSON, form data, headers and cookies."""

    _block_type_name = "Custom Webhook"
    name: str = Field(description="Shown as {{name}}")
    url: str = Field(description="The URL (may use {{secret-key}} placeholders)")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    params: dict[str, str] | None = None
    json_data: dict[str, Any] | None = None
    form_data: dict[str, str] | None = None
    headers: dict[str, str] | None = None
    cookies: dict[str, str] | None = None
    timeout: float = TIMEOUT_SECONDS
    secrets: dict[str, SecretStr] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_http_url(value, "url")

    def _send(self, body: str, subject: str | None) -> None:
        values = {"subject": subject or "", "body": body, "name": self.name,
                  **{k: v.get_secret_value() for k, v in self.secrets.items()}}
        url = _fill(self.url, values)
        if self.params:
            query = urllib.parse.urlencode(_fill(self.params, values))
            url = f"{url}{'&' if '?' in url else '?'}{query}"
        headers = dict(_fill(self.headers or {}, values))
        data = None
        if self.json_data is not None:
            data = json.dumps(_fill(self.json_data, values)).encode()
            headers.setdefault("Content-Type", "application/json")
        elif self.form_data is not None:
            data = urllib.parse.urlencode(_fill(self.form_data, values)).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in
                                          _fill(self.cookies, values).items())
        post(url, method=self.method, data=data, headers=headers,
             timeout=min(self.timeout, TIMEOUT_SECONDS), what=f"webhook {self.name!r}")


def _fill(template: Any, values: dict[str, str]) -> Any:
    if isinstance(template, str):
        for key, value in values.items():
            template = template.replace("{{" + key + "}}", value)
        return template
    if isinstance(template, dict):
        return {key: _fill(item, values) for key, item in template.items()}
    if isinstance(template, list):
        return [_fill(item, values) for item in template]
    return template


class EmailNotification(NotificationBlock):
    """Email through an SMTP server (``smtp_type``: SSL, STARTTLS or INSECURE, as in
    prefect-email's ``EmailServerCredentials``)."""

    _block_type_name = "Email"
    smtp_server: str
    smtp_port: int | None = None  # 465 for SSL, 587 for STARTTLS, 25 for INSECURE
    smtp_type: Literal["SSL", "STARTTLS", "INSECURE"] = "SSL"
    username: str | None = None
    password: SecretStr | None = None
    email_from: str | None = None
    email_to: list[str] = Field(min_length=1)
    verify: bool = True

    @field_validator("email_to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if "@" not in address or any(c.isspace() for c in address):
                raise ValueError(f"not an email address: {address!r}")
        return value

    def _send(self, body: str, subject: str | None) -> None:
        message = EmailMessage()
        message["Subject"] = subject or "orchestrate-nb notification"
        message["From"] = self.email_from or self.username or "orchestrate-nb@localhost"
        message["To"] = ", ".join(self.email_to)
        message.set_content(body)
        port = self.smtp_port or {"SSL": 465, "STARTTLS": 587, "INSECURE": 25}[self.smtp_type]
        context = ssl.create_default_context()
        if not self.verify:
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        try:
            smtp: smtplib.SMTP = (smtplib.SMTP_SSL(self.smtp_server, port, context=context,
                                                   timeout=TIMEOUT_SECONDS)
                                  if self.smtp_type == "SSL" else
                                  smtplib.SMTP(self.smtp_server, port, timeout=TIMEOUT_SECONDS))
            with smtp:
                if self.smtp_type == "STARTTLS":
                    smtp.starttls(context=context)
                if self.username and self.password is not None:
                    smtp.login(self.username, self.password.get_secret_value())
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise NotificationError(f"SMTP server {self.smtp_server}:{port}: "
                                    f"{type(exc).__name__}: {exc}") from None


class AppriseNotificationBlock(NotificationBlock):
    """Any Apprise URL (``slack://…``, ``mailtos://…``, ``json://…``, …): needs
    ``pip install 'orchestrate-nb[apprise]'``."""

    _block_type_name = "Apprise"
    url: SecretStr = Field(description="An Apprise URL")

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        apprise = _apprise()
        apprise_logger = logging.getLogger("apprise")  # it would log the (secret) URL
        level, apprise_logger.level = apprise_logger.level, logging.CRITICAL + 1
        try:
            known = apprise.Apprise.instantiate(value.get_secret_value())
        finally:
            apprise_logger.setLevel(level)
        if known is None:
            raise ValueError("url is not a URL Apprise knows (see Apprise's list of services)")
        return value

    def _send(self, body: str, subject: str | None) -> None:
        apprise = _apprise()
        notifier = apprise.Apprise()
        notifier.add(self.url.get_secret_value())
        for service in notifier:
            service.socket_connect_timeout = service.socket_read_timeout = TIMEOUT_SECONDS
        if not notifier.notify(body=body, title=subject or ""):
            raise NotificationError("the Apprise service did not accept the notification")


def _apprise() -> Any:
    try:
        import apprise
    except ImportError:
        raise NotificationError("AppriseNotificationBlock needs Apprise: "
                                "pip install 'orchestrate-nb[apprise]'") from None
    return apprise
