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


def test_numpy_and_translate_masks_both_equal_websockets_mask() -> None:
    # Each path on its own (apply_mask takes the NumPy one when NumPy is importable).
    for n in [64, 65, 66, 67, 1024, 4099, 256 * 1024 + 1]:
        data = os.urandom(n)
        key = os.urandom(4)
        want = websockets.utils.apply_mask(data, key)
        if _mask._np is not None:
            assert bytes(_mask._numpy_mask(data, key)) == want, n
        saved = _mask._np
        _mask._np = None  # the bytes.translate lanes
        try:
            assert bytes(_mask.apply_mask(data, key)) == want, n
        finally:
            _mask._np = saved


def _ack_frame(cid: int, pid: str, seq: int, reality: str) -> bytes:
    return pb.Frame(ack=pb.Ack(correlation_id=cid, id=pid, sequence=seq, reality_id=reality)) \
        .SerializeToString()


def test_ack_batches_read_from_bytes_settle_as_the_schema_says() -> None:
    import asyncio

    from arqon._acks import settle_batch
    from arqon._inbound import Inbound, Pending
    from arqon.pulse import PublishAck

    loop = asyncio.new_event_loop()
    try:
        cases = [  # small and multi-byte varints, empty (omitted) fields, long ids
            (1, "019a-1", 1, "default"),
            (127, "x", 128, "lab"),
            (128, "", 16384, ""),
            (16383, "y", 2**21 - 1, "default"),
            (2**21 + 5, "i" * 200, 2**40, "r" * 130),
            (9, "same", 0, "default"),
        ]
        ping = pb.Frame(ping=pb.Ping(nonce=7)).SerializeToString()
        frames = [_ack_frame(*c) for c in cases]
        msg = batch_message([entry(f) for f in frames[:2] + [ping] + frames[2:]])
        # Through the bus's inbound router: every ack settled with the schema's values,
        # the ping in the middle answered.
        pending = Pending()
        for c in cases:
            pending.acks[c[0]] = loop.create_future()
        futures = dict(pending.acks)
        pending.acks[424242] = loop.create_future()  # never answered
        sent: list[bytes] = []
        errors: list[object] = []
        Inbound(pending, {}, sent.append, errors.append).message(msg)
        assert list(pending.acks) == [424242], "each answered ack is taken out"
        for f, (cid, pid, seq, reality) in zip(frames, cases):
            a = pb.Frame.FromString(f).ack  # what the generated module reads
            assert futures[cid].result() == PublishAck(a.id, a.sequence, a.reality_id) \
                == (pid, seq, reality), cid
        assert errors == []
        assert [frame_of(e) for e in sent] == [pb.Frame(pong=pb.Pong(nonce=7)).SerializeToString()]
        # The reader alone: small acks settle from the bytes, the rest pass through as bytes.
        acks = {c[0]: loop.create_future() for c in cases}
        seen: list[bytes] = []
        assert settle_batch(msg, acks, seen.append, {})
        assert seen == [ping, frames[4]], "other frames (and an ack over 127 bytes), in order"
        # Unknown ack fields go to the generic path whole.
        body = b"\x08\x03\x28\x01"  # correlation_id 3, then a field 5 this SDK does not know
        unknown = b"\x22" + bytes([len(body)]) + body
        assert pb.Frame.FromString(unknown).ack.correlation_id == 3
        seen.clear()
        assert settle_batch(batch_message([entry(unknown), entry(frames[0])]), {}, seen.append, {})
        assert seen == [unknown]
        # Broken framing: the rest of the batch goes to the generic decoder, which reports it.
        errors.clear()
        bad = b"\x72\x04\x0a\x05\x22\x00"  # an entry claiming 5 bytes where 2 remain
        Inbound(Pending(), {}, sent.append, errors.append).message(bad)
        assert [type(e).__name__ for e in errors][-1] == "InvalidFrame"
        assert not settle_batch(frames[0], {}, seen.append, {}), "not a batch"
    finally:
        loop.close()
