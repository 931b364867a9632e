"""A server that cuts sentences where the corpus does not is lawful: a load run against it
completes its sessions, passes its gate, and says why it has no sentence latency."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.corpus import default_corpus_dir
from harness.exitcodes import OK, SLO_BREACHED
from harness.server.embedded import EmbeddedServer
from tests.load.runs import clean_env, headless, run_locust

pytestmark = pytest.mark.slow

KEY = "k-segments"
#: Longer than any pause inside an en-synth utterance: the server makes one sentence of
#: each, where the corpus has up to three speech segments.
ONE_SENTENCE_PER_UTTERANCE = ("--end-silence-ms", "5000")


def load_run(tmp_path: Path, url: str, *args: str) -> tuple[int, dict, str]:
    tmp_path.mkdir()
    reports = tmp_path / "reports"
    proc = run_locust(
        *headless(2, 8),
        "--host",
        url,
        "--asrx-report-dir",
        str(reports),
        *args,
        env=clean_env(ASRX_APIKEY=KEY),
        cwd=tmp_path,
        timeout=90,
    )
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out[-3000:]
    return proc.returncode, json.loads((reports / "asrx-summary.json").read_text()), out


def multi_sentence_corpus(folder: Path) -> Path:
    """The shipped English corpus's utterances of two or more speech segments."""
    shipped = default_corpus_dir("en")
    folder.mkdir()
    lines = []
    for line in (shipped / "manifest.jsonl").read_text().splitlines():
        entry = json.loads(line)
        if len(entry["segments"]) >= 2:
            shutil.copy(shipped / entry["audio"], folder / entry["audio"])
            lines.append(line)
    assert len(lines) >= 2
    (folder / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def test_other_sentence_cuts_fail_no_session_and_are_reported(tmp_path: Path) -> None:
    corpus = str(multi_sentence_corpus(tmp_path / "corpus"))
    with EmbeddedServer(apikeys=(KEY,), extra_args=ONE_SENTENCE_PER_UTTERANCE) as server:
        code, summary, out = load_run(tmp_path / "plain", server.url, "--asrx-corpus", corpus)
        assert code == OK, out[-3000:]
        assert summary["sessions_failed"] == 0 and summary["sessions_ok"] > 0
        assert summary["segmentation_mismatches"] == summary["sessions_ok"]
        page = (tmp_path / "plain" / "reports" / "asrx-report.html").read_text()
        assert f"In {summary['sessions_ok']} of {summary['sessions_ok']} completed" in page
        # The latencies that do not hang on sentence ends are still measured.
        assert summary["percentiles"]["first_partial"]["count"] > 0
        assert summary["percentiles"]["sentence"]["count"] == 0

        # A sentence-latency SLO cannot be judged on such a run: it fails, saying why.
        code, summary, out = load_run(
            tmp_path / "gated",
            server.url,
            "--asrx-corpus",
            corpus,
            "--slo-p95-sentence-ms",
            "100000",
        )
    assert code == SLO_BREACHED, out[-3000:]
    assert summary["sessions_failed"] == 0
    failed = [v for v in summary["verdicts"] if not v["passed"]]
    assert [v["name"] for v in failed] == ["p95_sentence_ms"], failed
    assert "different number of sentences" in failed[0]["reason"], failed
