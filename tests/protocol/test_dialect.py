import pytest

from harness.errors import UsageError
from harness.protocol.dialect import DEFAULT_DIALECT, load_profile


def test_defaults_follow_protocol_md() -> None:
    d = DEFAULT_DIALECT
    assert (d.path, d.key_header, d.confirmation_text, d.new_sentence_state) == (
        "/asrx",
        "apikey",
        "Confirm Close Connection",
        "NewSentence",
    )
    assert d.end_of_stream_message() == '{"data": {"status": "CloseConnection"}}'


def test_profile_overrides(tmp_path) -> None:
    p = tmp_path / "p.toml"
    p.write_text(
        '[dialect]\nkey_header = "x-api-key"\n'
        'end_of_stream = \'{"data": {"status": "end of stream"}}\'\n'
        'allowed_states = ["NewSentence", ""]\n'
    )
    d = load_profile(p)
    assert d.key_header == "x-api-key"
    assert d.is_end_of_stream({"data": {"status": "end of stream"}})
    assert d.allowed_states == frozenset({"NewSentence", ""})


@pytest.mark.parametrize(
    "body, message",
    [
        ("[dialect]\nbogus = 1\n", "unknown dialect field"),
        ("[dialect\n", "not valid TOML"),
        ('[dialect]\nend_of_stream = "{nope"\n', "end_of_stream is not JSON"),
        ('[dialect]\npath = "asrx"\n', "path must start with '/'"),
        ("[dialect]\nallowed_states = [1]\n", "allowed_states must be a list of strings"),
    ],
)
def test_bad_profiles_are_one_line_usage_errors(tmp_path, body: str, message: str) -> None:
    p = tmp_path / "p.toml"
    p.write_text(body)
    with pytest.raises(UsageError, match=message) as info:
        load_profile(p)
    assert "\n" not in str(info.value)


def test_missing_profile(tmp_path) -> None:
    with pytest.raises(UsageError, match="cannot read profile"):
        load_profile(tmp_path / "absent.toml")
