"""Inbound frames after the welcome, routed to whom they concern: acks and replies to the
future waiting for them (matched by correlation id), deliveries to their subscription,
history chunks to their read, errors to the call, the subscription or ``on_error``, pings
answered. Kept apart from the ``Bus`` facade so the routing reads in one place."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from google.protobuf.message import DecodeError

from ._acks import settle_batch
from ._wire import encode_entry, pb
from .errors import ArqonError, InvalidFrame, error_of
from .pulse import PublishAck, Pulse
from .subscription import Subscription
from ._stream import ReplyStream


class Pending:
    """The open calls of one bus, across reconnects, by correlation id."""

    def __init__(self) -> None:
        self.next_id = 1
        #: Publish acks.
        self.acks: dict[int, asyncio.Future[Any]] = {}
        #: Requests and pings.
        self.calls: dict[int, asyncio.Future[Any]] = {}
        #: History reads: the future and the pulses so far.
        self.histories: dict[int, tuple[asyncio.Future[Any], list[Pulse]]] = {}
        #: Subscribes waiting for `Subscribed`.
        self.subscribing: dict[int, Subscription] = {}
        #: Streamed requests, until their final reply or error.
        self.streams: dict[int, ReplyStream] = {}

    def take_id(self) -> int:
        """A fresh correlation id (also a ping nonce)."""
        n = self.next_id
        self.next_id = n + 1
        return n

    def fail_all(self, error: ArqonError) -> None:
        """The connection was lost: every call waiting for an answer fails (the answer
        cannot arrive on another connection). Subscribes are sent again on reconnect."""
        for fut in (*self.acks.values(), *self.calls.values()):
            if not fut.done():
                fut.set_exception(error)
        for fut, _ in self.histories.values():
            if not fut.done():
                fut.set_exception(error)
        for stream in list(self.streams.values()):
            stream._fail(error)
        self.acks.clear()
        self.calls.clear()
        self.histories.clear()
        self.subscribing.clear()
        self.streams.clear()


class Inbound:
    """Routes one bus's inbound messages."""

    def __init__(
        self,
        pending: Pending,
        subs: dict[int, Subscription],
        send: Callable[[bytes], None],
        on_error: Callable[[ArqonError], None],
    ) -> None:
        self._p = pending
        self._subs = subs
        self._send = send
        self._on_error = on_error
        #: Reality ids as decoded once (acks repeat the same few).
        self._realities: dict[bytes, str] = {}

    def message(self, data: bytes | str) -> None:
        """One WebSocket message: a frame, or a batch of frames."""
        if isinstance(data, str):
            return  # the binary subprotocol sends no text; ignore rather than fail
        # Batches of acks (the publisher's hot path) are read from their bytes; whatever
        # else a batch holds goes through the generated module, frame by frame.
        if settle_batch(data, self._p.acks, self._other, self._realities):
            return
        try:
            frame = pb.Frame.FromString(data)
        except DecodeError as e:
            self._on_error(InvalidFrame("INVALID_FRAME", f"undecodable frame from node: {e}"))
            return
        kind = frame.WhichOneof("kind")
        if kind != "batch":
            self.frame(frame, kind)
            return
        # The node coalesces acks and deliveries into batches: those two are handled
        # inline (the hot path), everything else by `frame`.
        acks = self._p.acks
        subs = self._subs
        other = self.frame
        for f in frame.batch.frames:
            kind = f.WhichOneof("kind")
            if kind == "ack":
                a = f.ack
                fut = acks.pop(a.correlation_id, None)
                if fut is not None and not fut.done():
                    fut.set_result(PublishAck(a.id, a.sequence, a.reality_id))
            elif kind == "deliver":
                d = f.deliver
                sub = subs.get(d.subscription_id)
                if sub is not None:
                    sub._push(d.pulse)
            else:
                other(f, kind)

    def _other(self, raw: bytes) -> None:
        """One frame of a batch that is not a plain ack, decoded generically."""
        try:
            f = pb.Frame.FromString(raw)
        except DecodeError as e:
            self._on_error(InvalidFrame("INVALID_FRAME", f"undecodable frame from node: {e}"))
            return
        self.frame(f, f.WhichOneof("kind"))

    def frame(self, f: Any, kind: str | None) -> None:
        """One decoded frame of kind ``kind``."""
        if kind == "ack":
            a = f.ack
            fut = self._p.acks.pop(a.correlation_id, None)
            if fut is not None and not fut.done():
                fut.set_result(PublishAck(a.id, a.sequence, a.reality_id))
        elif kind == "deliver":
            d = f.deliver
            sub = self._subs.get(d.subscription_id)
            if sub is not None:
                sub._push(d.pulse)
        elif kind == "subscribed":
            sub = self._p.subscribing.pop(f.subscribed.correlation_id, None)
            if sub is not None:
                sub._confirm()
        elif kind == "reply":
            r = f.reply
            stream = self._p.streams.get(r.correlation_id)
            if stream is not None:
                stream._push(r.pulse, r.final)
                return
            fut = self._p.calls.pop(r.correlation_id, None)
            if fut is not None and not fut.done():
                fut.set_result(Pulse(r.pulse))
        elif kind == "history_chunk":
            self._history(f.history_chunk)
        elif kind == "error":
            self._error(f.error)
        elif kind == "ping":
            self._send(encode_entry(pong=pb.Pong(nonce=f.ping.nonce)))
        elif kind == "pong":
            fut = self._p.calls.pop(f.pong.nonce, None)
            if fut is not None and not fut.done():
                fut.set_result(None)

    def _history(self, chunk: Any) -> None:
        entry = self._p.histories.get(chunk.correlation_id)
        if entry is None:
            return
        fut, pulses = entry
        pulses.extend(Pulse(p) for p in chunk.pulses)
        if chunk.done:
            del self._p.histories[chunk.correlation_id]
            if not fut.done():
                fut.set_result(pulses)

    def _error(self, e: Any) -> None:
        # An error goes to the call it answers, else the subscription it names, else on_error.
        error = error_of(e.code, e.message)
        c = e.correlation_id
        if c:
            stream = self._p.streams.get(c)
            if stream is not None:
                stream._fail(error)
                return
            fut = self._p.acks.pop(c, None) or self._p.calls.pop(c, None)
            if fut is None and c in self._p.histories:
                fut = self._p.histories.pop(c)[0]
            if fut is not None:
                if not fut.done():
                    fut.set_exception(error)
                return
            sub = self._p.subscribing.pop(c, None)
            if sub is not None:
                self._subs.pop(sub.id, None)
                sub._refuse(error)
                return
        sub = self._subs.get(e.subscription_id) if e.subscription_id else None
        if sub is not None:
            sub._fail(error, e.dropped)
            return
        self._on_error(error)
