"""An HTTPS server on loopback for the outbound TLS tests: it serves a certificate from a test
CA and records what each client showed of itself before any request: the connection, and the
server name (SNI) its hello offered."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import trustme

from goldenpath_chassis.testing.loopback_http import served_from_a_thread


class _Answer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.arrivals.append(self.headers.get("Host", ""))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


class TlsServer(ThreadingHTTPServer):
    def __init__(self, certificate: trustme.LeafCert, host: str = "127.0.0.1") -> None:
        super().__init__((host, 0), _Answer)
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        certificate.configure_cert(self.tls)
        self.tls.sni_callback = self._note_server_name
        self.connections = 0
        # Noted while the client's hello is read, before the certificate is sent: a client
        # that has seen the certificate has been noted.
        self.server_names: list[str | None] = []
        self.arrivals: list[str] = []

    def _note_server_name(
        self, _socket: ssl.SSLObject | ssl.SSLSocket, name: str | None, _context: ssl.SSLContext
    ) -> None:
        self.server_names.append(name)

    def get_request(self) -> tuple[socket.socket, Any]:
        plain, address = super().get_request()
        self.connections += 1
        # The handshake runs in the connection's own thread (finish_request), not the accept loop.
        return self.tls.wrap_socket(plain, server_side=True, do_handshake_on_connect=False), address

    def finish_request(
        self, request: socket.socket | tuple[bytes, socket.socket], address: Any
    ) -> None:
        assert isinstance(request, ssl.SSLSocket)
        try:
            request.do_handshake()
        except OSError:  # the client refused the certificate (ssl.SSLError is an OSError)
            return
        super().finish_request(request, address)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@contextmanager
def serving_tls(certificate: trustme.LeafCert) -> Iterator[TlsServer]:
    with served_from_a_thread(TlsServer(certificate)) as server:
        yield server
