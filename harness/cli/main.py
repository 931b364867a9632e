"""``asrx``: the console command. Each subcommand lives in its own module of this package
with ``add_parser(subparsers)`` and ``run(args) -> int``.

Exit codes: 0 success, 1 the server under test failed (or a gate failed), 2 usage error,
130 interrupted. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from harness import __version__
from harness.errors import HarnessError

#: Subcommand name -> module under ``harness.cli``.
COMMANDS: dict[str, str] = {
    "stream": "harness.cli.stream",
    "corpus": "harness.cli.corpus",
    "serve": "harness.cli.serve",
}

EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse's own usage errors: one line, exit 2.
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="asrx", description="Conformance and load testing for asrx ASR servers.")
    parser.add_argument("--version", action="version", version=f"asrx-harness {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for module in COMMANDS.values():
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.run(args))
    except HarnessError as exc:
        print(f"asrx {args.command}: error: {exc}", file=sys.stderr)
        code = exc.exit_code
    except KeyboardInterrupt:
        print(f"asrx {args.command}: interrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    return code


if __name__ == "__main__":
    sys.exit(main())
