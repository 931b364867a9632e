"""Reading summaries back: what a run writes is what a comparison reads, and any other
file is one line naming it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.compare.record import bucket_values, decode_sparse, read_run, run_record
from harness.compare.resample import percentiles_of
from harness.errors import UsageError
from harness.load.stats import LatencyHistogram
from tests.compare.fakes import make_summary, write


def test_a_summary_carries_histograms_windows_and_identity(tmp_path: Path) -> None:
    summary = make_summary(windows=10, users=4)
    run = read_run(write(tmp_path / "asrx-summary.json", summary))
    assert set(run.histograms) >= {"connect", "first_partial", "sentence", "close"}
    assert run.histograms["first_partial"].total == summary["percentiles"]["first_partial"]["count"]
    assert len(run.windows["first_partial"]) == 10 and run.window_s == 2.0
    assert sum(w.total for w in run.windows["sentence"]) == run.histograms["sentence"].total
    ident = run.identity
    assert ident["users"] == 4 and ident["frame_bytes"] == 1024
    assert ident["corpus"]["name"] == "en-synth" and ident["corpus"]["utterances"]
    assert ident["target"]["embedded_engine"] == "synthetic"
    assert read_run(tmp_path).path == run.path  # a reports directory: its latest summary


def test_percentiles_from_the_sparse_histogram_are_the_reports() -> None:
    hist = LatencyHistogram()
    for v in (0.4, 1.0, 3.3, 17.0, 250.0, 251.0, 999.9, 12345.6):
        hist.record(v)
    sparse = decode_sparse(hist.encode())
    ps = (1, 25, 50, 90, 95, 99, 100)
    ours = percentiles_of(sparse.counts, bucket_values(sparse.index), ps)[0]
    assert list(ours) == [hist.percentile(p) for p in ps]


def _damaged(tmp_path: Path, change: object) -> Path:
    summary = make_summary(windows=3)
    if callable(change):
        change(summary)
    return write(tmp_path / "s.json", summary)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda s: s.pop("histograms"), "carries no histograms"),
        (lambda s: s.pop("identity"), "carries no histograms"),
        (lambda s: s.update(schema="asrx-summary/1"), "asrx-summary/1 is not supported"),
        (lambda s: s.pop("schema"), "not a load summary"),
        (lambda s: s["histograms"].update(sentence="bm90IGEgaGlzdG9ncmFt"), "histograms.sentence"),
        (lambda s: s["histograms"].update(close=7), "histograms.close"),
        (lambda s: s["timeseries"][1]["connect"].update(histogram="%%%"), r"timeseries\[1\]"),
        (lambda s: s["timeseries"][0].update(sessions_ok="many"), "sessions_ok"),
        (lambda s: s.update(timeseries={"a": 1}), "timeseries is not a list"),
        (lambda s: s.update(sessions_ok=-1), "sessions_ok"),
        (lambda s: s["identity"].update(corpus="en"), "identity.corpus"),
        (lambda s: s.update(accuracy={"utterances": [{"errors": 1}]}), "utterance_id"),
        (lambda s: s.update(distribution={"close": [[50, "x"]]}), "distribution.close"),
        (lambda s: s.update(distribution=[1]), "distribution is not an object"),
    ],
)
def test_a_damaged_summary_is_one_line(tmp_path: Path, change: object, match: str) -> None:
    path = _damaged(tmp_path, change)
    with pytest.raises(UsageError, match=match) as err:
        read_run(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe{", "not JSON"),
        (b"[1, 2]", "not a load summary"),
        (b'{"schema": "asrx-conformance/1"}', "not a load summary"),
    ],
)
def test_other_files_are_one_line(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=match):
        read_run(path)


def test_a_missing_file_or_empty_directory_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read .*nope.json"):
        read_run(tmp_path / "nope.json")
    with pytest.raises(UsageError, match="asrx-summary.json"):
        read_run(tmp_path)


def test_a_run_without_time_series_still_reads() -> None:
    summary = make_summary(windows=4)
    summary["timeseries"] = []
    run = run_record(json.loads(json.dumps(summary)), "here")
    assert run.windows == {} or all(not w for w in run.windows.values())
    assert run.window_s is None
