"""The kill matrix: the suite catches every fault of the reference server, and passes the
conforming one (PROTOCOL.md, issue 5).

Each fault run starts ``EmbeddedServer(faults=(name,))`` and runs ``pytest
harness/conformance --asrx-url ... --junitxml ...`` as a subprocess, limited with ``-k``
to the checks of the concern the fault breaks plus a sanity set, three runs at a time.
The conforming run is the whole suite in its default embedded mode, timed (< 2 minutes).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.server.embedded import EmbeddedServer
from harness.server.faults import FAULTS

REPO = Path(__file__).resolve().parents[2]
KEY = "kill-matrix-key-7d2e9a"  # distinctive, so a leak shows up anywhere
SANITY = "test_handshake"
#: Waits are scaled down for faults that make the suite wait for them (never-confirm...).
FAULT_TIMEOUT_SCALE = "0.3"
SUITE_BUDGET_S = 120.0
RUN_TIMEOUT_S = 240.0

#: fault -> (-k selection, checks that must fail). A check is a test function name.
MATRIX: dict[str, tuple[str, set[str]]] = {
    "accept-any-key": ("test_auth", {"test_bad_apikey_gets_no_session"}),
    "bad-key-close-late": ("test_auth", {"test_bad_apikey_gets_no_session"}),
    "never-confirm": (
        "test_closing",
        {"test_exactly_one_confirmation", "test_confirm_and_close_in_time"},
    ),
    "confirm-never-close": ("test_closing", {"test_confirm_and_close_in_time"}),
    "transcript-after-confirm": (
        "test_closing",
        {"test_nothing_after_confirmation", "test_final_text_before_confirmation"},
    ),
    "final-after-confirm": (
        "test_closing",
        {"test_nothing_after_confirmation", "test_final_text_before_confirmation"},
    ),
    "close-1011": ("test_closing", {"test_close_code_1000"}),
    "stall-mid-stream": (
        "test_closing or test_robustness",
        {
            "test_exactly_one_confirmation",
            "test_confirm_and_close_in_time",
            "test_pause_mid_stream",
        },
    ),
    "text-not-string": ("test_schema", {"test_message_schema"}),
    "state-missing": ("test_schema", {"test_message_schema"}),
    "binary-reply": ("test_schema", {"test_message_schema"}),
    "non-json-reply": ("test_schema", {"test_message_schema"}),
    "text-in-silence": (
        "test_sentences or test_isolation",
        {"test_silence_gives_no_text", "test_silent_session_next_to_speech"},
    ),
    "never-new-sentence": ("test_sentences", {"test_sentence_count"}),
    "shared-state": (
        "test_sentences or test_isolation",
        {"test_no_repeat_of_previous_sentence"},
    ),
    "odd-frame-1011": ("test_robustness or test_fuzz", {"test_any_frame_size"}),
    "drop-on-malformed-json": (
        "test_robustness or test_fuzz",
        {"test_malformed_json"},
    ),
}


@dataclass
class SuiteRun:
    name: str
    returncode: int
    seconds: float
    failed: set[str]  # check names (function names) that failed or errored
    failed_ids: list[str]
    passed: int
    output: str
    junit: str
    report: str


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASRX_")}
    env["ASRX_APIKEY"] = KEY
    return env


def run_suite(name: str, args: list[str], out: Path) -> SuiteRun:
    junit, report = out / f"{name}.xml", out / f"{name}.html"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "harness/conformance",
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
        f"--junitxml={junit}",
        f"--asrx-report={report}",
        *args,
    ]
    started = time.monotonic()
    proc = subprocess.run(
        cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=RUN_TIMEOUT_S
    )
    seconds = time.monotonic() - started
    failed: set[str] = set()
    failed_ids: list[str] = []
    passed = 0
    text = junit.read_text(encoding="utf-8") if junit.exists() else ""
    if text:
        for case in ET.fromstring(text).iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                failed.add(case.get("name", "").split("[")[0])
                failed_ids.append(case.get("name", ""))
            elif case.find("skipped") is None:
                passed += 1
    return SuiteRun(
        name,
        proc.returncode,
        seconds,
        failed,
        failed_ids,
        passed,
        proc.stdout + proc.stderr,
        text,
        report.read_text(encoding="utf-8") if report.exists() else "",
    )


def run_fault(fault: str, out: Path) -> SuiteRun:
    selection = MATRIX[fault][0]
    with EmbeddedServer(engine="synthetic", apikeys=(KEY,), faults=(fault,)) as server:
        return run_suite(
            fault,
            [
                "--asrx-url",
                server.url,
                "--asrx-timeout-scale",
                FAULT_TIMEOUT_SCALE,
                "-k",
                f"{selection} or {SANITY}",
            ],
            out,
        )


def matrix_markdown(runs: list[SuiteRun]) -> str:
    lines = ["| fault | failing checks |", "|---|---|"]
    for run in runs:
        ids = ", ".join(f"`{i}`" for i in sorted(run.failed_ids)) or "**none (survived)**"
        lines.append(f"| `{run.name}` | {ids} |")
    return "\n".join(lines) + "\n"


def test_matrix_covers_every_fault() -> None:
    assert set(MATRIX) == set(FAULTS)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_kill_matrix(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        conforming = pool.submit(run_suite, "conforming", [], tmp_path)
        futures = {f: pool.submit(run_fault, f, tmp_path) for f in MATRIX}
        runs = [futures[f].result() for f in MATRIX]
        clean = conforming.result()
    table = matrix_markdown(runs)
    (tmp_path / "kill-matrix.md").write_text(table, encoding="utf-8")
    if dest := os.environ.get("ASRX_KILL_MATRIX_MD"):
        Path(dest).write_text(table, encoding="utf-8")
    print(table)
    print(f"conforming suite: {clean.passed} passed in {clean.seconds:.1f} s")

    assert clean.returncode == 0 and not clean.failed, clean.output[-3000:]
    assert clean.seconds < SUITE_BUDGET_S
    survivors = [r.name for r in runs if not r.failed]
    assert not survivors, f"faults no check caught: {survivors}"
    for run in runs:
        expected = MATRIX[run.name][1]
        assert expected <= run.failed, (run.name, sorted(run.failed), run.output[-2000:])
        assert SANITY not in run.failed, (run.name, run.output[-2000:])
        assert run.returncode == 1, (run.name, run.output[-2000:])
    for run in [clean, *runs]:
        for text in (run.output, run.junit, run.report):
            assert KEY not in text, f"apikey leaked in the {run.name} run"
