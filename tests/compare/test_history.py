"""A directory of past summaries as a trend: comparable runs only, each once, oldest
first, the current run last; what was left out, and why."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from harness.compare.history import trend
from harness.errors import UsageError
from tests.compare.fakes import START, make_summary, write


def at(hours: int) -> dt.datetime:
    return START + dt.timedelta(hours=hours)


def test_a_reports_directory_gives_one_point_per_run(tmp_path: Path) -> None:
    for h in (3, 1, 2):  # written out of order
        write(tmp_path / f"asrx-summary-{h}.json", make_summary(seed=h, started=at(h)))
    shutil.copy(tmp_path / "asrx-summary-3.json", tmp_path / "asrx-summary.json")  # latest
    current = make_summary(seed=9, started=at(5), shift={"first_partial": 40})
    t = trend(tmp_path, current)
    assert [r["started_at"] for r in t["runs"]] == [at(h).isoformat() for h in (1, 2, 3, 5)]
    assert t["skipped"] == []
    assert {"connect", "first_partial", "sentence", "close"} <= set(t["metrics"])
    p50 = [r["metrics"]["first_partial"]["p50"] for r in t["runs"]]
    assert p50[-1] > max(p50[:-1]) + 30, "the current run is the last point"


def test_other_files_and_other_setups_are_listed_not_charted(tmp_path: Path) -> None:
    write(tmp_path / "other-users.json", make_summary(users=8, started=at(1)))
    write(tmp_path / "longer.json", make_summary(windows=30, started=at(2)))  # allowed
    (tmp_path / "notes.json").write_text(json.dumps({"hello": 1}))
    old = make_summary(started=at(3))
    del old["identity"]
    write(tmp_path / "old.json", old)
    t = trend(tmp_path, make_summary(started=at(5)))
    assert len(t["runs"]) == 2  # longer.json and the current run
    skipped = "\n".join(t["skipped"])
    assert "other-users.json: not comparable: users: 8 vs 4" in skipped
    assert "notes.json: not a load summary" in skipped
    assert "old.json: no identity" in skipped


def test_the_history_must_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a directory"):
        trend(tmp_path / "missing", make_summary())
