"""One greenlet sends the audio frames of every paced session of a process, on their deadlines.

A load worker holds hundreds of real-time streams, each sending a frame every 32 ms. With a
greenlet sleeping per frame, every frame costs a timer, a waiter and two switches through
the hub; here one greenlet keeps the next deadline of every stream in a heap, wakes at the
earliest, but at most once per ``TICK_S`` (2 ms), and sends every frame that is due, in
deadline order.

Other greenlets run between the pacer's turns: a burst of arriving transcripts, sessions
being scored. So that such a run of work does not hold frames back, the receivers call
``catch_up()`` before each read they process, and longer pieces of work (a session's
scoring, a time-series sample) between their steps: frames already due go out first, from
whichever greenlet is running, since sending one never waits.

Each frame still goes out through its session's ``Wire`` and ``Connection`` (the same lock
the session's receiver writes under), with its scheduled and actual send times recorded as
before. The pacer never waits: a frame it cannot send at once (the receiver is writing, the
socket buffer is full, a TLS socket, whose writes may wait) is handed back to the session's
own greenlet, which sends it the blocking way within the send timeout, and the stream
rejoins the heap for its next frame. Whatever fails while the pacer handles a stream (a
socket error, a bad frame) is raised in that session's greenlet, never in the pacer's.

``frames`` are taken from their iterable by whichever greenlet sends: they must be at hand
(a list, or a generator over memory), not read from a source that waits.

The pacer also reads for the sessions on its tick (``watch``): a socket registered with it
is polled, with every other, once a tick (one ``epoll_wait``), and its session's receiver
is woken when it holds bytes. Waiting on each socket instead wakes the process once per
server message, about 20 us of CPU each. The receiver reads with the kernel's receive
timestamp (``harness.client.arrivals``), so its messages' arrival times stay exact.
"""

from __future__ import annotations

import _socket
import contextlib
import heapq
import itertools
import os
import select
import time
import weakref
from collections.abc import Iterable, Iterator
from typing import Protocol

import gevent
import gevent.event
import gevent.monkey
from gevent.hub import Waiter

from harness.client import arrivals
from harness.protocol.pacing import FrameSchedule
from harness.protocol.wire import Wire

clock = time.monotonic
#: The operating system's socket type, under gevent's sockets (``sock._sock``); not
#: ``socket.socket``, which a monkey-patched process (a Locust worker) makes gevent's.
_Socket = _socket.socket


def _original_epoll() -> type[select.epoll] | None:
    """``select.epoll``, which gevent's monkey-patching hides (its waits would block the
    process; the pacer's never wait)."""
    try:
        epoll: type[select.epoll] = gevent.monkey.get_original("select", "epoll")
    except AttributeError:  # not Linux
        return None
    return epoll


_epoll = _original_epoll()

#: The longest the pacer sends without letting other greenlets (receivers) run, seconds.
MAX_BURST_S = 0.002
#: The pacer wakes at most once per tick, seconds. Each wake costs a worker ~27 us of CPU
#: (the process goes idle and is woken: a timer, a context switch, on a VM an exit), and
#: with hundreds of streams a deadline falls due every few tens of microseconds, so the
#: pacer would wake as often as the event loop's millisecond timers allow. Waking every
#: 2 ms instead sends a frame at most 2 ms late (p99 send lateness ~2 ms, the bound a
#: held run is judged by is 5 ms); pacing and sending 250 streams then cost 0.39-0.41
#: instead of 0.49-0.53 ms of CPU per stream-second (docs/benchmarks.md).
TICK_S = 0.002


class Writer(Protocol):
    """The pacer's view of a session's ``Connection``."""

    def writing(self) -> bool: ...

    def write_now(self, chunks: list[bytes] | None = None) -> list[bytes]: ...

    def finish_write(self, rest: list[bytes]) -> None: ...

    def release(self) -> None: ...

    def flush(self) -> None: ...


#: What a session's greenlet does when its stream is handed back (``PacedStream.action``).
SEND = "send"  # send the frame itself, the blocking way
FINISH = "finish"  # write what the pacer's write left (``rest``), under the lock it holds
END = "end"  # no more audio: the caller stopped, or the session takes no more
ERROR = "error"  # raise ``error``


class PacedStream:
    """One session's place in the pacer: its next frame, its deadline, and how it ended."""

    __slots__ = (
        "conn",
        "wire",
        "frames",
        "schedule",
        "stop",
        "direct",
        "frame",
        "due",
        "woken",
        "action",
        "rest",
        "error",
        "cancelled",
    )

    def __init__(
        self,
        conn: Writer,
        wire: Wire,
        frames: Iterator[bytes],
        schedule: FrameSchedule,
        stop: gevent.event.Event | None,
        direct: bool,
    ) -> None:
        self.conn = conn
        self.wire = wire
        self.frames = frames
        self.schedule = schedule
        self.stop = stop
        #: The pacer may write this stream's socket itself (a plain TCP socket).
        self.direct = direct
        self.frame = b""
        self.due = 0.0
        self.woken = gevent.event.Event()
        self.action = ""
        self.rest: list[bytes] = []
        self.error: BaseException | None = None
        #: The session's greenlet left: the pacer drops the stream when it comes up.
        self.cancelled = False

    def advance(self, now: float) -> bool:
        """Take the next frame and its deadline (``now``: the clock, for an unpaced
        stream); False when there is none."""
        frame = next(self.frames, None)
        if frame is None:
            return False
        self.frame = frame
        self.due = self.schedule.next(len(frame), now)
        return True

    def hand_back(self, action: str) -> None:
        self.action = action
        self.woken.set()


class Watch:
    """A session's socket that the pacer polls on its tick (``Pacer.watch``)."""

    __slots__ = ("sock", "fd", "ready", "active")

    def __init__(self, sock: _Socket, fd: int) -> None:
        #: The standard (non-blocking) socket under the session's gevent socket.
        self.sock = sock
        self.fd = fd
        #: Set on a tick when the socket holds bytes (or an end, or an error).
        self.ready = gevent.event.Event()
        #: False once unwatched: the receiver reads the socket itself again.
        self.active = True

    def recv(self, size: int) -> tuple[bytes, float]:
        """``arrivals.recv``: the bytes there and when the last of them arrived; raises
        ``BlockingIOError`` when there are none."""
        return arrivals.recv(self.sock, size)


class Pacer:
    """The heap of paced streams of one event loop and the greenlet that sends their frames."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, PacedStream]] = []
        self._order = itertools.count()
        self._greenlet: gevent.Greenlet | None = None
        #: While the pacer sleeps: what wakes it, and the deadline it sleeps until (a
        #: stream pushed with an earlier one wakes it).
        self._waiter: Waiter[None] | None = None
        self._until = float("inf")
        #: The sockets read on the tick, by descriptor, and the poll that holds them (made
        #: by the process that uses it: a forked worker makes its own).
        self._watches: dict[int, Watch] = {}
        self._epoll: select.epoll | None = None
        self._epoll_pid = 0

    def __len__(self) -> int:
        """Streams waiting in the heap (those of sessions that left included, until due)."""
        return len(self._heap)

    def send_frames(
        self,
        conn: Writer,
        wire: Wire,
        frames: Iterable[bytes],
        speed: float | None,
        stop: gevent.event.Event | None,
        direct: bool,
    ) -> None:
        """Send ``frames`` on their deadlines; return once all are sent, the caller stopped
        (``wire.interrupt()``) or the session takes no more audio. A socket error or a send
        timeout is raised here, in the session's greenlet."""
        st = PacedStream(conn, wire, iter(frames), FrameSchedule(clock(), speed), stop, direct)
        if not st.advance(clock()):
            return
        try:
            self._push(st)
            while True:
                st.woken.wait()
                st.woken.clear()
                action, st.action = st.action, ""
                if action == END:
                    return
                if action == ERROR:
                    error, st.error = st.error, None
                    assert error is not None
                    raise error
                if action == FINISH:
                    rest, st.rest = st.rest, []
                    conn.finish_write(rest)  # releases the lock, whatever happens
                elif not self._send_blocking(st):
                    return
                if not st.advance(clock()):
                    return
                self._push(st)
        finally:
            st.cancelled = True
            if st.rest:  # left with a write half done: the connection is abandoned
                st.rest = []
                conn.release()

    def catch_up(self) -> None:
        """Send the frames already due, from the calling greenlet (never waits)."""
        heap = self._heap
        if heap and heap[0][0] <= clock():
            self._send_due(clock())

    def _send_blocking(self, st: PacedStream) -> bool:
        """The session's greenlet sends the frame handed back (on its deadline, should the
        pacer have stopped before it); False: the session stopped taking audio meanwhile."""
        early = st.due - clock()
        if early > 0:
            gevent.sleep(early)
        if _stopped(st) or not st.wire.can_send_audio:
            return False
        sent = clock()
        st.wire.send_audio(st.frame)
        st.conn.flush()
        st.wire.audio_sent(len(st.frame), st.due, sent)
        return True

    def _push(self, st: PacedStream) -> None:
        heapq.heappush(self._heap, (st.due, next(self._order), st))
        self._start(st.due)

    def _start(self, due: float) -> None:
        """Run the pacer's greenlet, or wake it if it sleeps past ``due``."""
        g = self._greenlet
        if g is None or g.dead:
            self._greenlet = gevent.spawn(self._run)
        elif due < self._until and self._waiter is not None:
            waiter, self._waiter = self._waiter, None
            gevent.get_hub().loop.run_callback(waiter.switch, None)

    # -- reading on the tick ------------------------------------------------------------
    def watch(self, sock: object) -> Watch | None:
        """Poll ``sock`` (a plain TCP gevent socket) on the tick and time what it receives
        by the kernel's stamp; None when this platform or socket cannot, and the caller
        reads it as before. ``unwatch`` before the socket closes."""
        raw = getattr(sock, "_sock", None)
        if not isinstance(raw, _Socket) or raw.gettimeout() != 0.0:
            return None
        poll = self._poll_object()
        if poll is None or not arrivals.enable(raw):
            return None
        try:
            fd = raw.fileno()
            poll.register(fd, select.EPOLLIN)  # level-triggered; errors and hang-ups too
        except (OSError, ValueError):
            return None
        w = self._watches[fd] = Watch(raw, fd)
        self._start(clock() + TICK_S)
        return w

    def unwatch(self, w: Watch | None) -> None:
        """Stop polling ``w``'s socket; its receiver, if waiting, reads it itself."""
        if w is None or not w.active:
            return
        w.active = False
        if self._watches.get(w.fd) is w:
            del self._watches[w.fd]
            if self._epoll is not None:
                with contextlib.suppress(OSError, ValueError):
                    self._epoll.unregister(w.fd)
        w.ready.set()

    def _poll_object(self) -> select.epoll | None:
        if _epoll is None or not arrivals.SUPPORTED:
            return None
        if self._epoll is None or self._epoll_pid != os.getpid():
            self._watches.clear()  # a forked copy's: they belong to the parent
            self._epoll, self._epoll_pid = _epoll(), os.getpid()
        return self._epoll

    def _poll(self) -> None:
        """Wake the receivers whose sockets hold something (never waits)."""
        if self._epoll is None:
            return
        watches = self._watches
        for fd, _ in self._epoll.poll(0):
            w = watches.get(fd)
            if w is not None:
                w.ready.set()

    def _run(self) -> None:
        heap, watches = self._heap, self._watches
        woke = -TICK_S
        try:
            while heap or watches:
                now = clock()
                due = heap[0][0] if heap else float("inf")
                if due > now:
                    # Sockets to read: wake every tick; else at the next deadline.
                    wake = woke + TICK_S if watches else max(due, woke + TICK_S)
                    self._sleep_until(due, max(wake - now, 0.0))
                    woke = clock()
                    self._poll()
                elif self._send_due(now):  # overloaded: let the receivers run
                    self._poll()
                    gevent.sleep(0)
        finally:
            if self._greenlet is gevent.getcurrent():
                self._greenlet = None
            # Killed: each waiting session sends its frames and reads its socket itself
            # from now on.
            for _, _, st in heap:
                if not st.cancelled:
                    st.hand_back(SEND)
            heap.clear()
            for w in list(watches.values()):
                self.unwatch(w)

    def _sleep_until(self, due: float, seconds: float) -> None:
        """Sleep until ``due``, or until ``_push`` wakes the pacer for an earlier deadline.

        A timer and a waiter, as ``gevent.sleep`` does: ``Event.wait`` with a timeout
        raises and catches an exception inside each time it runs out, about a thousand
        times a second here.
        """
        hub = gevent.get_hub()
        waiter: Waiter[None] = Waiter(hub)
        self._waiter, self._until = waiter, due
        try:
            hub.loop.update_now()  # the timer counts from now, not the loop's last turn
            with hub.loop.timer(seconds) as timer:
                timer.start(waiter.switch, None)
                waiter.get()
        finally:
            self._waiter, self._until = None, float("inf")

    def _send_due(self, start: float) -> bool:
        """Send the frames due, earliest first; True: stopped at ``MAX_BURST_S``."""
        heap = self._heap
        pop, push, order = heapq.heappop, heapq.heappush, self._order
        while heap:
            due, _, st = heap[0]
            if st.cancelled:
                pop(heap)
                continue
            now = clock()
            if due > now:
                return False
            if now - start > MAX_BURST_S:
                return True
            pop(heap)
            try:
                if self._send(st):
                    push(heap, (st.due, next(order), st))
            except Exception as exc:  # raised in the session's greenlet, not the pacer's
                st.error = exc
                st.hand_back(ERROR)
        return False

    @staticmethod
    def _send(st: PacedStream) -> bool:
        """Send ``st``'s due frame without waiting, or hand it back to its greenlet; True:
        the stream has its next frame, to push."""
        wire, conn = st.wire, st.conn
        if (st.stop is not None and _stopped(st)) or not wire.can_send_audio:
            st.hand_back(END)
            return False
        if not st.direct or conn.writing():  # it would wait: the session's greenlet sends
            st.hand_back(SEND)
            return False
        frame = st.frame
        sent = clock()
        data = wire.audio_frame(frame)
        # What did not fit keeps the lock taken until it is out (``st.rest`` is set first:
        # whatever happens next, the session's greenlet finishes or releases it).
        st.rest = conn.write_now(None if data is None else [data])
        wire.audio_sent(len(frame), st.due, sent)
        if st.rest:  # the socket buffer is full: the session's greenlet writes the rest
            st.hand_back(FINISH)
            return False
        if st.advance(sent):
            return True
        st.hand_back(END)
        return False


def _stopped(st: PacedStream) -> bool:
    if st.stop is not None and st.stop.is_set():
        st.wire.interrupt()
        return True
    return False


_PACERS: weakref.WeakKeyDictionary[object, Pacer] = weakref.WeakKeyDictionary()


def pacer() -> Pacer:
    """The pacer of the calling thread's event loop (Locust's users share the main one)."""
    hub = gevent.get_hub()
    p = _PACERS.get(hub)
    if p is None:
        p = _PACERS[hub] = Pacer()
    return p


def catch_up() -> None:
    """Send the frames already due, from the calling greenlet (``Pacer.catch_up``)."""
    pacer().catch_up()
