"""The apikey is removed where it stands, and nothing else is rewritten."""

from __future__ import annotations

import io
import logging

import pytest
from websockets.client import ClientProtocol
from websockets.uri import parse_uri

from harness.redaction import (
    REDACTED,
    RedactingFilter,
    Redactor,
    install_log_filter,
    redact,
)


def test_a_one_letter_key_leaves_other_words_intact() -> None:
    r = Redactor(["s"])
    assert r.text("wss://127.0.0.1:1/asrx") == "wss://127.0.0.1:1/asrx"
    assert r.url("wss://127.0.0.1:1/asrx") == "wss://127.0.0.1:1/asrx"
    assert r.text("sessions: 3 s, apikey s.") == "sessions: 3 ***, apikey ***."


def test_a_key_inside_a_longer_token_is_another_word() -> None:
    r = Redactor(["abc"])
    assert r.text("abcd xabc a-abc abc.def abc_1") == "abcd xabc a-abc abc.def abc_1"
    assert (
        r.text("key 'abc' (abc) =abc, abc.")
        == f"key '{REDACTED}' ({REDACTED}) ={REDACTED}, {REDACTED}."
    )


def test_longest_key_first_and_percent_encoded_form() -> None:
    r = Redactor(["k1", "k1-long", "a+b/c"])
    assert r.text("k1-long k1") == f"{REDACTED} {REDACTED}"
    assert r.text("apikey=a%2Bb%2Fc") == f"apikey={REDACTED}"


def test_urls_lose_secret_query_values_and_passwords_only() -> None:
    r = Redactor(["sekrit"])
    assert (
        r.url("wss://h:9/asrx?apikey=other&lang=en") == f"wss://h:9/asrx?apikey={REDACTED}&lang=en"
    )
    assert r.url("wss://h/asrx?k=sekrit&x=1") == f"wss://h/asrx?k={REDACTED}&x=1"
    assert r.url("wss://user:pw@h/asrx") == f"wss://user:{REDACTED}@h/asrx"
    assert r.url("ws://k.example/asrx") == "ws://k.example/asrx"


def test_options_by_name_and_by_value() -> None:
    r = Redactor(["sekrit"])
    cleaned = r.options(
        {
            "asrx_apikey": "anything",
            "host": "wss://h/asrx?apikey=sekrit",
            "headless": True,
            "num_users": 4,
            "tags": ["a", "sekrit"],
            "note": "sekrit",
            "max_key_len": 5,
        }
    )
    assert cleaned == {
        "asrx_apikey": REDACTED,
        "host": f"wss://h/asrx?apikey={REDACTED}",
        "headless": True,
        "num_users": 4,
        "tags": ["a", REDACTED],
        "note": REDACTED,
        "max_key_len": 5,
    }


def test_nested_values_keep_their_structure() -> None:
    r = Redactor(["k"])
    node = {"k": ["k", "a k b", {"k": 1}], "sessions_ok": 4}
    assert r.value(node) == {"k": [REDACTED, f"a {REDACTED} b", {"k": 1}], "sessions_ok": 4}


def test_headers_by_name() -> None:
    r = Redactor([], key_headers=("X-Api-Key",))
    assert r.headers({"x-api-key": "v", "Authorization": "Bearer t", "Host": "h"}) == {
        "x-api-key": REDACTED,
        "Authorization": REDACTED,
        "Host": "h",
    }


def test_no_secret_changes_nothing() -> None:
    assert redact("wss://h/asrx", None, "") == "wss://h/asrx"
    assert Redactor().text("abc") == "abc"


def _capture(redactor: Redactor, name: str) -> tuple[logging.Logger, io.StringIO]:
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    handler.addFilter(RedactingFilter(redactor))
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger, sink


def test_websockets_debug_handshake_never_shows_the_key() -> None:
    """websockets' own client logs each request header at DEBUG: the key header is masked
    by name, even when the key is too short to be told apart in free text."""
    key = "sekrit-key-1"
    logger, sink = _capture(Redactor([key]), "test.redaction.websockets")
    proto = ClientProtocol(parse_uri("ws://127.0.0.1:1/asrx"), logger=logger)
    request = proto.connect()
    request.headers["apikey"] = key
    proto.send_request(request)
    out = sink.getvalue()
    assert "> GET /asrx HTTP/1.1" in out, out
    assert f"> apikey: {REDACTED}" in out, out
    assert key not in out


@pytest.mark.parametrize("level", [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR])
def test_every_level_and_exceptions_are_cleaned(level: int) -> None:
    logger, sink = _capture(Redactor(["sekrit"]), f"test.redaction.{level}")
    try:
        raise ValueError("bad header apikey=sekrit")
    except ValueError:
        logger.log(level, "connecting with %s to %s", "sekrit", "ws://h/asrx", exc_info=True)
    logger.log(level, "100% of sekrit")
    out = sink.getvalue()
    assert "sekrit" not in out, out
    assert f"connecting with {REDACTED} to ws://h/asrx" in out
    assert f"apikey={REDACTED}" in out and "100% of ***" in out


def test_install_puts_one_filter_on_every_handler() -> None:
    redactor = Redactor(["sekrit"])
    logger = logging.getLogger("test.redaction.install")
    handler = logging.StreamHandler(io.StringIO())
    logger.handlers[:] = [handler]
    try:
        install_log_filter(redactor, ["test.redaction.install"])
        install_log_filter(redactor, ["test.redaction.install"])
        assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
    finally:
        logger.handlers[:] = []
        for h in logging.getLogger().handlers:
            h.filters[:] = [f for f in h.filters if getattr(f, "redactor", None) is not redactor]


def test_text_around_a_url_keeps_its_tabs_and_newlines() -> None:
    r = Redactor(["k3y-value"])
    text = "line one\n\tsee wss://h:1/asrx?apikey=k3y-value\nline three\tend"
    assert r.string(text) == "line one\n\tsee wss://h:1/asrx?apikey=***\nline three\tend"


def test_an_apostrophe_joins_a_word_so_a_short_key_leaves_it_alone() -> None:
    r = Redactor(["s"])
    assert r.text("the check's verdict, the server's reply") == (
        "the check's verdict, the server's reply"
    )
    assert r.text("key: s") == "key: ***"
