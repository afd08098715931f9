"""The wire: the generated protobuf module and the hand-written encoders of the hot path.

Every frame is a ``arqon.v1.Frame`` (runtime/protocol/arqon.proto). The module ``pb`` is
generated at build time by ``protoc --python_out`` (scripts/build_python.ts), never kept by
hand. Publishes, the SDK's hot path, are encoded by hand (a handful of bytes around the
payload, one copy of it) because building a protobuf message object per publish costs
several times more; ``tests/test_wire.py`` checks these bytes against ``pb`` itself.
"""

from __future__ import annotations

try:
    from ._proto import arqon_pb2 as pb
except ImportError as e:  # pragma: no cover - a build step was skipped
    raise ImportError(
        "arqon: the protobuf module is generated at build time; run `deno task build` "
        "(needs protoc: apt-get install protobuf-compiler)"
    ) from e

#: The WebSocket subprotocol of binary protobuf frames.
SUBPROTOCOL = "arqon.v1.proto"
#: The protocol version this SDK speaks.
PROTOCOL_VERSION = 1

ACK_MODES = {"none": 0, "received": 1, "durable": 2}

# One-byte varints, prebuilt: most lengths of topics, ids and ack modes are below 128.
_SMALL = [bytes((i,)) for i in range(128)]


def varint(n: int) -> bytes:
    """The protobuf base-128 varint of a non-negative integer."""
    if n < 128:
        return _SMALL[n]
    if n < 16384:
        return bytes(((n & 0x7F) | 0x80, n >> 7))
    if n < 2097152:
        return bytes(((n & 0x7F) | 0x80, ((n >> 7) & 0x7F) | 0x80, n >> 14))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def pulse_prefix(topic: str, reality: str, content_type: str) -> bytes:
    """The Pulse fields before the payload: topic (3), reality_id (5), content_type (10)."""
    t = topic.encode()
    out = b"\x1a" + varint(len(t)) + t
    if reality:
        r = reality.encode()
        out += b"\x2a" + varint(len(r)) + r
    if content_type:
        c = content_type.encode()
        out += b"\x52" + varint(len(c)) + c
    return out


# The outbox holds *batch entries*: a frame already wrapped as `Batch.frames` (field 1),
# so coalescing publishes into one batch message is a single join with no per-frame work.


def entry(frame: bytes) -> bytes:
    """A frame as an entry of ``Batch.frames``."""
    return b"\x0a" + varint(len(frame)) + frame


def frame_of(e: bytes) -> bytes:
    """The frame inside a batch entry."""
    i = 1
    while e[i] & 0x80:
        i += 1
    return e[i + 1:]


class PublishEncoder:
    """Builds publish entries, ``Frame{publish: Publish{correlation_id, ack, pulse}}``,
    with everything but the correlation id and the payload cached per (topic, reality,
    content type, payload size, ack): a stream of publishes costs one varint and one join
    (the payload is copied once)."""

    def __init__(self) -> None:
        self._heads: dict[tuple[str, str, str, int, int, int], tuple[bytes, bytes]] = {}

    def entry(
        self, cid: int, ack: int, topic: str, reality: str, content_type: str, payload: bytes
    ) -> bytes:
        """The batch entry of one publish (``cid`` 0 only with ``ack`` 0)."""
        vc = varint(cid) if cid else b""
        n = len(payload)
        key = (topic, reality, content_type, n, ack, len(vc))
        parts = self._heads.get(key)
        if parts is None:
            if len(self._heads) > 4096:
                self._heads.clear()
            parts = self._heads[key] = self._parts(topic, reality, content_type, n, ack, cid)
        return b"".join((parts[0], vc, parts[1], payload))

    @staticmethod
    def _parts(
        topic: str, reality: str, content_type: str, n: int, ack: int, cid: int
    ) -> tuple[bytes, bytes]:
        body = pulse_prefix(topic, reality, content_type) + b"\x5a" + varint(n)
        pulse_len = len(body) + n
        # Publish: [0x08 cid] [0x10 ack] 0x1a len(pulse) pulse
        tail = (b"\x10" + _SMALL[ack] if ack else b"") + b"\x1a" + varint(pulse_len) + body
        cid_len = 1 + len(varint(cid)) if cid else 0
        pub_len = cid_len + len(tail) + n
        frame_head = b"\x1a" + varint(pub_len)
        frame_len = len(frame_head) + pub_len
        head = b"\x0a" + varint(frame_len) + frame_head + (b"\x08" if cid else b"")
        return head, tail


def publish_frame(correlation_id: int, ack: int, topic: str, payload: bytes) -> bytes:
    """One publish frame (for tests and one-offs; the bus uses ``PublishEncoder``)."""
    return frame_of(PublishEncoder().entry(correlation_id, ack, topic, "", "", payload))


def batch_message(entries: list[bytes]) -> bytes:
    """One transport message: a single frame as is, several as ``Frame{batch}``."""
    if len(entries) == 1:
        return frame_of(entries[0])
    size = 0
    for e in entries:
        size += len(e)
    return b"".join((b"\x72", varint(size), *entries))


def encode(**kind: object) -> bytes:
    """A frame from protobuf messages, e.g. ``encode(ping=pb.Ping(nonce=1))``."""
    return pb.Frame(**kind).SerializeToString()  # type: ignore[arg-type]


def encode_entry(**kind: object) -> bytes:
    """``encode`` as a batch entry, for the outbox."""
    return entry(pb.Frame(**kind).SerializeToString())  # type: ignore[arg-type]
