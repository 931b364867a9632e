"""A master and 2 workers on loopback: the merged RunStats is the exact sum of the workers'.

Real speech against the pocketsphinx server, so that word latencies (UPL), word counts and
session samples are merged too, not only the sentence latencies."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from harness.corpus import REAL_SPEECH_CORPUS, shipped_corpus
from harness.load.stats import RunStats
from harness.server.embedded import EmbeddedServer
from tests.load.runs import clean_env, free_port, locust_cmd

pytestmark = pytest.mark.slow


def test_master_merges_two_workers_exactly(tmp_path: Path) -> None:
    port = str(free_port())
    out = tmp_path / "stats.json"
    env = clean_env(ASRX_APIKEY="k")
    with EmbeddedServer(engine="pocketsphinx", apikeys=("k",)) as server:
        master = subprocess.Popen(
            locust_cmd(
                "--master",
                "--master-bind-host",
                "127.0.0.1",
                "--master-bind-port",
                port,
                "--headless",
                "--expect-workers",
                "2",
                "-u",
                "2",
                "-r",
                "2",
                "-t",
                "14s",
                "--host",
                server.url,
                "--asrx-stats-out",
                str(out),
                "--asrx-corpus",
                str(shipped_corpus(REAL_SPEECH_CORPUS)),
            ),
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        workers = [
            subprocess.Popen(
                locust_cmd("--worker", "--master-host", "127.0.0.1", "--master-port", port),
                env=env,
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(2)
        ]
        try:
            master_log, _ = master.communicate(timeout=90)
            worker_logs = [w.communicate(timeout=30)[0] for w in workers]
        finally:
            for p in (master, *workers):
                if p.poll() is None:
                    p.kill()

    merged = RunStats.from_dict(json.loads(out.read_text()))
    worker_files = sorted(tmp_path.glob("stats.worker-*.json"))
    assert len(worker_files) == 2, (list(tmp_path.iterdir()), master_log[-2000:])
    parts = [RunStats.from_dict(json.loads(p.read_text())) for p in worker_files]
    assert all(p.sessions_ok > 0 for p in parts), "both workers should have streamed"

    total = RunStats()
    for p in parts:
        total.merge(p)
    assert merged.sessions == total.sessions
    assert merged.sessions_ok == total.sessions_ok
    assert merged.failures == total.failures
    for name, hist in total.histograms.items():
        got = merged.histograms[name]
        assert got.count == hist.count, name
        assert got.summary() == hist.summary(), name
        # Bucket by bucket, not just the percentiles.
        assert list(got.h.counts) == list(hist.h.counts), name
    assert {u: a.sessions for u, a in merged.accuracy.items()} == {
        u: a.sessions for u, a in total.accuracy.items()
    }
    assert total.histograms["word_upl"].count > 0, "real speech gives word latencies"
    assert merged.words == total.words and merged.words["final"] > 0
    assert set(merged.samples) == set().union(*(p.samples for p in parts))
    assert "Traceback" not in master_log + "".join(worker_logs), master_log[-3000:]
