"""``Wire`` against websockets' Sans-I/O server, in memory: bytes in, events out."""

from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol

from harness.client.target import Target, connect_error
from harness.errors import ConnectFailed
from harness.protocol.ending import SessionEnd, Wait
from harness.protocol.events import Confirmation, Finding, Transcript
from harness.protocol.session import ClientSession
from harness.protocol.wire import Wire
from harness.timeouts import Timeouts


def pair(max_bytes: int = 1 << 20) -> tuple[Wire, ServerProtocol]:
    wire = Wire(ClientSession(), "ws://127.0.0.1:1/asrx", {"apikey": "k"}, max_bytes)
    wire.connect(0.0)
    server = ServerProtocol()
    server.receive_data(b"".join(wire.data_to_send()))
    (request,) = server.events_received()
    assert isinstance(request, Request) and request.headers["apikey"] == "k"
    server.send_response(server.accept(request))
    wire.receive_data(b"".join(server.data_to_send()), 0.01)
    assert wire.opened and wire.handshake_failure(eof=False) is None
    return wire, server


def deliver(server: ServerProtocol, wire: Wire, at: float = 1.0) -> list[object]:
    return list(wire.receive_data(b"".join(server.data_to_send()), at))


def test_fragments_are_assembled_before_decoding() -> None:
    wire, server = pair()
    data = '{"text": "caf\u00e9", "state": "NewSentence"}'.encode()
    cut = data.index(b"\xc3") + 1  # split inside the two bytes of é
    server.send_text(data[:cut], fin=False)
    server.send_continuation(data[cut:], fin=True)
    assert deliver(server, wire) == [Transcript("caf\u00e9", "NewSentence", True)]


def test_invalid_utf8_fails_the_connection_with_1007_and_reads_no_further() -> None:
    wire, server = pair()
    server.send_text(b'{"text": "\xff", "state": ""}')
    server.send_text(b'{"text": "after", "state": ""}')
    events = deliver(server, wire)
    assert [e.rule for e in events if isinstance(e, Finding)] == ["3.utf8"]
    assert not any(isinstance(e, Transcript) for e in events)
    assert wire.failure is SessionEnd.INVALID_UTF8 and not wire.can_send
    server.receive_data(b"".join(wire.data_to_send()))
    (close,) = server.events_received()
    assert isinstance(close, Frame) and close.opcode is Opcode.CLOSE
    assert close.data[:2] == (1007).to_bytes(2, "big")


def test_a_message_over_the_limit_is_refused_across_fragments() -> None:
    wire, server = pair(max_bytes=100)
    server.send_text(b'{"text": "' + b"a" * 60, fin=False)
    server.send_continuation(b"a" * 60, fin=True)
    events = deliver(server, wire)
    assert [e.rule for e in events if isinstance(e, Finding)] == ["3.size"]
    assert wire.failure is SessionEnd.MESSAGE_TOO_BIG


def test_a_malformed_frame_is_a_websocket_finding() -> None:
    wire, server = pair()
    bad = Frame(Opcode.TEXT, b"{}").serialize(mask=True, extensions=[])  # servers must not mask
    events = wire.receive_data(bad, 1.0)
    assert [e.rule for e in events if isinstance(e, Finding)] == ["3.websocket"]
    wire.receive_eof(2.0)
    assert wire.result(Timeouts()).end is SessionEnd.WEBSOCKET_ERROR


def test_the_closing_sequence_is_named_by_the_wire() -> None:
    wire, server = pair()
    assert wire.next_wait() is None  # still streaming
    wire.send_end_of_stream(2.0)
    assert wire.next_wait() is Wait.CONFIRM and not wire.wait_over(Wait.CONFIRM)
    server.send_text(b'{"text": "Confirm Close Connection", "state": ""}')
    assert deliver(server, wire, 2.5) == [Confirmation("")]
    assert wire.wait_over(Wait.CONFIRM) and wire.next_wait() is Wait.CLOSE
    server.send_close(1000)
    deliver(server, wire, 2.6)  # the session closes at the close frame, before the TCP end
    assert wire.next_wait() is None and wire.session.timeline.closed_at == 2.6
    result = wire.result(Timeouts())
    assert result.end is SessionEnd.COMPLETED and result.completed and result.error is None
    assert wire.data_to_send()  # the close echo is queued for the adapter to write


def test_leaving_an_open_session_is_not_held_against_the_server() -> None:
    wire, server = pair()
    wire.abandon()
    server.receive_data(b"".join(wire.data_to_send()))
    (close,) = server.events_received()
    assert isinstance(close, Frame) and close.data[:2] == (1000).to_bytes(2, "big")
    wire.receive_eof(3.0)
    result = wire.result(Timeouts())
    assert result.end is SessionEnd.ABANDONED and result.findings == []


def test_eof_before_the_response_is_a_connect_failure() -> None:
    target = Target("ws://127.0.0.1:1/asrx")
    wire = Wire(ClientSession(), target.url, {}, 1 << 20)
    wire.connect(0.0)
    wire.receive_eof(0.1)
    failure = wire.handshake_failure(eof=True)
    assert failure is not None and not wire.opened
    error = connect_error(failure, target)
    assert isinstance(error, ConnectFailed) and "127.0.0.1:1" in str(error)
