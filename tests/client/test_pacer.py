"""The pacer: one greenlet sends every paced stream's frames on their deadlines, over real
TCP connections on 127.0.0.1, and whatever goes wrong with one stream stays with it.

The streams' protocol is a recording stand-in for the ``Wire`` (frames queue as they are,
each send is recorded with its deadline, its time and the greenlet that sent it); the
sockets, the ``Connection`` and its lock are the real ones.
"""

from __future__ import annotations

import itertools
import socket as _stdlib_socket
import struct
import time
from collections.abc import Iterator

import gevent
import gevent.event
import pytest
from gevent import socket

from harness.client.gevent_client import Connection, SendTimedOut
from harness.client.pacer import TICK_S, Pacer, clock

FRAME = 1024  # 32 ms of audio
PERIOD = 0.032
#: Generous bounds for a shared CI machine; the failures they catch are 50 ms and more.
LATE_S = 0.02


class RecordingWire:
    """What the pacer uses of a ``Wire``; the bytes of a frame go out as they are."""

    def __init__(self) -> None:
        self.queue: list[bytes] = []
        self.sent: list[tuple[int, float, float, object]] = []
        self.takes_audio = True
        self.interrupted = False

    @property
    def can_send_audio(self) -> bool:
        return self.takes_audio

    def send_audio(self, frame: bytes) -> None:
        self.queue.append(frame)
        self._sender = gevent.getcurrent()

    def audio_frame(self, frame: bytes) -> bytes | None:
        """As ``Wire.audio_frame``: the bytes to write at once unless some are queued."""
        self._sender = gevent.getcurrent()
        if self.queue:
            self.queue.append(frame)
            return None
        return frame

    def data_to_send(self) -> list[bytes]:
        out, self.queue = self.queue, []
        return out

    def audio_sent(self, size: int, scheduled: float, sent: float) -> None:
        self.sent.append((size, scheduled, sent, self._sender))

    def interrupt(self) -> None:
        self.interrupted = True

    @property
    def lateness(self) -> list[float]:
        return [sent - due for _, due, sent, _ in self.sent]

    @property
    def senders(self) -> set[object]:
        return {who for *_, who in self.sent}


class Peer:
    """The server side of one loopback connection, reading (or not) what arrives."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.data = bytearray()
        self.reader: gevent.Greenlet | None = None

    def read(self, pause_s: float = 0.0, chunk: int = 65536) -> None:
        def run() -> None:
            while True:
                if pause_s:
                    gevent.sleep(pause_s)
                try:
                    data = self.sock.recv(chunk)
                except OSError:
                    return
                if not data:
                    return
                self.data += data

        self.reader = gevent.spawn(run)

    def close(self) -> None:
        if self.reader is not None:
            self.reader.kill()
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    lsock = socket.socket()
    lsock.setsockopt(_stdlib_socket.SOL_SOCKET, _stdlib_socket.SO_RCVBUF, 4096)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    yield lsock
    lsock.close()


def connect(listener: socket.socket, small: bool = False) -> tuple[Connection, RecordingWire, Peer]:
    sock = socket.socket()
    if small:  # a full buffer after a frame or two of 64 KiB
        sock.setsockopt(_stdlib_socket.SOL_SOCKET, _stdlib_socket.SO_SNDBUF, 4096)
    sock.connect(listener.getsockname())
    sock.setsockopt(_stdlib_socket.IPPROTO_TCP, _stdlib_socket.TCP_NODELAY, 1)
    server_side, _ = listener.accept()
    wire = RecordingWire()
    conn = Connection(sock, wire)
    conn.send_timeout = 5.0
    return conn, wire, Peer(server_side)


def frames_of(tag: int, n: int, size: int = FRAME) -> list[bytes]:
    """``n`` frames whose bytes say which stream and which frame they are."""
    return [bytes([tag % 256, k % 256]) * (size // 2) for k in range(n)]


def start(
    pacer: Pacer,
    conn: Connection,
    wire: RecordingWire,
    frames: list[bytes] | Iterator[bytes],
    speed: float | None = 1.0,
    stop: gevent.event.Event | None = None,
    direct: bool = True,
) -> gevent.Greenlet:
    return gevent.spawn(pacer.send_frames, conn, wire, frames, speed, stop, direct)  # type: ignore[arg-type]


def start_many(
    pacer: Pacer, listener: socket.socket, n: int, frames: int
) -> tuple[list[tuple[Connection, RecordingWire, Peer]], list[gevent.Greenlet]]:
    """``n`` connected streams, their peers reading, each sending ``frames`` frames."""
    streams = [connect(listener) for _ in range(n)]
    for *_, peer in streams:
        peer.read()
    sessions = [start(pacer, c, w, frames_of(i, frames)) for i, (c, w, _) in enumerate(streams)]
    return streams, sessions


def finish(greenlets: list[gevent.Greenlet], peers: list[Peer], timeout: float = 20) -> None:
    gevent.joinall(greenlets, timeout=timeout)
    assert all(g.ready() for g in greenlets), "a stream did not finish"
    gevent.sleep(0.05)  # the last bytes reach the peers
    for p in peers:
        p.close()


def test_every_stream_sends_every_frame_on_its_deadline(listener: socket.socket) -> None:
    pacer = Pacer()
    streams = [connect(listener) for _ in range(30)]
    frames = [frames_of(i, 10) for i in range(len(streams))]
    for _, _, peer in streams:
        peer.read()
    sessions = [start(pacer, c, w, f) for (c, w, _), f in zip(streams, frames, strict=True)]
    finish(sessions, [p for *_, p in streams])
    for g in sessions:
        g.get()  # no error
    for (_, wire, peer), sent in zip(streams, frames, strict=True):
        assert bytes(peer.data) == b"".join(sent)
        due = [d for _, d, _, _ in wire.sent]
        assert all(b - a == pytest.approx(PERIOD) for a, b in itertools.pairwise(due))
        assert max(wire.lateness) < LATE_S and min(wire.lateness) >= 0
        # Sent by the pacer, not by the sessions' own greenlets.
        assert not wire.senders & set(sessions)
    assert len(pacer) == 0
    gevent.sleep(0)
    assert pacer._greenlet is None  # no stream left: the pacer's greenlet ended


def test_the_pacer_wakes_at_most_once_a_tick(
    listener: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """40 streams started 0.8 ms apart: a deadline every 0.8 ms. The pacer wakes once per
    tick and sends what fell due meanwhile, each frame under a tick (and scheduling) late."""
    pacer = Pacer()
    wakes: list[float] = []
    sleep_until = Pacer._sleep_until

    def counted(self: Pacer, due: float, seconds: float) -> None:
        sleep_until(self, due, seconds)
        wakes.append(clock())

    monkeypatch.setattr(Pacer, "_sleep_until", counted)
    streams = [connect(listener) for _ in range(40)]
    for *_, peer in streams:
        peer.read()
    sessions = []
    for i, (c, w, _) in enumerate(streams):
        sessions.append(start(pacer, c, w, frames_of(i, 20)))
        gevent.sleep(PERIOD / len(streams))
    started = clock()  # a stream's start wakes the pacer (a new earliest deadline)
    finish(sessions, [p for *_, p in streams])
    steady = [t for t in wakes if t > started]
    gaps = sorted(b - a for a, b in itertools.pairwise(steady))
    assert len(gaps) > 100 and gaps[0] >= TICK_S * 0.95
    lateness = sorted(late for _, w, _ in streams for late in w.lateness)
    assert lateness[len(lateness) // 2] < TICK_S and max(lateness) < LATE_S


def test_a_stalled_connection_neither_delays_the_others_nor_stays(listener: socket.socket) -> None:
    pacer = Pacer()
    stalled_conn, stalled_wire, stalled_peer = connect(listener, small=True)
    stalled_conn.send_timeout = 0.5
    big = frames_of(255, 20, 64 * 1024)  # never read: the buffer fills at once
    healthy = [connect(listener) for _ in range(5)]
    for *_, peer in healthy:
        peer.read()
    stalled = start(pacer, stalled_conn, stalled_wire, big, speed=64.0)  # one every 32 ms
    others = [start(pacer, c, w, frames_of(i, 30)) for i, (c, w, _) in enumerate(healthy)]
    finish([stalled, *others], [stalled_peer, *(p for *_, p in healthy)])
    with pytest.raises(SendTimedOut):
        stalled.get()
    assert not stalled_conn.writing()
    for (_, wire, peer), g in zip(healthy, others, strict=True):
        g.get()
        assert len(peer.data) == 30 * FRAME
        assert max(wire.lateness) < LATE_S
    assert len(pacer) == 0


def test_a_frame_that_does_not_fit_is_finished_whole(listener: socket.socket) -> None:
    pacer = Pacer()
    conn, wire, peer = connect(listener, small=True)
    frames = frames_of(7, 6, 64 * 1024)
    peer.read(pause_s=0.002, chunk=4096)  # slow: each frame takes many reads
    session = start(pacer, conn, wire, frames, speed=64.0)
    finish([session], [])
    session.get()
    gevent.sleep(0.5)
    peer.close()
    assert bytes(peer.data) == b"".join(frames)
    assert len(wire.sent) == 6 and not conn.writing()


def test_the_receivers_write_goes_first_and_frames_follow_it_intact(
    listener: socket.socket,
) -> None:
    """The receiver writes under the same lock (pongs, close replies): a frame due while
    it writes waits for it, rather than cutting into its bytes."""
    pacer = Pacer()
    conn, wire, peer = connect(listener, small=True)
    frames = frames_of(9, 12)
    pong = b"\xee" * (2 << 20)
    session = start(pacer, conn, wire, frames)

    def receiver_writes() -> None:
        gevent.sleep(0.1)
        wire.queue.append(pong)
        conn.flush()  # holds the lock until the slow peer has taken 2 MiB

    receiver = gevent.spawn(receiver_writes)
    peer.read(pause_s=0.001, chunk=16384)
    finish([session, receiver], [])
    session.get()
    receiver.get()
    gevent.sleep(0.3)
    peer.close()
    data = bytes(peer.data)
    at = data.index(pong)
    before, after = data[:at], data[at + len(pong) :]
    assert before + after == b"".join(frames)
    assert len(before) % FRAME == 0 and 0 < len(before) < len(data) - len(pong)
    waited = [late for late in wire.lateness if late > 0.05]
    assert waited, "the frames due during the receiver's write should have waited for it"
    assert session in wire.senders  # those went out from the session's own greenlet


def test_stop_ends_the_stream_within_a_frame(listener: socket.socket) -> None:
    pacer = Pacer()
    conn, wire, peer = connect(listener)
    peer.read()
    stop = gevent.event.Event()
    session = start(pacer, conn, wire, frames_of(1, 100), stop=stop)
    gevent.sleep(0.2)
    stop.set()
    stopped = time.monotonic()
    session.join(5)
    assert session.dead and time.monotonic() - stopped < PERIOD + LATE_S
    finish([session], [peer])
    assert wire.interrupted
    assert 3 < len(wire.sent) < 15


def test_a_session_that_takes_no_more_audio_ends_its_stream(listener: socket.socket) -> None:
    pacer = Pacer()
    conn, wire, peer = connect(listener)
    peer.read()
    session = start(pacer, conn, wire, frames_of(2, 100))
    gevent.sleep(0.1)
    wire.takes_audio = False  # the server closed, or a send timed out
    sent = len(wire.sent)
    finish([session], [peer])
    assert len(wire.sent) == sent and not wire.interrupted
    assert len(pacer) == 0


def test_a_killed_session_leaves_the_heap_and_the_others_go_on(listener: socket.socket) -> None:
    pacer = Pacer()
    streams, sessions = start_many(pacer, listener, 3, 20)
    gevent.sleep(0.1)
    sessions[0].kill()
    gevent.sleep(2 * PERIOD)
    assert len(pacer) == 2  # its entry went when it came up
    finish(sessions[1:], [p for *_, p in streams])
    for (_, wire, peer), g in zip(streams[1:], sessions[1:], strict=True):
        g.get()
        assert len(peer.data) == 20 * FRAME and max(wire.lateness) < LATE_S
    assert len(pacer) == 0


def test_killed_with_a_write_half_done_the_lock_is_given_up(listener: socket.socket) -> None:
    pacer = Pacer()
    conn, wire, peer = connect(listener, small=True)
    session = start(pacer, conn, wire, frames_of(3, 20, 64 * 1024), speed=64.0)
    gevent.sleep(0.2)  # no reader: the session's greenlet waits to finish a frame
    assert conn.writing()
    session.kill()
    assert not conn.writing()
    peer.close()


class HalfWriter:
    """A connection whose every write stops half-way, to reach the hand-back path."""

    def __init__(self) -> None:
        self.released = 0
        self.kill_on_write: gevent.Greenlet | None = None

    def writing(self) -> bool:
        return False

    def write_now(self, chunks: list[bytes] | None = None) -> list[bytes]:
        if self.kill_on_write is not None:
            self.kill_on_write.kill(block=False)  # before its greenlet runs again
        return [b"the rest"]

    def finish_write(self, rest: list[bytes]) -> None:
        raise AssertionError("a killed session must not finish the write")

    def release(self) -> None:
        self.released += 1

    def flush(self) -> None:
        pass


def test_killed_before_finishing_a_half_write_the_lock_is_given_up() -> None:
    pacer = Pacer()
    conn, wire = HalfWriter(), RecordingWire()
    session = gevent.spawn(pacer.send_frames, conn, wire, frames_of(4, 5), 1.0, None, True)
    conn.kill_on_write = session
    session.join(5)
    assert session.dead and conn.released == 1


def test_a_socket_error_is_raised_in_its_session_only(listener: socket.socket) -> None:
    pacer = Pacer()
    (bad_conn, bad_wire, bad_peer), (conn, wire, peer) = connect(listener), connect(listener)
    reset_on_close = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s
    bad_peer.sock.setsockopt(_stdlib_socket.SOL_SOCKET, _stdlib_socket.SO_LINGER, reset_on_close)
    peer.read()
    bad = start(pacer, bad_conn, bad_wire, frames_of(5, 50))
    good = start(pacer, conn, wire, frames_of(6, 20))
    gevent.sleep(0.1)
    bad_peer.sock.close()  # a reset
    finish([bad, good], [peer])
    with pytest.raises(OSError):
        bad.get()
    good.get()
    assert len(peer.data) == 20 * FRAME and max(wire.lateness) < LATE_S
    assert len(pacer) == 0


def test_an_error_taking_a_frame_is_raised_in_its_session_only(listener: socket.socket) -> None:
    pacer = Pacer()
    (bad_conn, bad_wire, bad_peer), (conn, wire, peer) = connect(listener), connect(listener)
    bad_peer.read()
    peer.read()

    def broken() -> Iterator[bytes]:
        yield from frames_of(7, 3)
        raise ValueError("no more audio here")

    bad = start(pacer, bad_conn, bad_wire, broken())
    good = start(pacer, conn, wire, frames_of(8, 15))
    finish([bad, good], [bad_peer, peer])
    with pytest.raises(ValueError, match="no more audio"):
        bad.get()
    good.get()
    assert len(peer.data) == 15 * FRAME and max(wire.lateness) < LATE_S


def test_tls_streams_are_sent_by_their_own_greenlet_on_their_deadlines(
    listener: socket.socket,
) -> None:
    """A TLS socket's write may wait: the pacer hands each frame back to its session."""
    pacer = Pacer()
    conn, wire, peer = connect(listener)
    peer.read()
    session = start(pacer, conn, wire, frames_of(9, 10), direct=False)
    finish([session], [peer])
    session.get()
    assert wire.senders == {session}
    assert len(peer.data) == 10 * FRAME and max(wire.lateness) < LATE_S


def test_when_the_pacer_is_killed_the_sessions_send_on_time_themselves(
    listener: socket.socket,
) -> None:
    pacer = Pacer()
    streams, sessions = start_many(pacer, listener, 4, 15)
    gevent.sleep(0.1)
    assert pacer._greenlet is not None
    pacer._greenlet.kill()
    finish(sessions, [p for *_, p in streams])
    for (_, wire, peer), g in zip(streams, sessions, strict=True):
        g.get()
        assert len(peer.data) == 15 * FRAME
        assert min(wire.lateness) >= 0 and max(wire.lateness) < LATE_S  # none early


def busy(seconds: float, pacer: Pacer | None) -> None:
    """Work that never yields, calling ``catch_up`` every half millisecond when given one."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        step = time.monotonic() + 0.0005
        while time.monotonic() < step:
            pass
        if pacer is not None:
            pacer.catch_up()


@pytest.mark.parametrize("catching_up", [True, False])
def test_work_that_calls_catch_up_does_not_hold_frames_back(
    listener: socket.socket, catching_up: bool
) -> None:
    pacer = Pacer()
    streams, sessions = start_many(pacer, listener, 10, 20)
    gevent.sleep(0.1)
    gevent.spawn(busy, 0.3, pacer if catching_up else None).join()
    finish(sessions, [p for *_, p in streams])
    worst = max(max(w.lateness) for _, w, _ in streams)
    if catching_up:
        assert worst < LATE_S
    else:  # the control: without it the frames wait for the whole 300 ms
        assert worst > 0.2
