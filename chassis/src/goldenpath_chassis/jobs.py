"""Background jobs (ARCH-3): enqueue in the business transaction; handlers run in the worker."""

from ._core.queue import enqueue
from ._core.webhooks import enqueue_webhook, webhook_event
from ._core.worker import JobHandler, PermanentJobError

__all__ = ["JobHandler", "PermanentJobError", "enqueue", "enqueue_webhook", "webhook_event"]
