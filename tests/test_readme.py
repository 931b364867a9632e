"""The README's set-up commands and CI stay in step."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    head = text.split("## Two commands", 1)[1]
    return re.findall(r"```sh\n(.+?)\n```", head, flags=re.S)[:2]


def test_readme_starts_with_two_one_line_commands() -> None:
    main_job, tests = readme_commands()
    assert "\n" not in main_job and "\n" not in tests
    assert "pytest harness/conformance" in main_job and "locust -f locustfiles/stream.py" in main_job
    assert tests.rstrip().endswith("pytest")


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    _, tests = readme_commands()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert tests in ci.splitlines(), ".ci/run must run the README's test command unchanged"
