"""A webhook receiver on loopback that verifies each delivery with the official Standard Webhooks
library (`standardwebhooks`), as a receiver built on the spec's own code does: 204 when a
signature verifies, 401 when none does. Each delivery's verdict is recorded.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from goldenpath_chassis.testing.loopback_http import loopback_http_server


@dataclass
class VerifyingReceiver:
    server: ThreadingHTTPServer
    verifier: Webhook
    verdicts: list[bool] = field(default_factory=list)
    signature_headers: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def verify(self, body: bytes, headers: dict[str, str]) -> bool:
        try:
            self.verifier.verify(body, headers, json_parse=False)
        except WebhookVerificationError:
            verified = False
        else:
            verified = True
        with self.lock:
            self.verdicts.append(verified)
            self.signature_headers.append(headers.get("webhook-signature", ""))
        return verified


def _handler(receiver: VerifyingReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            verified = receiver.verify(body, {name: self.headers[name] for name in self.headers})
            self.send_response(204 if verified else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def verifying_receiver(secret: str | bytes) -> Iterator[VerifyingReceiver]:
    """A receiver holding `secret` as the library takes it: a `whsec_` string, or a key's bytes
    (how a receiver of a secret without the prefix configures the library)."""
    with loopback_http_server() as server:
        receiver = VerifyingReceiver(server, Webhook(secret))
        server.RequestHandlerClass = _handler(receiver)
        yield receiver
