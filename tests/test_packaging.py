"""The wheel is the whole product: built from this tree, installed into a fresh virtualenv
and used from an empty folder the way docs/ci.md tells a client team to use it.

``test_wheel_carries_every_file`` is quick: everything under ``harness/`` is in the wheel.
The slow test installs the wheel (with its dependencies, from the configured index) into a
new virtualenv, starts the reference server from the installed package, runs the
conformance and load commands of the CI recipes in docs/ci.md (the load run shortened to
10 s) with ``asrx.toml.example`` as the SLO file, and checks that both pass and write their
reports, that the baseline step compares (or passes without a baseline), and that an
impossible SLO exits with the breach code.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import tomllib
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.exitcodes import OK, SLO_BREACHED

ROOT = Path(__file__).resolve().parents[1]
CI_DOC = ROOT / "docs" / "ci.md"
APIKEY = "pk-packaging-7f3a9c"  # distinctive, so a leak shows up in any output
#: What the source copy leaves behind: build output, caches, local state.
IGNORED = shutil.ignore_patterns(
    ".git", "build", "dist", "*.egg-info", ".venv", "__pycache__", "*.pyc", "reports",
    ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis",
)  # fmt: skip
INSTALL_TIMEOUT_S = 900
SUITE_TIMEOUT_S = 600
LOAD_TIMEOUT_S = 180
READY_TIMEOUT_S = 60
#: Where the recipes put the downloaded baseline summary.
BASELINE = "baseline/asrx-summary.json"
#: The recipes' load duration, and what the test runs instead.
RECIPE_DURATION = "-t 2m"
TEST_DURATION = "-t 10s"


def run(cmd: list[str], timeout: float, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean copy of this tree: a stale build/ could hide a file the wheel lacks."""
    src = tmp_path_factory.mktemp("src") / "asrx-harness"
    shutil.copytree(ROOT, src, ignore=IGNORED, symlinks=True)
    return src


@pytest.fixture(scope="module")
def wheel(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)]
    built = run(cmd, timeout=INSTALL_TIMEOUT_S)
    assert built.returncode == 0, f"pip wheel failed:\n{built.stderr[-3000:]}"
    (whl,) = out.glob("asrx_harness-*.whl")
    return whl


def test_wheel_carries_every_file(source: Path, wheel: Path) -> None:
    shipped = set(zipfile.ZipFile(wheel).namelist())
    tree = {
        p.relative_to(source).as_posix()
        for p in (source / "harness").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    missing = sorted(tree - shipped)
    assert not missing, f"files under harness/ missing from the wheel: {missing}"
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert wheel.name.startswith(f"asrx_harness-{version}-")


def recipe_commands() -> tuple[list[str], list[str]]:
    """The shell commands of the GitHub Actions and GitLab CI recipes in docs/ci.md."""
    import yaml

    blocks = re.findall(r"```yaml\n(.+?)```", CI_DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 2, "docs/ci.md should hold one GitHub and one GitLab recipe"
    github, gitlab = (yaml.safe_load(b) for b in blocks)
    (gh_job,) = github["jobs"].values()
    gh = [step["run"] for step in gh_job["steps"] if "run" in step]
    (gl_job,) = gitlab.values()
    return gh, list(gl_job["script"])


def test_ci_recipes_run_the_same_commands() -> None:
    gh, gl = recipe_commands()
    # Each platform downloads the baseline its own way; every other command is the same.
    install, conformance, load, gh_download, compare = gh
    assert gl[:3] + gl[4:] == [install, conformance, load, compare], (
        "the GitHub and GitLab recipes should gate on the same commands"
    )
    assert install == "pip install asrx-harness"
    assert conformance.startswith("pytest --pyargs harness.conformance ")
    assert load.startswith("asrx load ") and RECIPE_DURATION in load
    for download in (gh_download, gl[3]):  # into baseline/, and a first run has none
        assert "--dir baseline" in download or f"--output {BASELINE}" in download, download
        assert '|| echo "no baseline yet"' in download or '|| { echo "no baseline yet"' in download
    assert compare.startswith(f"test ! -f {BASELINE} || asrx compare {BASELINE} ")
    assert "APIKEY" not in conformance + load, "the key comes from the environment, not argv"


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv (no system site-packages) with only the wheel installed."""
    home = tmp_path_factory.mktemp("venv") / "venv"
    made = run([sys.executable, "-m", "venv", str(home)], timeout=120)
    assert made.returncode == 0, made.stderr
    pip = run([str(home / "bin" / "pip"), "install", "-q", str(wheel)], timeout=INSTALL_TIMEOUT_S)
    assert pip.returncode == 0, f"installing the wheel failed:\n{pip.stderr[-3000:]}"
    return home / "bin"


def user_env(bin_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a user who only has the virtualenv: nothing of this checkout."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ASRX_", "LOCUST_", "PYTHON", "VIRTUAL_ENV"))
    }
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def installed_server(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``asrx serve`` from the installed package (synthetic engine); its URL."""
    cwd = tmp_path_factory.mktemp("server")
    proc = subprocess.Popen(
        [str(venv / "asrx"), "serve", "--engine", "synthetic", "--port", "0"],
        cwd=cwd,
        env=user_env(venv, ASRX_APIKEYS=APIKEY),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()  # type: ignore[union-attr]
    try:
        ready = json.loads(lines.get(timeout=READY_TIMEOUT_S))
        assert ready["event"] == "ready", ready
        yield str(ready["url"])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def shell(command: str, cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str]:
    done = run(["bash", "-c", command], timeout=timeout, cwd=cwd, env=env)
    return done.returncode, done.stdout + done.stderr


def assert_no_key(*texts: str) -> None:
    for text in texts:
        assert APIKEY not in text, "the key leaked into an output or a report"


@pytest.mark.slow
def test_installed_wheel_passes_the_ci_recipe_from_an_empty_folder(
    venv: Path, installed_server: str, tmp_path: Path
) -> None:
    work = tmp_path / "empty"
    work.mkdir()
    where = run(
        [str(venv / "python"), "-c", "import harness; print(harness.__file__)"],
        timeout=60,
        cwd=work,
        env=user_env(venv),
    )
    assert str(venv.parent) in where.stdout, f"harness imported from elsewhere: {where.stdout}"
    shutil.copy(ROOT / "asrx.toml.example", work / "asrx.toml")  # the CI recipe's SLO file
    env = user_env(venv, ASRX_URL=installed_server, ASRX_APIKEY=APIKEY)
    _, conformance, load, _, compare = recipe_commands()[0]

    code, out = shell(conformance, work, env, SUITE_TIMEOUT_S)
    assert code == OK, f"conformance suite exit {code}:\n{out[-4000:]}"
    junit = ET.parse(work / "reports" / "conformance.xml").getroot()
    suite = junit if junit.tag == "testsuite" else junit.find("testsuite")
    assert suite is not None and int(suite.get("tests", "0")) > 20, "too few checks ran"
    assert suite.get("failures") == "0" and suite.get("errors") == "0"
    html = (work / "reports" / "conformance.html").read_text(encoding="utf-8")

    code, load_out = shell(load.replace(RECIPE_DURATION, TEST_DURATION), work, env, LOAD_TIMEOUT_S)
    assert code == OK, f"asrx load exit {code}:\n{load_out[-4000:]}"
    summary = json.loads((work / "reports" / "asrx-summary.json").read_text(encoding="utf-8"))
    assert summary["passed"] is True and summary["exit_code"] == OK
    report = (work / "reports" / "asrx-report.html").read_text(encoding="utf-8")
    assert "<svg" in report

    # The baseline step: without a downloaded baseline (a first run) it passes; with one
    # (here the run itself, as the download would leave it) it compares and writes its page.
    code, compare_out = shell(compare, work, env, LOAD_TIMEOUT_S)
    assert code == OK and not (work / "reports" / "asrx-compare.html").exists(), compare_out
    (work / "baseline").mkdir()
    shutil.copy(work / "reports" / "asrx-summary.json", work / BASELINE)
    code, compare_out = shell(compare, work, env, LOAD_TIMEOUT_S)
    assert code == OK and "asrx compare: no regression" in compare_out, compare_out
    assert (work / "reports" / "asrx-compare.html").is_file()

    junit_text = (work / "reports" / "conformance.xml").read_text(encoding="utf-8")
    assert_no_key(out, load_out, compare_out, html, junit_text, report, json.dumps(summary))


@pytest.mark.slow
def test_installed_load_gate_exits_with_the_breach_code(
    venv: Path, installed_server: str, tmp_path: Path
) -> None:
    env = user_env(venv, ASRX_APIKEY=APIKEY)
    cmd = (
        f"asrx load --headless -u 1 -r 1 -t 6s --host {installed_server} "
        "--slo-p95-first-partial-ms 1"
    )
    code, out = shell(cmd, tmp_path, env, LOAD_TIMEOUT_S)
    assert code == SLO_BREACHED, f"asrx load with an impossible SLO exit {code}:\n{out[-4000:]}"
    summary = json.loads((tmp_path / "reports" / "asrx-summary.json").read_text("utf-8"))
    assert summary["passed"] is False and summary["exit_code"] == SLO_BREACHED


@pytest.mark.slow
def test_installed_load_help_shows_the_asrx_options(venv: Path, tmp_path: Path) -> None:
    done = run(
        [str(venv / "asrx"), "load", "--help"], timeout=120, cwd=tmp_path, env=user_env(venv)
    )
    assert done.returncode == OK, done.stderr
    assert done.stdout.startswith("usage: asrx load")
    for option in ("--headless", "--asrx-corpus", "--slo-p95-first-partial-ms"):
        assert option in done.stdout, f"{option} missing from asrx load --help"
