"""Webhook notifications: events POSTed to `WEBHOOK_URL` by the worker, resiliently.

The service enqueues a `webhooks.deliver` job in the transaction of the change it reports, so
an event is sent exactly when the change happened (ARCH-3). The worker delivers it through the
shared outbound client (`core/http_client.py`): timeouts, retries with backoff under an overall
deadline, and the "webhook" circuit breaker. A delivery that still fails fails the job, which
the queue retries later with its own, longer backoff, up to `JOB_MAX_ATTEMPTS`: with the
default 5, the job waits 15 to 30 s in all between its attempts before it is kept as failed;
for a receiver down an hour to still get every event, 21 attempts (the waits then add up to
at least an hour, a wait being at most 10 minutes).

Requests follow the Standard Webhooks conventions (https://www.standardwebhooks.com): headers
`webhook-id` (stable across retries: receivers deduplicate on it, and it is also sent as
`Idempotency-Key`, which is what makes the POST safe to retry), `webhook-timestamp`, and, with
`WEBHOOK_SECRET` set, `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`
keyed as `webhook_keys.py` reads the secret. With `WEBHOOK_SECRET_PREVIOUS` too, the header
carries a second signature, space-separated, as the spec provides for rotation: a receiver
verifies with whichever of the two secrets it holds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from .http_client import IDEMPOTENCY_KEY_HEADER, OutboundHttp
from .logging import get_logger
from .queue import enqueue
from .settings import ChassisSettings
from .worker import JobHandler

DELIVER_WEBHOOK = "webhooks.deliver"
WEBHOOK_DEPENDENCY = "webhook"

_log = get_logger(__name__)


class WebhookDeliveryError(Exception):
    """The receiver did not accept the event; the job is retried later."""


def webhook_event(event_type: str, data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": f"evt_{uuid7().hex}",
        "type": event_type,
        "timestamp": datetime.now(UTC).isoformat(),
        "data": dict(data),
    }


def enqueue_webhook(
    session: AsyncSession, event_type: str, data: Mapping[str, Any], *, max_attempts: int = 5
) -> None:
    """Add the event's delivery to the caller's transaction."""
    enqueue(session, DELIVER_WEBHOOK, webhook_event(event_type, data), max_attempts=max_attempts)


def signature(key: bytes, event_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{event_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(keys: Iterable[bytes], event_id: str, timestamp: int, body: bytes) -> str:
    """`webhook-signature`: one signature per key, space-separated, the current key's first."""
    return " ".join(signature(key, event_id, timestamp, body) for key in keys)


def webhook_handlers(http: OutboundHttp, settings: ChassisSettings) -> dict[str, JobHandler]:
    """The worker's delivery handler, bound to the shared client and the settings."""
    http.declare(WEBHOOK_DEPENDENCY)

    async def deliver(_: AsyncSession, event: dict[str, Any]) -> None:
        if settings.webhooks.url is None:
            _log.warning("webhook_dropped_no_url", event_id=event.get("id"))
            return
        body = orjson.dumps(event)
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "webhook-id": event["id"],
            "webhook-timestamp": str(timestamp),
            IDEMPOTENCY_KEY_HEADER: event["id"],
        }
        if keys := settings.webhooks.signing_keys():
            headers["webhook-signature"] = signature_header(keys, event["id"], timestamp, body)
        response = await http.request(
            "POST",
            settings.webhooks.url,
            dependency=WEBHOOK_DEPENDENCY,
            headers=headers,
            content=body,
        )
        if not response.is_success:
            raise WebhookDeliveryError(f"the receiver answered {response.status_code}")
        _log.info("webhook_delivered", event_id=event["id"], event_type=event["type"])

    return {DELIVER_WEBHOOK: deliver}
