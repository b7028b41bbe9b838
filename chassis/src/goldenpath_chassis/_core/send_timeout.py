"""A deadline for a response the client does not take (SEC-1, CWE-400: slow reads), as nginx's
`send_timeout`.

uvicorn has no send timeout. A client that sends a request and then never reads the response,
or reads a byte now and then, keeps its connection, the response's bytes in the transport's
buffer and, for a response sent in pieces, the handler waiting in `send` (uvicorn's flow
control: the transport pauses writing above its high-water mark, and `send` waits for it to
resume) for as long as it likes.

The timer runs only while the transport has paused writing, which a response that fits the
kernel's socket buffer never makes it do. Four times a timeout it looks whether the client has
acknowledged any of the response since the last look; after four looks in a row that find it
has not, the client is not reading and no response can reach it: the connection is reset,
which frees the buffers at once (the transport's and the kernel's, as nginx's
`reset_timedout_connection`) and wakes the handler's `send` (uvicorn marks the request
disconnected, and its next `receive` says so). A stalled client is let go within a timeout and
a quarter of the last byte it took. A client that reads a byte at a time acknowledges nothing:
its TCP window opens only once a good part of its receive buffer is free.

What is timed is a stall, not a pause: a body sent whole sits in the transport's buffer until
nearly all of it has left, so writing stays paused for as long as a large download on a slow
link lasts. And the transport's buffer alone is not the measure: the kernel takes more of it
only once half of its own queue (megabytes, on a fast path) has gone, so a client reading
steadily but slowly would look stalled. On Linux the kernel's count of the bytes the client has
not acknowledged (`SIOCOUTQ`) is added to it; elsewhere the transport's buffer is all there is.

The closes are said in the log at most once a minute (`responses_unread_timed_out`), and the
rest at shutdown (`throttled_line.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import sys

from .throttled_line import ThrottledLine

# SO_LINGER on, with a zero timeout: closing sends a reset and drops what the kernel still holds.
_RESET_ON_CLOSE = struct.pack("ii", 1, 0)

if sys.platform == "linux":
    import fcntl
    import termios

    def _kernel_unacknowledged(fd: int) -> int:
        """What the socket's peer has not acknowledged, sent or not (`SIOCOUTQ`)."""
        try:
            queued = fcntl.ioctl(fd, termios.TIOCOUTQ, bytes(4))
        except OSError:
            return 0
        return int.from_bytes(queued, sys.byteorder, signed=True)

else:

    def _kernel_unacknowledged(fd: int) -> int:
        return 0


# Looks per timeout: a stall is seen to within a quarter of it, at four timers per timeout of a
# connection whose writing is paused (and none for any other).
_LOOKS = 4


class SendTimeout:
    """One connection's timer: armed while its transport has paused writing."""

    __slots__ = (
        "_look_seconds",
        "_loop",
        "_stalled_looks",
        "_timer",
        "_transport",
        "_unacknowledged",
        "_unread",
    )

    def __init__(
        self, transport: asyncio.WriteTransport, *, seconds: float, unread: ThrottledLine
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._transport = transport
        self._look_seconds = seconds / _LOOKS
        self._unread = unread
        self._timer: asyncio.TimerHandle | None = None
        self._unacknowledged = 0
        self._stalled_looks = 0

    def paused(self) -> None:
        """The transport's buffer went above its high-water mark: the kernel's is full."""
        if self._timer is None:
            self._unacknowledged = self._unacknowledged_now()
            self._stalled_looks = 0
            self._timer = self._loop.call_later(self._look_seconds, self._look)

    def resumed(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _look(self) -> None:
        # Writing is still paused (resuming cancels this), so nothing was added since the last
        # look (uvicorn's `send` waits): fewer bytes unacknowledged is bytes taken. Also when
        # the transport is closing: a close waits for the buffer to be sent, and holds it.
        unacknowledged = self._unacknowledged_now()
        if unacknowledged < self._unacknowledged:
            self._unacknowledged = unacknowledged
            self._stalled_looks = 0
        else:
            self._stalled_looks += 1
        if self._stalled_looks < _LOOKS:
            self._timer = self._loop.call_later(self._look_seconds, self._look)
            return
        self._timer = None
        self._reset()
        self._unread.add()

    def _unacknowledged_now(self) -> int:
        sock = self._transport.get_extra_info("socket")
        kernel = _kernel_unacknowledged(sock.fileno()) if sock is not None else 0
        return self._transport.get_write_buffer_size() + kernel

    def _reset(self) -> None:
        sock = self._transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):  # the abort below matters more than the reset
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
        self._transport.abort()
