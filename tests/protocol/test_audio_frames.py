"""Audio frames built by the ``Wire`` itself read, at websockets' server, as websockets' own:
every header length form, masked with a fresh key each time."""

import os

import pytest
from websockets.exceptions import InvalidState
from websockets.frames import Frame, Opcode

from harness.protocol.wire import binary_frame
from tests.protocol.test_wire import pair

SIZES = [0, 1, 125, 126, 1024, 65535, 65536, 70000]


@pytest.mark.parametrize("size", SIZES)
def test_the_server_reads_the_payload_sent(size: int) -> None:
    wire, server = pair(max_bytes=1 << 20)
    payload = os.urandom(size)
    wire.send_audio(payload)
    server.receive_data(b"".join(wire.data_to_send()))
    (frame,) = server.events_received()
    assert isinstance(frame, Frame)
    assert frame.opcode is Opcode.BINARY and frame.fin and frame.data == payload
    assert server.close_sent is None  # nothing it objected to


def test_a_long_run_of_frames_arrives_intact_with_fresh_keys() -> None:
    wire, server = pair()
    payloads = [os.urandom(1024) for _ in range(2500)]  # past one pool of keys, twice
    for p in payloads:
        wire.send_audio(p)
    data = b"".join(wire.data_to_send())
    server.receive_data(data)
    assert [f.data for f in server.events_received()] == payloads
    keys = {data[i + 4 : i + 8] for i in range(0, len(data), 1032)}  # 4-byte head, key
    assert len(keys) > 2490  # 32 random bits each: a repeat or two at most


def test_the_header_is_websockets_own() -> None:
    for size in SIZES:
        ours = binary_frame(b"\0" * size)
        theirs = Frame(Opcode.BINARY, b"\0" * size).serialize(mask=True)
        head = len(theirs) - size - 4
        assert len(ours) == len(theirs) and ours[:head] == theirs[:head]
        assert ours[head + 4 :] == ours[head : head + 4] * (size // 4) + ours[head:][: size % 4]


def test_once_closed_no_audio_frame_is_queued() -> None:
    wire, _ = pair()
    wire.abandon()
    assert not wire.can_send_audio
    with pytest.raises(InvalidState):
        wire.send_audio(b"\0" * 1024)
