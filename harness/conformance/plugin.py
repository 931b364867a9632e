"""The pytest plugin of the conformance suite (entry point ``asrx``, pytest11): options and hooks.

Installed, it loads in every pytest run, so it stays inert unless the suite's checks are
collected: it adds the ``--asrx-*`` options, the ``asrx_rule`` marker and the fixtures
(``harness.conformance.fixtures``). In a run of the suite it

- checks the options once (a bad one is pytest's usage error: one line, exit 4);
- keeps every key out of every output: failure texts, JUnit properties, captured sections,
  and log records at any level (``harness.redaction``);
- logs each check's phases and grading (``results.CheckLog``), adds the grading to the JUnit
  XML as ``asrx-*`` properties, and at the end writes the JSON result and the HTML report
  and says in the console where each report went and what the verdict is.

A run that could not test (the target unreachable, refused, not a WebSocket) is an ERROR:
the first check carries the cause, the run stops, and the exit code is 2 (docs/ci.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness import __version__
from harness.conformance.grading import MARKER, PROP_RULE, own_rules, record_of, record_properties
from harness.conformance.report import write_report
from harness.conformance.results import CheckLog, RunResult, build_result
from harness.conformance.settings import add_options, settings_from_config
from harness.conformance.state import RunState, corpus_of, run_state, settings_of, usage_error
from harness.errors import HarnessError
from harness.redaction import RedactingFilter

PLUGIN_NAME = "asrx"
pytest_plugins = ("harness.conformance.fixtures",)
#: Loggers whose records could carry a key: websockets logs every handshake header at DEBUG.
LOGGERS = ("websockets.client", "websockets.server", "websockets", "asyncio", "")
#: Exit code of a run that could not test (pytest's "interrupted"; docs/ci.md).
EXIT_CANNOT_TEST = pytest.ExitCode.INTERRUPTED
_PACKAGE = "harness.conformance"
_PACKAGE_DIR = Path(__file__).resolve().parent


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*rule_ids): the docs/protocol.md rules an asrx conformance check enforces; "
        "it fails only on findings of these rules",
    )
    state = run_state(config)
    try:
        state.settings = settings_from_config(config)
    except HarnessError as exc:
        state.settings_error = exc
        if _suite_asked(config):
            raise usage_error(exc) from None
        return
    state.redactor.add(state.settings.apikey)
    state.redactor.key_headers = frozenset({state.settings.dialect.key_header.lower(), "apikey"})
    if _suite_asked(config) and not config.option.help:
        corpus_of(config)  # a bad manifest line: the same one-line usage error, now


def _suite_asked(config: pytest.Config) -> bool:
    """Whether this run is the suite's: an ``--asrx-*`` option, or an argument naming the
    suite (``--pyargs harness.conformance``, a path in or above its folder)."""
    if any(str(a).startswith("--asrx-") for a in config.invocation_params.args):
        return True
    for arg in config.args:
        name = str(arg).split("::", 1)[0]
        if name == "harness" or name.startswith(_PACKAGE):
            return True
        path = (config.invocation_params.dir / name).resolve()
        if (
            path == _PACKAGE_DIR
            or _PACKAGE_DIR.is_relative_to(path)
            or path.is_relative_to(_PACKAGE_DIR)
        ):
            return True
    return False


def is_check(item: pytest.Item) -> bool:
    return item.get_closest_marker(MARKER) is not None


def _module(item: pytest.Item) -> str:
    """The check's module name without its package: ``test_schema``."""
    module = getattr(item, "module", None)
    return module.__name__.rsplit(".", 1)[-1] if module is not None else ""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    checks = [i for i in items if is_check(i)]
    if not checks:
        return
    state = run_state(config)
    state.active = True
    settings_of(config)  # a bad option found only now (from the environment): usage error
    flt = RedactingFilter(state.redactor)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(flt)
    for item in checks:
        item.user_properties += [(PROP_RULE, rule) for rule in own_rules(item)]
    # The handshake checks first: the first check is where an untestable target shows.
    items.sort(key=lambda i: 0 if _module(i) == "test_handshake" else 1)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report: pytest.TestReport = yield
    state = run_state(item.config)
    if not state.active or not is_check(item):
        return report
    clean = state.redactor.text
    record = record_of(item)
    if call.when == "call" and record is not None:
        props = record_properties(record)  # the grader cleaned what the server said
        item.user_properties += props
        report.user_properties += props
    text = _longrepr_text(report) if report.longrepr is not None else ""
    # The grader's own outcome text is clean already and is left as it is: cleaning free
    # text of a short key could touch the suite's words. Anything else is cleaned.
    if not (record is not None and record.outcome_text and record.outcome_text in text):
        text = clean(text)
        _clean_longrepr(report, clean)
    report.sections = [(t, clean(c)) for t, c in report.sections]
    log = state.logs.get(item.nodeid)
    if log is None:
        log = CheckLog(item.nodeid, item.name, _module(item), own_rules(item))
        state.logs[item.nodeid] = log
    log.record = record
    log.phases[report.when] = (report.outcome, text)
    log.durations[report.when] = report.duration
    if hasattr(report, "wasxfail"):
        log.xfail = clean(str(report.wasxfail))
    return report


def _clean_longrepr(report: pytest.TestReport, clean: Callable[[str], str]) -> None:
    """The key out of the failure or skip text, in the form the other reporters expect."""
    lr = report.longrepr
    if isinstance(lr, tuple) and len(lr) == 3:  # a skip: (path, line, reason)
        report.longrepr = (lr[0], lr[1], clean(lr[2]))
    elif lr is not None:
        text = str(lr)
        if clean(text) != text:
            report.longrepr = clean(text)


def _longrepr_text(report: pytest.TestReport) -> str:
    lr = report.longrepr
    if isinstance(lr, tuple) and len(lr) == 3:  # a skip: (path, line, reason)
        return str(lr[2]).removeprefix("Skipped: ")
    return report.longreprtext or str(lr or "")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = run_state(session.config)
    if not state.active:
        return
    result = _result(state, selected=sum(1 for i in session.items if is_check(i)))
    state.result = result
    data = result.as_dict()
    settings = state.settings
    if settings is not None:
        for path, kind in ((settings.json_path, "json"), (settings.report, "html")):
            if path is None:
                continue
            try:
                write_report(path, data, kind)
                state.written.append((kind, path))
            except OSError as exc:
                state.write_errors.append(f"cannot write {path}: {exc.strerror or exc}")
    if result.verdict == "ERROR" and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = EXIT_CANNOT_TEST  # nothing was tested: never green


def _result(state: RunState, selected: int) -> RunResult:
    settings = state.settings
    target = state.target_url or (settings.url if settings and settings.url else "")
    if settings is not None and settings.embedded:
        target = f"{target or 'not started'} (embedded reference server, {settings.engine})"
    suite = state.suite
    result = build_result(
        list(state.logs.values()),
        attributed=suite.attributed if suite is not None else None,
        target=state.redactor.url(target),
        version=__version__,
        started=state.started,
        finished=time.time(),
        strict=bool(settings and settings.strict),
        untestable=state.redactor.text(state.untestable),
        known=settings.known if settings else None,
        selected=selected,
    )
    result.title, result.timing_note = state.title, state.timing_note
    return result


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = run_state(config)
    result = state.result
    if not state.active or result is None:
        return
    tr = terminalreporter
    tr.section("asrx conformance")
    counts = ", ".join(f"{n} {g}" for g, n in result.counts().items() if n)
    colour = {"red": True} if result.verdict in ("FAIL", "ERROR") else {"green": True}
    tr.write_line(f"verdict: {result.verdict} ({counts or 'no check'})", bold=True, **colour)
    if result.error:
        tr.write_line(f"error: {result.error}", red=True)
    for dev in result.deviations:
        if dev.status in ("fixed", "expired"):
            what = "fixed: remove it from" if dev.status == "fixed" else "expired, fails again in"
            tr.write_line(f"known deviation {dev.index} ({dev.label}) {what} {result.known_file}")
    for kind, path in state.written:
        tr.write_line(f"{'HTML report' if kind == 'html' else 'JSON result'}: {path}")
    xml = config.getoption("xmlpath", None)
    if xml:
        tr.write_line(f"JUnit XML: {xml}")
    for line in state.write_errors:
        tr.write_line(f"asrx: {line}", red=True)
