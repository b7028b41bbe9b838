"""A TCP forwarder on loopback whose target can change: what a DNS name or a virtual IP is to a
database's clients during a failover. Connections already made keep their server unless
`retarget(..., drop=True)` cuts them (a server that restarts closes its connections; one that
stays up keeps them)."""

from __future__ import annotations

import asyncio
import contextlib


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    except ConnectionError:
        pass
    finally:
        sink.transport.abort()  # one side gone: the other hears it at once


class TcpForwarder:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._open: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        pair = (writer, upstream)
        self._open.add(pair)
        try:
            await asyncio.gather(_pipe(reader, upstream), _pipe(upstream_reader, writer))
        finally:
            self._open.discard(pair)

    def retarget(self, port: int, *, drop: bool) -> None:
        """New connections go to `port`; with `drop`, the open ones are cut."""
        self.target_port = port
        if drop:
            for client, upstream in list(self._open):
                client.transport.abort()
                upstream.transport.abort()

    async def close(self) -> None:
        self.retarget(self.target_port, drop=True)
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
