"""A downstream service that answers 404 to every GET, called with a credential in the query
string: httpx's `raise_for_status` then raises an `HTTPStatusError` whose message holds that
URL, for the tests of what such an error leaves in logs, spans and a failed job."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACCESS_TOKEN = "at-6b0f2d9c41e7"


class NotFound(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def url_with_token(server: ThreadingHTTPServer) -> tuple[str, str]:
    """A URL on `server` with `ACCESS_TOKEN` in its query, and that URL as it is redacted."""
    host, port = server.server_address[:2]
    url = f"http://{host!s}:{port}/v1/things?limit=5&access_token="
    return url + ACCESS_TOKEN, url + "REDACTED"
