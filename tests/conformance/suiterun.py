"""Running the conformance suite as a user does (a pytest subprocess), and its artefacts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def pytest_suite(
    *args: str, cwd: Path = REPO, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """``python -m pytest -p no:cacheprovider -o addopts= ARGS`` with no ``ASRX_*`` from the
    caller's environment except those in ``env``."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("ASRX_")}
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=", *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class Outputs:
    """A run's console output and its three artefacts, as text (and the JSON parsed)."""

    proc: subprocess.CompletedProcess[str]
    junit: str
    html: str
    json_text: str

    @property
    def console(self) -> str:
        return self.proc.stdout + self.proc.stderr

    @property
    def result(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.json_text)
        return data

    def grades(self) -> dict[str, str]:
        return {c["id"]: c["grade"] for c in self.result["checks"]}

    def junit_cases(self) -> list[ET.Element]:
        return list(ET.fromstring(self.junit).iter("testcase"))

    def everything(self) -> str:
        return "\n".join((self.console, self.junit, self.html, self.json_text))


def run_with_artefacts(
    out: Path, *args: str, env: dict[str, str] | None = None, cwd: Path = REPO, timeout: float = 180
) -> Outputs:
    """The suite (``--pyargs harness.conformance``) with JUnit, HTML and JSON into ``out``."""
    junit, html, result = out / "c.xml", out / "c.html", out / "c.json"
    proc = pytest_suite(
        "--pyargs",
        "harness.conformance",
        f"--junitxml={junit}",
        f"--asrx-report={html}",
        f"--asrx-json={result}",
        *args,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )

    def text(p: Path) -> str:
        return p.read_text(encoding="utf-8") if p.exists() else ""

    return Outputs(proc, text(junit), text(html), text(result))
