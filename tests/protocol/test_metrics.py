import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.protocol.metrics import percentile, session_metrics, summarize
from harness.protocol.pacing import FrameSchedule
from harness.protocol.session import ClientSession

FRAME = 1024  # 32 ms


def scripted_session() -> ClientSession:
    """100 frames (3.2 s), sent 1 ms late each; two sentences; confirmation at 3.5 s."""
    s = ClientSession()
    s.connect_started(-0.010)
    s.opened(0.0)
    for k in range(100):
        s.frame_sent(FRAME, k * 0.032, k * 0.032 + 0.001)
    s.receive('{"text": "hel", "state": ""}', 0.5)
    s.receive('{"text": "hello", "state": ""}', 1.4)
    s.receive('{"text": "wor", "state": "NewSentence"}', 2.0)
    s.end_of_stream(3.3)
    s.receive('{"text": "world", "state": ""}', 3.4)
    s.receive('{"text": "Confirm Close Connection", "state": ""}', 3.5)
    s.closed(3.6, 1000)
    return s


def test_latencies_follow_protocol_section_5() -> None:
    m = session_metrics(scripted_session().timeline, [(320.0, 960.0), (1600.0, 3200.0)])
    assert m.connect_ms == pytest.approx(10.0)
    # first partial of sentence 1: 0.5 s minus W(320 ms) = frame 10 sent at 0.321 s
    assert m.first_partial_ms[0] == pytest.approx(179.0)
    # sentence 2 opens at 2.0 s; W(1600 ms) = frame 50 at 1.601 s
    assert m.first_partial_ms[1] == pytest.approx(399.0)
    # final of sentence 1 at 1.4 s (the message before NewSentence); W(960 ms) = 0.961 s
    assert m.sentence_ms[0] == pytest.approx(439.0)
    # the end of the audio maps to the last frame: W = 99 * 0.032 + 0.001
    assert m.sentence_ms[1] == pytest.approx((3.4 - 3.169) * 1000)
    assert m.close_ms == pytest.approx(200.0)
    assert m.sentences == ["hello", "world"]
    assert m.segmentation_mismatch is False
    assert max(m.lateness_ms) == pytest.approx(1.0)


def test_sentence_latency_undefined_on_segmentation_mismatch() -> None:
    m = session_metrics(scripted_session().timeline, [(320.0, 3200.0)])
    assert m.segmentation_mismatch is True
    assert m.sentence_ms == []
    assert len(m.first_partial_ms) == 1


def test_first_message_carrying_new_sentence_opens_the_first_sentence() -> None:
    s = ClientSession()
    s.opened(0)
    s.receive('{"text": "a", "state": "NewSentence"}', 1)
    s.receive('{"text": "ab", "state": ""}', 2)
    assert [x.final_text for x in s.timeline.sentences()] == ["ab"]


def test_percentiles_nearest_rank() -> None:
    data = list(range(1, 101))
    assert percentile(data, 50) == 50
    assert percentile(data, 99) == 99
    s = summarize([*data, None])
    assert (s.count, s.p90, s.p95, s.max) == (100, 90, 95, 100)
    assert summarize([]).p50 is None


@given(st.lists(st.floats(-1e6, 1e6), min_size=1), st.floats(0.1, 100))
def test_percentile_is_a_member_and_monotone(values: list[float], p: float) -> None:
    v = percentile(values, p)
    assert v in values
    assert percentile(values, min(100.0, p + 5)) >= v  # type: ignore[operator]


def test_schedule_absolute_deadlines() -> None:
    schedule = FrameSchedule(t0=100.0, speed=2.0)
    # each frame is due from t0 and its offset, whatever the clock says (no drift)
    assert schedule.next(1024, now=500.0) == 100.0
    assert schedule.next(1023, now=500.0) == pytest.approx(100.0 + 0.016)
    assert schedule.next(2, now=0.0) == pytest.approx(100.0 + 2047 / 64000)
    for _ in range(997):
        schedule.next(1024, now=0.0)
    assert schedule.next(1024, now=0.0) == pytest.approx(100.0 + (2049 + 997 * 1024) / 64000)
    with pytest.raises(ValueError):
        FrameSchedule(0.0, speed=0)


def test_unpaced_schedule_is_due_at_once() -> None:
    schedule = FrameSchedule(t0=100.0, speed=None)
    assert schedule.next(1024, now=250.0) == 250.0
    assert schedule.next(65536, now=251.0) == 251.0
