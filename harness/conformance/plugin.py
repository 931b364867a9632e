"""The pytest plugin of the conformance suite (entry point ``asrx``, pytest11).

It loads in every pytest run once installed, so it stays inert unless asked: it adds the
``--asrx-*`` options, the ``asrx_rule`` marker and fixtures; it touches a run only to
keep the apikey out of failure reports and, with ``--asrx-report``, to write the report.
Fixtures (session-scoped where they hold a server or a connection):

- ``asrx_settings``: the options (``SuiteSettings``); a bad one ends the run with one line;
- ``asrx_target``: the ``Target`` under test, probed once; unreachable ends the run with
  one line. Without ``--asrx-url`` it is the embedded reference server (``asrx_server``);
- ``asrx_tls_target``: a wss:// target whose certificate is verified;
- ``asrx_corpus``: the corpus; ``asrx``: all of it plus a cache of shared session runs;
- ``asrx_grade``: a ``Grader`` for the current check.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import pytest

from harness.client.aio import open_connection
from harness.client.target import Target, redact
from harness.conformance.grading import PROP_RULE, Grader
from harness.conformance.probes import SessionRun, run_many
from harness.conformance.settings import SuiteSettings, add_options, settings_from_config
from harness.corpus import Corpus, Utterance, default_corpus_dir, load_corpus
from harness.errors import HarnessError, UsageError
from harness.protocol.session import ClientSession

PLUGIN_NAME = "asrx"
T = TypeVar("T")


@dataclass
class _PluginState:
    settings: SuiteSettings | None = None
    #: Every secret to keep out of reports (the given key, the embedded server's key).
    secrets: set[str] = field(default_factory=set)
    results: list[dict[str, Any]] = field(default_factory=list)
    target_url: str = ""
    corpus: Corpus | None = None
    started: float = field(default_factory=time.time)


_STATE = pytest.StashKey[_PluginState]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "asrx_rule(rule_id): the PROTOCOL.md rule an asrx conformance check enforces"
    )
    state = _PluginState()
    config.stash[_STATE] = state
    asked = any(str(a).startswith("--asrx-") for a in config.invocation_params.args)
    try:
        state.settings = settings_from_config(config)
    except HarnessError as exc:
        if asked:  # options given on this command line: a usage error now
            raise pytest.UsageError(str(exc)) from None
    if state.settings and state.settings.apikey:
        state.secrets.add(state.settings.apikey)


def _state(config: pytest.Config) -> _PluginState:
    return config.stash.get(_STATE, None) or _PluginState()


def _redact(text: str, config: pytest.Config) -> str:
    for secret in _state(config).secrets:
        text = redact(text, secret)
    return text


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for mark in item.iter_markers("asrx_rule"):
            for rule in mark.args:
                item.user_properties.append((PROP_RULE, rule))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    secrets_ = _state(item.config).secrets
    if secrets_ and report.longrepr is not None:
        text = str(report.longrepr)
        clean = _redact(text, item.config)
        if clean != text:
            report.longrepr = clean
    if secrets_:
        report.sections = [(t, _redact(c, item.config)) for t, c in report.sections]
    return report


class _ReportCollector:
    """Registered only with ``--asrx-report``: gathers outcomes, writes the HTML at the end."""

    def __init__(self, config: pytest.Config, path: Path) -> None:
        self.config = config
        self.path = path

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call" and not (report.failed or report.skipped):
            return
        state = _state(self.config)
        text = ""
        if report.failed or report.skipped:
            text = _redact(_longrepr_text(report), self.config)
        state.results.append(
            {
                "nodeid": _redact(report.nodeid, self.config),
                "when": report.when,
                "outcome": report.outcome,
                "duration": report.duration,
                "properties": [
                    (k, _redact(str(v), self.config)) for k, v in report.user_properties
                ],
                "message": text,
            }
        )

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        from harness.conformance.report import write_report

        state = _state(self.config)
        settings = state.settings or SuiteSettings()
        write_report(
            self.path,
            state.results,
            target=_redact(
                state.target_url or (settings.url or "embedded reference server"), self.config
            ),
            strict=settings.strict,
            started=state.started,
        )


def _longrepr_text(report: pytest.TestReport) -> str:
    lr = report.longrepr
    if isinstance(lr, tuple) and len(lr) == 3:  # a skip: (path, line, reason)
        return str(lr[2])
    crash = getattr(report, "longreprtext", "")
    return crash or str(lr or "")


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    state = _state(session.config)
    if state.settings and state.settings.report is not None:
        session.config.pluginmanager.register(
            _ReportCollector(session.config, state.settings.report), "asrx-report"
        )


# -- fixtures -----------------------------------------------------------------------------


def _exit(message: str, code: int) -> None:
    pytest.exit(message, returncode=code)


@pytest.fixture(scope="session")
def asrx_settings(pytestconfig: pytest.Config) -> SuiteSettings:
    """The suite's options; a bad option ends the run with one line (exit code 4)."""
    try:
        return settings_from_config(pytestconfig)
    except HarnessError as exc:
        _exit(f"asrx: {exc}", pytest.ExitCode.USAGE_ERROR)
        raise  # unreachable: pytest.exit raises


@pytest.fixture(scope="session")
def asrx_server(asrx_settings: SuiteSettings, pytestconfig: pytest.Config) -> Iterator[Any]:
    """The embedded reference server when no ``--asrx-url`` is given, else ``None``."""
    if not asrx_settings.embedded:
        yield None
        return
    from harness.server.embedded import EmbeddedServer

    key = "asrx-embedded-" + secrets.token_hex(8)
    _state(pytestconfig).secrets.add(key)
    extra = ("--profile", asrx_settings.profile) if asrx_settings.profile else ()
    server = EmbeddedServer(engine=asrx_settings.engine, apikeys=(key,), extra_args=extra)
    try:
        server.start()
    except HarnessError as exc:
        _exit(f"asrx: the embedded reference server did not start: {exc}", 2)
    try:
        yield server
    finally:
        server.close()


async def _probe(target: Target) -> None:
    ws = await open_connection(target, ClientSession(target.dialect))
    with contextlib.suppress(Exception):
        await asyncio.wait_for(ws.close(), target.timeouts.close)


def probe_or_exit(target: Target) -> None:
    """One connection attempt; on failure end the whole run with one clear line."""
    try:
        asyncio.run(_probe(target))
    except HarnessError as exc:
        msg = redact(f"asrx: cannot test {target.url}: {exc}", target.apikey)
        _exit(msg, pytest.ExitCode.USAGE_ERROR if isinstance(exc, UsageError) else 2)


@pytest.fixture(scope="session")
def asrx_target(
    asrx_settings: SuiteSettings, asrx_server: Any, pytestconfig: pytest.Config
) -> Target:
    """The server under test, reachable with a valid key (checked once)."""
    s = asrx_settings
    if asrx_server is not None:
        target = Target(asrx_server.url, asrx_server.apikey, s.dialect, None, s.timeouts)
    else:
        assert s.url is not None
        try:
            target = Target(s.url, s.apikey, s.dialect, s.ca_file, s.timeouts)
        except UsageError as exc:
            _exit(f"asrx: {exc}", pytest.ExitCode.USAGE_ERROR)
    _state(pytestconfig).target_url = target.url
    probe_or_exit(target)
    return target


@pytest.fixture(scope="session")
def asrx_tls_target(
    asrx_settings: SuiteSettings,
    asrx_target: Target,
    tmp_path_factory: pytest.TempPathFactory,
    pytestconfig: pytest.Config,
) -> Iterator[Target]:
    """A wss:// target with its certificate verified.

    Embedded: a second reference server with a trustme certificate, trusted through its
    CA file only. Remote: the target itself when its URL is wss://, else the check skips.
    """
    if not asrx_settings.embedded:
        if not asrx_target.secure:
            pytest.skip("the target URL is ws://: wss is checked only for a wss:// URL")
        yield asrx_target
        return
    try:
        import trustme
    except ImportError:
        pytest.skip("trustme is not installed (pip install 'asrx-harness[test]')")
    from harness.server.embedded import EmbeddedServer

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    folder = tmp_path_factory.mktemp("asrx-tls")
    ca_file, chain, key_file = folder / "ca.pem", folder / "chain.pem", folder / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert.private_key_pem.write_to_path(str(key_file))
    with chain.open("wb") as fh:
        for blob in cert.cert_chain_pems:
            fh.write(blob.bytes())
    key = "asrx-embedded-tls-" + secrets.token_hex(8)
    _state(pytestconfig).secrets.add(key)
    server = EmbeddedServer(
        engine="synthetic", apikeys=(key,), tls_cert=str(chain), tls_key=str(key_file)
    )
    try:
        server.start()
    except HarnessError as exc:
        pytest.fail(f"the embedded TLS reference server did not start: {exc}", pytrace=False)
    try:
        yield replace(asrx_target, url=server.url, apikey=key, ca_file=str(ca_file))
    finally:
        server.close()


@pytest.fixture(scope="session")
def asrx_corpus(asrx_settings: SuiteSettings) -> Corpus:
    try:
        return load_corpus(asrx_settings.corpus_dir or default_corpus_dir("en"))
    except HarnessError as exc:
        _exit(f"asrx: {exc}", pytest.ExitCode.USAGE_ERROR)
        raise


def collection_corpus(config: pytest.Config) -> Corpus:
    """The corpus at collection time, for checks parametrized by utterance."""
    state = _state(config)
    corpus = state.corpus
    if corpus is None:
        try:
            settings = state.settings or settings_from_config(config)
            corpus = load_corpus(settings.corpus_dir or default_corpus_dir("en"))
        except HarnessError as exc:
            raise pytest.UsageError(f"asrx: {exc}") from None
        state.corpus = corpus
    return corpus


def corpus_run(asrx: Suite) -> dict[str, SessionRun]:
    """Every corpus utterance streamed once (at ``--asrx-speed``, 4 sessions at a time),
    shared by the schema and sentence checks."""
    utterances = asrx.corpus.utterances
    speed = asrx.settings.speed

    async def all_of_them() -> dict[str, SessionRun]:
        runs = await run_many(asrx.target, [(u.pcm(), speed) for u in utterances])
        return {u.id: r for u, r in zip(utterances, runs, strict=True)}

    return asrx.cached("corpus", all_of_them)


class Suite:
    """What a check needs: settings, target, corpus, and session runs shared by checks."""

    def __init__(self, settings: SuiteSettings, target: Target, corpus: Corpus) -> None:
        self.settings = settings
        self.target = target
        self.corpus = corpus
        self._cache: dict[str, Any] = {}

    @property
    def timeouts(self) -> Any:
        return self.target.timeouts

    def run(self, coro: Awaitable[T]) -> T:
        return asyncio.run(_as_coroutine(coro))

    def cached(self, name: str, factory: Callable[[], Awaitable[T]]) -> T:
        """Run ``factory`` once per test run; later checks read the same result."""
        if name not in self._cache:
            self._cache[name] = self.run(factory())
        return self._cache[name]  # type: ignore[no-any-return]

    # Utterances the checks need, chosen from any corpus by their manifest segments.
    def speech(self) -> Utterance:
        """The shortest utterance with exactly one speech segment."""
        return self._pick(lambda u: len(u.segments) == 1, "one speech segment")

    def multi(self) -> Utterance:
        """The shortest utterance with two or more speech segments."""
        return self._pick(lambda u: len(u.segments) >= 2, "two or more speech segments")

    def silence(self) -> Utterance:
        """An utterance without speech (the quietest by name preference: 'silence')."""
        quiet = [u for u in self.corpus.utterances if not u.segments]
        if not quiet:
            pytest.skip("the corpus has no utterance without speech segments")
        return sorted(quiet, key=lambda u: ("silence" not in u.id, u.duration_ms))[0]

    def _pick(self, pred: Callable[[Utterance], bool], what: str) -> Utterance:
        found = sorted((u for u in self.corpus.utterances if pred(u)), key=lambda u: u.duration_ms)
        if not found:
            pytest.skip(f"the corpus has no utterance with {what}")
        return found[0]


async def _as_coroutine(aw: Awaitable[T]) -> T:
    return await aw


@pytest.fixture(scope="session")
def asrx(asrx_settings: SuiteSettings, asrx_target: Target, asrx_corpus: Corpus) -> Suite:
    return Suite(asrx_settings, asrx_target, asrx_corpus)


@pytest.fixture
def asrx_grade(request: pytest.FixtureRequest, asrx_settings: SuiteSettings) -> Grader:
    state = _state(request.config)
    key = asrx_settings.apikey or next(iter(state.secrets), None)
    return Grader(request.node, asrx_settings.strict, key)
