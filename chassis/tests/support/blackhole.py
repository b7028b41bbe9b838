"""A TCP proxy on loopback that can turn into a black hole: what a dropped route or a partition
is to a server's clients. While `dropping`, connections open (as the kernel of a frozen host
still accepts them) and writes succeed, but nothing reaches the server or comes back; what the
clients sent meanwhile is kept, so a test can count their attempts instead of timing them.
Once `dropping` is unset, the connections opened since pass everything on again (those opened
while dropping stay a black hole: the clients close them on their timeout)."""

from __future__ import annotations

import asyncio
import contextlib


class BlackholeProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.dropping = False
        # While dropping: the connections opened, and everything the clients sent.
        self.connections_dropped = 0
        self.swallowed = bytearray()
        self.swallowed_some = asyncio.Event()
        # What the clients sent that reached the server.
        self.passed = bytearray()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def commands_swallowed(self, name: bytes) -> int:
        """How many times a RESP command `name` (b"GET") was sent into the black hole."""
        return self.swallowed.upper().count(b"\r\n" + name.upper() + b"\r\n")

    def commands(self) -> list[bytes]:
        """The name of each RESP command sent into the black hole, in order (a pipeline's too)."""
        return _command_names(bytes(self.swallowed))

    def commands_passed(self) -> list[bytes]:
        """The name of each RESP command passed on to the server, in order."""
        return _command_names(bytes(self.passed))

    def _swallow(self, data: bytes) -> None:
        self.swallowed += data
        self.swallowed_some.set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        opened = [writer]
        self._writers.add(writer)
        try:
            if self.dropping:
                self.connections_dropped += 1
                while data := await reader.read(65536):
                    self._swallow(data)
                return
            upstream_reader, upstream = await asyncio.open_connection("127.0.0.1", self.target_port)
            opened.append(upstream)
            self._writers.add(upstream)
            await asyncio.gather(
                self._pipe(reader, upstream, to_server=True),
                self._pipe(upstream_reader, writer, to_server=False),
            )
        except ConnectionError:
            pass
        finally:
            for each in opened:
                each.transport.abort()
                self._writers.discard(each)

    async def _pipe(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, to_server: bool
    ) -> None:
        try:
            while data := await source.read(65536):
                if self.dropping:
                    if to_server:
                        self._swallow(data)
                    continue
                if to_server:
                    self.passed += data
                sink.write(data)
                await sink.drain()
        except ConnectionError:
            pass
        finally:
            sink.transport.abort()

    async def close(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()


def _command_names(data: bytes) -> list[bytes]:
    names: list[bytes] = []
    at = 0
    while data.startswith(b"*", at):
        end = data.index(b"\r\n", at)
        arguments, at = int(data[at + 1 : end]), end + 2
        for n in range(arguments):
            end = data.index(b"\r\n", at)
            length = int(data[at + 1 : end])
            if n == 0:
                names.append(data[end + 2 : end + 2 + length].upper())
            at = end + 2 + length + 2
    return names
