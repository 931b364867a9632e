"""The README's set-up commands and CI stay in step, and its first screen says how to test
your own server."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
#: What a newcomer sees without scrolling.
FIRST_SCREEN_LINES = 45


def readme_commands() -> list[str]:
    head = README.split("## Two commands", 1)[1]
    return re.findall(r"```sh\n(.+?)\n```", head, flags=re.S)[:2]


def test_readme_starts_with_two_one_line_commands() -> None:
    main_job, tests = readme_commands()
    assert "\n" not in main_job and "\n" not in tests
    assert main_job.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install ")
    assert "pytest --pyargs harness.conformance" in main_job
    assert "asrx load --headless" in main_job
    assert "[test]" in tests and tests.rstrip().endswith("&& pytest")


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    _, tests = readme_commands()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert tests in ci.splitlines(), ".ci/run must run the README's test command unchanged"


def test_first_screen_shows_how_to_test_your_own_server() -> None:
    first = "\n".join(README.splitlines()[:FIRST_SCREEN_LINES])
    assert "## Test your own server" in first
    own = first.split("## Test your own server", 1)[1]
    assert "--asrx-url" in own and "asrx load" in own and "--host" in own
    assert "ASRX_APIKEY" in own, "the key comes from the environment, not argv"
    for code in ("**0**", "**1**", "**2**", "**3**", "**4**"):
        assert code in own, f"exit code {code} is not explained on the first screen"


def test_readme_links_every_docs_page() -> None:
    pages = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    missing = [p for p in pages if f"(docs/{p})" not in README]
    assert not missing, f"README's table does not link {missing}"
