"""``asrx grade-client [options] -- COMMAND ...``: grade an asrx client against the
reference server (docs/grade-client.md).

It runs the client checks with pytest in a child process::

    python -m pytest -p harness.clientgrade.plugin --pyargs harness.clientgrade \\
        --asrx-client "COMMAND ..." [--junitxml PATH] [--asrx-report PATH] ...

in the caller's folder (the client command runs there, so its relative paths work), with
pytest's own configuration files and ``addopts`` of that folder ignored, and without the
caller's ``ASRX_*`` variables (a real key never reaches the client under test). pytest's
exit code is mapped onto ``harness.exitcodes``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import harness.clientgrade
from harness.clientgrade.runner import DEFAULT_GRACE_S
from harness.clientgrade.scenarios import listing, select
from harness.clientgrade.verdict import DEFAULT_PACING_TOLERANCE, SHOWS_TEXT_MODES
from harness.errors import UsageError
from harness.exitcodes import INTERNAL_ERROR, INTERRUPTED, OK, TARGET_FAILED, USAGE

#: pytest's exit code -> ours. pytest's 2 is the suite's "nothing could be tested" (a Ctrl-C
#: reaches this process too, and is answered with INTERRUPTED before this mapping).
EXIT_CODES = {0: OK, 1: TARGET_FAILED, 2: TARGET_FAILED, 3: INTERNAL_ERROR, 4: USAGE, 5: USAGE}
EPILOG = (
    "The command gets {url}, {apikey}, {audio} (raw 16 kHz s16le mono PCM) and {audio_wav} "
    "filled in, and the same values as ASRX_URL, ASRX_APIKEY, ASRX_AUDIO, ASRX_AUDIO_WAV. "
    "Exit codes: 0 every check OK or NON-STRICT, 1 a check FAILED or could not grade, "
    "2 usage, 130 interrupted."
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "grade-client",
        usage="asrx grade-client [options] -- COMMAND ...",
        help="grade an asrx client: run it against the reference server in each scenario",
        description="Run COMMAND once per scenario against its own reference server on "
        "127.0.0.1 and grade what the server saw and how the process ended against the "
        "client rules (docs/protocol.md#client-rules).",
        epilog=EPILOG,
    )
    p.add_argument("client", nargs="*", metavar="COMMAND", help="the client, after --")
    p.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME[,NAME]",
        help="run only these scenarios (default: all; see --list-scenarios)",
    )
    p.add_argument("--list-scenarios", action="store_true", help="list the scenarios and exit")
    p.add_argument(
        "--grace",
        type=float,
        default=DEFAULT_GRACE_S,
        metavar="SECONDS",
        help="how long a client may run past its audio's duration before it is killed "
        f"(default {DEFAULT_GRACE_S:g})",
    )
    p.add_argument("--corpus", metavar="DIR", help="corpus folder (default: the shipped en-synth)")
    p.add_argument(
        "--utterance",
        metavar="ID",
        help="utterance to stream (default: the shortest with two sentences)",
    )
    p.add_argument("--profile", metavar="TOML", help="dialect profile for the server")
    p.add_argument(
        "--shows-text",
        choices=SHOWS_TEXT_MODES,
        default="auto",
        help="check the client's output for the final texts: auto (when it prints "
        "anything on stdout, the default), yes, no",
    )
    p.add_argument(
        "--pacing-tolerance",
        type=float,
        default=DEFAULT_PACING_TOLERANCE,
        metavar="FRACTION",
        help=f"pacing within this fraction of real time is OK (default "
        f"{DEFAULT_PACING_TOLERANCE:g})",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="scenarios run at once (default 1, so nothing disturbs the pacing measured)",
    )
    p.add_argument("--strict", action="store_true", help="NON-STRICT results fail")
    p.add_argument("--report", metavar="HTML", help="write the self-contained HTML report here")
    p.add_argument("--junitxml", metavar="XML", help="write JUnit XML here")
    p.add_argument(
        "--keep", metavar="DIR", help="keep the server's records and the client's output here"
    )
    p.set_defaults(run=run)


def _absolute(path: str | None) -> str | None:
    return str(Path(path).resolve()) if path else None


def pytest_argv(args: argparse.Namespace, ini: Path) -> list[str]:
    """The pytest command for ``args`` (every path absolute)."""
    package = Path(harness.clientgrade.__file__).parent
    argv = [sys.executable, "-m", "pytest", "-p", "harness.clientgrade.plugin"]
    argv += ["--pyargs", "harness.clientgrade", "-q", "-p", "no:cacheprovider"]
    argv += ["-c", str(ini), "--rootdir", str(package)]
    argv += ["--asrx-client", shlex.join(args.client)]
    argv += ["--asrx-client-grace", f"{args.grace:g}"]
    argv += ["--asrx-client-shows-text", args.shows_text]
    argv += ["--asrx-client-pacing-tolerance", f"{args.pacing_tolerance:g}"]
    argv += ["--asrx-client-jobs", str(args.jobs)]
    options = {
        "--asrx-client-scenarios": ",".join(args.scenario) or None,
        "--asrx-client-utterance": args.utterance,
        "--asrx-client-keep": _absolute(args.keep),
        "--asrx-corpus": _absolute(args.corpus),
        "--asrx-profile": _absolute(args.profile),
        "--asrx-report": _absolute(args.report),
        "--junitxml": _absolute(args.junitxml),
    }
    argv += [arg for flag, value in options.items() if value for arg in (flag, value)]
    if args.strict:
        argv.append("--asrx-strict")
    return argv


def _check(args: argparse.Namespace) -> None:
    if not args.client:
        raise UsageError("no client command: asrx grade-client [options] -- COMMAND ...")
    if not args.grace > 0:
        raise UsageError(f"--grace must be > 0, got {args.grace:g}")
    if not 0 <= args.pacing_tolerance < 1:
        raise UsageError(f"--pacing-tolerance must be within [0, 1), got {args.pacing_tolerance:g}")
    if args.jobs < 1:
        raise UsageError(f"--jobs must be >= 1, got {args.jobs}")
    select(",".join(args.scenario))  # an unknown name: one line now, not a pytest error


def run(args: argparse.Namespace) -> int:
    if args.list_scenarios:
        print(listing())
        return OK
    _check(args)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASRX_")}
    if corpora := os.environ.get("ASRX_CORPORA"):
        env["ASRX_CORPORA"] = corpora
    with tempfile.TemporaryDirectory(prefix="asrx-grade-client-") as folder:
        # An empty configuration: the caller's pytest.ini, addopts and plugins stay out.
        ini = Path(folder) / "pytest.ini"
        ini.write_text("[pytest]\n", encoding="utf-8")
        try:
            code = subprocess.call(pytest_argv(args, ini), env=env)
        except KeyboardInterrupt:
            return INTERRUPTED
    return EXIT_CODES.get(code, INTERNAL_ERROR)
