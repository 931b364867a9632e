"""The reference server under abuse, at volumes too large for the test suite.

Runs the hostile clients of ``tests/server/attacks.py`` (the same code the abuse tests use)
against a fresh synthetic-engine server each, on loopback, and reports for each attack the
server's resident memory before, at its peak (VmHWM) and after, how long the server took,
what happened to the attacker, and whether a fresh session still works afterwards.

    python benchmarks/server_abuse.py                      # the default volumes
    python benchmarks/server_abuse.py --text-frames 4000000 --pings 1500000 --clients 8

Every attack is bounded in count and time; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from websockets.exceptions import InvalidStatus

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.server.attacks

from harness.server.embedded import EmbeddedServer  # noqa: E402
from tests.server import attacks  # noqa: E402
from tests.server.streaming import metric, stream, wait_metric  # noqa: E402

KEY = "bench-abuse-key-5e1c"
#: Per flood: the attacker gives up sending after this long.
FLOOD_BUDGET_S = 120.0
#: Waiting for the server to work through what a flood left in its socket.
SETTLE_S = 120.0


@dataclass
class Row:
    attack: str
    volume: str
    rss_before_mib: float
    rss_peak_mib: float
    rss_after_mib: float
    seconds: float
    outcome: str
    fresh_session_ok: bool


def mib(kib: int) -> float:
    return round(kib / 1024, 1)


def fresh_session_ok(server: EmbeddedServer, pcm: bytes) -> bool:
    try:
        got = asyncio.run(stream(server.url, KEY, pcm, timeout=30))
    except (OSError, TimeoutError, InvalidStatus):
        return False
    return bool(got.confirmed and got.close_code == 1000)


def measure(
    attack: str,
    volume: str,
    run_attack: Callable[[EmbeddedServer], str],
    extra_args: Sequence[str] = (),
) -> Row:
    pcm = b"\0" * 32000
    with EmbeddedServer(engine="synthetic", apikeys=[KEY], extra_args=extra_args) as server:
        fresh_session_ok(server, pcm)
        before, _ = attacks.rss_kib(server.pid)
        started = time.monotonic()
        outcome = run_attack(server)
        attacks.wait_until_idle(server.pid, SETTLE_S)
        seconds = time.monotonic() - started
        after, peak = attacks.rss_kib(server.pid)
        ok = fresh_session_ok(server, pcm)
        if "Traceback" in server.stderr_text():
            outcome += "; TRACEBACK logged"
    return Row(attack, volume, mib(before), mib(peak), mib(after), round(seconds, 1), outcome, ok)


def flood_from(clients: int, frame: bytes, count: int) -> Callable[[EmbeddedServer], str]:
    def run_attack(server: EmbeddedServer) -> str:
        results: list[attacks.FloodResult] = []
        socks = [attacks.open_upgraded(server.url, KEY) for _ in range(clients)]

        def one(sock: object) -> None:
            results.append(attacks.flood(sock, frame, count, FLOOD_BUDGET_S))  # type: ignore[arg-type]

        threads = [threading.Thread(target=one, args=(s,)) for s in socks]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        closed = sum(attacks.drain_until_closed(s, timeout=5.0) for s in socks)
        for s in socks:
            s.close()
        sent = sum(r.sent for r in results)
        wait_metric(server.http_url, "asrx_active_sessions", 0, timeout=30)
        shed = int(metric(server.http_url, "asrx_send_backlog_exceeded_total"))
        return (
            f"{sent:,} frames sent; the server closed {closed} of {clients} "
            f"connection(s), {shed} for not reading"
        )

    return run_attack


def abandon(count: int) -> Callable[[EmbeddedServer], str]:
    def run_attack(server: EmbeddedServer) -> str:
        attacks.abandon_handshakes(server.url, KEY, count)
        time.sleep(0.5)
        status = attacks.handshake_status(server.url, [("apikey", KEY)])
        slots = int(metric(server.http_url, "asrx_session_slots"))
        return f"then a fresh handshake: HTTP {status}; slots in use {slots}"

    return run_attack


def duplicate_keys(count: int) -> Callable[[EmbeddedServer], str]:
    def run_attack(server: EmbeddedServer) -> str:
        statuses: dict[int, int] = {}
        for _ in range(count):
            code = attacks.handshake_status(server.url, [("apikey", KEY), ("apikey", KEY)])
            statuses[code] = statuses.get(code, 0) + 1
        return "HTTP " + ", ".join(f"{code} x{n}" for code, n in sorted(statuses.items()))

    return run_attack


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text-frames", type=int, default=2_000_000)
    parser.add_argument("--pings", type=int, default=1_500_000)
    parser.add_argument("--clients", type=int, default=4, help="concurrent flooders")
    parser.add_argument("--handshakes", type=int, default=500)
    args = parser.parse_args(argv)
    rows = [
        measure(
            "handshakes reset before the 101",
            f"{args.handshakes} (--max-sessions 5)",
            abandon(args.handshakes),
            ["--max-sessions", "5"],
        ),
        measure(
            "1-byte malformed text frames, never reading",
            f"{args.text_frames:,}",
            flood_from(1, attacks.MALFORMED_TEXT_FRAME, args.text_frames),
        ),
        measure(
            "125-byte pings, never reading",
            f"{args.pings:,}",
            flood_from(1, attacks.PING_FRAME, args.pings),
        ),
        measure(
            "125-byte pings, never reading, concurrent clients",
            f"{args.clients} x {args.pings // args.clients:,}",
            flood_from(args.clients, attacks.PING_FRAME, args.pings // args.clients),
        ),
        measure(
            "two apikey headers",
            f"{args.handshakes}",
            duplicate_keys(args.handshakes),
        ),
    ]
    print("| attack | volume | RSS before | peak | after | seconds | outcome | fresh session |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r.attack} | {r.volume} | {r.rss_before_mib} MiB | {r.rss_peak_mib} MiB "
            f"| {r.rss_after_mib} MiB | {r.seconds} | {r.outcome} "
            f"| {'works' if r.fresh_session_ok else 'FAILS'} |"
        )
    return 0 if all(r.fresh_session_ok for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
