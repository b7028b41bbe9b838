"""Exceptions recorded on spans, the credentials of the URLs in their text redacted (OBS-2).

A span records an exception that escapes it (the SDK's `start_as_current_span` does, for
every instrumentation and hand-made span): an `exception` event whose message and stack trace
hold the exception's text, and a status description that repeats it. httpx's
`raise_for_status` puts the URL it called in that text, query string and all. Each ended span
is checked here before it is encoded (`span_encoding.py`); one that holds such text is
exported as a copy with it redacted by `url_redaction.py`, every other field as it was.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import Status

from .url_redaction import redacted_text

_EXCEPTION_EVENT = "exception"


def exceptions_redacted(span: ReadableSpan) -> ReadableSpan:
    """`span` itself, or a copy whose exception events and status description are redacted."""
    events = span.events
    description = span.status.description
    if not events and not description:
        return span  # the common case: nothing recorded
    redacted_events = [_redacted_event(event) for event in events]
    redacted_description = redacted_text(description) if description else description
    if redacted_description == description and all(
        new is old for new, old in zip(redacted_events, events, strict=True)
    ):
        return span
    return _RedactedSpan(
        span, redacted_events, Status(span.status.status_code, redacted_description)
    )


def _redacted_event(event: Event) -> Event:
    if event.name != _EXCEPTION_EVENT or not event.attributes:
        return event
    attributes = {
        key: redacted_text(value) if isinstance(value, str) else value
        for key, value in event.attributes.items()
    }
    if attributes == event.attributes:
        return event
    kept = BoundedAttributes(attributes=attributes, immutable=True)
    kept.dropped = event.dropped_attributes
    return Event(event.name, kept, event.timestamp)


class _RedactedSpan(ReadableSpan):
    """A copy of an ended span with other events and status, and the same dropped counts
    (which a plain `ReadableSpan` reads from the SDK's bounded containers)."""

    def __init__(self, span: ReadableSpan, events: Sequence[Event], status: Status) -> None:
        super().__init__(
            name=span.name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=span.attributes,
            events=events,
            links=span.links,
            kind=span.kind,
            status=status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )
        self._dropped = (span.dropped_attributes, span.dropped_events, span.dropped_links)

    @property
    def dropped_attributes(self) -> int:
        return self._dropped[0]

    @property
    def dropped_events(self) -> int:
        return self._dropped[1]

    @property
    def dropped_links(self) -> int:
        return self._dropped[2]
