"""A real OTLP/HTTP trace receiver on loopback, for tests that prove spans leave the process.

It accepts `POST /v1/traces` as a collector does, decodes the protobuf body with
opentelemetry-proto (gzip or not), and keeps every span with its resource's attributes.

It can also misbehave as a collector does (`answer=`): hold every export open without
answering until the test releases it (a hung collector, or a slow one once released), or
answer 503 to every export (an overloaded one). `unreachable_collector()` is an endpoint
that refuses every connection (a collector that is down).
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import urlsplit

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from .loopback_http import loopback_http_server

SPAN_KIND_SERVER = Span.SpanKind.SPAN_KIND_SERVER
SPAN_KIND_CLIENT = Span.SpanKind.SPAN_KIND_CLIENT
SPAN_KIND_PRODUCER = Span.SpanKind.SPAN_KIND_PRODUCER
SPAN_KIND_CONSUMER = Span.SpanKind.SPAN_KIND_CONSUMER
STATUS_CODE_ERROR = Status.StatusCode.STATUS_CODE_ERROR

# How the receiver answers an export: at once, not until released, or 503 every time.
type Answer = Literal["ok", "hold", "unavailable"]


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def _attributes(pairs: Iterator[KeyValue] | Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


@dataclass(frozen=True)
class ReceivedEvent:
    name: str
    attributes: dict[str, Any]


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    scope: str
    # An exception the span recorded: its `exception` event, and the status's description.
    events: tuple[ReceivedEvent, ...] = ()
    status_message: str = ""
    status_code: int = 0  # unset; STATUS_CODE_ERROR when the span failed


@dataclass
class OtlpReceiver:
    server: ThreadingHTTPServer
    answer: Answer = "ok"
    spans: list[ReceivedSpan] = field(default_factory=list)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Exports held open, not answered yet ("hold"), and the event that lets them be answered.
    held: int = 0
    released: threading.Event = field(default_factory=threading.Event)
    _changed: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self._changed = threading.Condition(self.lock)

    def release(self) -> None:
        """Answer the exports held open, and every one after them, at once."""
        self.released.set()

    def wait_until_held(self, count: int = 1, *, timeout: float = 10) -> None:
        """Block until `count` exports are held open at the same time."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.held >= count, timeout):
                raise AssertionError(f"{self.held} exports held within {timeout}s, not {count}")

    def wait_for_requests(self, count: int, *, timeout: float = 10) -> None:
        """Block until `count` exports have been received (answered or not)."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.requests >= count, timeout):
                raise AssertionError(f"{self.requests} exports within {timeout}s, not {count}")

    def _count_request(self, *, held: int = 0) -> None:
        with self._changed:
            self.requests += 1
            self.held += held
            self._changed.notify_all()

    def _answered_held(self) -> None:
        with self._changed:
            self.held -= 1
            self._changed.notify_all()

    @property
    def endpoint(self) -> str:
        """The base URL, as OTEL_EXPORTER_OTLP_ENDPOINT takes it (the exporter adds /v1/traces)."""
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def received(self) -> list[ReceivedSpan]:
        with self.lock:
            return list(self.spans)

    def wait_for(
        self, predicate: Callable[[ReceivedSpan], bool], *, timeout: float = 10
    ) -> ReceivedSpan:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for span in self.received():
                if predicate(span):
                    return span
            time.sleep(0.05)
        names = [(span.name, span.kind) for span in self.received()]
        raise AssertionError(f"no matching span within {timeout}s; received {names}")


def _handler(receiver: OtlpReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if urlsplit(self.path).path != "/v1/traces":
                self.send_error(404)
                return
            if receiver.answer == "unavailable":
                receiver._count_request()
                self._answer(503, b"")
                return
            if receiver.answer == "hold" and not receiver.released.is_set():
                receiver._count_request(held=1)
                receiver.released.wait()
                receiver._answered_held()
                self._record(body, counted=True)
                return
            self._record(body, counted=False)

        def _record(self, body: bytes, *, counted: bool) -> None:
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            spans = [
                ReceivedSpan(
                    name=span.name,
                    kind=span.kind,
                    trace_id=span.trace_id.hex(),
                    span_id=span.span_id.hex(),
                    parent_span_id=span.parent_span_id.hex(),
                    attributes=_attributes(span.attributes),
                    resource=_attributes(resource_spans.resource.attributes),
                    scope=scope_spans.scope.name,
                    events=tuple(
                        ReceivedEvent(event.name, _attributes(event.attributes))
                        for event in span.events
                    ),
                    status_message=span.status.message,
                    status_code=span.status.code,
                )
                for resource_spans in request.resource_spans
                for scope_spans in resource_spans.scope_spans
                for span in scope_spans.spans
            ]
            with receiver.lock:
                receiver.spans.extend(spans)
            if not counted:
                receiver._count_request()
            self._answer(200, ExportTraceServiceResponse().SerializeToString())

        def _answer(self, status: int, payload: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the exporter gave up on an export held open, and closed its connection

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def otlp_receiver(answer: Answer = "ok") -> Iterator[OtlpReceiver]:
    with loopback_http_server() as server:
        receiver = OtlpReceiver(server, answer)
        server.RequestHandlerClass = _handler(receiver)
        try:
            yield receiver
        finally:
            receiver.release()  # a handler holding an export open answers, and its thread ends


@contextmanager
def unreachable_collector() -> Iterator[str]:
    """An endpoint (as `OtlpReceiver.endpoint`) that refuses every connection until the block
    ends: a socket bound to its port and never listening holds it, so nothing else can."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port: int = held.getsockname()[1]
        yield f"http://127.0.0.1:{port}"
