"""A window's histogram is what recording the new values alone would give, bucket for
bucket, min and max included."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from harness.load.stats import LatencyHistogram
from harness.load.window import subtract_histogram

values = st.lists(st.floats(-5, 700_000, allow_nan=False), max_size=200)


@given(values, values)
def test_subtraction_equals_recording_each_bucket_lowest_value(
    before: list[float], since: list[float]
) -> None:
    start = LatencyHistogram()
    start.record_many(before)
    now = LatencyHistogram.decode(start.encode(), start.negative)
    now.record_many(since)
    window = subtract_histogram(now, start)

    alone = LatencyHistogram()
    alone.record_many(since)
    expected = LatencyHistogram()  # the bucket-by-bucket way: each bucket's lowest value
    for index, n in enumerate(alone.h.counts):
        if n:
            expected.h.record_value(alone.h.get_value_from_index(index), n)
    w, e = window.h, expected.h
    assert list(w.counts) == list(e.counts) == list(alone.h.counts)
    assert (w.total_count, w.min_value, w.max_value) == (e.total_count, e.min_value, e.max_value)
    assert window.summary() == alone.summary()
    assert window.negative == alone.negative
