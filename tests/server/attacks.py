"""Hostile clients for the abuse tests and ``benchmarks/server_abuse.py``.

Each attack talks to the server over a plain socket with frames built by websockets'
Sans-I/O layer, so it can do what a well-behaved client library never does: send a
handshake and vanish, repeat a header, flood frames without ever reading a reply. Every
socket operation has a timeout and every flood a count, so an attack always ends.
"""

from __future__ import annotations

import base64
import os
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from websockets.frames import Frame, Opcode

#: Any single socket operation of an attack.
SOCKET_TIMEOUT_S = 10.0
#: Frames handed to the socket per ``sendall`` in a flood.
FLOOD_BATCH = 4096


@dataclass(frozen=True)
class Address:
    host: str
    port: int
    path: str

    @classmethod
    def of(cls, url: str) -> Address:
        parts = urlsplit(url)
        return cls(parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/")


def upgrade_request(address: Address, headers: Iterable[tuple[str, str]]) -> bytes:
    """An HTTP/1.1 WebSocket upgrade with ``headers`` added as given (repeats kept)."""
    nonce = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {address.path} HTTP/1.1",
        f"Host: {address.host}:{address.port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {nonce}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in headers),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")


def connect(address: Address) -> socket.socket:
    sock = socket.create_connection((address.host, address.port), timeout=SOCKET_TIMEOUT_S)
    sock.settimeout(SOCKET_TIMEOUT_S)
    return sock


def read_response_head(sock: socket.socket) -> bytes:
    """Bytes up to the end of the HTTP response head (or until the server closes)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def status_of(head: bytes) -> int:
    """The status code of an HTTP response head (0 when there is none)."""
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def handshake_status(url: str, headers: Iterable[tuple[str, str]]) -> int:
    """The server's answer to an upgrade carrying exactly ``headers`` (0: no answer)."""
    address = Address.of(url)
    with connect(address) as sock:
        sock.sendall(upgrade_request(address, headers))
        return status_of(read_response_head(sock))


def open_upgraded(url: str, key: str) -> socket.socket:
    """A socket past a successful handshake (101), ready for raw frames."""
    address = Address.of(url)
    sock = connect(address)
    sock.sendall(upgrade_request(address, [("apikey", key)]))
    head = read_response_head(sock)
    if status_of(head) != 101:
        sock.close()
        raise AssertionError(f"handshake refused: {head[:80]!r}")
    return sock


def abandon_handshakes(url: str, key: str, count: int) -> None:
    """Send a complete, valid upgrade request and reset the connection before the 101."""
    address = Address.of(url)
    for _ in range(count):
        sock = connect(address)
        # Linger 0: close() sends a RST at once, so the server sees the client gone
        # while it is still deciding the handshake.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
        sock.sendall(upgrade_request(address, [("apikey", key)]))
        sock.close()


def client_frame(opcode: Opcode, payload: bytes) -> bytes:
    """One masked client frame, serialised."""
    return Frame(opcode, payload).serialize(mask=True, extensions=[])


def raw_frame(first_byte: int, payload: bytes, *, masked: bool = True) -> bytes:
    """A short frame built byte by byte (FIN/RSV/opcode as given), even an invalid one.
    The mask key is zero, so the payload goes as is."""
    assert len(payload) < 126
    if not masked:
        return bytes([first_byte, len(payload)]) + payload
    return bytes([first_byte, 0x80 | len(payload)]) + b"\0\0\0\0" + payload


MALFORMED_TEXT_FRAME = client_frame(Opcode.TEXT, b"x")
#: The largest ping (125 bytes of payload): each one makes the server owe a pong as big.
PING_FRAME = client_frame(Opcode.PING, b"p" * 125)


def audio_frame(pcm: bytes) -> bytes:
    return client_frame(Opcode.BINARY, pcm)


@dataclass
class FloodResult:
    #: Frames the socket accepted before the server stopped reading or cut us off.
    sent: int
    seconds: float
    #: The server ended the connection (reset, EOF or refused writes) before the end.
    cut_off: bool


def flood(sock: socket.socket, frame: bytes, count: int, budget_s: float) -> FloodResult:
    """Send ``frame`` ``count`` times, never reading; stop early when the server cuts the
    connection or ``budget_s`` passes."""
    batch = frame * FLOOD_BATCH
    sent, started = 0, time.monotonic()
    try:
        while sent < count and time.monotonic() - started < budget_s:
            n = min(FLOOD_BATCH, count - sent)
            sock.sendall(batch if n == FLOOD_BATCH else frame * n)
            sent += n
    except (TimeoutError, OSError):
        return FloodResult(sent, time.monotonic() - started, cut_off=True)
    return FloodResult(sent, time.monotonic() - started, cut_off=False)


def rss_kib(pid: int) -> tuple[int, int]:
    """``(VmRSS, VmHWM)`` of a process in KiB: its resident memory now and at its peak."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields["VmRSS"], fields["VmHWM"]


def cpu_ticks(pid: int) -> int:
    """User + system CPU time of a process so far, in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def wait_until_idle(pid: int, timeout: float, quiet_s: float = 0.5) -> None:
    """Wait until the process has used no CPU for ``quiet_s`` (it has worked through
    what it was sent), or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    last, quiet_since = cpu_ticks(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = cpu_ticks(pid)
        if now != last:
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            return


def read_until_closed(sock: socket.socket, timeout: float) -> tuple[bytes, bool]:
    """What the server sends until it ends the connection, and whether it did so
    (EOF or reset) within ``timeout``."""
    data, deadline = b"", time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except OSError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def drain_until_closed(sock: socket.socket, timeout: float) -> bool:
    """Read and drop what the server sends; True when it ended the connection in time."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if not sock.recv(1 << 20):
                return True
        except TimeoutError:
            return False
        except OSError:
            return True
    return False


def server_frames(data: bytes) -> list[tuple[int, bytes]]:
    """``(opcode, payload)`` of each whole (unmasked) server frame in ``data``."""
    frames, i = [], 0
    while i + 2 <= len(data):
        opcode, length, i = data[i] & 0x0F, data[i + 1] & 0x7F, i + 2
        if length >= 126:
            width = 2 if length == 126 else 8
            length, i = int.from_bytes(data[i : i + width], "big"), i + width
        if i + length > len(data):
            break
        frames.append((opcode, data[i : i + length]))
        i += length
    return frames


def close_code_from(sock: socket.socket, timeout: float = 10.0) -> int | None:
    """The code of the close frame the server sends before ending the connection."""
    data, _ = read_until_closed(sock, timeout)
    for opcode, payload in server_frames(data):
        if opcode == Opcode.CLOSE and len(payload) >= 2:
            return int.from_bytes(payload[:2], "big")
    return None
