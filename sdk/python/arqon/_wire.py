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
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def pulse_prefix(topic: str, reality: str, content_type: str) -> bytes:
    """The Pulse fields before the payload: topic (3), reality_id (5), content_type (10).
    Cached per (topic, reality, content type) by the publisher: it is the same for a
    stream of publishes."""
    t = topic.encode()
    out = b"\x1a" + varint(len(t)) + t
    if reality:
        r = reality.encode()
        out += b"\x2a" + varint(len(r)) + r
    if content_type:
        c = content_type.encode()
        out += b"\x52" + varint(len(c)) + c
    return out


def publish_frame(correlation_id: int, ack: int, prefix: bytes, payload: bytes) -> bytes:
    """``Frame{publish: Publish{correlation_id, ack, pulse: <prefix> + payload (11)}}``,
    in one join (the payload is copied once)."""
    n = len(payload)
    vn = varint(n)
    pulse_len = len(prefix) + 1 + len(vn) + n
    vp = varint(pulse_len)
    if correlation_id and ack:
        vc = varint(correlation_id)
        pub_len = 4 + len(vc) + len(vp) + pulse_len
        return b"".join((
            b"\x1a", varint(pub_len), b"\x08", vc, b"\x10", _SMALL[ack],
            b"\x1a", vp, prefix, b"\x5a", vn, payload,
        ))
    head = (b"\x08" + varint(correlation_id) if correlation_id else b"") + (
        b"\x10" + _SMALL[ack] if ack else b""
    )
    pub_len = len(head) + 1 + len(vp) + pulse_len
    return b"".join((b"\x1a", varint(pub_len), head, b"\x1a", vp, prefix, b"\x5a", vn, payload))


def batch_message(frames: list[bytes]) -> bytes:
    """One transport message: a single frame as is, several as ``Frame{batch}``."""
    if len(frames) == 1:
        return frames[0]
    parts: list[bytes] = []
    size = 0
    for f in frames:
        n = len(f)
        v = varint(n)
        parts.append(b"\x0a")
        parts.append(v)
        parts.append(f)
        size += 1 + len(v) + n
    return b"".join((b"\x72", varint(size), *parts))


def encode(**kind: object) -> bytes:
    """A frame from protobuf messages, e.g. ``encode(ping=pb.Ping(nonce=1))``."""
    return pb.Frame(**kind).SerializeToString()  # type: ignore[arg-type]
