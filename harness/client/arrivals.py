"""When bytes reached a socket: the kernel's receive timestamp (Linux ``SO_TIMESTAMPNS``).

A load worker reads its sessions' sockets on the pacer's tick (``harness.client.pacer``),
up to 2 ms after their bytes arrived, instead of waking once per message. The kernel stamps
every segment it receives; ``recvmsg`` returns the stamp of the last segment it read beside
the data, so a message's arrival time is when its last byte reached the socket, whenever
the worker got to it (docs/protocol.md#arrival).

The stamp is on the wall clock; it is moved onto ``time.monotonic`` by the two clocks'
offset read at the same moment (to within a microsecond or so). A stamp that cannot be
right (later than now, or more than ``MAX_AGE_S`` old: the wall clock was stepped
meanwhile) gives way to the time of the read. The kernel turns stamping on a moment after
the first socket of the machine asks (a deferred work item); bytes that arrive before that
are stamped when read, as without stamps.
"""

from __future__ import annotations

import platform
import socket
import struct
import sys
import time

clock = time.monotonic

#: ``SO_TIMESTAMPNS`` (``SO_TIMESTAMPNS_OLD``) of the Linux architectures that take the
#: generic socket options; Python's ``socket`` module does not name it.
SO_TIMESTAMPNS = 35
_GENERIC = {"x86_64", "amd64", "i386", "i686", "aarch64", "arm64", "armv7l", "riscv64"}
#: ``struct timespec`` as the kernel writes it for ``SO_TIMESTAMPNS_OLD``: native longs.
_TIMESPEC = struct.Struct("@ll")
_ANCILLARY = socket.CMSG_SPACE(_TIMESPEC.size)
#: An arrival older than this at the read is taken for a stepped wall clock, seconds.
MAX_AGE_S = 10.0

SUPPORTED = sys.platform == "linux" and platform.machine().lower() in _GENERIC


def enable(sock: socket.SocketType) -> bool:
    """Ask the kernel to stamp what ``sock`` (a non-blocking standard socket) receives;
    False when it cannot, and its bytes are timed when they are read."""
    if not SUPPORTED:
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def recv(sock: socket.SocketType, size: int) -> tuple[bytes, float]:
    """Up to ``size`` bytes and when the last of them arrived (``time.monotonic``).

    Raises ``BlockingIOError`` when nothing is there, and ``OSError`` as ``recv`` does.
    """
    data, ancillary, _, _ = sock.recvmsg(size, _ANCILLARY)
    now = clock()
    for level, kind, value in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= _TIMESPEC.size:
            seconds, nanoseconds = _TIMESPEC.unpack_from(value)
            at = seconds + nanoseconds * 1e-9 - (time.time() - now)
            if now - MAX_AGE_S <= at <= now:
                return data, at
    return data, now
