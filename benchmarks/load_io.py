"""Which WebSocket I/O should the Locust user use? CPU per stream and send lateness.

Each candidate runs N concurrent real-time streams (1024-byte frames, 32 ms each, one
corpus utterance looped; a concurrent reader drains the transcripts) for a fixed time
against one synthetic-engine reference server on loopback, in its own process:

- ``sansio``: websockets' Sans-I/O ``ClientProtocol`` over ``gevent.socket`` (no patching)
- ``ws-sync``: the websockets sync client under ``gevent.monkey.patch_all()``
- ``wsclient-gevent``: websocket-client under ``gevent.monkey.patch_all()``
- ``wsclient-threads``: websocket-client with one OS thread per stream (no gevent)

Measured in the steady window (all streams open): client CPU seconds (user + system,
``getrusage``) per stream-second of audio sent in the window, and each frame's send
lateness (actual send time minus its absolute deadline), p50/p99/max. Loopback only;
bounded in time.

With ``--sessions`` (``wsclient-threads`` only) each stream does what the Locust user does
instead of looping one utterance on one connection: it replays the default corpus, one
session per utterance (connect, its frames at real time from its own start, the
end-of-stream message, the confirmation, the close), so both pay for opening and closing
sessions; nothing is measured or scored.

    python benchmarks/load_io.py --streams 200 --seconds 10
    python benchmarks/load_io.py --streams 200 --seconds 10 --candidates wsclient-threads --sessions
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

CANDIDATES = ("sansio", "ws-sync", "wsclient-gevent", "wsclient-threads")
FRAME = 1024
FRAME_S = FRAME / 32000


def _pcm() -> bytes:
    from harness.corpus import default_corpus_dir, load_corpus

    corpus = load_corpus(default_corpus_dir("en"))
    utt = max(corpus.utterances, key=lambda u: u.duration_ms)
    pcm = utt.pcm()
    return pcm[: len(pcm) - len(pcm) % FRAME]


def _utterances() -> list[list[bytes]]:
    """The default corpus's utterances, as frames, in manifest order."""
    from harness.corpus import default_corpus_dir, load_corpus

    corpus = load_corpus(default_corpus_dir("en"))
    return [
        [pcm[i : i + FRAME] for i in range(0, len(pcm), FRAME)]
        for pcm in (u.pcm() for u in corpus.utterances)
    ]


def _percentile(data: list[float], p: float) -> float:
    data = sorted(data)
    return data[max(0, min(len(data) - 1, int(round(p / 100 * len(data))) - 1))]


def _cpu_now(resource) -> float:  # type: ignore[no-untyped-def]
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return float(ru.ru_utime + ru.ru_stime)


def run_candidate(
    name: str, url: str, streams: int, seconds: float, warmup: float, sessions: bool = False
) -> dict:
    """In this process: N streams for ``warmup + seconds``; measure the last ``seconds``."""
    threads = name == "wsclient-threads"
    if name in ("ws-sync", "wsclient-gevent"):
        from gevent import monkey

        monkey.patch_all()
    import resource
    import threading
    import time

    pcm = _pcm()
    frames = [pcm[i : i + FRAME] for i in range(0, len(pcm), FRAME)]
    utterances = _utterances() if sessions else []
    from harness.protocol.dialect import Dialect

    end_of_stream = Dialect().end_of_stream_message()
    clock = time.monotonic
    t_start = clock() + 0.5
    t_measure = t_start + warmup
    t_end = t_measure + seconds
    lateness: list[float] = []
    received = [0]
    errors: list[str] = []

    def paced(send, k0: float) -> None:  # type: ignore[no-untyped-def]
        # Streams start spread over the first frame period so sends do not bunch.
        t0 = t_start + k0 * FRAME_S
        k = 0
        while True:
            due = t0 + k * FRAME_S
            if due >= t_end:
                return
            delay = due - clock()
            if delay > 0:
                sleep(delay)
            sent = clock()
            send(frames[k % len(frames)])
            if due >= t_measure:
                lateness.append((sent - due) * 1000.0)
            k += 1

    if name == "sansio":
        import gevent
        from gevent import socket
        from websockets.client import ClientProtocol
        from websockets.uri import parse_uri

        from harness.client.gevent_client import Connection

        sleep = gevent.sleep

        def one(i: int) -> None:
            uri = parse_uri(url)
            sock = socket.create_connection((uri.host, uri.port))
            proto = ClientProtocol(uri, max_size=None)
            proto.send_request(proto.connect())
            conn = Connection(sock, proto)
            conn.flush()
            while not any(True for _ in proto.events_received()):
                proto.receive_data(sock.recv(65536))

            def reader() -> None:
                while True:
                    data = sock.recv(65536)
                    if not data:
                        return
                    proto.receive_data(data)
                    received[0] += len(proto.events_received())

            r = gevent.spawn(reader)
            paced(lambda d: (proto.send_binary(d), conn.flush()), i / streams)
            r.kill()
            sock.close()

        gl = [gevent.spawn(one, i) for i in range(streams)]
        gevent.joinall(gl)
        errors += [repr(g.exception) for g in gl if g.exception]
    elif name == "ws-sync":
        import gevent
        from websockets.sync.client import connect

        sleep = gevent.sleep

        def one(i: int) -> None:
            ws = connect(url, compression=None, max_size=None, ping_interval=None)

            def reader() -> None:
                try:
                    for _ in ws:
                        received[0] += 1
                except Exception:
                    return

            r = gevent.spawn(reader)
            paced(ws.send, i / streams)
            ws.close()
            r.kill()

        gl = [gevent.spawn(one, i) for i in range(streams)]
        gevent.joinall(gl)
        errors += [repr(g.exception) for g in gl if g.exception]
    else:
        import websocket  # websocket-client

        if threads:
            sleep = time.sleep
        else:
            import gevent

            sleep = gevent.sleep

        def session(frames: list[bytes], t0: float) -> bool:
            """One utterance as one session; False once the window is over. The server
            confirms the end of stream and closes: the reader returns then."""
            ws = websocket.create_connection(url, enable_multithread=True, timeout=30)

            def reader() -> None:
                with contextlib.suppress(Exception):
                    while ws.recv():
                        received[0] += 1

            r = threading.Thread(target=reader, daemon=True)
            r.start()
            t0 = max(t0, clock())
            for k, frame in enumerate(frames):
                due = t0 + k * FRAME_S
                if due >= t_end:
                    ws.close()
                    return False
                delay = due - clock()
                if delay > 0:
                    sleep(delay)
                sent = clock()
                ws.send_binary(frame)
                if due >= t_measure:
                    lateness.append((sent - due) * 1000.0)
            ws.send(end_of_stream)
            r.join(30)
            ws.shutdown()
            return True

        def replay(i: int) -> None:
            t0 = t_start + i / streams * FRAME_S
            k = i
            try:
                while session(utterances[k % len(utterances)], t0):
                    k += 1
                    t0 = clock()
            except Exception as exc:
                errors.append(repr(exc))

        def one(i: int) -> None:
            if sessions:
                replay(i)
                return
            try:
                ws = websocket.create_connection(url, enable_multithread=True)

                def reader() -> None:
                    try:
                        while ws.recv():
                            received[0] += 1
                    except Exception:
                        return

                r = threading.Thread(target=reader, daemon=True)
                r.start()
                paced(ws.send_binary, i / streams)
                ws.close()
            except Exception as exc:
                errors.append(repr(exc))

        ts = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(streams)]
        for t in ts:
            t.start()
        # CPU is read at the window's edges from this (main) thread.
    cpu: list[float] = []
    if threads:
        time.sleep(max(0, t_measure - clock()))
        cpu.append(_cpu_now(resource))
        time.sleep(max(0, t_end - clock()))
        cpu.append(_cpu_now(resource))
        for t in ts:
            t.join(timeout=5)
    # Greenlet candidates: a sampler greenlet in child_main reads the edges.
    return {
        "lateness": lateness,
        "cpu": cpu,
        "received": received[0],
        "failed_streams": len(errors),
        "errors": [e[:120] for e in errors[:3]],
    }


def child_main(args: argparse.Namespace) -> None:
    import time

    result: dict
    if args.candidate == "wsclient-threads":
        result = run_candidate(
            args.candidate, args.url, args.streams, args.seconds, args.warmup, args.sessions
        )
    else:
        if args.candidate in ("ws-sync", "wsclient-gevent"):
            from gevent import monkey

            monkey.patch_all()
        import resource

        import gevent

        edges: list[float] = []

        def sampler() -> None:
            start = time.monotonic()
            gevent.sleep(0.5 + args.warmup)
            ru = resource.getrusage(resource.RUSAGE_SELF)
            edges.append(ru.ru_utime + ru.ru_stime)
            gevent.sleep(max(0.0, start + 0.5 + args.warmup + args.seconds - time.monotonic()))
            ru = resource.getrusage(resource.RUSAGE_SELF)
            edges.append(ru.ru_utime + ru.ru_stime)

        s = gevent.spawn(sampler)
        result = run_candidate(args.candidate, args.url, args.streams, args.seconds, args.warmup)
        s.join()
        result["cpu"] = edges
    lat = result.pop("lateness")
    cpu = result.pop("cpu")
    cpu_s = cpu[1] - cpu[0] if len(cpu) == 2 else float("nan")
    audio_s = len(lat) * FRAME_S  # the audio sent in the window
    out = {
        "candidate": args.candidate,
        "streams": args.streams,
        "sessions": args.sessions,
        "frames": len(lat),
        "cpu_ms_per_stream_s": 1000.0 * cpu_s / audio_s if audio_s else None,
        "cpu_share_of_core": cpu_s / args.seconds,
        "lateness_p50_ms": _percentile(lat, 50) if lat else None,
        "lateness_p99_ms": _percentile(lat, 99) if lat else None,
        "lateness_max_ms": max(lat) if lat else None,
        **result,
    }
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--streams", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--candidates", default=",".join(CANDIDATES))
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument(
        "--sessions",
        action="store_true",
        help="wsclient-threads: one session per corpus utterance, as the Locust user",
    )
    ap.add_argument("--candidate", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.sessions and (args.candidate or args.candidates) != "wsclient-threads":
        ap.error("--sessions is for --candidates wsclient-threads alone")
    if args.candidate:
        child_main(args)
        return

    from harness.server.embedded import EmbeddedServer

    results = []
    # Sessions that closed hold their slot until the server has seen the close.
    slots = 2 * args.streams if args.sessions else args.streams + 10
    extra = ["--max-sessions", str(slots), "--idle-timeout", "60"]
    for name in args.candidates.split(","):
        # A fresh server per candidate: no sessions left over from the previous one.
        with EmbeddedServer(no_auth=True, apikeys=(), extra_args=extra) as server:
            cmd = [sys.executable, __file__, "--candidate", name, "--url", server.url]
            cmd += ["--streams", str(args.streams), "--seconds", str(args.seconds)]
            cmd += ["--warmup", str(args.warmup)] + (["--sessions"] if args.sessions else [])
            proc = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                timeout=args.warmup + args.seconds + 120,
                env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
            )
            if proc.returncode != 0:
                print(f"{name}: failed: {proc.stderr.strip()[-500:]}", file=sys.stderr)
                continue
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            results.append(res)
            print(
                f"{name:17s} streams={res['streams']:5d} "
                f"cpu={res['cpu_ms_per_stream_s']:.3f} ms/stream-s "
                f"({res['cpu_share_of_core']:.2f} core) "
                f"lateness p50={res['lateness_p50_ms']:.2f} p99={res['lateness_p99_ms']:.2f} "
                f"max={res['lateness_max_ms']:.2f} ms msgs={res['received']} "
                f"failed={res['failed_streams']} {res['errors'][:1]}",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
