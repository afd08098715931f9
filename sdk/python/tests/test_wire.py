"""The hand-written hot-path encoders against the protobuf module generated from
arqon.proto, and the faster WebSocket masking against websockets' own."""

from __future__ import annotations

import os

import websockets.utils

from arqon import _mask
from arqon._wire import PublishEncoder, batch_message, entry, frame_of, pb, varint


def test_varint_matches_protobuf() -> None:
    from google.protobuf.internal.encoder import _VarintBytes  # type: ignore[attr-defined]

    for n in [0, 1, 127, 128, 300, 16383, 16384, 2097151, 2097152, 2**35 + 7, 2**63 - 1]:
        assert varint(n) == _VarintBytes(n), n


def test_publish_entries_decode_as_the_schema_says() -> None:
    enc = PublishEncoder()
    cases = [
        (1, 1, "a.b", "", "", b"x" * 1024),
        (300, 2, "orders.eu.created", "lab", "application/json", b'{"a":1}'),
        (0, 0, "fire.and.forget", "", "text/plain", b"abc"),
        (2**40, 1, "big.id", "r", "", b"y" * 70000),
        (7, 1, "empty.payload", "", "", b""),
    ]
    for _ in range(2):  # the second round takes the cached heads
        for cid, ack, topic, reality, ctype, payload in cases:
            got = pb.Frame.FromString(frame_of(enc.entry(cid, ack, topic, reality, ctype, payload)))
            want = pb.Frame(publish=pb.Publish(correlation_id=cid, ack=ack, pulse=pb.Pulse(
                topic=topic, reality_id=reality, content_type=ctype, payload=payload)))
            assert got == want, (cid, topic)
            if payload:  # byte-identical to the reference encoder (it omits empty bytes)
                assert frame_of(enc.entry(cid, ack, topic, reality, ctype, payload)) == \
                    want.SerializeToString()


def test_batch_message_is_a_batch_frame() -> None:
    frames = [pb.Frame(ping=pb.Ping(nonce=i)).SerializeToString() for i in range(1, 300)]
    got = pb.Frame.FromString(batch_message([entry(f) for f in frames]))
    assert [f.ping.nonce for f in got.batch.frames] == list(range(1, 300))
    single = batch_message([entry(frames[0])])
    assert single == frames[0], "one frame leaves as is, not as a batch of one"


def test_fast_mask_equals_websockets_mask() -> None:
    for n in [0, 1, 3, 63, 64, 65, 1024, 1027, 256 * 1024 + 3]:
        data = os.urandom(n)
        key = os.urandom(4)
        assert bytes(_mask.apply_mask(data, key)) == websockets.utils.apply_mask(data, key), n
