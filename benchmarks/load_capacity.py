"""How many real-time streams can one Locust worker drive, and are its latencies accurate?

1. **Capacity, step by step** (``--steps 250,500,750,1000``): for each N, a fresh
   synthetic-engine reference server and ``locust -f locustfiles/stream.py --headless -u N``
   (one process, the real user class: protocol core, metrics, RunStats) streaming corpus
   utterances with 1024-byte frames at real time. With two or more CPUs the Locust process
   is pinned to CPU 0 and the server to CPU 1, so neither steals the other's core and the
   figures say which side ran out. Measured in the steady window (all users spawned): the
   Locust process's CPU (user + system) and the server's, and from RunStats every frame's
   send lateness (p50/p99/max, the whole run). A step *holds* when p99 send lateness is
   <= 5 ms and no session failed; when it does not, the verdict names the saturated side
   (a process at >= 95 % of its core).
2. **Against a bare loop**: the same N streams by a bare websocket-client loop (one thread
   per stream, paced sends, a reader thread; no protocol core, no metrics:
   ``benchmarks/load_io.py``'s ``wsclient-threads``), pinned the same way; the ratio of
   CPU per audio-second streamed, Locust user over bare loop, is the figure to quote.
3. **Latency accuracy**: the Locust user against a server with ``--delay-ms 0`` and one
   with ``--delay-ms D``: the median first-partial latency should move by D (within 2 ms).

    python benchmarks/load_capacity.py --steps 250,500,750,1000 --seconds 15
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
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


#: CPU sets: the client (Locust or the bare loop) and the server, when there are two CPUs.
CLIENT_CPUS: set[int] | None = None
SERVER_CPUS: set[int] | None = None
SATURATED = 0.95
LATENESS_BOUND_MS = 5.0


def _pin(pid: int, cpus: set[int] | None) -> None:
    if cpus is not None:
        for proc in _tree(pid):
            os.sched_setaffinity(proc.pid, cpus)


def _pin_self() -> None:  # preexec_fn of client processes
    if CLIENT_CPUS is not None:
        os.sched_setaffinity(0, CLIENT_CPUS)


def _audio_received(http_url: str | None) -> float | None:
    """The server's ``asrx_audio_seconds_total`` (audio it received), from /metrics."""
    if not http_url:
        return None
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"{http_url}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    for family in text_string_to_metric_families(text):
        if family.name == "asrx_audio_seconds":
            return sum(s.value for s in family.samples if s.name.endswith("_total"))
    return None


def run_locust(
    url: str,
    users: int,
    rate: int,
    seconds: float,
    servers: list[psutil.Process],
    http_url: str | None = None,
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
            cmd,
            env=_env(),
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_pin_self,
        )
        ps = psutil.Process(proc.pid)
        time.sleep(ramp + 3)
        a0 = _audio_received(http_url)
        c0, s0 = _cpu(ps), [_cpu(s) for s in servers]
        t0 = time.monotonic()
        time.sleep(seconds)
        c1, s1 = _cpu(ps), [_cpu(s) for s in servers]
        window = time.monotonic() - t0
        a1 = _audio_received(http_url)
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
        # The fairest figure: steady-window CPU over the audio the server received then.
        "window_audio_s": (a1 - a0) if a0 is not None and a1 is not None else None,
        "client_cpu_ms_per_window_audio_s": (
            1000 * (c1 - c0) / (a1 - a0) if a0 is not None and a1 is not None and a1 > a0 else None
        ),
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
        cmd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=seconds + 180,
        check=True,
        preexec_fn=_pin_self,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def verdict(cap: dict) -> str:
    late = cap["lateness_p99_ms"]
    if cap["failures"]:
        return "failed sessions: " + ", ".join(f"{n} {k}" for k, n in cap["failures"].items())
    if late is not None and late <= LATENESS_BOUND_MS:
        return "held"
    side = [
        name
        for name, cores in (("client", cap["client_cores"]), ("server", cap["server_cores"]))
        if cores >= SATURATED
    ]
    return f"p99 lateness {late} ms > {LATENESS_BOUND_MS:g} ms" + (
        f" ({' and '.join(side)} saturated)" if side else ""
    )


def capacity_step(n: int, args: argparse.Namespace, skip: set[str]) -> dict:
    from harness.server.embedded import EmbeddedServer

    limits = ["--max-sessions", str(n * 2), "--idle-timeout", "120"]
    row: dict[str, object] = {"streams": n}
    if "capacity" not in skip:
        with EmbeddedServer(apikeys=(KEY,), extra_args=limits) as server:
            _pin(server.pid, SERVER_CPUS)
            cap = run_locust(
                server.url, n, args.rate, args.seconds, _tree(server.pid), server.http_url
            )
        cap["verdict"] = verdict(cap)
        row["locust"] = cap
        print(f"{n} streams, Locust user: {json.dumps(cap)}", flush=True)
    if "bare" not in skip:
        with EmbeddedServer(no_auth=True, apikeys=(), extra_args=limits) as server:
            _pin(server.pid, SERVER_CPUS)
            bare = run_bare(server.url, n, args.seconds)
        row["bare"] = bare
        print(f"{n} streams, bare websocket-client: {json.dumps(bare)}", flush=True)
        cap_c = row.get("locust", {}).get("client_cpu_ms_per_window_audio_s")  # type: ignore[attr-defined]
        bare_c = bare.get("cpu_ms_per_stream_s")
        # A loop that fell behind real time streamed less audio than its CPU window
        # assumes: no fair ratio then.
        kept_up = not bare.get("failed_streams") and (bare.get("lateness_p99_ms") or 0) <= 50
        row["bare_kept_real_time"] = kept_up
        if cap_c and bare_c and kept_up:
            row["cpu_ratio_locust_over_bare"] = cap_c / bare_c
    return row


def main() -> None:
    global CLIENT_CPUS, SERVER_CPUS
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--steps", default="250,500,750,1000", help="comma list of stream counts")
    ap.add_argument("--rate", type=int, default=100, help="users spawned per second")
    ap.add_argument("--seconds", type=float, default=15.0, help="steady window per step")
    ap.add_argument("--no-pin", action="store_true", help="do not pin client and server")
    ap.add_argument("--delay-ms", type=int, default=200)
    ap.add_argument("--accuracy-users", type=int, default=4)
    ap.add_argument("--accuracy-seconds", type=float, default=20.0)
    ap.add_argument("--skip", default="", help="comma list of: capacity, bare, accuracy")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    try:
        steps = [int(x) for x in args.steps.split(",") if x.strip()]
    except ValueError:
        ap.error(f"--steps must be a comma list of integers, got {args.steps!r}")
    cpus = sorted(os.sched_getaffinity(0))
    if not args.no_pin and len(cpus) >= 2:
        CLIENT_CPUS, SERVER_CPUS = {cpus[0]}, {cpus[1]}

    from harness.server.embedded import EmbeddedServer

    results: dict[str, object] = {
        "cpus": len(cpus),
        "client_cpus": sorted(CLIENT_CPUS) if CLIENT_CPUS else None,
        "server_cpus": sorted(SERVER_CPUS) if SERVER_CPUS else None,
        "steps": [],
    }
    if not {"capacity", "bare"} <= skip:
        rows = [capacity_step(n, args, skip) for n in steps]
        results["steps"] = rows
        print(
            "\nstreams  client cores  server cores  lateness p50/p99/max ms  CPU vs bare  verdict"
        )
        for row in rows:
            cap = row.get("locust") or {}
            ratio = row.get("cpu_ratio_locust_over_bare")
            print(
                f"{row['streams']:>7}  {cap.get('client_cores', float('nan')):>12.2f}  "
                f"{cap.get('server_cores', float('nan')):>12.2f}  "
                f"{cap.get('lateness_p50_ms')}/{cap.get('lateness_p99_ms')}/"
                f"{cap.get('lateness_max_ms')}  "
                f"{f'{ratio:.2f}' if ratio else '-':>8}  {cap.get('verdict', '-')}"
            )
        held = [r["streams"] for r in rows if (r.get("locust") or {}).get("verdict") == "held"]
        results["highest_held"] = max(held) if held else None
        print(f"highest step held: {results['highest_held']}")
    if "accuracy" not in skip:
        acc = {}
        for d in (0, args.delay_ms):
            with EmbeddedServer(apikeys=(KEY,), delay_ms=d) as server:
                sp = [psutil.Process(server.pid)]
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
