"""How many real-time streams can one Locust worker drive, and are its latencies accurate?

1. **Capacity, step by step** (``--steps 250,500,750,1000``): for each N, a fresh
   synthetic-engine reference server and ``locust -f locustfiles/stream.py --headless -u N``
   (the real user class: protocol core, metrics, RunStats, scoring) streaming corpus
   utterances with 1024-byte frames at real time, once per ``--processes`` count (Locust's
   own ``--processes``: a master and that many forked workers). With two or more CPUs the
   Locust processes are pinned to CPU 0 and the server to CPU 1, so neither steals the
   other's core and the figures say which side ran out. Measured in the steady window (all
   users spawned), for each side separately: CPU (user + system, the whole process tree)
   over the audio the server's ``/metrics`` says it received then (ms per stream-second)
   and resident memory (the tree's, at the window's end; per stream: the slope between the
   first and the last step). From RunStats, every frame's send lateness (p50/p99/max, the
   whole run). A step *holds* when p99 send lateness is <= 5 ms and no session failed;
   when it does not, the verdict names the saturated side (a process at >= 95 % of a core).
2. **Against a bare loop**: the same N streams by a bare websocket-client loop (one thread
   per stream, paced sends, a reader thread; no protocol core, no metrics:
   ``benchmarks/load_io.py``'s ``wsclient-threads``), pinned the same way, twice: streaming
   one utterance in a loop on one connection (streaming alone), and replaying the corpus
   one session per utterance as the Locust user does (connect, stream, end-of-stream,
   confirmation, close: ``--sessions``). The ratio of CPU per audio-second streamed,
   Locust user over the bare loop doing the same work, is the figure to quote: over the
   session loop for a normal run, over the streaming loop with ``--one-long-utterance``.
   ``--rounds R`` runs the single-process user and the bare loops R times in turn and
   takes the median ratio (``capacity_step`` says why).
3. **Latency accuracy**: ``--accuracy-users`` streams (500) against a server in calibration
   mode (``--result-latency-ms``: each result leaves a fixed time after the audio it covers
   arrived, whatever the load) with ``--delay-ms 0`` and one with ``--delay-ms D``, each
   replaying one utterance (``--accuracy-utterance``: ``one_utterance_corpus`` says why):
   the median first-partial latency should move by D (within 2 ms).

``--one-long-utterance`` streams the default corpus's audio as one 42-s utterance, so that
no session ends in the window: the figures are then those of streaming alone, and their
difference with a normal run is the cost of opening, scoring and closing sessions.

    python benchmarks/load_capacity.py --steps 250,400,500 --processes 1,2 --rounds 3 --skip bare
    python benchmarks/load_capacity.py --steps 750,1000 --skip bare,bare-sessions,accuracy
    python benchmarks/load_capacity.py --steps 250,500 --skip accuracy --one-long-utterance
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
LOCUSTFILE = REPO / "locustfiles" / "stream.py"
KEY = "bench-key"
MB = 1 << 20


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASRX_", "LOCUST_"))}
    env.update(ASRX_APIKEY=KEY, PYTHONUNBUFFERED="1", PYTHONPATH=str(REPO))
    return env


def _tree(pid: int) -> list[psutil.Process]:
    """A process and its children (a server's decoders, a Locust master's workers)."""
    proc = psutil.Process(pid)
    return [proc, *proc.children(recursive=True)]


def _cpu(pid: int) -> float:
    total = 0.0
    for proc in _tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess):
            t = proc.cpu_times()
            total += t.user + t.system
    return total


def _rss(pid: int) -> float:
    total = 0
    for proc in _tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += proc.memory_info().rss
    return total / MB


#: CPU sets: the client (Locust or the bare loop) and the server, when there are two CPUs.
CLIENT_CPUS: set[int] | None = None
SERVER_CPUS: set[int] | None = None
SATURATED = 0.95
LATENESS_BOUND_MS = 5.0


def _pin(pid: int, cpus: set[int] | None) -> None:
    if cpus is not None:
        for proc in _tree(pid):
            os.sched_setaffinity(proc.pid, cpus)


def _pin_self() -> None:  # preexec_fn of client processes (forked workers inherit it)
    if CLIENT_CPUS is not None:
        os.sched_setaffinity(0, CLIENT_CPUS)


def _counter(http_url: str, name: str) -> float:
    """A counter of the server's /metrics (``asrx_audio_seconds``: audio it received)."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"{http_url}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    for family in text_string_to_metric_families(text):
        if family.name == name:
            return sum(s.value for s in family.samples if s.name.endswith("_total"))
    raise RuntimeError(f"{http_url}/metrics has no {name}_total")


def _audio_received(http_url: str) -> float:
    return _counter(http_url, "asrx_audio_seconds")


def run_locust(
    url: str,
    http_url: str,
    server_pid: int,
    users: int,
    args: argparse.Namespace,
    processes: int,
    corpus: Callable[[Path], str] | None = None,
) -> dict:
    """One Locust run; CPU and memory of it and of the server over the steady window
    (``corpus``: makes the corpus to replay in a folder; default: the default corpus)."""
    ramp = users / args.rate
    run_time = ramp + 3 + args.seconds + 2
    with tempfile.TemporaryDirectory() as tmp:
        stats_path = Path(tmp) / "stats.json"
        cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless"]
        cmd += ["-u", str(users), "-r", str(args.rate), "-t", f"{run_time:.0f}s", "--host", url]
        cmd += ["--asrx-stats-out", str(stats_path), "--only-summary", "--stop-timeout", "0"]
        cmd += ["--asrx-timeout-scale", "3", "--loglevel", "WARNING"]
        if processes > 1:
            cmd += ["--processes", str(processes)]
        if corpus is not None:
            cmd += ["--asrx-corpus", corpus(Path(tmp) / "corpus")]
        elif args.one_long_utterance:
            cmd += ["--asrx-corpus", long_corpus(Path(tmp) / "corpus")]
        proc = subprocess.Popen(
            cmd,
            env=_env(),
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_pin_self,
        )
        time.sleep(ramp + 3)
        a0, c0, s0 = _audio_received(http_url), _cpu(proc.pid), _cpu(server_pid)
        t0 = time.monotonic()
        time.sleep(args.seconds)
        c1, s1 = _cpu(proc.pid), _cpu(server_pid)
        window = time.monotonic() - t0
        a1 = _audio_received(http_url)
        client_mb, server_mb = _rss(proc.pid), _rss(server_pid)
        _, err = proc.communicate(timeout=run_time + 120)
        stats = json.loads(stats_path.read_text())
    from harness.load.stats import RunStats

    rs = RunStats.from_dict(stats)
    late = rs.histograms["send_lateness"]
    audio = a1 - a0
    return {
        "users": users,
        "processes": processes,
        "window_s": window,
        "window_audio_s": audio,
        "streams_in_window": audio / window,
        "client_cores": (c1 - c0) / window,
        "client_cpu_ms_per_stream_s": 1000 * (c1 - c0) / audio if audio > 0 else None,
        "client_rss_mb": client_mb,
        "server_cores": (s1 - s0) / window,
        "server_cpu_ms_per_stream_s": 1000 * (s1 - s0) / audio if audio > 0 else None,
        "server_rss_mb": server_mb,
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


def long_corpus(folder: Path) -> str:
    """A corpus of one utterance, the default corpus's audio end to end (about 40 s): no
    session ends in the window, so a run measures the cost of streaming alone, without
    the work of opening, scoring and closing sessions."""
    from harness.corpus import default_corpus_dir, load_corpus

    corpus = load_corpus(default_corpus_dir("en"))
    pcm = b"".join(u.pcm() for u in corpus.utterances)
    folder.mkdir()
    (folder / "long.pcm").write_bytes(pcm)
    ms = len(pcm) / 32
    line = {"id": "long", "audio": "long.pcm", "lang": "en", "duration_ms": ms}
    line.update(segments=[[0.0, ms]], source="the default corpus's audio, concatenated")
    (folder / "manifest.jsonl").write_text(json.dumps(line) + "\n")
    return str(folder)


def one_utterance_corpus(folder: Path, utterance_id: str) -> str:
    """A corpus of one of the default corpus's utterances, its manifest line as it is.

    The accuracy runs replay one utterance: each has its own first-partial latency, so
    over the whole corpus the distribution is a few steps tens of milliseconds apart, and
    its median jumps from one step to the next with the mix of sessions that ended in a
    run (655 against 666 ms in two runs of the same code), burying a 2-ms question.
    """
    from harness.corpus import default_corpus_dir

    source = Path(default_corpus_dir("en"))
    for line in (source / "manifest.jsonl").read_text().splitlines():
        entry = json.loads(line) if line.strip() else {}
        if entry.get("id") == utterance_id:
            folder.mkdir()
            shutil.copy(source / entry["audio"], folder / entry["audio"])
            (folder / "manifest.jsonl").write_text(line + "\n")
            return str(folder)
    raise SystemExit(f"load_capacity: no utterance {utterance_id!r} in {source}")


def run_bare(url: str, streams: int, seconds: float, sessions: bool) -> dict:
    cmd = [sys.executable, str(REPO / "benchmarks" / "load_io.py"), "--candidate"]
    cmd += ["wsclient-threads", "--url", url, "--streams", str(streams)]
    cmd += ["--seconds", str(seconds), "--warmup", "3"] + (["--sessions"] if sessions else [])
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
    side = [
        name
        for name, cores in (("client", cap["client_cores"]), ("server", cap["server_cores"]))
        if cores >= SATURATED * (cap["processes"] if name == "client" else 1)
    ]
    note = f" ({' and '.join(side)} saturated)" if side else ""
    if "server" in side:  # what it could take in: the limit a latency gate would find
        note = f" (server saturated: it took in {cap['streams_in_window']:.0f} streams' audio)"
    if late is None:  # lateness is recorded as each session ends
        return "no session ended: CPU and memory only" + note
    if late <= LATENESS_BOUND_MS:
        return "held" + note
    return f"p99 lateness {late} ms > {LATENESS_BOUND_MS:g} ms{note}"


def server(n: int, **kw: object):  # type: ignore[no-untyped-def]
    from harness.server.embedded import EmbeddedServer

    limits = ["--max-sessions", str(n * 2), "--idle-timeout", "120"]
    extra = [*limits, *kw.pop("extra", [])]  # type: ignore[misc]
    return EmbeddedServer(extra_args=extra, **kw)  # type: ignore[arg-type]


def capacity_step(n: int, args: argparse.Namespace, skip: set[str]) -> dict:
    """One step: the Locust user with each process count, and the bare loops.

    With ``--rounds R`` the single-process Locust user and the bare loops run R times in
    turn: this machine's speed drifts by a quarter within minutes (the same server's CPU
    per stream-second moved from 1.62 to 2.19 ms between two runs two minutes apart), and a
    ratio of two runs made a minute apart carries it. The step then shows the round of
    median client CPU, and the ratio is the median of the rounds' ratios, each of a Locust
    run and the bare run right after it.
    """
    row: dict[str, Any] = {"streams": n, "locust": {}}
    rounds: list[dict[str, Any]] = []
    for r in range(args.rounds):
        this: dict[str, Any] = {}
        if "capacity" not in skip:
            for processes in args.processes:
                if r and processes != 1:
                    continue
                with server(n, apikeys=(KEY,)) as srv:
                    _pin(srv.pid, SERVER_CPUS)
                    cap = run_locust(srv.url, srv.http_url, srv.pid, n, args, processes)
                cap["verdict"] = verdict(cap)
                if processes == 1:
                    this["locust"] = cap
                else:
                    row["locust"][processes] = cap
                print(f"{n} streams, Locust user, {processes} process(es): {json.dumps(cap)}")
        for kind, sessions in (("bare", False), ("bare_sessions", True)):
            if kind.replace("_", "-") in skip:
                continue
            with server(n, no_auth=True, apikeys=()) as srv:
                _pin(srv.pid, SERVER_CPUS)
                bare = run_bare(srv.url, n, args.seconds, sessions)
            this[kind] = bare
            what = "one session per utterance" if sessions else "streaming alone"
            print(f"{n} streams, bare websocket-client, {what}: {json.dumps(bare)}", flush=True)
            cap_c = this.get("locust", {}).get("client_cpu_ms_per_stream_s")
            bare_c = bare.get("cpu_ms_per_stream_s")
            # A loop that fell behind real time, or whose sessions failed, did not do the
            # work: no fair ratio then.
            kept_up = not bare.get("failed_streams") and (bare.get("lateness_p99_ms") or 0) <= 50
            bare["kept_real_time"] = kept_up
            if cap_c and bare_c and kept_up:
                this[f"ratio_{kind}"] = cap_c / bare_c
        rounds.append(this)
    locust = [t["locust"] for t in rounds if "locust" in t]
    if locust:
        row["locust"][1] = _middle(locust, "client_cpu_ms_per_stream_s")
    for kind in ("bare", "bare_sessions"):
        runs = [t[kind] for t in rounds if kind in t]
        if runs:
            row[kind] = _middle(runs, "cpu_ms_per_stream_s")
        ratios = [t[f"ratio_{kind}"] for t in rounds if f"ratio_{kind}" in t]
        if ratios:
            row[f"cpu_ratio_locust_over_{kind}"] = statistics.median(ratios)
    if args.rounds > 1:
        row["rounds"] = [
            {
                "client_cpu_ms_per_stream_s": t.get("locust", {}).get("client_cpu_ms_per_stream_s"),
                "server_cpu_ms_per_stream_s": t.get("locust", {}).get("server_cpu_ms_per_stream_s"),
                **{k: t[k]["cpu_ms_per_stream_s"] for k in ("bare", "bare_sessions") if k in t},
                **{k: v for k, v in t.items() if k.startswith("ratio_")},
            }
            for t in rounds
        ]
    return row


def _middle(runs: list[dict[str, Any]], figure: str) -> dict[str, Any]:
    """The run of median ``figure`` (the upper of the two middle ones for an even count)."""
    return sorted(runs, key=lambda run: run[figure])[len(runs) // 2]


def accuracy(args: argparse.Namespace) -> dict:
    """The median first partial at ``--accuracy-users`` streams, for D = 0 and D."""
    calibrated = ["--result-latency-ms", str(args.result_latency_ms)]
    median, late = {}, {}
    one = functools.partial(one_utterance_corpus, utterance_id=args.accuracy_utterance)
    for d in (0, args.delay_ms):
        n = args.accuracy_users
        with server(n, apikeys=(KEY,), delay_ms=d, extra=calibrated) as srv:
            _pin(srv.pid, SERVER_CPUS)
            r = run_locust(srv.url, srv.http_url, srv.pid, n, args, 1, corpus=one)
            late[d] = _counter(srv.http_url, "asrx_results_late")
        median[d] = r["first_partial_p50_ms"]
        print(
            f"delay {d} ms, {n} streams: median first partial {median[d]} ms "
            f"({r['first_partial_count']} sessions, p99 send lateness "
            f"{r['lateness_p99_ms']} ms, {late[d]:.0f} results released late)",
            flush=True,
        )
    shift = median[args.delay_ms] - median[0]
    print(f"median first partial moved by {shift:.2f} ms for D={args.delay_ms} ms")
    return {
        "users": args.accuracy_users,
        "result_latency_ms": args.result_latency_ms,
        "median_first_partial_ms": median,
        "results_late": late,
        "shift_ms": shift,
        "error_ms": shift - args.delay_ms,
    }


def per_stream_mb(rows: list[dict], side: str, processes: int) -> float | None:
    """Resident memory per stream: the slope between the first and the last step."""
    runs = [(r["streams"], r["locust"].get(processes)) for r in rows]
    runs = [(n, cap) for n, cap in runs if cap]
    if len(runs) < 2 or runs[-1][0] == runs[0][0]:
        return None
    (n0, a), (n1, b) = runs[0], runs[-1]
    return (b[f"{side}_rss_mb"] - a[f"{side}_rss_mb"]) / (n1 - n0)


def table(rows: list[dict], processes: list[int]) -> None:
    print(
        "\nstreams procs  client: cores ms/str-s MB   server: cores ms/str-s MB   "
        "lateness p50/p99/max ms   vs bare: sessions streaming  verdict"
    )
    for row in rows:
        for p in processes:
            cap = row["locust"].get(p)
            if not cap:
                continue
            ratios = [
                row.get(f"cpu_ratio_locust_over_{kind}") if p == 1 else None
                for kind in ("bare_sessions", "bare")
            ]
            print(
                f"{row['streams']:>7} {p:>5}  {cap['client_cores']:>13.2f} "
                f"{cap['client_cpu_ms_per_stream_s']:>9.3f} {cap['client_rss_mb']:>4.0f}  "
                f"{cap['server_cores']:>13.2f} {cap['server_cpu_ms_per_stream_s']:>9.3f} "
                f"{cap['server_rss_mb']:>4.0f}   {cap['lateness_p50_ms']}/"
                f"{cap['lateness_p99_ms']}/{cap['lateness_max_ms']}   "
                + "".join(f"{f'{r:.2f}' if r else '-':>10}" for r in ratios)
                + f"  {cap['verdict']}"
            )
        for i, t in enumerate(row.get("rounds", []), 1):
            names = {"client_cpu_ms_per_stream_s": "client", "server_cpu_ms_per_stream_s": "server"}
            figures = ", ".join(
                f"{names.get(k, k).replace('_', ' ')} {v:.3f}"
                for k, v in t.items()
                if isinstance(v, float)
            )
            print(f"{'':>7} round {i}: {figures}")
        for kind, what in (("bare_sessions", "one session per utterance"), ("bare", "alone")):
            if kind in row:
                b = row[kind]
                cpu = b["cpu_ms_per_stream_s"]
                print(
                    f"{'':>7} bare loop, {what}: {f'{cpu:.3f}' if cpu else '-'} ms per "
                    f"stream-second, lateness p99 {b['lateness_p99_ms']:.1f} ms"
                    f"{'' if b['kept_real_time'] else ' (fell behind real time or failed)'}"
                )
    for p in processes:
        held = [
            r["streams"]
            for r in rows
            if (r["locust"].get(p) or {}).get("verdict", "").startswith("held")
        ]
        client, srv = per_stream_mb(rows, "client", p), per_stream_mb(rows, "server", p)
        print(
            f"{p} process(es): highest step held {max(held) if held else None}; memory per "
            f"stream: client {client and f'{client * 1024:.0f} kB'}, "
            f"server {srv and f'{srv * 1024:.0f} kB'}"
        )


def main() -> None:
    global CLIENT_CPUS, SERVER_CPUS
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--steps", default="250,500,750,1000", help="comma list of stream counts")
    ap.add_argument("--processes", default="1", help="comma list of Locust process counts")
    ap.add_argument("--rate", type=int, default=100, help="users spawned per second")
    ap.add_argument("--seconds", type=float, default=15.0, help="steady window per step")
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the single-process Locust user and the bare loops this many times in turn "
        "(median ratio): the machine's speed drifts",
    )
    ap.add_argument("--no-pin", action="store_true", help="do not pin client and server")
    ap.add_argument("--delay-ms", type=int, default=200)
    ap.add_argument("--result-latency-ms", type=int, default=300)
    ap.add_argument("--accuracy-users", type=int, default=500)
    ap.add_argument(
        "--accuracy-utterance",
        default="en-single-01",
        help="the default corpus's utterance the accuracy runs replay",
    )
    ap.add_argument(
        "--skip", default="", help="comma list of: capacity, bare, bare-sessions, accuracy"
    )
    ap.add_argument(
        "--one-long-utterance",
        action="store_true",
        help="stream one long utterance (no session ends): the cost of streaming alone",
    )
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    try:
        steps = [int(x) for x in args.steps.split(",") if x.strip()]
        args.processes = [int(x) for x in args.processes.split(",") if x.strip()]
    except ValueError:
        ap.error("--steps and --processes are comma lists of integers")
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    cpus = sorted(os.sched_getaffinity(0))
    if not args.no_pin and len(cpus) >= 2:
        CLIENT_CPUS, SERVER_CPUS = {cpus[0]}, {cpus[1]}

    results: dict[str, object] = {
        "cpus": len(cpus),
        "client_cpus": sorted(CLIENT_CPUS) if CLIENT_CPUS else None,
        "server_cpus": sorted(SERVER_CPUS) if SERVER_CPUS else None,
        "load_average_at_start": os.getloadavg(),
        "steps": [],
    }
    if not {"capacity", "bare", "bare-sessions"} <= skip:
        rows = [capacity_step(n, args, skip) for n in steps]
        results["steps"] = rows
        table(rows, args.processes)
    if "accuracy" not in skip:
        results["accuracy"] = accuracy(args)
    results["load_average_at_end"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
