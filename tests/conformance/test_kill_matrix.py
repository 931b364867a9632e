"""The kill matrix: every fault of the reference server fails exactly the checks of its own
rule(s), no more and no fewer, and the conforming server passes (docs/conformance.md).

Each fault run starts ``EmbeddedServer(faults=(name,))`` and runs the *whole* suite
against it (``--asrx-url``, ``--junitxml``, ``--asrx-json``, ``--asrx-report``), four runs at
a time, slowest first, with the waits scaled down and the pacing raised. The set of checks
that fail (FAILED or ERROR) must equal the fault's row in ``MATRIX``, in the JUnit XML and
the JSON result alike. The conforming run is the whole suite in its default embedded mode,
timed (< 2 minutes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.corpus import default_corpus_dir, load_corpus
from harness.server.embedded import EmbeddedServer
from harness.server.faults import FAULTS

REPO = Path(__file__).resolve().parents[2]
KEY = "kill-matrix-key-7d2e9a"  # distinctive, so a leak shows up anywhere
#: Faults make the suite wait for what never comes (a confirmation, a close): waits scaled
#: down; the others run at 0.3. Pacing 8x real time: sentences still split the same way.
TIMEOUT_SCALE = {"never-confirm": "0.15", "confirm-never-close": "0.15", "stall-mid-stream": "0.15"}
DEFAULT_SCALE = "0.3"
FAULT_SPEED = "8"
SUITE_BUDGET_S = 120.0
RUN_TIMEOUT_S = 300.0

_UTTERANCES = load_corpus(default_corpus_dir("en")).utterances
SCENARIOS = ("speech", "no-audio", "mid-sentence")
BAD_KEYS = ("missing", "empty", "wrong", "other-header", "query-string")


def cases(check: str, params: tuple[str, ...] | list[str]) -> set[str]:
    return {f"{check}[{p}]" for p in params}


SPEECH = [u.id for u in _UTTERANCES if u.segments]
MULTI = [u.id for u in _UTTERANCES if len(u.segments) >= 2]
SILENT = [u.id for u in _UTTERANCES if not u.segments]
#: Silent utterances get no message at all, so nothing to break the schema with.
SCHEMA = cases("test_message_schema", [*SPEECH, "after-malformed-json", "after-unknown-status"])

#: fault -> (its rules, the exact set of checks that fail against it).
MATRIX: dict[str, tuple[str, set[str]]] = {
    "accept-any-key": ("1.auth", cases("test_bad_apikey_gets_no_session", BAD_KEYS)),
    "bad-key-close-late": ("1.auth-close", cases("test_bad_apikey_gets_no_session", BAD_KEYS)),
    "never-confirm": (
        "4.confirm, 4.close-in-time",
        cases("test_exactly_one_confirmation", SCENARIOS)
        | cases("test_confirm_and_close_in_time", SCENARIOS),
    ),
    "confirm-never-close": ("4.close-in-time", cases("test_confirm_and_close_in_time", SCENARIOS)),
    "transcript-after-confirm": (
        "4.nothing-after-confirm, 4.final-before-confirm",
        cases("test_nothing_after_confirmation", SCENARIOS)
        | cases("test_final_text_before_confirmation", SCENARIOS),
    ),
    "final-after-confirm": (
        "4.final-before-confirm, 4.nothing-after-confirm",
        cases("test_nothing_after_confirmation", ("speech", "mid-sentence"))
        | cases("test_final_text_before_confirmation", ("speech", "mid-sentence")),
    ),
    "text-not-string": ("3.text", SCHEMA),
    "state-missing": ("3.state", SCHEMA),
    "binary-reply": ("3.text-frame", SCHEMA),
    "non-json-reply": ("3.json", SCHEMA),
    "text-in-silence": ("3.silence", cases("test_silence_gives_no_text", SILENT)),
    "never-new-sentence": ("3.sentences", cases("test_sentence_count", MULTI)),
    "shared-state": (
        "4.isolation, 3.no-repeat",
        {"test_concurrent_sessions_get_their_own_transcripts"}
        | cases("test_no_repeat_of_previous_sentence", MULTI),
    ),
    "odd-frame-1011": ("2.any-frame-size", {"test_any_frame_size[odd-1023]"}),
    "drop-on-malformed-json": ("3.error-reply", {"test_malformed_json", "test_state_machine"}),
    "close-1011": ("4.close-1000", cases("test_close_code_1000", SCENARIOS)),
    "stall-mid-stream": (
        "4.confirm, 4.close-in-time, 3.sentences",
        cases("test_exactly_one_confirmation", ("speech", "mid-sentence"))
        | cases("test_confirm_and_close_in_time", ("speech", "mid-sentence"))
        | cases("test_sentence_count", MULTI),
    ),
}
#: Slowest first, so the four workers finish together.
SLOW = ("never-confirm", "stall-mid-stream", "confirm-never-close")


@dataclass
class SuiteRun:
    name: str
    returncode: int
    seconds: float
    failed: set[str]  # check ids (name[case]) that failed or errored, from the JUnit XML
    failed_json: set[str]  # the same from the JSON result
    not_judged: set[str]
    verdict: str
    output: str
    artefacts: str


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASRX_")}
    env["ASRX_APIKEY"] = KEY
    return env


def run_suite(name: str, args: list[str], out: Path) -> SuiteRun:
    junit, report, result = out / f"{name}.xml", out / f"{name}.html", out / f"{name}.json"
    cmd = [sys.executable, "-m", "pytest", "harness/conformance", "-q", "-p", "no:cacheprovider"]
    cmd += ["-o", "addopts=", f"--junitxml={junit}", f"--asrx-report={report}"]
    cmd += [f"--asrx-json={result}", *args]
    started = time.monotonic()
    proc = subprocess.run(
        cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=RUN_TIMEOUT_S
    )
    seconds = time.monotonic() - started
    failed = set()
    if junit.exists():
        for case in ET.parse(junit).getroot().iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                failed.add(case.get("name", ""))
    data = json.loads(result.read_text(encoding="utf-8")) if result.exists() else {"checks": []}
    grade = {c["id"]: c["grade"] for c in data["checks"]}
    texts = [p.read_text(encoding="utf-8") for p in (junit, report, result) if p.exists()]
    return SuiteRun(
        name,
        proc.returncode,
        seconds,
        failed,
        {c for c, g in grade.items() if g in ("FAILED", "ERROR")},
        {c for c, g in grade.items() if g == "NOT JUDGED"},
        data.get("verdict", ""),
        proc.stdout + proc.stderr,
        "\n".join(texts),
    )


def run_fault(fault: str, out: Path) -> SuiteRun:
    scale = TIMEOUT_SCALE.get(fault, DEFAULT_SCALE)
    with EmbeddedServer(engine="synthetic", apikeys=(KEY,), faults=(fault,)) as server:
        args = ["--asrx-url", server.url, "--asrx-timeout-scale", scale]
        return run_suite(fault, [*args, "--asrx-speed", FAULT_SPEED], out)


def _grouped(ids: set[str]) -> str:
    """``check (case, case); check`` for a table cell."""
    by_check: dict[str, list[str]] = {}
    for i in sorted(ids):
        name, _, case = i.partition("[")
        by_check.setdefault(name, [])
        if case:
            by_check[name].append(case.rstrip("]"))
    return "; ".join(
        f"`{n}` ({', '.join(c)})" if c else f"`{n}`" for n, c in sorted(by_check.items())
    )


def matrix_markdown(runs: list[SuiteRun]) -> str:
    lines = ["| fault | rule(s) | failing checks | not judged |", "|---|---|---|---|"]
    for run in runs:
        rules = MATRIX[run.name][0]
        failing = _grouped(run.failed) or "**none (survived)**"
        lines.append(f"| `{run.name}` | {rules} | {failing} | {_grouped(run.not_judged)} |")
    return "\n".join(lines) + "\n"


def test_matrix_covers_every_fault() -> None:
    assert set(MATRIX) == set(FAULTS)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_kill_matrix(tmp_path: Path) -> None:
    order = [*SLOW, *(f for f in MATRIX if f not in SLOW)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        conforming = pool.submit(run_suite, "conforming", [], tmp_path)
        futures = {f: pool.submit(run_fault, f, tmp_path) for f in order}
        runs = [futures[f].result() for f in MATRIX]
        clean = conforming.result()
    table = matrix_markdown(runs)
    (tmp_path / "kill-matrix.md").write_text(table, encoding="utf-8")
    if dest := os.environ.get("ASRX_KILL_MATRIX_MD"):
        Path(dest).write_text(table, encoding="utf-8")
    print(table)
    print(f"conforming suite: {clean.verdict} in {clean.seconds:.1f} s")
    for run in runs:
        print(f"{run.name}: {run.seconds:.1f} s")

    assert clean.returncode == 0 and not clean.failed, clean.output[-3000:]
    assert clean.verdict == "PASS", clean.output[-3000:]
    assert clean.seconds < SUITE_BUDGET_S
    survivors = [r.name for r in runs if not r.failed]
    assert not survivors, f"faults no check caught: {survivors}"
    for run in runs:
        expected = MATRIX[run.name][1]
        assert run.failed == expected, (
            run.name,
            "unexpected:",
            sorted(run.failed - expected),
            "missing:",
            sorted(expected - run.failed),
            run.output[-2000:],
        )
        assert run.failed_json == run.failed, (run.name, "JSON and JUnit disagree")
        assert run.verdict == "FAIL" and run.returncode == 1, (run.name, run.output[-2000:])
    for run in [clean, *runs]:
        assert KEY not in run.output + run.artefacts, f"apikey leaked in the {run.name} run"
