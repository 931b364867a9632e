import json

from hypothesis import given
from hypothesis import strategies as st

from harness.protocol.dialect import DEFAULT_DIALECT, Dialect
from harness.protocol.events import Confirmation, Finding, Transcript
from harness.protocol.messages import (
    STATE_CONFIRM,
    encode,
    error_object,
    parse_server_message,
    transcript,
    wire_object,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
payloads = (
    st.binary(max_size=64)
    | st.text(max_size=64)
    | json_values.map(json.dumps)
    | st.fixed_dictionaries({"text": json_values, "state": json_values}).map(json.dumps)
    | st.fixed_dictionaries(
        {"text": st.text(), "state": st.sampled_from(["", "NewSentence", "x"])}
    ).map(json.dumps)
)


def rules(events):
    return [e.rule for e in events if isinstance(e, Finding)]


def test_well_formed_transcript() -> None:
    assert parse_server_message('{"text": "hello", "state": "NewSentence"}', DEFAULT_DIALECT) == [
        Transcript("hello", "NewSentence", True)
    ]


def test_confirmation_is_recognised_by_exact_text() -> None:
    events = parse_server_message(
        '{"text": "Confirm Close Connection", "state": ""}', DEFAULT_DIALECT
    )
    assert events == [Confirmation("")]


def test_binary_frame_is_a_finding() -> None:
    assert rules(parse_server_message(b"\x00\x01", DEFAULT_DIALECT)) == ["3.text-frame"]


def test_non_json_and_non_object() -> None:
    assert rules(parse_server_message("not json", DEFAULT_DIALECT)) == ["3.json"]
    assert rules(parse_server_message("[1, 2]", DEFAULT_DIALECT)) == ["3.object"]


def test_text_not_string_and_state_missing() -> None:
    assert rules(parse_server_message('{"text": 5, "state": ""}', DEFAULT_DIALECT)) == ["3.text"]
    events = parse_server_message('{"text": "hi"}', DEFAULT_DIALECT)
    assert rules(events) == ["3.state"]
    # the transcript is still delivered, so a client shows what the server said
    assert Transcript("hi", "", False) in events


def test_allowed_states_from_profile() -> None:
    d = Dialect(allowed_states=frozenset({"NewSentence", "Sentence"}))
    assert rules(parse_server_message('{"text": "a", "state": "Weird"}', d)) == ["3.state-allowed"]
    assert rules(parse_server_message('{"text": "a", "state": "Sentence"}', d)) == []


@given(payloads)
def test_any_payload_yields_events_or_findings_and_never_raises(payload: str | bytes) -> None:
    events = parse_server_message(payload, DEFAULT_DIALECT)
    assert events, "every payload yields at least one event or finding"
    assert all(isinstance(e, Transcript | Confirmation | Finding) for e in events)


# --- one schema: what the server encodes is what the client parses ----------------------
@given(text=st.text(max_size=200), new=st.booleans())
def test_encoded_transcript_parses_back_to_the_same_event(text: str, new: bool) -> None:
    if text == DEFAULT_DIALECT.confirmation_text:
        text += "."
    event = transcript(text, new_sentence=new, dialect=DEFAULT_DIALECT)
    assert parse_server_message(encode(wire_object(event, DEFAULT_DIALECT)), DEFAULT_DIALECT) == [
        event
    ]


def test_encoded_confirmation_and_error_reply_parse_without_findings() -> None:
    confirm = Confirmation(state=STATE_CONFIRM)
    assert parse_server_message(encode(wire_object(confirm, DEFAULT_DIALECT)), DEFAULT_DIALECT) == [
        confirm
    ]
    events = parse_server_message(encode(error_object("bad frame")), DEFAULT_DIALECT)
    assert [type(e) for e in events] == [Transcript] and events[0].text == ""


# --- leniency where the public text is silent (docs/protocol.md §3) --------------------------
def test_confirmation_without_state_is_non_strict() -> None:
    for payload in (
        '{"text": "Confirm Close Connection"}',
        '{"text": "Confirm Close Connection", "state": 3}',
    ):
        events = parse_server_message(payload, DEFAULT_DIALECT)
        (finding,) = [e for e in events if isinstance(e, Finding)]
        assert finding.rule == "3.state" and finding.strict_only
        assert Confirmation("") in events


def test_transcript_without_state_is_still_a_failure() -> None:
    events = parse_server_message('{"text": "hello"}', DEFAULT_DIALECT)
    (finding,) = [e for e in events if isinstance(e, Finding)]
    assert finding.rule == "3.state" and not finding.strict_only


def test_confirmation_state_outside_the_profile_is_non_strict() -> None:
    d = Dialect(allowed_states=frozenset({"NewSentence", "Sentence"}))
    events = parse_server_message('{"text": "Confirm Close Connection", "state": ""}', d)
    assert [(e.rule, e.strict_only) for e in events if isinstance(e, Finding)] == [
        ("3.state-allowed", True)
    ]
