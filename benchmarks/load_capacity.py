"""Can one Locust process drive 1000 real-time streams, and are its latencies accurate?

1. **Capacity**: ``locust -f locustfiles/stream.py --headless -u N`` (one process, the
   real user class: protocol core, metrics, RunStats) streams corpus utterances with
   1024-byte frames at real time against synthetic-engine reference server(s) on
   loopback. Measured in the steady window (all users spawned): the Locust process's
   CPU (user + system, psutil) per stream-second, and the run's p99 send lateness
   (every frame, from RunStats). The same N streams are then run by a bare
   websocket-client loop (one thread per stream, paced sends, a reader thread; no
   protocol core, no metrics: ``benchmarks/load_io.py``'s ``wsclient-threads``) and its
   CPU per stream-second is measured the same way: the ratio is the figure to quote.
2. **Latency accuracy**: the same Locust user against a server with ``--delay-ms 0`` and
   one with ``--delay-ms D``: the median first-partial latency should move by D (within
   2 ms).

The machine's cores are shared by server and client: the servers' CPU is reported too.

    python benchmarks/load_capacity.py --streams 1000 --seconds 30
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
LOCUSTFILE = REPO / "locustfiles" / "stream.py"
KEY = "bench-key"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASRX_", "LOCUST_"))}
    env.update(ASRX_APIKEY=KEY, PYTHONUNBUFFERED="1", PYTHONPATH=str(REPO))
    return env


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def _tree(pid: int) -> list[psutil.Process]:
    """A server process and its worker processes (decoders)."""
    proc = psutil.Process(pid)
    return [proc, *proc.children(recursive=True)]


def run_locust(
    url: str, users: int, rate: int, seconds: float, servers: list[psutil.Process]
) -> dict:
    """One local Locust process; CPU of it and of the servers over the steady window."""
    ramp = users / rate
    run_time = ramp + 3 + seconds + 2
    with tempfile.TemporaryDirectory() as tmp:
        stats_path = Path(tmp) / "stats.json"
        cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless"]
        cmd += ["-u", str(users), "-r", str(rate), "-t", f"{run_time:.0f}s", "--host", url]
        cmd += ["--asrx-stats-out", str(stats_path), "--only-summary", "--stop-timeout", "0"]
        cmd += ["--asrx-timeout-scale", "3", "--loglevel", "WARNING"]
        proc = subprocess.Popen(
            cmd, env=_env(), cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        ps = psutil.Process(proc.pid)
        time.sleep(ramp + 3)
        c0, s0 = _cpu(ps), [_cpu(s) for s in servers]
        t0 = time.monotonic()
        time.sleep(seconds)
        c1, s1 = _cpu(ps), [_cpu(s) for s in servers]
        window = time.monotonic() - t0
        time.sleep(max(0.0, run_time - (ramp + 3 + seconds) - 0.7))
        c_end = _cpu(ps)  # since the process started, just before Locust stops
        _, err = proc.communicate(timeout=run_time + 120)
        stats = json.loads(stats_path.read_text())
    from harness.load.stats import RunStats

    rs = RunStats.from_dict(stats)
    late = rs.histograms["send_lateness"]
    return {
        "users": users,
        "window_s": window,
        "client_cpu_s": c1 - c0,
        "client_cpu_ms_per_stream_s": 1000 * (c1 - c0) / (users * window),
        "client_cores": (c1 - c0) / window,
        "server_cores": sum(b - a for a, b in zip(s0, s1, strict=True)) / window,
        # Sessions also wait for confirmations: the audio actually streamed is the
        # fairer denominator (frames of finished sessions x 32 ms).
        "audio_stream_s": late.count * 0.032,
        "streams_sending_avg": late.count * 0.032 / run_time,
        "client_cpu_ms_per_audio_s": 1000 * c_end / (late.count * 0.032) if late.count else None,
        "lateness_p50_ms": late.percentile(50),
        "lateness_p99_ms": late.percentile(99),
        "lateness_max_ms": late.max,
        "frames": late.count,
        "sessions_ok": rs.sessions_ok,
        "failures": dict(rs.failures),
        "first_partial_p50_ms": rs.histograms["first_partial"].percentile(50),
        "first_partial_count": rs.histograms["first_partial"].count,
        "exit_code": proc.returncode,
        "stderr_tail": err[-400:],
    }


def run_bare(url: str, streams: int, seconds: float) -> dict:
    cmd = [sys.executable, str(REPO / "benchmarks" / "load_io.py"), "--candidate"]
    cmd += ["wsclient-threads", "--url", url, "--streams", str(streams)]
    cmd += ["--seconds", str(seconds), "--warmup", "3"]
    out = subprocess.run(
        cmd, env=_env(), capture_output=True, text=True, timeout=seconds + 180, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--rate", type=int, default=100, help="users spawned per second")
    ap.add_argument("--seconds", type=float, default=30.0, help="steady window")
    ap.add_argument("--delay-ms", type=int, default=200)
    ap.add_argument("--accuracy-users", type=int, default=4)
    ap.add_argument("--accuracy-seconds", type=float, default=20.0)
    ap.add_argument("--skip", default="", help="comma list of: capacity, bare, accuracy")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    from harness.server.embedded import EmbeddedServer

    results: dict[str, object] = {"cpus": os.cpu_count()}
    limits = ["--max-sessions", str(args.streams * 2), "--idle-timeout", "120"]
    if not {"capacity", "bare"} <= skip:
        with EmbeddedServer(apikeys=(KEY,), extra_args=limits) as server:
            sp = _tree(server.process.pid)  # type: ignore[union-attr]
            if "capacity" not in skip:
                cap = run_locust(server.url, args.streams, args.rate, args.seconds, sp)
                results["capacity"] = cap
                print("locust user:", json.dumps(cap), flush=True)
        if "bare" not in skip:
            with EmbeddedServer(no_auth=True, apikeys=(), extra_args=limits) as server:
                bare = run_bare(server.url, args.streams, args.seconds)
                results["bare"] = bare
                print("bare websocket-client:", json.dumps(bare), flush=True)
        cap_c = results.get("capacity", {}).get("client_cpu_ms_per_audio_s")  # type: ignore[union-attr]
        bare_c = results.get("bare", {}).get("cpu_ms_per_stream_s")  # type: ignore[union-attr]
        if cap_c and bare_c:
            results["cpu_ratio_locust_over_bare"] = cap_c / bare_c
            print(f"CPU per stream, Locust user / bare websocket-client: {cap_c / bare_c:.2f}")
    if "accuracy" not in skip:
        acc = {}
        for d in (0, args.delay_ms):
            with EmbeddedServer(apikeys=(KEY,), delay_ms=d) as server:
                sp = [psutil.Process(server.process.pid)]  # type: ignore[union-attr]
                r = run_locust(server.url, args.accuracy_users, 4, args.accuracy_seconds, sp)
                acc[d] = r["first_partial_p50_ms"]
                print(f"delay {d} ms: median first partial {acc[d]} ms", flush=True)
        shift = acc[args.delay_ms] - acc[0]
        results["accuracy"] = {
            "median_first_partial_ms": acc,
            "shift_ms": shift,
            "error_ms": shift - args.delay_ms,
        }
        print(f"median first partial moved by {shift:.2f} ms for D={args.delay_ms} ms")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
