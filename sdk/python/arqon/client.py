"""The ``Bus``: one connection to a node, publishes pipelined and coalesced into batch
frames, acks matched by correlation id, subscriptions as async iterators with credit,
request/reply, history, and automatic reconnect with resubscription from the last
sequence seen. Socket and hello are in connection.py, inbound routing in _inbound.py,
request/reply and history in _calls.py."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Callable

import websockets

from ._calls import Calls, Payload, bytes_of
from ._inbound import Inbound, Pending
from ._wire import ACK_MODES, PublishEncoder, batch_message, encode_entry, pb
from ._tcp import TcpClosed
from .connection import Welcome, open_connection
from .errors import ArqonError, ConnectionLost, FrameTooLarge, InvalidArgument
from .identity import Identity
from .pulse import PublishAck
from .subscription import Subscription

_OVERFLOW = {"drop-oldest": 1, "drop-new": 2, "disconnect": 3}


class Bus(Calls):
    """A connection to an ArqonBus node; lives until ``close()``. Create it with
    ``await arqon.connect(url, ...)``. After an unexpected close it reconnects (unless
    ``reconnect=False``) and resubscribes, resuming each subscription after the last pulse
    it saw, so a reality with retention loses nothing in between."""

    def __init__(
        self,
        url: str,
        *,
        name: str = "",
        token: str = "",
        identity: Identity | None = None,
        card: dict[str, Any] | None = None,
        reconnect: bool = True,
        reconnect_delay: float = 0.1,
        max_reconnect_delay: float = 5.0,
        max_batch_bytes: int = 256 * 1024,
        reconnect_buffer_bytes: int = 8 * 1024 * 1024,
        timeout: float = 10.0,
        on_error: Callable[[ArqonError], None] | None = None,
        ca_file: str | None = None,
    ) -> None:
        #: The node's URL: WebSocket (``ws://``, ``wss://``) or raw TCP (``tcp://``, ``tls://``).
        self.url = url
        #: Client name: the producer id of its pulses (unless a token or DID names it).
        self.name = name
        #: The agent card (JSON-able dict) given at connect.
        self.card = card
        self.reconnect = reconnect
        #: Times the bus reconnected.
        self.reconnects = 0
        #: Node errors that concerned no particular call (newest last).
        self.errors: deque[ArqonError] = deque(maxlen=100)
        #: What the node said at the last welcome.
        self.welcome: Welcome | None = None
        self._token = token
        self._identity = identity
        self._reconnect_delay = reconnect_delay
        self._max_reconnect_delay = max_reconnect_delay
        self._max_batch = max_batch_bytes
        self._reconnect_buffer = reconnect_buffer_bytes
        self._timeout = timeout
        self._on_error_cb = on_error
        self._ca_file = ca_file
        self._loop = asyncio.get_running_loop()
        self._ws: Any = None
        self._outbox: list[bytes] = []
        self._outbox_bytes = 0
        self._wake = asyncio.Event()
        self._connected = asyncio.Event()
        self._pending = Pending()
        self._subs: dict[int, Subscription] = {}
        self._next_sub = 1
        self._inbound = Inbound(self._pending, self._subs, self._enqueue, self._on_error)
        self._tasks: list[asyncio.Task[Any]] = []
        self._reconnecting: asyncio.Task[Any] | None = None
        self._closing = False
        self._encoder = PublishEncoder()
        #: The largest frame the node accepts (from its welcome).
        self._frame_limit = 1024 * 1024
        self._none: asyncio.Future[Any] = self._loop.create_future()
        self._none.set_result(None)

    # -- lifecycle ----------------------------------------------------------------------

    async def _open(self) -> None:
        ws, welcome = await open_connection(
            self.url, name=self.name, token=self._token, identity=self._identity,
            card=self.card, timeout=self._timeout, ca_file=self._ca_file,
        )
        self._attach(ws, welcome)

    def _attach(self, ws: Any, welcome: Welcome) -> None:
        self._ws = ws
        self.welcome = welcome
        self._frame_limit = welcome.max_frame_bytes
        self._tasks = [
            self._loop.create_task(self._read_loop(ws)),
            self._loop.create_task(self._write_loop(ws)),
        ]
        self._connected.set()
        self._wake.set()

    @property
    def is_connected(self) -> bool:
        """Whether a connection is up (false while reconnecting)."""
        return self._connected.is_set()

    async def connected(self) -> None:
        """Waits until a connection is up (after a reconnect)."""
        await self._connected.wait()

    async def _read_loop(self, ws: Any) -> None:
        on = self._inbound.message
        try:
            async for data in ws:
                on(data)
        except (websockets.ConnectionClosed, TcpClosed):
            pass
        finally:
            if self._ws is ws:
                self._lost(ws)

    async def _write_loop(self, ws: Any) -> None:
        # Frames queued while this task waited leave as one batch message (pipelining: a
        # publisher queuing thousands of publishes pays one WebSocket message per batch).
        try:
            while True:
                if not self._outbox:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                await ws.send(batch_message(self._take()))
        except (websockets.ConnectionClosed, TcpClosed):
            pass

    def _take(self) -> list[bytes]:
        if self._outbox_bytes <= self._max_batch:
            frames = self._outbox
            self._outbox = []
            self._outbox_bytes = 0
            return frames
        size = 0
        for i, f in enumerate(self._outbox):
            size += len(f)
            if size >= self._max_batch:
                break
        frames = self._outbox[: i + 1]
        del self._outbox[: i + 1]
        self._outbox_bytes -= size
        return frames

    def _enqueue(self, frame: bytes) -> None:
        self._outbox.append(frame)
        self._outbox_bytes += len(frame)
        if not self._wake.is_set():
            self._wake.set()

    def _lost(self, ws: Any) -> None:
        self._ws = None
        self._connected.clear()
        for t in self._tasks:
            if t is not asyncio.current_task():
                t.cancel()
        error = ConnectionLost(f"connection lost ({ws.close_code} {ws.close_reason})")
        self._pending.fail_all(error)
        # Frames written for the lost connection go with it; later ones wait for the next.
        self._outbox = []
        self._outbox_bytes = 0
        if self._closing or not self.reconnect:
            for sub in list(self._subs.values()):
                sub._end(None if self._closing else error)
            self._subs.clear()
            return
        self._reconnecting = self._loop.create_task(self._reconnect_loop())

    async def _reconnect_loop(self) -> None:
        delay = self._reconnect_delay
        while not self._closing:
            await asyncio.sleep(delay)
            try:
                ws, welcome = await open_connection(
                    self.url, name=self.name, token=self._token, identity=self._identity,
                    card=self.card, timeout=self._timeout, ca_file=self._ca_file,
                )
            except (OSError, asyncio.TimeoutError, ArqonError, websockets.WebSocketException):
                delay = min(delay * 2, self._max_reconnect_delay)
                continue
            if self._closing:
                await ws.close()
                return
            self.reconnects += 1
            # Resubscribe first, resuming after the last sequence seen; then what was
            # published while disconnected.
            resub = [self._subscribe_frame(s) for s in self._subs.values()]
            self._outbox[:0] = resub
            self._outbox_bytes += sum(len(f) for f in resub)
            self._attach(ws, welcome)
            return

    async def close(self) -> None:
        """Sends what is queued, closes the connection for good and ends subscriptions."""
        if self._closing:
            return
        if self._ws is not None and (self._outbox or self._pending.acks):
            try:
                await asyncio.wait_for(self.flush(), 2.0)
            except (ArqonError, asyncio.TimeoutError):
                pass
        self._closing = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        ws = self._ws
        if ws is not None:
            await ws.close()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        else:
            self._pending.fail_all(ConnectionLost("bus closed"))
            for sub in list(self._subs.values()):
                sub._end()
            self._subs.clear()

    async def __aenter__(self) -> "Bus":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _on_error(self, error: ArqonError) -> None:
        self.errors.append(error)
        if self._on_error_cb is not None:
            self._on_error_cb(error)

    def _failed(self, error: ArqonError) -> asyncio.Future[Any]:
        fut = self._loop.create_future()
        fut.set_exception(error)
        return fut

    # -- publish ------------------------------------------------------------------------

    def publish(
        self,
        topic: str,
        payload: Payload,
        *,
        reality: str = "",
        ack: str = "received",
        content_type: str = "",
        headers: dict[str, str] | None = None,
    ) -> "asyncio.Future[PublishAck | None]":
        """Publishes a pulse and returns a future of its ``PublishAck`` (id, sequence,
        reality): ``await`` it, or keep many futures in flight to pipeline (they leave
        in batch frames and their acks are matched by id). ``ack``: ``"received"`` (the
        node sequenced it), ``"durable"`` (stored) or ``"none"`` (resolves to ``None`` at
        once). A dict or list payload is sent as JSON. Raises a typed ``ArqonError``
        (e.g. ``InvalidTopic``, ``Forbidden``) through the future."""
        # The common case first, in as few steps as it takes: bytes, acked, connected.
        if ack == "received" and type(payload) is bytes and not headers and self._ws is not None \
                and not self._closing:
            pending = self._pending
            cid = pending.next_id
            pending.next_id = cid + 1
            frame = self._encoder.entry(cid, 1, topic, reality, content_type, payload)
            if len(frame) <= self._frame_limit:
                self._outbox.append(frame)
                self._outbox_bytes += len(frame)
                if not self._wake.is_set():
                    self._wake.set()
                fut = self._loop.create_future()
                pending.acks[cid] = fut
                return fut
        mode = ACK_MODES.get(ack)
        if mode is None:
            return self._failed(InvalidArgument("INVALID_ARGUMENT", f"ack {ack!r}"))
        if self._closing:
            return self._failed(ConnectionLost("bus closed"))
        if type(payload) is not bytes or headers:
            payload, content_type = bytes_of(payload, content_type)
        pending = self._pending
        if mode:
            cid = pending.next_id
            pending.next_id = cid + 1
        else:
            cid = 0
        if headers:
            frame = encode_entry(publish=pb.Publish(correlation_id=cid, ack=mode, pulse=pb.Pulse(
                topic=topic, reality_id=reality, payload=payload, content_type=content_type,
                headers=headers,
            )))
        else:
            frame = self._encoder.entry(cid, mode, topic, reality, content_type, payload)  # type: ignore[arg-type]
        limit = self._frame_limit
        if len(frame) > limit:
            return self._failed(FrameTooLarge(
                "FRAME_TOO_LARGE", f"publish frame of {len(frame)} bytes over {limit}",
            ))
        if self._ws is None and self._outbox_bytes + len(frame) > self._reconnect_buffer:
            # Disconnected: publishes wait for the next connection, up to a bound.
            return self._failed(ConnectionLost(
                f"disconnected, and {self._outbox_bytes} bytes already wait for the "
                f"reconnect (reconnect_buffer_bytes {self._reconnect_buffer})"
            ))
        self._outbox.append(frame)
        self._outbox_bytes += len(frame)
        if not self._wake.is_set():
            self._wake.set()
        if not mode:
            return self._none
        fut = self._loop.create_future()
        pending.acks[cid] = fut
        return fut

    # -- subscribe ----------------------------------------------------------------------

    async def subscribe(
        self,
        pattern: str,
        *,
        reality: str = "",
        queue: str = "",
        from_sequence: int = 0,
        from_time_ms: int = 0,
        max_in_flight: int = 0,
        overflow: str | None = None,
        resume: bool = True,
    ) -> Subscription:
        """Subscribes to a topic pattern (``*`` one segment, ``>`` the rest) and returns
        once the node confirmed it. ``queue``: members of a queue group share the pulses.
        ``from_sequence``/``from_time_ms``: replay stored pulses first, then live, with no
        gap. ``max_in_flight``: credit window (0: the node pushes freely). ``resume``:
        after a reconnect, continue after the last sequence seen. Raises the node's
        refusal (e.g. ``InvalidPattern``, ``Forbidden``)."""
        if overflow is not None and overflow not in _OVERFLOW:
            raise InvalidArgument("INVALID_ARGUMENT", f"overflow {overflow!r}")
        sid = self._next_sub
        self._next_sub += 1
        sub = Subscription(
            self, sid, pattern, reality=reality, queue=queue, from_sequence=from_sequence,
            from_time_ms=from_time_ms, max_in_flight=max_in_flight, resume=resume,
        )
        sub._overflow = _OVERFLOW.get(overflow or "", 0)  # type: ignore[attr-defined]
        self._subs[sid] = sub
        self._enqueue(self._subscribe_frame(sub))
        await sub.ready()
        return sub

    def _subscribe_frame(self, sub: Subscription) -> bytes:
        cid = self._pending.take_id()
        self._pending.subscribing[cid] = sub
        sub._rearm()
        # After a reconnect, continue right after the last pulse seen (history fills the
        # gap); queue groups never resume (another member took those pulses).
        start_at = sub.last_sequence + 1 if sub.last_sequence and sub.resume and not sub.queue \
            else sub.from_sequence
        start = 1 if start_at else 2 if sub.from_time_ms else 0
        return encode_entry(subscribe=pb.Subscribe(
            subscription_id=sub.id, correlation_id=cid, reality_id=sub.reality,
            pattern=sub.pattern, queue_group=sub.queue, start=start,
            from_sequence=start_at, from_time_ms=sub.from_time_ms,
            max_in_flight=sub.max_in_flight, overflow=getattr(sub, "_overflow", 0),
        ))

    def _grant(self, sid: int, count: int) -> None:
        if sid in self._subs:
            self._enqueue(encode_entry(credit=pb.Credit(subscription_id=sid, count=count)))

    def _unsubscribe(self, sub: Subscription) -> None:
        if self._subs.pop(sub.id, None) is not None and not self._closing:
            self._enqueue(encode_entry(unsubscribe=pb.Unsubscribe(subscription_id=sub.id)))
