"""What the plugin keeps for one pytest run, in the config's stash.

The hooks (``plugin``), the fixtures and the report all read this one object: the settings
(or why they are bad), the redactor that keeps every key out of the outputs, the target's
URL, the corpus read at collection time, the ``Suite`` once made, why the run could not
test (if so), each check's log and the run's result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.conformance.results import TIMING_NOTE
from harness.conformance.settings import SuiteSettings, settings_from_config
from harness.corpus import Corpus, default_corpus_dir, load_corpus
from harness.errors import HarnessError
from harness.redaction import Redactor

if TYPE_CHECKING:
    from harness.conformance.results import CheckLog, RunResult
    from harness.conformance.suite import Suite


@dataclass
class RunState:
    settings: SuiteSettings | None = None
    #: Why the settings are bad; raised as a usage error once the suite's checks are asked for.
    settings_error: HarnessError | None = None
    #: Keeps every key out of the outputs (the given key, the embedded servers' keys).
    redactor: Redactor = field(default_factory=Redactor)
    target_url: str = ""
    #: The report's title and how it explains check times (``asrx grade-client`` grades a
    #: client through this plugin and says so).
    title: str = "asrx conformance"
    timing_note: str = TIMING_NOTE
    corpus: Corpus | None = None
    suite: Suite | None = None
    #: Why nothing could be tested (unreachable, refused, TLS): the run is an ERROR.
    untestable: str = ""
    started: float = field(default_factory=time.time)
    #: Whether any of the suite's checks were collected in this run.
    active: bool = False
    #: node id -> what the plugin saw of that check.
    logs: dict[str, CheckLog] = field(default_factory=dict)
    result: RunResult | None = None
    #: (kind, path) of each report written, and why any could not be.
    written: list[tuple[str, Path]] = field(default_factory=list)
    write_errors: list[str] = field(default_factory=list)


_KEY = pytest.StashKey[RunState]()


def run_state(config: pytest.Config) -> RunState:
    state = config.stash.get(_KEY, None)
    if state is None:
        state = config.stash[_KEY] = RunState()
    return state


def usage_error(exc: HarnessError) -> pytest.UsageError:
    """The one way the suite reports a bad option: pytest's usage error (exit 4, one line)."""
    return pytest.UsageError(f"asrx: {exc}")


def settings_of(config: pytest.Config) -> SuiteSettings:
    """The run's settings; a bad option raises the usage error."""
    state = run_state(config)
    if state.settings_error is not None:
        raise usage_error(state.settings_error)
    if state.settings is None:
        try:
            state.settings = settings_from_config(config)
        except HarnessError as exc:
            state.settings_error = exc
            raise usage_error(exc) from None
    return state.settings


def corpus_of(config: pytest.Config) -> Corpus:
    """The corpus, read once (at collection: checks are parametrized by its utterances)."""
    state = run_state(config)
    if state.corpus is None:
        settings = settings_of(config)
        try:
            state.corpus = load_corpus(settings.corpus_dir or default_corpus_dir("en"))
        except HarnessError as exc:
            raise usage_error(exc) from None
    return state.corpus
