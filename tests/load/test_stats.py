import gc
import weakref

import pytest
from hdrh.histogram import HdrHistogram
from hypothesis import given
from hypothesis import strategies as st

from harness.load.stats import MAX_MESSAGES_PER_KIND, LatencyHistogram, RunStats

values = st.lists(st.floats(0, 60_000, allow_nan=False), max_size=200)


def test_percentiles_keep_three_significant_digits() -> None:
    h = LatencyHistogram()
    for ms in range(1, 1001):
        h.record(float(ms))
    assert h.count == 1000
    assert h.percentile(50) == pytest.approx(500, rel=1e-3)
    assert h.percentile(99) == pytest.approx(990, rel=1e-3)
    assert h.max == pytest.approx(1000, rel=1e-3)


@given(values, values)
def test_merge_is_exact_and_survives_encoding(a: list[float], b: list[float]) -> None:
    ha, hb, both = LatencyHistogram(), LatencyHistogram(), LatencyHistogram()
    for v in a:
        ha.record(v)
        both.record(v)
    for v in b:
        hb.record(v)
        both.record(v)
    merged = LatencyHistogram.decode(ha.encode())
    merged.merge(LatencyHistogram.decode(hb.encode()))
    assert merged.count == len(a) + len(b)
    assert merged.summary() == both.summary()


def test_run_stats_round_trip_and_merge() -> None:
    samples = {"connect": [5.0], "first_partial": [100.0, 120.0], "sentence": [300.0]}
    s1, s2 = RunStats(), RunStats()
    s1.record(samples)
    s1.sessions_ok += 1
    s1.record_findings(["3.json"], ["3.state"])
    s2.record(samples)
    s2.record_failure("timeout", "no confirmation within 10 s")
    s2.record_findings(["3.json", "3.json", "4.confirm"])
    s2.record_accuracy("u1", "en", "wer", "a b", "a", 1, 2)
    total = RunStats.from_dict(s1.to_dict())
    total.merge(RunStats.from_dict(s2.to_dict()))
    assert total.histograms["first_partial"].count == 4
    assert total.histograms["sentence"].count == 2
    assert total.failures["timeout"] == 1
    assert total.failure_messages["timeout"] == {"no confirmation within 10 s": 1}
    assert total.findings == {"3.json": 2, "4.confirm": 1} and total.non_strict == {"3.state": 1}
    assert total.error_ratio == pytest.approx(0.5)
    assert total.pooled_error_rate() == pytest.approx(0.5)
    with pytest.raises(ValueError):
        total.record_failure("nonsense")


def test_failure_messages_are_bounded_per_kind() -> None:
    stats = RunStats()
    for i in range(MAX_MESSAGES_PER_KIND + 3):
        stats.record_failure("dropped", f"message {i}")
    stats.record_failure("dropped", "message 0")
    assert stats.failures["dropped"] == MAX_MESSAGES_PER_KIND + 4
    kept = stats.failure_messages["dropped"]
    assert len(kept) == MAX_MESSAGES_PER_KIND and kept["message 0"] == 2
    other = RunStats()
    other.record_failure("dropped", "yet another")
    other.merge(stats)
    assert len(other.failure_messages["dropped"]) == MAX_MESSAGES_PER_KIND


@given(
    st.lists(st.floats(0, 600_000, allow_nan=False), min_size=1, max_size=300),
    st.lists(st.floats(0, 100), min_size=1, max_size=8),
)
def test_percentile_equals_hdrh_own_answer(data: list[float], ps: list[float]) -> None:
    h = LatencyHistogram()
    for v in data:
        h.record(v)
    for p in [*ps, 0.0, 50.0, 99.0, 100.0]:
        assert h.percentile(p) == h.h.get_value_at_percentile(p) / 1000.0


@given(
    st.lists(
        st.one_of(
            st.floats(-50, 700_000, allow_nan=False),
            # exact halves of a microsecond: rounding must be round()'s (half to even)
            st.integers(-20, 4_000_000).map(lambda n: n / 2000.0),
        ),
        max_size=300,
    )
)
def test_recording_is_hdrh_record_value_of_each_value_bucket_for_bucket(
    data: list[float],
) -> None:
    """Whether values go in one by one or at once, a few or a batch, the counts are those
    of hdrh's own ``record_value`` of each value rounded to the microsecond."""
    expected = HdrHistogram(1, 600_000_000, 3)
    for v in data:
        expected.record_value(min(max(round(v * 1000.0), 0), 600_000_000))
    one_by_one, at_once = LatencyHistogram(), LatencyHistogram()
    for v in data:
        one_by_one.record(v)
    at_once.record_many(data)
    for hist in (one_by_one, at_once):
        h = hist.h
        assert list(h.counts) == list(expected.counts)
        assert (h.total_count, h.min_value, h.max_value) == (
            expected.total_count,
            expected.min_value,
            expected.max_value,
        )
        assert hist.negative == sum(1 for v in data if round(v * 1000.0) < 0)


def test_values_waiting_for_a_batch_are_seen_by_every_read() -> None:
    """Values wait for ``BATCH`` before numpy takes them; nothing that reads may miss them."""
    values = [0.5, 1.5, -2.0, 3.0]

    def fresh() -> LatencyHistogram:
        hist = LatencyHistogram()
        hist.record_many(values)
        hist.record(7.0)
        return hist

    assert fresh().count == 5
    assert fresh().negative == 1
    assert fresh().max == pytest.approx(7.0, rel=1e-3)
    assert fresh().percentile(50) == pytest.approx(1.5, rel=1e-3)
    assert fresh().summary()["count"] == 5
    assert LatencyHistogram.decode(fresh().encode()).count == 5
    merged = LatencyHistogram()
    merged.record(1.0)
    merged.merge(fresh())
    assert (merged.count, merged.negative) == (6, 1)
    stats = RunStats()
    stats.record({"connect": values})
    assert RunStats.from_dict(stats.to_dict()).histograms["connect"].count == 4


def test_a_full_batch_goes_in_at_once() -> None:
    hist = LatencyHistogram()
    hist.record_many([1.0] * (LatencyHistogram.BATCH - 1))
    assert len(hist._pending) == LatencyHistogram.BATCH - 1
    hist.record(2.0)
    assert not hist._pending and hist._h.total_count == LatencyHistogram.BATCH


@given(values, values, st.lists(st.floats(0, 100), min_size=1, max_size=8))
def test_percentiles_of_a_merged_decoded_histogram_are_hdrh_own(
    a: list[float], b: list[float], ps: list[float]
) -> None:
    ha, hb = LatencyHistogram(), LatencyHistogram()
    ha.record_many(a)
    hb.record_many(b)
    merged = LatencyHistogram.decode(ha.encode())
    merged.merge(LatencyHistogram.decode(hb.encode()))
    ps = [*ps, 0.0, 100.0]
    expected = [merged.h.get_value_at_percentile(p) / 1000.0 for p in ps] if a or b else None
    assert merged.percentiles(ps) == (expected or [None] * len(ps))


def test_a_histogram_let_go_is_freed_without_the_cycle_collector() -> None:
    """Time-series samples let go of dozens of 170 kB histograms a minute: reference
    counting must free them, not a collector pass that pauses every send."""
    gc.disable()
    try:
        h = LatencyHistogram()
        h.record_many([1.0, 2.0, 3.0] * 10)
        encoded = h.encode()
        decoded = LatencyHistogram.decode(encoded)
        refs = [weakref.ref(h.h), weakref.ref(decoded.h)]
        assert decoded.encode() == encoded and decoded.summary() == h.summary()
        del h, decoded
        assert [r() for r in refs] == [None, None]
    finally:
        gc.enable()
