"""The client side of a subscription: an async iterator of pulses, with credit-based flow
control when ``max_in_flight`` is set (the node sends at most that many deliveries until
the client grants more; the SDK grants as the application consumes them)."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING

from .errors import ArqonError
from .pulse import Pulse

if TYPE_CHECKING:
    from .client import Bus


class Subscription:
    """A live subscription; ``async for pulse in sub``. Lives until ``await sub.close()``
    (or the bus closes). Created by ``Bus.subscribe``."""

    def __init__(
        self,
        bus: "Bus",
        sid: int,
        pattern: str,
        *,
        reality: str,
        queue: str,
        from_sequence: int,
        from_time_ms: int,
        max_in_flight: int,
        resume: bool,
    ) -> None:
        #: The subscription id on this connection.
        self.id = sid
        #: The pattern subscribed to (``*`` one segment, ``>`` the rest).
        self.pattern = pattern
        #: The reality subscribed in ("" for the node's default).
        self.reality = reality
        #: The queue group ("" for none).
        self.queue = queue
        self.from_sequence = from_sequence
        self.from_time_ms = from_time_ms
        self.max_in_flight = max_in_flight
        self.resume = resume
        #: The sequence of the last pulse received (a reconnect resumes after it).
        self.last_sequence = 0
        #: Deliveries the node reported as dropped for this subscriber (slow consumer).
        self.dropped = 0
        #: Errors the node reported about this subscription after it started.
        self.errors: list[ArqonError] = []
        self._bus = bus
        self._buffer: deque[Pulse] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._error: ArqonError | None = None
        self._consumed = 0
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @property
    def closed(self) -> bool:
        """Whether the subscription ended (closed, or refused by the node)."""
        return self._closed

    # -- called by the bus --------------------------------------------------------------

    def _confirm(self) -> None:
        if not self._ready.done():
            self._ready.set_result(None)

    def _refuse(self, error: ArqonError) -> None:
        if not self._ready.done():
            self._ready.set_exception(error)
            # Retrieved here so a resubscription refused with nobody awaiting it logs nothing.
            self._ready.exception()
        self._end(error)

    def _rearm(self) -> None:
        # A resubscription after a reconnect: `ready` waits for the new confirmation.
        if self._ready.done():
            self._ready = asyncio.get_running_loop().create_future()

    def _push(self, raw: object) -> None:
        if self._closed:
            return
        pulse = Pulse(raw)
        self.last_sequence = pulse.raw.sequence  # type: ignore[attr-defined]
        self._buffer.append(pulse)
        w = self._waiter
        if w is not None:
            self._waiter = None
            if not w.done():
                w.set_result(None)

    def _fail(self, error: ArqonError, dropped: int = 0) -> None:
        self.dropped += dropped
        self.errors.append(error)

    def _end(self, error: ArqonError | None = None) -> None:
        self._closed = True
        self._error = error
        w = self._waiter
        if w is not None:
            self._waiter = None
            if not w.done():
                w.set_result(None)

    # -- the application's side ---------------------------------------------------------

    def _consume(self) -> None:
        # Grant credit back in halves of the window: one small frame per max/2 pulses.
        if self.max_in_flight > 0:
            self._consumed += 1
            if self._consumed >= max(1, self.max_in_flight >> 1):
                self._bus._grant(self.id, self._consumed)
                self._consumed = 0

    async def ready(self) -> None:
        """Resolves once the node confirmed the (re)subscription; raises its refusal."""
        await asyncio.shield(self._ready)

    def pending(self) -> int:
        """Pulses received but not yet taken by the application."""
        return len(self._buffer)

    async def next(self, timeout: float | None = None) -> Pulse:
        """The next pulse; raises ``asyncio.TimeoutError`` after ``timeout`` seconds,
        ``StopAsyncIteration`` once the subscription ended (or its error if the node
        refused it)."""
        while not self._buffer:
            if self._closed:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            if timeout is None:
                await self._waiter
            else:
                await asyncio.wait_for(asyncio.shield(self._waiter), timeout)
        pulse = self._buffer.popleft()
        self._consume()
        return pulse

    def __aiter__(self) -> "Subscription":
        return self

    async def __anext__(self) -> Pulse:
        return await self.next()

    async def close(self) -> None:
        """Unsubscribes; iteration ends after the pulses already received."""
        if self._closed:
            return
        self._bus._unsubscribe(self)
        self._end()

    async def __aenter__(self) -> "Subscription":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"Subscription(id={self.id}, pattern={self.pattern!r}, closed={self._closed})"
