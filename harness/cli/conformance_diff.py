"""``asrx conformance-diff OLD NEW``: which checks newly fail, and which newly pass.

Each file is a conformance run's JUnit XML (``--junitxml``) or its JSON result
(``--asrx-json``, or beside ``--asrx-report``); the two may be of either kind. A check is
named by its function and case, ``test_message_schema[en-single-01]``, as in both files.

A check *fails* when it FAILED or could not test (ERROR); it *passes* when it was OK,
NON-STRICT or a KNOWN deviation; otherwise it was skipped or not judged. *Newly failing*:
fails in NEW, did not fail in OLD (or was not in it). *Newly passing*: failed in OLD,
passes in NEW.

Exit codes (``harness.exitcodes``): 0 no check newly fails; 1 at least one check newly
fails; 2 usage: a file missing, unreadable or not a conformance result.
"""

from __future__ import annotations

import argparse
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from harness.conformance.capped import read_capped
from harness.conformance.results import FORMAT, PASSING
from harness.errors import UsageError
from harness.exitcodes import OK, TARGET_FAILED
from harness.protocol.escape import printable

#: Largest result file read: a JUnit XML of a few hundred checks is well under 1 MiB.
MAX_FILE_BYTES = 64 << 20
FAILING = frozenset({"FAILED", "ERROR"})


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "conformance-diff",
        help="compare two conformance runs: newly failing and newly passing checks",
        description="Compare two conformance runs (JUnit XML or the suite's JSON result). "
        "Exit 0: no check newly fails; 1: at least one does; 2: usage error.",
    )
    parser.add_argument("old", type=Path, help="the baseline run (.xml or .json)")
    parser.add_argument("new", type=Path, help="the run to judge (.xml or .json)")
    parser.set_defaults(run=run)
    return parser


def grades(path: Path) -> dict[str, str]:
    """Check name -> grade (FAILED, ERROR, KNOWN, NON-STRICT, OK, SKIPPED, NOT JUDGED)."""
    raw = read_capped(path, MAX_FILE_BYTES, f"cannot read {path}")
    if raw.lstrip().startswith(b"<"):
        return _junit_grades(raw, path)
    return _json_grades(raw, path)


def _json_grades(raw: bytes, path: Path) -> dict[str, str]:
    try:
        data = json.loads(raw)
        if data.get("format") == FORMAT:
            return {str(c["id"]): str(c["grade"]) for c in data["checks"]}
    except (ValueError, AttributeError, KeyError, TypeError):
        pass
    raise UsageError(f"{path}: neither JUnit XML nor an asrx conformance JSON result")


def _junit_grades(raw: bytes, path: Path) -> dict[str, str]:
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise UsageError(f"{path}: not valid XML ({exc})") from None
    if root.tag not in ("testsuites", "testsuite"):
        raise UsageError(f"{path}: not a JUnit XML file (root <{root.tag}>)")
    out: dict[str, str] = {}
    for case in root.iter("testcase"):
        name = case.get("name", "")
        if case.find("failure") is not None:
            out[name] = "FAILED"
        elif case.find("error") is not None:
            out[name] = "ERROR"
        elif (skipped := case.find("skipped")) is not None:
            out[name] = "KNOWN" if skipped.get("type") == "pytest.xfail" else "SKIPPED"
        else:
            out[name] = "OK"
    return out


def diff(old: dict[str, str], new: dict[str, str]) -> tuple[list[str], list[str]]:
    """(newly failing, newly passing), each as lines ``name (OLD -> NEW)``."""
    failing = [
        f"{name} ({old.get(name, 'absent')} -> {grade})"
        for name, grade in new.items()
        if grade in FAILING and old.get(name) not in FAILING
    ]
    passing = [
        f"{name} ({old[name]} -> {grade})"
        for name, grade in new.items()
        if grade in PASSING and old.get(name) in FAILING
    ]
    return failing, passing


def run(args: argparse.Namespace) -> int:
    old, new = grades(args.old), grades(args.new)
    failing, passing = diff(old, new)
    for title, lines in (("newly failing", failing), ("newly passing", passing)):
        print(f"{title}: {len(lines)}")
        for line in lines:
            print(f"  {printable(line)}")
    gone = sorted(set(old) - set(new))
    still = sum(1 for n, g in new.items() if g in FAILING and old.get(n) in FAILING)
    print(f"failing in both: {still}; checks only in OLD: {len(gone)}; compared: {len(new)}")
    return TARGET_FAILED if failing else OK
