"""How often does ``asrx compare`` cry wolf, and how often does it catch a real slowdown?

Runs the same load several times against the reference server (``--engine``) and
compares every pair of those runs, earlier as baseline: any gating metric judged
*regressed* or *improved* there is a **false alarm** (nothing changed but the machine's
noise). Then runs the same load against a server holding every message back by
``--delay-ms`` (default 50) and compares each of those with each undelayed run: the share
judged *regressed* on first-partial and on sentence latency is the **detection rate**.
Runs alternate (plain, delayed, plain, ...) so that a slow spell of the machine does not
fall on one kind only.

    python benchmarks/compare_noise.py --plain 6 --delayed 3 --seconds 30 --users 4

Prints a table per metric and figure (how often each was detectable, or flagged, between
plain runs) and the rates; ``--json FILE`` keeps everything. The figures quoted in
docs/compare.md come from this script.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
KEY = "bench-compare-key"
GATING = ("regressed", "improved")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASRX_", "LOCUST_"))}
    env.update(ASRX_APIKEY=KEY, PYTHONUNBUFFERED="1")
    return env


def load_run(url: str, users: int, seconds: int, out: Path) -> Path:
    """One ``asrx load`` run against ``url``; its summary."""
    cmd = [sys.executable, "-m", "harness.cli.main", "load", "--headless"]
    cmd += ["-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--host", url]
    cmd += ["--asrx-report-dir", str(out), "--only-summary", "--loglevel", "WARNING"]
    done = subprocess.run(
        cmd, env=_env(), capture_output=True, text=True, timeout=seconds + 120, cwd=out.parent
    )
    summary = out / "asrx-summary.json"
    if done.returncode != 0 or not summary.is_file():
        raise SystemExit(f"load run failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plain", type=int, default=6, help="runs against the plain server")
    parser.add_argument("--delayed", type=int, default=3, help="runs against the delayed one")
    parser.add_argument("--seconds", type=int, default=30, help="duration of each run")
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--delay-ms", type=int, default=50)
    parser.add_argument(
        "--engine",
        default="synthetic",
        help="the reference server's engine: synthetic (fixed timing) or pocketsphinx "
        "(real recognition: its latency follows the machine's load; 2 users at most on 2 cores)",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()

    from harness.compare.judge import compare
    from harness.compare.record import read_run
    from harness.server.embedded import EmbeddedServer

    def server(delay: int) -> EmbeddedServer:
        extra = ("--max-sessions", "10000")
        return EmbeddedServer(engine=args.engine, apikeys=(KEY,), delay_ms=delay, extra_args=extra)

    plain: list[Path] = []
    delayed: list[Path] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, server(0) as fast, server(args.delay_ms) as slow:
        order = ["plain"] * args.plain
        for i in range(args.delayed):  # interleave: plain, delayed, plain, delayed, ...
            order.insert(2 * i + 1, "delayed")
        for n, kind in enumerate(order):
            url, into = (fast.url, plain) if kind == "plain" else (slow.url, delayed)
            into.append(load_run(url, args.users, args.seconds, Path(tmp) / f"{n:02d}-{kind}"))
            print(f"run {n + 1}/{len(order)} ({kind}) done", file=sys.stderr)
        runs = {p: read_run(p) for p in plain + delayed}
        same = [compare(runs[a], runs[b]) for a, b in itertools.combinations(plain, 2)]
        slower = [compare(runs[a], runs[b]) for a in plain for b in delayed]
    elapsed = time.monotonic() - started

    figures: Counter[tuple[str, str, str]] = Counter()
    for c in same:
        for m in c.metrics:
            for ch in m.changes:
                figures[(m.metric, ch.figure, ch.verdict)] += 1
    false_alarms = [c for c in same if any(m.gates and m.verdict in GATING for m in c.metrics)]
    flagged = Counter(m.metric for c in same for m in c.metrics if m.gates and m.verdict in GATING)

    def caught(metric: str) -> int:
        return sum(
            any(m.metric == metric and m.verdict == "regressed" for m in c.metrics) for c in slower
        )

    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"{len(plain)} plain and {len(delayed)} delayed runs of {args.seconds} s, "
          f"{args.users} users, {args.engine} engine, in {elapsed:.0f} s\n")  # fmt: skip
    print("between plain runs, per figure: detectable (within tolerance or beyond) / flagged")
    metrics = sorted({(k[0], k[1]) for k in figures})
    for metric, fig in metrics:
        n = sum(v for k, v in figures.items() if k[:2] == (metric, fig))
        beyond = sum(figures[(metric, fig, v)] for v in GATING)
        seen = beyond + figures[(metric, fig, "within tolerance")]
        print(f"  {metric:<14} {fig:<6} {seen:>3}/{n} detectable, {beyond}/{n} flagged")
    print(f"\nfalse alarms: {len(false_alarms)}/{len(same)} comparisons of plain runs flagged "
          f"a gating metric {dict(flagged)}")  # fmt: skip
    for metric in ("first_partial", "sentence"):
        print(f"detected +{args.delay_ms} ms on {metric}: {caught(metric)}/{len(slower)}")
    for c in false_alarms:
        print(f"  false alarm: {c.headline}")
    if args.json:
        result: dict[str, Any] = {
            "args": vars(args) | {"json": str(args.json)},
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
            "elapsed_s": elapsed,
            "same": [c.headline for c in same],
            "delayed": [c.headline for c in slower],
            "false_alarms": len(false_alarms),
            "comparisons_same": len(same),
            "detected": {m: caught(m) for m in ("first_partial", "sentence")},
            "comparisons_delayed": len(slower),
        }
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
