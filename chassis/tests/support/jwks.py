"""A JWKS endpoint on loopback, standing in for an identity provider's, that counts its fetches."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from goldenpath_chassis.testing.loopback_http import loopback_http_server


@dataclass
class JwksEndpoint:
    keys: list[dict[str, Any]] = field(default_factory=list)
    fetches: int = 0
    failing: bool = False
    url: str = ""

    def publish(self, *keys: dict[str, Any]) -> None:
        self.keys = list(keys)


@contextmanager
def serve_jwks(*keys: dict[str, Any]) -> Iterator[JwksEndpoint]:
    endpoint = JwksEndpoint(keys=list(keys))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            endpoint.fetches += 1
            if endpoint.failing:
                self.send_response(503)
                self.end_headers()
                return
            body = json.dumps({"keys": endpoint.keys}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with loopback_http_server(Handler) as server:
        endpoint.url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
        yield endpoint
