import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.protocol.session import ClientSession
from harness.protocol.state import (
    SERVER_INPUTS,
    TRANSITIONS,
    Input,
    LocalProtocolError,
    State,
    transition,
)


def test_server_inputs_are_legal_in_every_state() -> None:
    for state in State:
        for inp in SERVER_INPUTS:
            assert (state, inp) in TRANSITIONS, f"{inp} missing in {state}"


def test_client_input_outside_the_table_raises() -> None:
    with pytest.raises(LocalProtocolError):
        transition(State.CLOSED, Input.AUDIO_SENT)
    with pytest.raises(LocalProtocolError):
        transition(State.CONNECTING, Input.END_OF_STREAM_SENT)


def test_happy_path() -> None:
    s = State.CONNECTING
    for inp, expected in [
        (Input.OPENED, State.STREAMING),
        (Input.AUDIO_SENT, State.STREAMING),
        (Input.TRANSCRIPT, State.STREAMING),
        (Input.END_OF_STREAM_SENT, State.CLOSING),
        (Input.TRANSCRIPT, State.CLOSING),
        (Input.CONFIRMATION, State.CONFIRMED),
        (Input.CLOSED, State.CLOSED),
    ]:
        s, rule = transition(s, inp)
        assert (s, rule) == (expected, None)


server_messages = st.sampled_from(
    [
        '{"text": "a", "state": ""}',
        '{"text": "b", "state": "NewSentence"}',
        '{"text": "Confirm Close Connection", "state": ""}',
        '{"text": 1}',
        "garbage",
        b"\x00",
    ]
)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("recv"), server_messages),
        st.tuples(st.just("audio"), st.integers(1, 4096)),
        st.tuples(st.just("eos"), st.none()),
        st.tuples(st.just("close"), st.sampled_from([None, 1000, 1006, 1011, 4001])),
    ),
    max_size=40,
)


@given(steps)
def test_any_sequence_stays_in_the_table(seq: list[tuple[str, object]]) -> None:
    """Server-caused inputs never raise; the session only ever holds table states."""
    session = ClientSession()
    session.connect_started(0.0)
    session.opened(0.01)
    t = 0.01
    for kind, arg in seq:
        t += 0.01
        if kind == "recv":
            session.receive(arg, t)  # type: ignore[arg-type]
        elif kind == "close":
            session.closed(t, arg)  # type: ignore[arg-type]
        else:
            inp = Input.AUDIO_SENT if kind == "audio" else Input.END_OF_STREAM_SENT
            if (session.state, inp) not in TRANSITIONS:
                continue  # an adapter never does this; covered by the raising test above
            if kind == "audio":
                session.frame_sent(arg, t, t)  # type: ignore[arg-type]
            else:
                session.end_of_stream(t)
        assert session.state in State
        assert any(session.state == to for (_, _), (to, _) in TRANSITIONS.items())


def test_transcript_after_confirmation_is_a_finding() -> None:
    s = ClientSession()
    s.opened(0)
    s.end_of_stream(1)
    s.receive('{"text": "Confirm Close Connection", "state": ""}', 2)
    s.receive('{"text": "late", "state": ""}', 3)
    assert [f.rule for f in s.findings] == ["4.nothing-after-confirm"]


def test_close_code_other_than_1000_after_confirmation() -> None:
    s = ClientSession()
    s.opened(0)
    s.end_of_stream(1)
    s.receive('{"text": "Confirm Close Connection", "state": ""}', 2)
    s.closed(3, 1011)
    assert [f.rule for f in s.findings] == ["4.close-1000"]
