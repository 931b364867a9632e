"""``asrx compare BASELINE CURRENT``: did the current load run get slower than the baseline?

Each is a load run's summary JSON (``reports/asrx-summary.json``) or a reports directory
(its latest summary). Every latency both runs measured is compared at p50, p95 and p99,
then the error ratio and the WER or CER: the change, its interval from resampling each
run's own time windows, and a verdict (``harness.compare.judge``; docs/compare.md).
Prints one line per figure and the outcome in one line (``--json``: the whole comparison
as JSON instead); ``--html FILE`` writes the self-contained comparison page.

Exit codes (``harness.exitcodes``): 0 no regression; 5 a metric regressed beyond its
tolerance; 6 the runs are not comparable (corpus, target, users, duration...); 2 usage:
a file missing or not a load summary, a bad tolerance.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from harness.compare import tolerance
from harness.compare.identity import ASPECTS
from harness.compare.judge import Comparison, compare
from harness.compare.page import render_page
from harness.compare.record import read_run
from harness.compare.resample import DEFAULT_RESAMPLES
from harness.errors import UsageError
from harness.exitcodes import NOT_COMPARABLE, OK, REGRESSED, USAGE

SUMMARY = "compare two load runs: which metrics regressed, with noise taken into account"
MAX_RESAMPLES = 100_000


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "compare",
        help=SUMMARY,
        description=f"Compare two load runs' summaries. Exit {OK}: no regression; "
        f"{REGRESSED}: a metric regressed beyond its tolerance; {NOT_COMPARABLE}: the runs "
        f"are not comparable; {USAGE}: usage error. docs/compare.md explains the method.",
    )
    parser.add_argument("baseline", type=Path, help="the earlier run: summary JSON or reports dir")
    parser.add_argument("current", type=Path, help="the run to judge: summary JSON or reports dir")
    parser.add_argument(
        "--tolerance",
        action="append",
        default=[],
        metavar="[KEY=]SPEC",
        help="how much a figure may change: '5%%,10ms' (the larger), '20ms', '0.01'; KEY is "
        "latency (the default), a metric (first_partial), a percentile (first_partial.p95), "
        "error_ratio, wer or cer; repeatable",
    )
    parser.add_argument(
        "--confidence", type=float, default=None, help="interval confidence (default 0.95)"
    )
    parser.add_argument(
        "--slo-file",
        type=Path,
        default=None,
        help="TOML file with a [compare] table of tolerances, as for asrx load (asrx.toml "
        "in this directory is read first)",
    )
    parser.add_argument(
        "--allow-different",
        action="append",
        default=[],
        choices=sorted(ASPECTS),
        metavar="ASPECT",
        help=f"compare anyway although this differs ({', '.join(ASPECTS)}); repeatable",
    )
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    parser.add_argument("--html", type=Path, default=None, help="write the comparison page here")
    parser.add_argument(
        "--resamples",
        type=int,
        default=DEFAULT_RESAMPLES,
        help=f"bootstrap resamples (default {DEFAULT_RESAMPLES})",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.set_defaults(run=run)
    return parser


def _cell(v: Any, unit: str, sign: bool = False) -> str:
    if not isinstance(v, int | float):
        return "-"
    return (f"{v:+.4g}" if sign else f"{v:.4g}") + (" ms" if unit == "ms" else "")


def table_lines(c: Comparison) -> list[str]:
    """One line per figure: metric, figure, baseline, current, change, interval, verdict."""
    conf = f"{c.tolerances.confidence:.0%} interval"
    head = (
        f"{'metric':<14} {'figure':<6} {'baseline':>11} {'current':>11} {'change':>11} "
        f"{conf:>23} {'allowed':>11}  verdict"
    )
    lines = [head]
    for m in c.metrics:
        if not m.changes:
            lines.append(f"{m.metric:<14} {'':<6} {m.verdict}: {m.reason}")
            continue
        for ch in m.changes:
            u = m.unit
            ci = (
                f"{_cell(ch.low, '', True)} .. {_cell(ch.high, '', True)}"
                if ch.low is not None
                else "too few samples"
            )
            lines.append(
                f"{m.metric:<14} {ch.figure:<6} {_cell(ch.baseline, u):>11} "
                f"{_cell(ch.current, u):>11} {_cell(ch.change, u, True):>11} {ci:>23} "
                f"{_cell(ch.allowed, u):>11}  {ch.verdict}"
            )
    return lines


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.resamples <= MAX_RESAMPLES:
        raise UsageError(f"--resamples must be between 1 and {MAX_RESAMPLES}")
    overrides: dict[str, Any] = tolerance.from_options(args.tolerance)
    if args.confidence is not None:
        overrides[tolerance.CONFIDENCE] = args.confidence
    tolerances = tolerance.load(file=args.slo_file, overrides=overrides)
    base, cur = read_run(args.baseline), read_run(args.current)
    comparison = compare(
        base,
        cur,
        tolerances,
        allow=args.allow_different,
        resamples=args.resamples,
        seed=args.seed,
    )
    result = comparison.to_dict()
    if args.html is not None:
        try:
            args.html.parent.mkdir(parents=True, exist_ok=True)
            args.html.write_text(render_page(result), encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {args.html}: {exc.strerror or exc}") from None
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        for line in [*comparison.allowed, *comparison.notes]:
            print(f"note: {line}")
        print("\n".join(table_lines(comparison)))
        print(f"asrx compare: {comparison.headline} (exit {comparison.exit_code})")
    return comparison.exit_code
