"""``asrx serve``: run the embedded reference asrx server (see ``harness.server``)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

from harness.errors import HarnessError
from harness.server.config import add_arguments, config_from_args
from harness.server.faults import list_faults, list_hazards
from harness.server.observability import setup_logging

DESCRIPTION = (
    "Run the reference asrx server. Prints one JSON line on stdout when ready: "
    '{"event": "ready", "url": ..., "http": ..., "pid": ...}; logs are JSON lines on stderr. '
    "The synthetic engine does not recognize speech: it emits placeholder words. "
    "To calibrate a client or harness, --result-latency-ms L [--delay-ms D] makes a server "
    "whose results leave L + D ms after the audio they cover arrived (docs/server.md)."
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve", help="run the reference asrx server", description=DESCRIPTION
    )
    add_arguments(parser)
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    if args.list_faults:
        print(list_faults())
        return 0
    if args.list_hazards:
        print(list_hazards())
        return 0
    config = config_from_args(args)
    setup_logging(config.log_level, secrets=config.apikeys, key_header=config.dialect.key_header)
    from harness.server.app import serve_forever

    asyncio.run(serve_forever(config))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m harness.server``: the same options and exit codes as ``asrx serve``."""
    parser = argparse.ArgumentParser(prog="python -m harness.server", description=DESCRIPTION)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except HarnessError as exc:
        print(f"asrx serve: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
