"""Abuse: hostile clients against the reference server, each on a fresh server process.

After every attack the server must be up, hold no leaked session, serve a fresh session end
to end, have logged no traceback and no key, and its resident memory at its peak (VmHWM)
must stay within ``RSS_GROWTH_BOUND_MIB`` of what it used before the attack. Volumes are
small enough for the whole file to run in well under a minute; ``benchmarks/server_abuse.py``
runs the same attacks at larger volumes.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest
from websockets.exceptions import InvalidStatus

from harness.server.embedded import EmbeddedServer
from tests.server import attacks
from tests.server.conftest import KEY, silence
from tests.server.streaming import (
    EOS,
    Received,
    open_session,
    read_all,
    run,
    stream,
    wait_metric,
)

#: How much an attack may raise the server's peak resident memory. A fresh synthetic
#: server uses about 40 MiB; before the send backlog was bounded these attacks added
#: 45-70 MiB at the volumes below and grew without limit at larger ones.
RSS_GROWTH_BOUND_MIB = 20
#: Frames in the flood tests (the benchmark sends millions).
TEXT_FLOOD_FRAMES = 300_000
PING_FLOOD_FRAMES = 400_000
FLOOD_BUDGET_S = 15.0
#: Waiting for the server to work through what a flood left in its socket.
SETTLE_S = 20.0


@contextmanager
def server_under_attack(
    one_sentence: bytes, extra_args: Sequence[str] = (), engine: str = "synthetic"
) -> Iterator[tuple[EmbeddedServer, int]]:
    """A fresh server, warmed by one whole session; yields it with its RSS (KiB)."""
    with EmbeddedServer(engine=engine, apikeys=[KEY], extra_args=extra_args) as server:
        warm = run(stream(server.url, KEY, one_sentence))
        assert warm.confirmed, warm
        rss, _ = attacks.rss_kib(server.pid)
        yield server, rss


def assert_unharmed(server: EmbeddedServer, rss_before: int, one_sentence: bytes) -> None:
    """The invariants every attack must leave intact."""
    assert server.process is not None and server.process.poll() is None, server.stderr_tail()
    assert wait_metric(server.http_url, "asrx_active_sessions", 0, timeout=15) == 0
    fresh = run(stream(server.url, KEY, one_sentence, timeout=30))
    assert fresh.texts and fresh.confirmed and fresh.close_code == 1000, fresh
    rss, peak = attacks.rss_kib(server.pid)
    print(f"RSS before {rss_before / 1024:.1f} MiB, after {rss / 1024:.1f}, peak {peak / 1024:.1f}")
    assert peak - rss_before <= RSS_GROWTH_BOUND_MIB * 1024, (rss_before, rss, peak)
    logs = server.stderr_text()
    assert "Traceback" not in logs and "session_crashed" not in logs, logs[-3000:]
    assert KEY not in logs


# -- every slot comes back ------------------------------------------------------------


def test_handshakes_abandoned_before_the_101_give_their_slots_back(one_sentence: bytes) -> None:
    """Clients that send a valid upgrade and reset the connection before the 101 went out
    used to keep their slot forever: with --max-sessions 5, five of them and every later
    client got 503 while asrx_active_sessions read 0."""

    async def five_at_once(url: str) -> list[int]:
        async def one() -> int:
            try:
                ws = await open_session(url, KEY)
            except InvalidStatus as exc:
                return exc.response.status_code
            await ws.close()
            return 101

        held = [await open_session(url, KEY) for _ in range(4)]
        try:
            return [await one()]  # the fifth slot, while four are held
        finally:
            for ws in held:
                await ws.close()

    with server_under_attack(one_sentence, ["--max-sessions", "5"]) as (server, rss):
        for _ in range(4):
            attacks.abandon_handshakes(server.url, KEY, 5)
        assert wait_metric(server.http_url, "asrx_session_slots", 0) == 0
        assert run(five_at_once(server.url)) == [101], "a slot was not given back"
        assert_unharmed(server, rss, one_sentence)


# -- what a client does not read is bounded --------------------------------------------


def test_malformed_text_flood_from_a_client_that_never_reads(one_sentence: bytes) -> None:
    """1-byte malformed text frames, never reading the error replies: the replies used to
    queue without limit (69 MB -> 1.2 GB after 4 M frames)."""
    with server_under_attack(one_sentence) as (server, rss):
        with attacks.open_upgraded(server.url, KEY) as sock:
            attacks.flood(sock, attacks.MALFORMED_TEXT_FRAME, TEXT_FLOOD_FRAMES, FLOOD_BUDGET_S)
            attacks.wait_until_idle(server.pid, SETTLE_S)
            peak = attacks.rss_kib(server.pid)[1]
        assert peak - rss <= RSS_GROWTH_BOUND_MIB * 1024, (rss, peak)
        assert_unharmed(server, rss, one_sentence)


def test_ping_flood_from_a_client_that_never_reads_is_cut_off(one_sentence: bytes) -> None:
    """Pings of 125 bytes, never reading the pongs: the pongs used to pile up in the
    transport (+170 MB per 1.5 M pings). Past the send backlog bound the server fails the
    connection (close 1008, then the TCP connection goes)."""
    with server_under_attack(one_sentence) as (server, rss):
        with attacks.open_upgraded(server.url, KEY) as sock:
            attacks.flood(sock, attacks.PING_FRAME, PING_FLOOD_FRAMES, FLOOD_BUDGET_S)
            attacks.wait_until_idle(server.pid, SETTLE_S)
            assert attacks.drain_until_closed(sock, timeout=10.0), "the connection stayed open"
        assert wait_metric(server.http_url, "asrx_send_backlog_exceeded_total", 1) == 1
        assert_unharmed(server, rss, one_sentence)


def test_a_backlog_of_unsent_messages_closes_the_session_1008() -> None:
    """The count bound: messages held back (here by --delay-ms) past
    --max-send-backlog-messages end the session with 1008."""

    async def scenario(url: str) -> Received:
        got = Received()
        async with asyncio.timeout(20):
            ws = await open_session(url, KEY)
            for _ in range(8):
                await ws.send("{oops")
            await read_all(ws, got)
        return got

    args = ["--max-send-backlog-messages", "4", "--delay-ms", "1000"]
    with EmbeddedServer(apikeys=[KEY], extra_args=args) as server:
        got = run(scenario(server.url))
        assert got.close_code == 1008 and "backlog" in got.close_reason, got
        assert got.frames == [], "the queue is dropped, not sent"
        fresh = run(stream(server.url, KEY, silence(100)))  # one message: the confirmation
        assert fresh.confirmed and fresh.close_code == 1000, fresh
        assert "Traceback" not in server.stderr_text()


def test_error_replies_are_rate_limited(one_sentence: bytes) -> None:
    """A client that floods bad text frames (and reads) gets a bounded number of error
    replies, the next one counting those not answered; the session goes on."""

    async def scenario(url: str) -> Received:
        got = Received()
        async with asyncio.timeout(30):
            ws = await open_session(url, KEY)
            for _ in range(200):
                await ws.send("{oops")
            for i in range(0, len(one_sentence), 4096):
                await ws.send(one_sentence[i : i + 4096])
            await asyncio.sleep(1.2)  # the budget refills: the next error is answered
            await ws.send("{oops")
            await ws.send(EOS)
            await read_all(ws, got)
        return got

    with server_under_attack(one_sentence) as (server, rss):
        got = run(scenario(server.url))
        errors = [m for m in got.messages if m["state"] == "Error"]
        assert 1 < len(errors) <= 25, len(errors)
        assert "not answered" in errors[-1]["error"], errors[-1]
        assert got.texts and got.confirmed and got.close_code == 1000
        assert_unharmed(server, rss, one_sentence)


# -- the handshake never fails with a 500 -----------------------------------------------

BAD_KEY_HEADERS: dict[str, list[tuple[str, str]]] = {
    "two identical keys": [("apikey", KEY), ("apikey", KEY)],
    "a good and a bad key": [("apikey", KEY), ("apikey", "wrong")],
    "a bad and a good key": [("apikey", "wrong"), ("apikey", KEY)],
    "two keys in one header": [("apikey", f"{KEY}, {KEY}")],
    "a non-ASCII key": [("apikey", KEY + "\u00e9")],
    "a raw non-UTF-8 byte": [("apikey", KEY + "\udce9")],
    "a control character": [("apikey", KEY + "\x01")],
    "a key over the header line limit": [("apikey", KEY * 600)],
    "an empty key": [("apikey", "")],
    "a blank key": [("apikey", "   ")],
    "no key": [],
}


def test_duplicate_or_malformed_key_headers_are_refused_cleanly(one_sentence: bytes) -> None:
    """Two apikey headers used to give HTTP 500 and a traceback in the log."""
    with server_under_attack(one_sentence) as (server, rss):
        statuses = {
            form: attacks.handshake_status(server.url, headers)
            for form, headers in BAD_KEY_HEADERS.items()
        }
        # A control character makes the request invalid HTTP: websockets closes the
        # connection without an answer (0). Every other form gets a 4xx.
        assert statuses.pop("a control character") in (0, 400), statuses
        assert all(code in (400, 401, 431) for code in statuses.values()), statuses
        assert statuses["two identical keys"] == 401
        assert statuses["a non-ASCII key"] == 401
        assert '"level": "error"' not in server.stderr_text()
        assert_unharmed(server, rss, one_sentence)


@pytest.mark.parametrize("level", ["DEBUG", "INFO", "WARNING"])
def test_the_key_appears_in_no_output_at_any_log_level(level: str, one_sentence: bytes) -> None:
    """At DEBUG websockets logs every handshake header; the key's is masked, and so is
    any accepted key inside any line (e.g. a malformed header quoted in an exception)."""
    with EmbeddedServer(apikeys=[KEY], extra_args=["--log-level", level]) as server:
        assert run(stream(server.url, KEY, one_sentence)).confirmed
        for headers in BAD_KEY_HEADERS.values():
            attacks.handshake_status(server.url, headers)
        server.stop()
        logs = server.stderr_text()
    if level == "DEBUG":
        assert "< apikey: ***" in logs.lower(), "DEBUG shows websockets' handshake lines"
    assert KEY not in logs


# -- what held before and must keep holding ---------------------------------------------


def test_invalid_utf8_text_frame_closes_1007(synthetic_server: EmbeddedServer) -> None:
    async def scenario(url: str) -> int | None:
        async with asyncio.timeout(10):
            ws = await open_session(url, KEY)
            await ws.send(b"\xff\xfe not utf-8", text=True)
            got = await read_all(ws, Received())
        return got.close_code

    assert run(scenario(synthetic_server.url)) == 1007


FRAMING_VIOLATIONS: dict[str, bytes] = {
    # First byte: FIN, RSV1-3, opcode. websockets refuses to build these, so by hand.
    "an unmasked frame": attacks.raw_frame(0x81, b"x", masked=False),
    "a reserved bit": attacks.raw_frame(0xC1, b"x"),
    "an unknown opcode": attacks.raw_frame(0x83, b"x"),
    "a fragmented ping": attacks.raw_frame(0x09, b"x"),
    "a continuation with no start": attacks.raw_frame(0x80, b"x"),
}


@pytest.mark.parametrize("violation", list(FRAMING_VIOLATIONS))
def test_framing_violations_close_1002(synthetic_server: EmbeddedServer, violation: str) -> None:
    with attacks.open_upgraded(synthetic_server.url, KEY) as sock:
        sock.sendall(FRAMING_VIOLATIONS[violation])
        assert attacks.close_code_from(sock) == 1002


def test_slowloris_handshake_is_cut_at_the_handshake_timeout() -> None:
    """A client trickling its request a byte at a time is closed once the handshake
    timeout (default 10 s; 1.5 s here) has passed."""
    with EmbeddedServer(apikeys=[KEY], extra_args=["--handshake-timeout", "1.5"]) as server:
        address = attacks.Address.of(server.url)
        request = attacks.upgrade_request(address, [("apikey", KEY)])
        started = time.monotonic()
        with attacks.connect(address) as sock:
            try:
                for byte in request[:-2]:
                    sock.sendall(bytes([byte]))
                    time.sleep(0.2)
                    if time.monotonic() - started > 8:
                        break
                answer = sock.recv(4096)
            except OSError:
                answer = b""
        elapsed = time.monotonic() - started
    assert b"101" not in answer
    assert 1.0 < elapsed < 5.0, elapsed


def test_handshake_timeout_default_is_ten_seconds() -> None:
    from harness.server.config import ServerConfig

    assert ServerConfig().handshake_timeout_s == 10.0


def test_audio_far_faster_than_real_time_closes_1013(two_sentence_pcm: bytes) -> None:
    """The decoder's backlog is bounded: audio sent at ~50x real time to a real decoder
    ends the session with 1013 once more than --max-backlog-seconds is waiting."""
    pcm = two_sentence_pcm * 8
    args = ["--workers", "1", "--max-backlog-seconds", "2"]
    with EmbeddedServer(engine="pocketsphinx", apikeys=[KEY], extra_args=args) as server:
        got = run(stream(server.url, KEY, pcm, frame_bytes=3200, realtime=False, timeout=60))
        assert got.close_code == 1013, got.close_reason


@pytest.mark.parametrize(
    "path",
    [
        "/asrx/../asrx",
        "/../asrx",
        "/asrx/%2e%2e/asrx",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/asrx/../../etc/passwd",
        "//asrx",
        "/asrx/",
        "/healthz/../asrx",
    ],
)
def test_paths_other_than_the_dialects_get_404(synthetic_server: EmbeddedServer, path: str) -> None:
    address = attacks.Address.of(synthetic_server.url)
    url = f"ws://{address.host}:{address.port}{path}"
    assert attacks.handshake_status(url, [("apikey", KEY)]) == 404


def test_the_key_check_compares_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """No timing difference between bad keys: every accepted key is compared in constant
    time, whichever (if any) matches, so the time does not say how close a guess was."""
    import hmac

    from harness.server.auth import KeyRing

    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    ring = KeyRing(["first-key", "second-key", "third-key"])
    for presented in ("first-key", "third-key", "first-kez", "x", "first-key-longer"):
        calls.clear()
        ring.check(presented)
        assert len(calls) == 3, presented


def test_connections_reset_mid_session_leave_nothing_behind(one_sentence: bytes) -> None:
    """Connections reset mid-session (no close frame) leave nothing behind."""
    with server_under_attack(one_sentence) as (server, rss):
        for _ in range(20):
            sock = attacks.open_upgraded(server.url, KEY)
            sock.sendall(attacks.audio_frame(one_sentence[:32000]))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
            sock.close()
        assert_unharmed(server, rss, one_sentence)
