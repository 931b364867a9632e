"""The pytest plugin of client grading: ``pytest -p harness.clientgrade.plugin --pyargs
harness.clientgrade --asrx-client "COMMAND"`` (what ``asrx grade-client`` runs).

It adds the ``--asrx-client*`` options (env ``ASRX_CLIENT*``), runs every selected scenario
once per test run (``asrx_client_grades``, before the first check), and prints a summary
of the grades. The checks (``test_client.py``) grade with the conformance suite's
``Grader`` and ``asrx_rule`` markers, so ``--asrx-report`` and ``--junitxml`` report them as
they report the server checks; ``--asrx-corpus``, ``--asrx-profile`` and ``--asrx-strict``
mean what they mean there.
"""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.clientgrade.audio import pick_utterance, write_audio
from harness.clientgrade.grading import grade_all
from harness.clientgrade.runner import (
    DEFAULT_GRACE_S,
    GradeSetup,
    ScenarioRun,
    run_all,
    shown_command,
)
from harness.clientgrade.scenarios import Scenario, select
from harness.clientgrade.verdict import (
    DEFAULT_PACING_TOLERANCE,
    OK,
    SHOWS_TEXT_MODES,
    GradeOptions,
    ScenarioGrade,
)
from harness.conformance.settings import number, option_text, settings_from_config
from harness.conformance.state import run_state
from harness.errors import HarnessError, UsageError
from harness.protocol.dialect import Dialect

#: option dest -> (flag, env var, help).
OPTIONS: dict[str, tuple[str, str, str]] = {
    "asrx_client": (
        "--asrx-client",
        "ASRX_CLIENT",
        "the client command, one shell-quoted string; {url}, {apikey}, {audio} (raw PCM) "
        "and {audio_wav} are filled in, and set as ASRX_URL, ASRX_APIKEY, ASRX_AUDIO, "
        "ASRX_AUDIO_WAV",
    ),
    "asrx_client_scenarios": (
        "--asrx-client-scenarios",
        "ASRX_CLIENT_SCENARIOS",
        "comma list of scenarios (default: all; asrx grade-client --list-scenarios)",
    ),
    "asrx_client_grace": (
        "--asrx-client-grace",
        "ASRX_CLIENT_GRACE",
        f"seconds a client may run past its audio's duration (default {DEFAULT_GRACE_S:g})",
    ),
    "asrx_client_utterance": (
        "--asrx-client-utterance",
        "ASRX_CLIENT_UTTERANCE",
        "corpus utterance to stream (default: the shortest with two sentences)",
    ),
    "asrx_client_shows_text": (
        "--asrx-client-shows-text",
        "ASRX_CLIENT_SHOWS_TEXT",
        "check the output for the final texts: auto (when it prints anything), yes, no",
    ),
    "asrx_client_pacing_tolerance": (
        "--asrx-client-pacing-tolerance",
        "ASRX_CLIENT_PACING_TOLERANCE",
        f"pacing within this fraction of real time is OK (default {DEFAULT_PACING_TOLERANCE:g})",
    ),
    "asrx_client_jobs": (
        "--asrx-client-jobs",
        "ASRX_CLIENT_JOBS",
        "scenarios run at once (default 1: nothing disturbs the pacing measured)",
    ),
    "asrx_client_keep": (
        "--asrx-client-keep",
        "ASRX_CLIENT_KEEP",
        "keep the server's records and the client's output per scenario in this folder",
    ),
}


@dataclass(frozen=True)
class ClientSettings:
    command: tuple[str, ...]
    scenarios: tuple[Scenario, ...]
    grace_s: float
    utterance: str | None
    shows_text: str
    pacing_tolerance: float
    jobs: int
    keep: Path | None
    corpus_dir: Path | None
    profile: str | None
    dialect: Dialect
    strict: bool


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("asrx-client", "asrx client grading")
    for dest, (flag, env, text) in OPTIONS.items():
        group.addoption(flag, dest=dest, default=None, metavar="VALUE", help=f"{text} [{env}]")


def _raw(config: pytest.Config, dest: str) -> str | None:
    return option_text(config, dest, OPTIONS[dest][1])


def _number(config: pytest.Config, dest: str, default: float, low: float) -> float:
    return number(OPTIONS[dest][0], _raw(config, dest), default, low, above=False)


def settings(config: pytest.Config) -> ClientSettings:
    """The options, or ``UsageError`` naming the bad one."""
    raw_command = _raw(config, "asrx_client")
    if not raw_command:
        raise UsageError("no client to grade: give --asrx-client 'COMMAND ...' or ASRX_CLIENT")
    try:
        command = tuple(shlex.split(raw_command))
    except ValueError as exc:
        raise UsageError(f"--asrx-client: {exc}") from None
    if not command or shutil.which(command[0]) is None:
        raise UsageError(f"--asrx-client: no such program: {command[0] if command else ''!r}")
    shows_text = _raw(config, "asrx_client_shows_text") or "auto"
    if shows_text not in SHOWS_TEXT_MODES:
        raise UsageError(f"--asrx-client-shows-text must be one of {', '.join(SHOWS_TEXT_MODES)}")
    suite = settings_from_config(config)
    keep = _raw(config, "asrx_client_keep")
    return ClientSettings(
        command=command,
        scenarios=select(_raw(config, "asrx_client_scenarios")),
        grace_s=_number(config, "asrx_client_grace", DEFAULT_GRACE_S, 0.1),
        utterance=_raw(config, "asrx_client_utterance"),
        shows_text=shows_text,
        pacing_tolerance=_number(
            config, "asrx_client_pacing_tolerance", DEFAULT_PACING_TOLERANCE, 0.0
        ),
        jobs=int(_number(config, "asrx_client_jobs", 1, 1)),
        keep=Path(keep).resolve() if keep else None,
        corpus_dir=suite.corpus_dir,
        profile=suite.profile,
        dialect=suite.dialect,
        strict=suite.strict,
    )


_SETTINGS = pytest.StashKey[ClientSettings]()
_GRADES = pytest.StashKey[dict[str, ScenarioGrade]]()


def pytest_configure(config: pytest.Config) -> None:
    try:
        config.stash[_SETTINGS] = settings(config)
    except HarnessError as exc:
        raise pytest.UsageError(f"asrx grade-client: {exc}") from None


def loaded(config: pytest.Config) -> bool:
    """Whether this plugin configured the run (``-p harness.clientgrade.plugin``)."""
    return _SETTINGS in config.stash


def client_settings(config: pytest.Config) -> ClientSettings:
    return config.stash[_SETTINGS]


def _progress(config: pytest.Config, run: ScenarioRun) -> None:
    """One line on the terminal as each scenario ends (a run may take minutes)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    took = f"{run.process.seconds:.1f} s" if run.process else "did not run"
    with capture.global_and_fixture_disabled():
        reporter.write_line(f"asrx grade-client: {run.scenario.name} scenario ran ({took})")


@pytest.fixture(scope="session")
def asrx_client_grades(
    pytestconfig: pytest.Config,
    tmp_path_factory: pytest.TempPathFactory,
    record_testsuite_property: object,
) -> dict[str, ScenarioGrade]:
    """Every selected scenario run once and graded (the first check waits for all)."""
    s = client_settings(pytestconfig)
    folder = s.keep or tmp_path_factory.mktemp("asrx-client")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        utterance = pick_utterance(s.corpus_dir, s.utterance)
        audio = write_audio(utterance, folder)
        setup = GradeSetup(s.command, audio, folder, s.grace_s, s.profile)
        runs = run_all(setup, s.scenarios, s.jobs, lambda run: _progress(pytestconfig, run))
    except HarnessError as exc:
        pytest.exit(f"asrx grade-client: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)
    options = GradeOptions(audio, s.dialect, s.pacing_tolerance, s.shows_text)
    grades = grade_all(runs, s.scenarios, options)
    pytestconfig.stash[_GRADES] = grades
    # The suite's reports name what was graded: here the client, not a server.
    state = run_state(pytestconfig)
    state.target_url = f"client: {setup.shown_command}"
    state.title = "asrx grade-client"
    state.timing_note = (
        "A check's time is its grading of what the server recorded; the client command's "
        "runs (one per scenario, several at a time) happen while the checks are set up, "
        "counted apart."
    )
    for run in runs.values():
        for secret in run.secrets:
            state.redactor.add(secret)
    record = record_testsuite_property
    assert callable(record)
    record("asrx-client-command", setup.shown_command)
    record("asrx-client-audio", f"{audio.utterance} ({audio.duration_s:.2f} s)")
    return grades


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    config = terminalreporter.config
    grades = config.stash.get(_GRADES, None)
    if not grades:
        return
    s = client_settings(config)
    tr = terminalreporter
    tr.section("asrx grade-client")
    tr.write_line(f"client: {shown_command(s.command)}")
    width = max(len(name) for name in grades)
    for name, grade in grades.items():
        if grade.error:
            tr.write_line(f"{name:<{width}}  ERROR: {grade.error}", red=True)
            continue
        oks = [r for r, v in grade.verdicts.items() if v.grade == OK]
        tr.write_line(f"{name:<{width}}  {len(oks)} OK  ({grade.seen})")
        for rule, verdict in grade.verdicts.items():
            if verdict.grade == OK:
                continue
            detail = verdict.not_graded or "; ".join(f.seen for f in verdict.findings)
            tr.write_line(
                f"{'':<{width}}  {verdict.grade:<10} {rule}: {detail}",
                red=verdict.failed or (s.strict and bool(verdict.findings)),
                yellow=not verdict.failed and bool(verdict.findings),
            )
