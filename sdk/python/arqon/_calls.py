"""Request/reply, history and flush: the calls of a ``Bus`` that wait for one answer (or a
run of history chunks) matched by correlation id. A mixin of ``Bus`` (client.py), kept
apart so each file holds one concern."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ._inbound import Pending
from ._wire import encode_entry, pb
from .errors import InvalidArgument, RequestTimeout
from .pulse import Pulse
from ._stream import REPLY_HEADER, ReplyStream

Payload = bytes | bytearray | memoryview | str | dict | list


def bytes_of(payload: Payload, content_type: str) -> tuple[bytes, str]:
    if isinstance(payload, bytes):
        return payload, content_type
    if isinstance(payload, str):
        return payload.encode(), content_type
    if isinstance(payload, (bytearray, memoryview)):
        return bytes(payload), content_type
    if isinstance(payload, (dict, list)):
        return json.dumps(payload).encode(), content_type or "application/json"
    raise InvalidArgument("INVALID_ARGUMENT", f"payload of type {type(payload).__name__}")


class Calls:
    """Request/reply, history and flush over the bus's outbox and pending calls."""

    _pending: Pending
    _loop: asyncio.AbstractEventLoop

    # Provided by Bus: the outbox, a failed future, publish.
    _enqueue: Any
    _failed: Any
    publish: Any

    async def flush(self) -> None:
        """Round trip: returns once the node processed every frame sent before (a ping
        answered in order), like nats.py's ``flush()``."""
        nonce = self._pending.take_id()
        fut = self._loop.create_future()
        self._pending.calls[nonce] = fut
        self._enqueue(encode_entry(ping=pb.Ping(nonce=nonce)))
        await fut

    async def request(
        self,
        topic: str,
        payload: Payload,
        *,
        reality: str = "",
        timeout: float = 5.0,
        content_type: str = "",
        headers: dict[str, str] | None = None,
    ) -> Pulse:
        """Sends a request and returns the first reply; raises ``RequestTimeout`` after
        ``timeout`` seconds or ``NoResponders`` when nobody subscribes to ``topic``."""
        data, content_type = bytes_of(payload, content_type)
        cid = self._pending.take_id()
        fut = self._loop.create_future()
        self._pending.calls[cid] = fut
        self._enqueue(encode_entry(request=pb.Request(
            correlation_id=cid, timeout_ms=max(1, int(timeout * 1000)),
            pulse=pb.Pulse(topic=topic, reality_id=reality, payload=data,
                           content_type=content_type, headers=headers or {}),
        )))
        try:
            # The node times the request out itself; this only guards against silence.
            return await asyncio.wait_for(fut, timeout + 5.0)
        except asyncio.TimeoutError:
            self._pending.calls.pop(cid, None)
            raise RequestTimeout("TIMEOUT", f"no answer within {timeout} s") from None

    def request_stream(
        self,
        topic: str,
        payload: Payload,
        *,
        reality: str = "",
        timeout: float = 5.0,
        content_type: str = "",
        headers: dict[str, str] | None = None,
    ) -> ReplyStream:
        """Sends a streamed request and returns an async iterator over every reply until
        the responder's final one::

            async for reply in bus.request_stream("nvm.job.submit", job, timeout=10):
                print(reply.json())

        ``timeout`` is the longest wait between two replies (s). The loop raises the
        request's typed error: ``RequestTimeout``, ``NoResponders``, ``QuotaExceeded`` (past
        the node's stream bounds), ``PolicyDenied``, or a responder's own error."""
        data, content_type = bytes_of(payload, content_type)
        cid = self._pending.take_id()
        stream = ReplyStream(timeout, lambda: self._pending.streams.pop(cid, None))
        self._pending.streams[cid] = stream
        self._enqueue(encode_entry(request=pb.Request(
            correlation_id=cid, timeout_ms=max(1, int(timeout * 1000)), stream=True,
            pulse=pb.Pulse(topic=topic, reality_id=reality, payload=data,
                           content_type=content_type, headers=headers or {}),
        )))
        return stream

    def reply(
        self, request: Pulse, payload: Payload, *, final: bool = True, **options: Any,
    ) -> "asyncio.Future[Any]":
        """Answers a request pulse received through a subscription (to its ``reply_to``).
        ``final=False`` marks a non-final reply of a streamed request (header
        ``arqon-reply: more``): its requester waits for more."""
        if not request.reply_to:
            return self._failed(InvalidArgument("INVALID_ARGUMENT", "the pulse is not a request"))
        if not final:
            options["headers"] = {**(options.get("headers") or {}), REPLY_HEADER: "more"}
        options.setdefault("ack", "none")
        return self.publish(request.reply_to, payload, reality=request.raw.reality_id, **options)

    async def history(
        self,
        *,
        reality: str = "",
        pattern: str = "",
        from_sequence: int = 0,
        to_sequence: int = 0,
        from_time_ms: int = 0,
        to_time_ms: int = 0,
        limit: int = 0,
    ) -> list[Pulse]:
        """Stored pulses of a reality in sequence order (bounds inclusive, 0 open; times
        are HLC wall ms). Only topics under a retention rule are stored."""
        cid = self._pending.take_id()
        fut = self._loop.create_future()
        self._pending.histories[cid] = (fut, [])
        self._enqueue(encode_entry(history_get=pb.HistoryGet(
            correlation_id=cid, reality_id=reality, pattern=pattern,
            from_sequence=from_sequence, to_sequence=to_sequence,
            from_time_ms=from_time_ms, to_time_ms=to_time_ms, limit=limit,
        )))
        return await fut
