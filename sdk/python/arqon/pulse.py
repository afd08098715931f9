"""What a subscription, a request or a history read hands back: a ``Pulse``, and what an
acknowledged publish returns: a ``PublishAck``."""

from __future__ import annotations

import json as _json
from typing import Any, NamedTuple


class PublishAck(NamedTuple):
    """The node's answer to an acknowledged publish."""

    #: The pulse's id (UUIDv7) assigned by the node.
    id: str
    #: Its sequence in its reality (starts at 1, no gaps).
    sequence: int
    #: The reality it was published in.
    reality: str


class Pulse:
    """One message as the node stamped it. Wraps the decoded protobuf ``Pulse`` (``.raw``)
    and reads its fields on demand, so a subscriber that looks only at ``payload`` pays for
    nothing else."""

    __slots__ = ("raw",)

    def __init__(self, raw: Any) -> None:
        #: The decoded ``arqon.v1.Pulse`` protobuf message.
        self.raw = raw

    @property
    def topic(self) -> str:
        """`domain.subdomain.verb` topic."""
        return self.raw.topic

    @property
    def sequence(self) -> int:
        """Sequence in its reality."""
        return self.raw.sequence

    @property
    def payload(self) -> bytes:
        """The payload bytes."""
        return self.raw.payload

    @property
    def id(self) -> str:
        """UUIDv7 assigned by the node."""
        return self.raw.id

    @property
    def reality(self) -> str:
        """The reality (namespace) it belongs to."""
        return self.raw.reality_id or "default"

    @property
    def producer(self) -> str:
        """The producer's identity as the node authenticated it."""
        return self.raw.producer_id

    @property
    def content_type(self) -> str:
        """MIME type the producer set, e.g. ``application/json``."""
        return self.raw.content_type

    @property
    def headers(self) -> dict[str, str]:
        """Application headers."""
        return dict(self.raw.headers)

    @property
    def reply_to(self) -> str:
        """For a request: the topic its reply goes to (see ``Bus.reply``)."""
        return self.raw.reply_to

    @property
    def time_ms(self) -> int:
        """HLC wall time the node stamped, ms since the epoch."""
        return self.raw.timestamp.wall_ms

    def text(self) -> str:
        """The payload decoded as UTF-8."""
        return self.raw.payload.decode()

    def json(self) -> Any:
        """The payload parsed as JSON."""
        return _json.loads(self.raw.payload)

    def __repr__(self) -> str:
        return (
            f"Pulse(topic={self.topic!r}, sequence={self.sequence}, "
            f"reality={self.reality!r}, payload={len(self.payload)} bytes)"
        )
