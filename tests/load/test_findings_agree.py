"""The same defective server, the same findings: ``asrx stream --json``, the suite's probe
session and the Locust user name the same rules for each hostile server of
``tests/hostile.py`` (invalid UTF-8 and an oversize message included), and the Locust user
turns each into the failure kind this table gives, with no latency sample from a failed
session."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from harness.corpus import default_corpus_dir, load_corpus
from tests.client.test_adapters_agree import via_raw_probe
from tests.hostile import EXPECTED, hostile_server

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
#: The Locust user's failure kind for each server (None: the session completed).
LOCUST_KIND: dict[str, str | None] = {
    "well-behaved": None,
    "invalid-utf8": "protocol_violation",
    "oversize": "protocol_violation",
    "oversize-fragments": "protocol_violation",
    "fragmented": None,
    "binary": "protocol_violation",
    "confirm-no-state": None,  # 3.state on the confirmation is NON-STRICT
    "close-1013": "closed_early",
    "close-1001": "closed_early",
    "close-4000": "closed_early",
    "never-confirm": "timeout",
    "drop-tcp": "dropped",
    "escapes": "protocol_violation",
}
LATENCIES = {"connect", "first_partial", "sentence", "close"}


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, str]]:
    with ExitStack() as stack:
        yield {kind: stack.enter_context(hostile_server(kind)) for kind in EXPECTED}


@pytest.fixture(scope="module")
def locust_user(servers: dict[str, str]) -> dict[str, dict]:
    """What the Locust user's client saw of each server (one subprocess, as Locust runs)."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.load.user_driver", *servers.values()],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == len(servers), done.stdout[-2000:] + done.stderr[-3000:]
    return dict(zip(servers, lines, strict=True))


@pytest.fixture(scope="module")
def cli(servers: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """``asrx stream --json`` against every server at once: its findings and its end."""
    corpus = load_corpus(default_corpus_dir("en"))
    utt = next(u for u in corpus.utterances if u.id == "en-single-01")
    procs = {
        kind: subprocess.Popen(
            [sys.executable, "-m", "harness.cli.main", "stream", str(utt.audio), "--url", url]
            + ["--apikey", "k", "--json", "--speed", "4", "--timeout-scale", "0.1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path_factory.mktemp("cli"),
        )
        for kind, url in servers.items()
    }
    out = {}
    for kind, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=120)
        events = [json.loads(line) for line in stdout.splitlines() if line.strip()]
        summary = [e for e in events if e["event"] == "summary"]
        assert summary, f"{kind}: no summary\n{stdout[-1000:]}{stderr[-1000:]}"
        rules = [e["rule"] for e in events if e["event"] == "finding"]
        out[kind] = {"rules": rules, "end": summary[0]["end"], "code": proc.returncode}
    return out


@pytest.mark.parametrize("kind", EXPECTED)
def test_cli_probe_and_locust_user_name_the_same_rules(
    kind: str, servers: dict[str, str], cli: dict[str, dict], locust_user: dict[str, dict]
) -> None:
    end, rules = EXPECTED[kind]
    probe = via_raw_probe(servers[kind])
    seen = {
        "asrx stream --json": sorted(set(cli[kind]["rules"])),
        "suite probe": sorted({f.rule for f in probe.findings}),
        "Locust user": sorted(locust_user[kind]["findings"] + locust_user[kind]["non_strict"]),
    }
    assert set(map(tuple, seen.values())) == {tuple(sorted(rules))}, seen
    assert cli[kind]["end"] == probe.end.value == end.value


@pytest.mark.parametrize("kind", EXPECTED)
def test_the_locust_user_fails_each_defect_by_its_kind(
    kind: str, locust_user: dict[str, dict]
) -> None:
    seen = locust_user[kind]
    assert seen["failure"] == LOCUST_KIND[kind], seen["message"]
    session = [failed for name, failed in seen["fired"] if name == "session"]
    assert session == [LOCUST_KIND[kind] is not None], seen["fired"]
    latencies = set(seen["samples"]) & LATENCIES
    if LOCUST_KIND[kind] is None:
        assert latencies == LATENCIES, seen["samples"]
    else:  # a failed session is a failure of its kind, never a source of samples
        assert not latencies, seen["samples"]
        assert not {name for name, _ in seen["fired"]} & LATENCIES, seen["fired"]
    if kind == "confirm-no-state":
        assert seen["non_strict"] == ["3.state"] and seen["findings"] == []


def test_a_rule_finding_names_the_rule_and_escapes_server_text(
    locust_user: dict[str, dict],
) -> None:
    assert locust_user["invalid-utf8"]["message"].startswith("protocol_violation: §3.utf8: ")
    assert locust_user["oversize"]["message"].startswith("protocol_violation: §3.size: ")
    escapes = locust_user["escapes"]["message"]
    assert escapes.startswith("protocol_violation: §3.json: ")
    assert "\x1b" not in escapes and "\\x1b]0;pwned" in escapes
