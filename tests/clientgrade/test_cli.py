"""``asrx grade-client`` as a user runs it: the project's own client passes every scenario,
the re-created public example client shows its findings, a client that never connects is an
ERROR, and bad usage is one line and exit 2. The JUnit XML and the HTML report are read."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.exitcodes import OK, TARGET_FAILED, USAGE
from tests.conftest import asrx_exe

CLIENTS = Path(__file__).parent / "clients"
EXAMPLE = CLIENTS / "example_file_client.py"
#: The keys grade-client makes: none may reach any output.
KEY_PATTERN = re.compile(r"(grade|refused)-[0-9a-f]{24}")
RUN_TIMEOUT_S = 240
#: What --keep writes besides the audio: the server's records, the client's output.
TEXTS = (".jsonl", ".txt")


def grade(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*asrx_exe(), "grade-client", *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        cwd=cwd,
    )


def junit_cases(path: Path) -> dict[str, ET.Element]:
    return {c.get("name", ""): c for c in ET.parse(path).getroot().iter("testcase")}


def outcome(case: ET.Element) -> str:
    for kind in ("failure", "error", "skipped"):
        if case.find(kind) is not None:
            return kind
    return "passed"


def properties(case: ET.Element) -> list[tuple[str, str]]:
    return [(p.get("name", ""), p.get("value", "")) for p in case.iter("property")]


def assert_no_key(*texts: str) -> None:
    for text in texts:
        assert not KEY_PATTERN.search(text), "a key grade-client made reached an output"


@pytest.mark.slow
@pytest.mark.timeout(RUN_TIMEOUT_S)
def test_asrx_stream_passes_every_scenario(tmp_path: Path) -> None:
    out = grade(
        "--utterance=en-single-04",
        "--grace=10",
        "--jobs=3",
        "--junitxml=grade.xml",
        "--report=grade.html",
        "--keep=kept",
        "--",
        *asrx_exe(),
        "stream",
        "{audio}",
        "--url",
        "{url}",
        "--apikey",
        "{apikey}",
        # confirm within 5 s (slow-final's messages come 2 s late), and give up sooner
        "--timeout-scale=0.5",
        cwd=tmp_path,
    )
    assert out.returncode == OK, out.stdout[-3000:] + out.stderr[-2000:]
    cases = junit_cases(tmp_path / "grade.xml")
    assert len(cases) == 26
    assert {outcome(c) for c in cases.values()} == {"passed"}
    for name, case in cases.items():
        rule = "C." + name.split("-C.", 1)[1].rstrip("]")
        assert ("asrx-rule", rule) in properties(case), name
    html = (tmp_path / "grade.html").read_text(encoding="utf-8")
    assert "C.waits-for-confirm" in html
    assert "<title>asrx grade-client: PASS: client: " in html
    assert "runs (one per scenario, several at a time)" in html and "the corpus run" not in html
    assert "normal" in out.stdout and "11 OK" in out.stdout
    folder = tmp_path / "kept"
    kept = [p.read_text(encoding="utf-8") for p in folder.glob("*.*") if p.suffix in TEXTS]
    assert len(kept) == 7 * 3  # records, stdout and stderr per scenario
    assert (folder / "audio.pcm").stat().st_size == 2730 * 32
    assert_no_key(out.stdout, out.stderr, html, (tmp_path / "grade.xml").read_text(), *kept)


@pytest.mark.slow
@pytest.mark.timeout(RUN_TIMEOUT_S)
def test_the_public_example_client_findings(tmp_path: Path) -> None:
    out = grade(
        "--utterance=en-single-04",
        "--grace=4",
        "--jobs=2",
        "--scenario=normal,stall-mid-stream",
        "--junitxml=example.xml",
        "--",
        sys.executable,
        str(EXAMPLE),
        cwd=tmp_path,
    )
    assert out.returncode == TARGET_FAILED, out.stdout[-3000:]
    cases = junit_cases(tmp_path / "example.xml")
    outcomes = {name: outcome(c) for name, c in cases.items()}
    assert [n for n, o in outcomes.items() if o == "failure"] == [
        "test_client[stall-mid-stream-C.ends-in-time]"
    ]
    assert outcomes["test_client[stall-mid-stream-C.exit-nonzero]"] == "skipped"
    # 32 ms of audio every 20 ms plus the send: about 1.6 x real time on an idle machine,
    # less when a busy one oversleeps, never real time.
    pacing_case = cases["test_client[normal-C.pacing]"]
    (pacing,) = [v for k, v in properties(pacing_case) if k == "asrx-non-strict"]
    speed = float(re.search(r"(\d\.\d\d)× real time", pacing).group(1))  # type: ignore[union-attr]
    assert 1.2 <= speed <= 1.65, pacing
    assert "still running after" in out.stdout and "killed" in out.stdout


def test_a_client_that_never_connects_is_an_error(tmp_path: Path) -> None:
    out = grade(
        "--scenario=refused-key", "--grace=1", "--junitxml=never.xml", "--", "true", cwd=tmp_path
    )
    assert out.returncode == TARGET_FAILED
    cases = junit_cases(tmp_path / "never.xml")
    assert {outcome(c) for c in cases.values()} == {"error"}
    assert "never connected to the server" in out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "asrx grade-client: error: no client command"),
        (["--scenario=nope", "--", "true"], "asrx grade-client: error: unknown scenario(s): nope"),
        (["--grace=0", "--", "true"], "asrx grade-client: error: --grace must be > 0"),
    ],
)
def test_usage_errors_are_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    out = grade(*args, cwd=tmp_path)
    assert out.returncode == USAGE
    assert out.stderr.startswith(message) and out.stderr.count("\n") == 1, out.stderr


def test_a_missing_program_is_a_usage_error(tmp_path: Path) -> None:
    out = grade("--", "no-such-client-x", cwd=tmp_path)
    assert out.returncode == USAGE
    assert "no such program: 'no-such-client-x'" in out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr


def test_list_scenarios() -> None:
    out = subprocess.run(
        [*asrx_exe(), "grade-client", "--list-scenarios"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == OK
    names = [line.split()[0] for line in out.stdout.splitlines() if not line.startswith(" ")]
    assert names[0] == "normal" and "refused-key" in names
