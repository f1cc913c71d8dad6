"""Webhook triggers as rows: made, listed, revoked, found by their secret, and the delivery
ids they saw in the last hour.

The secret is 32 random bytes (URL-safe base64) shown once, when it is made; the store keeps
its SHA-256 only (a fast hash is enough for a random secret of that size), so neither the
database nor a backup of it can fire a webhook, and a lost URL is revoked, not recovered.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from orchestrate_nb.store.orm import Deployment, Webhook, WebhookDelivery

REPLAY_WINDOW = dt.timedelta(hours=1)


@dataclass(frozen=True)
class WebhookInfo:
    id: str
    deployment_id: str
    deployment_name: str | None  # None: its deployment was removed
    mapping: dict[str, str]
    created: dt.datetime
    last_used: dt.datetime | None


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def create_webhook(conn: Connection, deployment_id: str, mapping: dict[str, str],
                   now: dt.datetime) -> tuple[str, str]:
    """A new webhook of the deployment: (its id, its secret, shown this once)."""
    secret = secrets.token_urlsafe(32)
    webhook_id = uuid.uuid4().hex[:12]
    conn.execute(insert(Webhook), [{"id": webhook_id, "deployment_id": deployment_id,
                                    "secret_hash": secret_hash(secret),
                                    "mapping": mapping or None, "created": now,
                                    "last_used": None}])
    return webhook_id, secret


def _select() -> Any:
    return (select(Webhook.id, Webhook.deployment_id, Deployment.name, Webhook.mapping,
                   Webhook.created, Webhook.last_used)
            .outerjoin(Deployment, Deployment.id == Webhook.deployment_id))


def _info(row: Any) -> WebhookInfo:
    return WebhookInfo(row[0], row[1], row[2], dict(row[3] or {}), row[4], row[5])


def list_webhooks(conn: Connection, deployment_id: str | None = None) -> list[WebhookInfo]:
    query = _select().order_by(Webhook.created)
    if deployment_id is not None:
        query = query.where(Webhook.deployment_id == deployment_id)
    return [_info(row) for row in conn.execute(query)]


def find_by_secret(conn: Connection, secret: str) -> WebhookInfo | None:
    row = conn.execute(_select().where(Webhook.secret_hash == secret_hash(secret))).first()
    return None if row is None else _info(row)


def revoke(conn: Connection, deployment_id: str, webhook_id: str | None = None) -> int:
    """Delete the deployment's webhooks (or the one with that id); how many."""
    query = delete(Webhook).where(Webhook.deployment_id == deployment_id)
    if webhook_id is not None:
        query = query.where(Webhook.id == webhook_id)
    removed = conn.execute(query).rowcount
    return int(removed or 0)


def seen_delivery(conn: Connection, webhook_id: str, delivery_id: str,
                  now: dt.datetime) -> tuple[bool, str | None]:
    """Whether this delivery id came within the replay window (and the run it made)."""
    row = conn.execute(select(WebhookDelivery.flow_run_id).where(
        WebhookDelivery.webhook_id == webhook_id, WebhookDelivery.delivery_id == delivery_id,
        WebhookDelivery.created >= now - REPLAY_WINDOW)).first()
    return (row is not None), (row[0] if row is not None else None)


def record_delivery(conn: Connection, webhook_id: str, delivery_id: str | None,
                    flow_run_id: str, now: dt.datetime) -> None:
    """Remember the delivery (forgetting those older than the window, of every webhook)."""
    if delivery_id is not None:
        conn.execute(delete(WebhookDelivery).where(
            WebhookDelivery.created < now - REPLAY_WINDOW))
        conn.execute(insert(WebhookDelivery), [{"webhook_id": webhook_id,
                                                "delivery_id": delivery_id,
                                                "flow_run_id": flow_run_id, "created": now}])
    conn.execute(update(Webhook).where(Webhook.id == webhook_id).values(last_used=now))
