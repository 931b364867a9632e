"""Reading on the pacer's tick: a session's bytes are read when the pacer polls, up to a
tick late, and keep the time they arrived (the kernel's receive timestamp), over real
loopback TCP, against a server that is not ours."""

from __future__ import annotations

import socket as _stdlib_socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import gevent
import pytest
from gevent import socket
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol

from harness.client import arrivals
from harness.client.gevent_client import stream
from harness.client.pacer import Pacer, Watch, clock
from harness.client.target import Target
from harness.timeouts import Timeouts

pytestmark = pytest.mark.skipif(not arrivals.SUPPORTED, reason="Linux receive timestamps")

#: How long the tests hold the whole process (no greenlet runs), seconds.
HOLD_S = 0.06


def test_linux_on_this_machine_reads_with_timestamps() -> None:
    """Where CI runs, the fast path is the one taken (not a silent fallback)."""
    assert sys.platform != "linux" or arrivals.SUPPORTED


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected loopback pair: (the client's gevent socket, the server's)."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    client = socket.create_connection(lsock.getsockname())
    server, _ = lsock.accept()
    lsock.close()
    yield client, server
    client.close()
    server.close()


def watched(pacer: Pacer, sock: socket.socket) -> Watch:
    """``pacer.watch(sock)``, which on this platform must take the socket."""
    watch = pacer.watch(sock)
    assert watch is not None
    return watch


def test_bytes_read_late_keep_the_time_they_arrived(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    client, server = pair
    pacer = Pacer()
    watch = watched(pacer, client)
    gevent.sleep(0.05)  # the kernel turns its stamps on a moment after the first ask
    before = clock()
    server.send(b"hello")
    time.sleep(HOLD_S)  # the process is busy: nothing reads
    read_at = clock()
    with gevent.Timeout(2):
        watch.ready.wait()
    data, at = watch.recv(1024)
    assert data == b"hello"
    assert read_at - before >= HOLD_S
    late_ms = 1000 * (at - before)
    assert before - 0.0005 <= at < before + 0.03, f"arrival {late_ms:.1f} ms after sending"
    pacer.unwatch(watch)


def test_a_watched_socket_is_read_within_a_tick_or_two_and_the_pacer_then_stops(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    client, server = pair
    pacer = Pacer()
    watch = watched(pacer, client)
    gevent.sleep(0.05)  # the pacer ticks with no stream to send
    waits = []
    for _ in range(5):
        watch.ready.clear()
        sent = clock()
        server.send(b"x")
        with gevent.Timeout(2):
            watch.ready.wait()
        waits.append(clock() - sent)
        watch.recv(1024)
    # Generous for a shared CI machine: a socket nobody polls waits the whole 2 s.
    assert max(waits) < 0.05, [f"{1000 * w:.1f} ms" for w in waits]
    pacer.unwatch(watch)
    gevent.sleep(0.02)
    assert pacer._greenlet is None  # nothing to send or read: it is gone


def test_unwatching_wakes_the_receiver_to_read_the_socket_itself(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    client, _ = pair
    pacer = Pacer()
    watch = watched(pacer, client)
    waiter = gevent.spawn(watch.ready.wait)
    gevent.sleep(0.01)
    pacer.unwatch(watch)
    with gevent.Timeout(2):
        waiter.join()
    assert not watch.active


def test_a_killed_pacer_gives_the_reading_back(pair: tuple[socket.socket, socket.socket]) -> None:
    client, _ = pair
    pacer = Pacer()
    watch = watched(pacer, client)
    gevent.sleep(0.01)  # the pacer runs (a greenlet killed before it starts runs nothing)
    assert pacer._greenlet is not None
    pacer._greenlet.kill()
    assert not watch.active and watch.ready.is_set()


def test_an_old_watch_leaves_alone_the_socket_that_reused_its_descriptor() -> None:
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(2)
    pacer = Pacer()
    first = socket.create_connection(lsock.getsockname())
    old = watched(pacer, first)
    first.close()  # closed before it was unwatched: the kernel forgets it
    second = socket.create_connection(lsock.getsockname())
    new = watched(pacer, second)
    if new.fd != old.fd:
        pytest.skip("the descriptor was not reused")
    pacer.unwatch(old)
    server = [lsock.accept()[0] for _ in range(2)][1]
    server.send(b"still watched")
    with gevent.Timeout(2):
        new.ready.wait()
    assert new.recv(1024)[0] == b"still watched"
    pacer.unwatch(new)
    for s in (second, server, lsock):
        s.close()


MONKEY_PATCHED = """
from gevent import monkey
monkey.patch_all()
import socket
from harness.client.pacer import Pacer
lsock = socket.create_server(("127.0.0.1", 0))
client = socket.create_connection(lsock.getsockname())
watch = Pacer().watch(client)
print("watched" if watch is not None else "not watched")
"""


def test_a_monkey_patched_process_reads_on_the_tick_too() -> None:
    """Locust patches the standard library's sockets with gevent's (``socket.socket`` is
    then gevent's class): its workers must still take the fast path."""
    out = subprocess.run(
        [sys.executable, "-c", MONKEY_PATCHED], capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == "watched", out.stderr


class OneTranscriptServer:
    """An asrx server in a thread on blocking sockets (websockets' Sans-I/O server): after
    the first audio frame, once ``go`` is set, one transcript, its send time recorded;
    at the end of the stream a final transcript, the confirmation and a close."""

    def __init__(self) -> None:
        self.lsock = _stdlib_socket.create_server(("127.0.0.1", 0))
        self.url = f"ws://127.0.0.1:{self.lsock.getsockname()[1]}/asrx"
        self.first_audio = threading.Event()
        self.go = threading.Event()
        self.sent_between: tuple[float, float] | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.lsock.accept()
        conn.settimeout(10)
        proto = ServerProtocol()
        frames = 0
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                proto.receive_data(data)
                for ev in proto.events_received():
                    if isinstance(ev, Request):
                        proto.send_response(proto.accept(ev))
                    elif isinstance(ev, Frame) and ev.opcode is Opcode.BINARY:
                        frames += 1
                        if frames == 1:
                            self._flush(conn, proto)
                            self.first_audio.set()
                            self.go.wait(10)
                            proto.send_text(b'{"text": "hello", "state": "NewSentence"}')
                            before = time.monotonic()
                            self._flush(conn, proto)
                            self.sent_between = (before, time.monotonic())
                    elif isinstance(ev, Frame) and ev.opcode is Opcode.TEXT:
                        proto.send_text(b'{"text": "hello world", "state": "Sentence"}')
                        proto.send_text(b'{"text": "Confirm Close Connection", "state": ""}')
                        proto.send_close(1000)
                self._flush(conn, proto)

    @staticmethod
    def _flush(conn: _stdlib_socket.socket, proto: ServerProtocol) -> None:
        for data in proto.data_to_send():
            if data:
                conn.sendall(data)

    def close(self) -> None:
        self.lsock.close()
        self.thread.join(10)


def test_a_message_read_late_keeps_the_time_it_arrived() -> None:
    """The server sends while the client's process is held; the message is read when it
    runs again, some 50 ms later, and its arrival time is still the moment it came."""
    server = OneTranscriptServer()
    held: list[float] = []

    def hold_when_audio_flows() -> None:
        while not server.first_audio.is_set():
            gevent.sleep(0.001)
        server.go.set()
        time.sleep(HOLD_S)  # every greenlet waits: the receiver cannot read
        held.append(clock())

    target = Target(server.url, "k", timeouts=Timeouts(open=5, confirm=5, close=5))
    holder = gevent.spawn(hold_when_audio_flows)
    session = gevent.spawn(stream, target, [b"\0" * 1024] * 10)
    session.join(30)
    holder.join(5)
    server.close()
    result = session.get(block=False)
    assert result.error is None, result.error
    assert server.sent_between is not None and held
    before, after = server.sent_between
    assert held[0] - after >= HOLD_S / 2  # the scenario: the read came long after the send
    first = result.session.timeline.messages[0]
    assert first.text == "hello"
    # The two clocks' offset is read at one moment, to within a microsecond or so.
    assert before - 0.0005 <= first.at <= after + 0.005, (
        f"recorded {1000 * (first.at - before):.1f} ms after it was sent"
    )
