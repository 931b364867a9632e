"""The suite's fixtures (registered by the plugin), session-scoped where they hold a server
or a connection:

- ``asrx_settings``: the options (``SuiteSettings``), already checked at collection;
- ``asrx_server``: the embedded reference server when no ``--asrx-url`` is given;
- ``asrx_target``: the ``Target`` under test, probed once. A target that cannot be tested
  (unreachable, refused, TLS, not a WebSocket, bad key) makes the first check an ERROR with
  the cause and stops the run: never an empty green report;
- ``asrx_tls_target``: a wss:// target whose certificate is verified;
- ``asrx_corpus``; ``asrx``: all of it plus the shared session runs (``Suite``);
- ``asrx_grade``: a ``Grader`` for the current check.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, NoReturn

import pytest

from harness.client.aio import open_connection
from harness.client.target import Target
from harness.conformance.grading import Grader
from harness.conformance.settings import SuiteSettings
from harness.conformance.state import corpus_of, run_state, settings_of
from harness.conformance.suite import Suite
from harness.corpus import Corpus
from harness.errors import HarnessError
from harness.protocol.session import ClientSession


def cannot_test(request: pytest.FixtureRequest, cause: str) -> NoReturn:
    """End the run: this check is an ERROR with ``cause``, and no other check runs."""
    run_state(request.config).untestable = cause
    request.session.shouldstop = "asrx: nothing can be tested (see the error above)"
    pytest.fail(cause, pytrace=False)


@pytest.fixture(scope="session")
def asrx_settings(pytestconfig: pytest.Config) -> SuiteSettings:
    return settings_of(pytestconfig)


@pytest.fixture(scope="session")
def asrx_server(asrx_settings: SuiteSettings, request: pytest.FixtureRequest) -> Iterator[Any]:
    """The embedded reference server when no ``--asrx-url`` is given, else ``None``."""
    if not asrx_settings.embedded:
        yield None
        return
    from harness.server.embedded import EmbeddedServer

    key = "asrx-embedded-" + secrets.token_hex(8)
    run_state(request.config).redactor.add(key)
    extra = ("--profile", asrx_settings.profile) if asrx_settings.profile else ()
    server = EmbeddedServer(engine=asrx_settings.engine, apikeys=(key,), extra_args=extra)
    problem = _start(server)
    if problem:
        cannot_test(request, f"asrx: the embedded reference server did not start: {problem}")
    try:
        yield server
    finally:
        server.close()


def _start(server: Any) -> str:
    """Start ``server``; why it did not start ("" when it did)."""
    try:
        server.start()
    except HarnessError as exc:
        return str(exc)
    return ""


async def _probe(target: Target) -> None:
    ws = await open_connection(target, ClientSession(target.dialect, target.limits))
    with contextlib.suppress(Exception):
        await asyncio.wait_for(ws.close(), target.timeouts.close)


@pytest.fixture(scope="session")
def asrx_target(
    asrx_settings: SuiteSettings, asrx_server: Any, request: pytest.FixtureRequest
) -> Target:
    """The server under test, reachable with a valid key (checked once)."""
    s = asrx_settings
    if asrx_server is not None:
        url, key, ca_file = asrx_server.url, asrx_server.apikey, None
    else:
        assert s.url is not None
        url, key, ca_file = s.url, s.apikey, s.ca_file
    target = Target(url, key, s.dialect, ca_file, s.timeouts, s.limits)
    run_state(request.config).target_url = target.url
    problem = ""
    try:
        asyncio.run(_probe(target))
    except HarnessError as exc:
        problem = str(exc)  # failed outside the handler: no exception chain in the report
    if problem:
        cannot_test(request, f"asrx: cannot test {target.url}: {problem}")
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
    run_state(pytestconfig).redactor.add(key)
    server = EmbeddedServer(
        engine="synthetic", apikeys=(key,), tls_cert=str(chain), tls_key=str(key_file)
    )
    if problem := _start(server):
        pytest.fail(f"the embedded TLS reference server did not start: {problem}", pytrace=False)
    try:
        yield replace(asrx_target, url=server.url, apikey=key, ca_file=str(ca_file))
    finally:
        server.close()


@pytest.fixture(scope="session")
def asrx_corpus(pytestconfig: pytest.Config) -> Corpus:
    return corpus_of(pytestconfig)


@pytest.fixture(scope="session")
def asrx(
    asrx_settings: SuiteSettings,
    asrx_target: Target,
    asrx_corpus: Corpus,
    pytestconfig: pytest.Config,
) -> Suite:
    suite = Suite(asrx_settings, asrx_target, asrx_corpus)
    run_state(pytestconfig).suite = suite
    return suite


@pytest.fixture
def asrx_grade(request: pytest.FixtureRequest, asrx_settings: SuiteSettings, asrx: Suite) -> Grader:
    asrx.current = request.node.nodeid
    clean = run_state(request.config).redactor.text
    return Grader(request.node, asrx_settings.strict, asrx_settings.known, clean=clean)
