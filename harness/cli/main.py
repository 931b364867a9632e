"""``asrx``: the console command. Each subcommand lives in its own module of this package
with ``add_parser(subparsers)`` and ``run(args) -> int``; a pass-through subcommand
(``asrx load``, which hands its options to Locust) has ``main(argv) -> int`` instead and
gets its arguments unparsed.

Exit codes: ``harness.exitcodes`` (0 success, 1 the server under test failed or a gate
failed, 2 usage error, 130 interrupted; docs/ci.md lists them all). Errors are one line on
stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from harness import __version__
from harness.errors import HarnessError
from harness.exitcodes import INTERRUPTED, USAGE

#: Subcommand name -> module under ``harness.cli``.
COMMANDS: dict[str, str] = {
    "stream": "harness.cli.stream",
    "load": "harness.cli.load",
    "corpus": "harness.cli.corpus",
    "serve": "harness.cli.serve",
    "grade-client": "harness.cli.grade_client",
    "conformance-diff": "harness.cli.conformance_diff",
    "compare": "harness.cli.compare",
}
#: Subcommands whose arguments belong to another program: argparse would reject them.
PASSTHROUGH = frozenset({"load"})


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse's own usage errors: one line, exit 2.
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="asrx", description="Conformance and load testing for asrx ASR servers.")
    parser.add_argument("--version", action="version", version=f"asrx-harness {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for module in COMMANDS.values():
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else ""
    try:
        if command in PASSTHROUGH:
            return int(importlib.import_module(COMMANDS[command]).main(args[1:]))
        parsed = build_parser().parse_args(args)
        command = parsed.command
        return int(parsed.run(parsed))
    except HarnessError as exc:
        print(f"asrx {command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"asrx {command}: interrupted", file=sys.stderr)
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
