"""Sending deliveries: claim, notify the block (10 s at most), record the outcome.

Every outcome is recorded on the delivery's row (``alert ls`` lists them), said on the
``orchestrate_nb.alerts`` logger, and written to the run's own logs. A failure is retried
with backoff (1, 2, 4, 8 s) up to ``MAX_ATTEMPTS`` sends; nothing here ever raises into
the caller: an alert must never fail or block the run it is about.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from orchestrate_nb.blocks.notifications import TIMEOUT_SECONDS
from orchestrate_nb.errors import OrchestrateError
from orchestrate_nb.store import alerts as store
from orchestrate_nb.store.alerts import DeliveryInfo, NewDelivery
from orchestrate_nb.store.database import Database

UTC = dt.timezone.utc
MAX_ATTEMPTS = 5
BACKOFF_SECONDS = (1.0, 2.0, 4.0, 8.0)
CLAIM_SECONDS = 3 * TIMEOUT_SECONDS  # a sender silent for longer is taken for dead
logger = logging.getLogger("orchestrate_nb.alerts")
Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    target: str
    status: str  # sent | retrying | failed
    error: str | None


def claim_and_send(database: Database, deliveries: list[NewDelivery],
                   clock: Clock = utcnow) -> list[Outcome]:
    """Insert each delivery's row and send those this process inserted (the others are
    someone else's, or were sent before)."""
    if not deliveries:
        return []
    now = clock()
    claimed: list[tuple[int, NewDelivery]] = []
    with database.write() as conn:
        for delivery in deliveries:
            delivery_id = store.claim_new(conn, delivery, now, CLAIM_SECONDS)
            if delivery_id is not None:
                claimed.append((delivery_id, delivery))
    return [send(database, delivery_id, d.target, d.subject_text, d.body, d.flow_run_id, 0,
                 clock) for delivery_id, d in claimed]


def send_due(database: Database, clock: Clock = utcnow) -> list[Outcome]:
    """Retry the deliveries whose next attempt is due (and those a dead sender left)."""
    due = store.claim_due(database, clock(), CLAIM_SECONDS)
    return [_resend(database, delivery, clock) for delivery in due]


def _resend(database: Database, delivery: DeliveryInfo, clock: Clock) -> Outcome:
    return send(database, delivery.id, delivery.target, delivery.subject_text or "",
                delivery.body or "", delivery.flow_run_id, delivery.attempts, clock)


def send(database: Database, delivery_id: int, target: str, subject: str, body: str,
         flow_run_id: str | None, attempts_before: int, clock: Clock = utcnow) -> Outcome:
    error = notify_block(database, target, body, subject)
    attempt = attempts_before + 1
    now = clock()
    retry_at = None
    if error is not None and attempt < MAX_ATTEMPTS and not error.startswith("no block"):
        retry_at = now + dt.timedelta(seconds=BACKOFF_SECONDS[min(attempt,
                                                                  len(BACKOFF_SECONDS)) - 1])
    try:
        status = store.record_outcome(database, delivery_id, error, now, retry_at)
    except OrchestrateError as exc:  # the next pass takes the claim over
        logger.warning("could not record alert delivery %s: %s", delivery_id, exc)
        return Outcome(delivery_id, target, "unknown", error)
    _report(database, Outcome(delivery_id, target, status, error), subject, attempt,
            retry_at, flow_run_id, now)
    return Outcome(delivery_id, target, status, error)


def notify_block(database: Database, target: str, body: str, subject: str | None) -> str | None:
    """Send through the block named ``target``; the error in one line, or None if sent.
    The send runs in a thread given ``TIMEOUT_SECONDS`` (plus a margin) in all."""
    from orchestrate_nb.blocks.core import Block
    from orchestrate_nb.blocks.notifications import NotificationBlock

    try:
        block = Block.load_from(database, target)
    except OrchestrateError as exc:
        return str(exc)
    if not isinstance(block, NotificationBlock):
        return f"no block {target!r} that can notify (it is a {type(block).__name__})"
    errors: list[str] = []

    def attempt() -> None:
        try:
            with block.raise_on_failure():
                block.notify(body, subject)
        except Exception as exc:  # a bug in a user's block is its delivery's failure
            errors.append(" ".join(str(exc).split()) or type(exc).__name__)

    thread = threading.Thread(target=attempt, name="orchestrate_nb-alert-send", daemon=True)
    thread.start()
    thread.join(TIMEOUT_SECONDS + 2)
    if thread.is_alive():
        return f"{target}: no answer within {TIMEOUT_SECONDS:g} s"
    return errors[0] if errors else None


def _report(database: Database, outcome: Outcome, subject: str, attempt: int,
            retry_at: dt.datetime | None, flow_run_id: str | None, now: dt.datetime) -> None:
    if outcome.status == "sent":
        line, level = f"alert sent to {outcome.target}: {subject}", logging.INFO
    elif retry_at is not None:
        wait = (retry_at - now).total_seconds()
        line = (f"alert to {outcome.target} failed (attempt {attempt}), retrying in "
                f"{wait:g} s: {outcome.error}")
        level = logging.WARNING
    else:
        line = f"alert to {outcome.target} failed for good after {attempt} attempt(s): " \
               f"{outcome.error}"
        level = logging.ERROR
    logger.log(level, "%s", line)
    if flow_run_id is not None:
        try:
            store.log_to_run(database, flow_run_id, level, line, now)
        except OrchestrateError as exc:
            logger.debug("could not write the alert outcome to the run's logs: %s", exc)
