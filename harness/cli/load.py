"""``asrx load``: Locust with the packaged asrx locustfile, every Locust option passed through.

    asrx load --headless -u 4 -r 2 -t 30s                       # embedded reference server
    asrx load --headless -u 20 -t 2m --host wss://HOST/asrx     # key from ASRX_APIKEY
    asrx load --capacity --headless --step-max 40               # the step ramp

The command replaces its own process with ``python -m locust -f <packaged locustfile>
ARGS...`` (``os.execv``). Locust monkey-patches the standard library with gevent when it
is imported, so it must start in a clean interpreter; and as the same process, Locust's
exit code, signals (Ctrl-C, SIGTERM) and terminal reach the caller unchanged.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from importlib import resources
from typing import Any

from harness.errors import UsageError
from harness.exitcodes import (
    HARNESS_SATURATED,
    NOT_COMPARABLE,
    OK,
    REGRESSED,
    SLO_BREACHED,
    TARGET_FAILED,
    USAGE,
)
from harness.locustfiles import locustfile

CAPACITY_FLAG = "--capacity"
HELP_FLAGS = frozenset({"-h", "--help"})
#: Options that would replace the packaged locustfile (``locust -f`` runs your own).
LOCUSTFILE_OPTIONS = ("-f", "--locustfile")

SUMMARY = "Load-test an asrx server with Locust and judge the SLO gate."


def description(capacity: bool) -> str:
    """What ``asrx load --help`` prints before Locust's own help."""
    options = "--asrx-*, --slo-*" + (", --step-*" if capacity else "")
    return f"""\
usage: asrx load [{CAPACITY_FLAG}] [LOCUST OPTIONS ...]

{SUMMARY}

Runs Locust with the harness's packaged asrx user: it replays corpus utterances at real
time against --host (default: an embedded reference server started for the run; the key
comes from ASRX_APIKEY), measures connect, first-partial, sentence and close latency at
full resolution, and when the run ends judges the SLO gate and writes the summary JSON and
the HTML report to reports/. Every Locust option (-u, -r, -t, --headless, --host,
--processes, --master/--worker, --html, --csv, ...) passes through unchanged, and so does
the exit code: {OK} pass, {TARGET_FAILED} sessions failed, {USAGE} bad option or SLO file,
{SLO_BREACHED} an SLO breached, {HARNESS_SATURATED} harness saturated (latencies untrusted);
with --asrx-baseline, {REGRESSED} regressed against the baseline, {NOT_COMPARABLE} not comparable.

  {CAPACITY_FLAG}    run the step ramp instead: hold --step-start users, add --step-users
                every --step-hold seconds up to --step-max, and report the highest step
                that held the SLOs

Documentation: docs/load.md (options, SLO files, reports), docs/ci.md (exit codes).
Locust's help follows, with the asrx options ({options}).

"""


#: Prints the full Locust help, including the options the locustfile adds: Locust's own
#: ``--help`` prints before it loads a locustfile, so it would leave them out.
_HELP_PROGRAM = (
    "import sys\n"
    "from locust.util.load_locustfile import load_locustfile\n"
    "from locust.argument_parser import get_parser\n"
    "load_locustfile(sys.argv[1])\n"
    "get_parser().print_help()\n"
)


def add_parser(sub: Any) -> None:
    """Listed in ``asrx --help``; ``main`` hands ``asrx load`` its arguments unparsed."""
    sub.add_parser("load", help=SUMMARY, description=SUMMARY, add_help=False)


def locust_command(argv: Sequence[str], path: str) -> list[str]:
    """The Locust command line for ``asrx load ARGV`` with the locustfile at ``path``."""
    args = [a for a in argv if a != CAPACITY_FLAG]
    for arg in args:
        if arg == "--":
            break
        if arg.startswith(LOCUSTFILE_OPTIONS):  # -f FILE, -fFILE, --locustfile=FILE
            raise UsageError(
                f"{arg}: asrx load runs the packaged asrx locustfile; "
                "run 'locust -f FILE ...' for a locustfile of your own"
            )
    if HELP_FLAGS.intersection(args):
        return [sys.executable, "-c", _HELP_PROGRAM, path]
    return [sys.executable, "-m", "locust", "-f", path, *args]


def main(argv: Sequence[str]) -> int:
    """Run Locust in place of this process (never returns on POSIX)."""
    name = "capacity" if CAPACITY_FLAG in argv else "stream"
    # as_file gives a real path even from a zipped install; the file must outlive this
    # process's exec, so the context is left open on purpose.
    path = resources.as_file(locustfile(name)).__enter__()
    command = locust_command(argv, str(path))
    if HELP_FLAGS.intersection(argv):
        sys.stdout.write(description(name == "capacity"))
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name != "posix":
        # Windows has no exec that keeps the process: run Locust as a child instead.
        return subprocess.call(command)
    os.execv(sys.executable, command)
    raise AssertionError("os.execv returned")  # pragma: no cover
