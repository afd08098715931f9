"""Publish acks read straight from the bytes of a batch message.

A publisher keeping thousands of publishes in flight receives as many ``Ack`` frames, which
the node coalesces into ``Frame{batch}`` messages. Decoding such a message with the
generated module builds a ``Frame`` and an ``Ack`` object per ack and then reads their
fields back through attribute lookups: measured at over half of the SDK's inbound CPU per
acked publish. This reader walks the batch bytes instead and settles each ack's future
directly; any frame in the batch that is not an ``Ack`` it does not fully understand is
handed, as bytes, to the generic path (``pb.Frame.FromString``), so nothing is lost or
guessed. ``tests/test_wire.py`` checks it against the generated module.

Wire shapes (runtime/protocol/arqon.proto):
``Frame{batch = 14 (0x72)}`` > ``Batch{frames = 1 (0x0a)}`` > ``Frame{ack = 4 (0x22)}`` >
``Ack{correlation_id = 1 (0x08), id = 2 (0x12), sequence = 3 (0x18), reality_id = 4 (0x22)}``.
"""

from __future__ import annotations

from typing import Any, Callable

from .pulse import PublishAck

_BATCH = 0x72
_ENTRY = 0x0A
_ACK = 0x22


def _varint(data: bytes, i: int) -> tuple[int, int]:
    """The varint at ``i`` and the index after it."""
    v = 0
    shift = 0
    while True:
        b = data[i]
        i += 1
        v |= (b & 0x7F) << shift
        if b < 0x80:
            return v, i
        shift += 7


_new = tuple.__new__  # PublishAck without its Python-level __new__ (one call less per ack)


def settle_batch(
    data: bytes,
    acks: dict[int, Any],
    other: Callable[[bytes], None],
    realities: dict[bytes, str],
) -> bool:
    """Settles the futures in ``acks`` answered by the batch message ``data`` and passes
    every other frame's bytes to ``other``, in order. Returns False, having done nothing,
    when ``data`` is not a batch message (the caller decodes it generically). Broken framing
    inside a batch hands the rest of it to ``other``, whose decoder reports it."""
    n = len(data)
    if n < 2 or data[0] != _BATCH:
        return False
    size, i = _varint(data, 1)
    if i + size != n:
        return False
    pop = acks.pop
    i_entry = i
    try:
        while i < n:
            i_entry = i
            if data[i] != _ENTRY:
                break
            flen = data[i + 1]
            i += 2
            if flen >= 0x80:
                flen, i = _varint(data, i - 1)
            end = i + flen
            if end > n:
                break
            start = i
            # The node's acks: 0x22 len (< 128), then correlation_id, id, sequence, reality
            # in field order; proto3 leaves out empty fields. Varints of up to 3 bytes are
            # decoded inline (each call saved counts at thousands of acks a batch).
            if data[i] == _ACK and data[i + 1] == flen - 2:
                j = i + 2
                cid = seq = 0
                pid = reality = ""
                if data[j] == 0x08:
                    cid = data[j + 1]
                    j += 2
                    if cid >= 0x80:
                        b = data[j]
                        if b < 0x80:
                            cid = (cid & 0x7F) | (b << 7)
                            j += 1
                        else:
                            b2 = data[j + 1]
                            if b2 < 0x80:
                                cid = (cid & 0x7F) | ((b & 0x7F) << 7) | (b2 << 14)
                                j += 2
                            else:
                                cid, j = _varint(data, j - 1)
                if j < end and data[j] == 0x12:
                    ln = data[j + 1]
                    if ln < 0x80:
                        pid = data[j + 2:j + 2 + ln].decode()
                        j += 2 + ln
                if j < end and data[j] == 0x18:
                    seq = data[j + 1]
                    j += 2
                    if seq >= 0x80:
                        b = data[j]
                        if b < 0x80:
                            seq = (seq & 0x7F) | (b << 7)
                            j += 1
                        else:
                            b2 = data[j + 1]
                            if b2 < 0x80:
                                seq = (seq & 0x7F) | ((b & 0x7F) << 7) | (b2 << 14)
                                j += 2
                            else:
                                seq, j = _varint(data, j - 1)
                if j < end and data[j] == 0x22:
                    ln = data[j + 1]
                    if ln < 0x80:
                        raw = data[j + 2:j + 2 + ln]
                        reality = realities.get(raw)  # type: ignore[assignment]
                        if reality is None:
                            reality = realities[raw] = raw.decode()
                        j += 2 + ln
                if j == end:
                    fut = pop(cid, None)
                    if fut is not None and not fut.done():
                        fut.set_result(_new(PublishAck, (pid, seq, reality)))
                    i = end
                    continue
            # Anything else (another kind, an unusual ack) through the generated module.
            other(data[start:end])
            i = end
    except IndexError:
        pass  # a field ran past the end: the generic decoder reports the rest below
    if i < n:
        other(data[i_entry:])
    return True
