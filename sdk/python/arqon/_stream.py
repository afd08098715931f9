"""Streamed requests: ``bus.request_stream(...)`` yields every reply to one request until
the responder's final one (a job's progress). The node forwards each reply as a ``Reply``
frame with the request's correlation id and ``final`` set on the last; an ``Error`` frame
with that id (a timeout between replies, a stream bound, a responder's typed error) ends the
stream by raising. Kept apart from _calls.py so each file holds one concern."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from .errors import ArqonError, RequestTimeout
from .pulse import Pulse

#: Header a responder marks a non-final reply with (``arqon-reply: more``).
REPLY_HEADER = "arqon-reply"


class ReplyStream:
    """The replies of one streamed request, read with ``async for``. Leaving the loop early
    (``break``) forgets the request here; the node ends it at its final reply or timeout."""

    def __init__(self, timeout: float, release: Callable[[], None]) -> None:
        self._queue: asyncio.Queue[tuple[Pulse | None, bool, ArqonError | None]] = asyncio.Queue()
        self._timeout = timeout
        self._release = release
        self._ended = False
        self._done = False

    # -- fed by the inbound router ------------------------------------------------------

    def _push(self, raw: Any, final: bool) -> None:
        if self._ended:
            return
        if final:
            self._end()
        self._queue.put_nowait((Pulse(raw), final, None))

    def _fail(self, error: ArqonError) -> None:
        if self._ended:
            return
        self._end()
        self._queue.put_nowait((None, True, error))

    def _end(self) -> None:
        self._ended = True
        self._release()

    # -- read by the caller -------------------------------------------------------------

    def __aiter__(self) -> "ReplyStream":
        return self

    async def __anext__(self) -> Pulse:
        if self._done:
            raise StopAsyncIteration
        try:
            # The node times the stream out between replies; this guards against silence.
            pulse, final, error = await asyncio.wait_for(self._queue.get(), self._timeout + 5.0)
        except asyncio.TimeoutError:
            self.close()
            raise RequestTimeout("TIMEOUT", f"no reply within {self._timeout} s") from None
        if error is not None:
            self._done = True
            raise error
        if final:
            self._done = True
        assert pulse is not None
        return pulse

    def close(self) -> None:
        """Stops reading: later replies are dropped."""
        self._done = True
        if not self._ended:
            self._end()

    async def aclose(self) -> None:
        """``async for`` cleanup (and ``contextlib.aclosing``)."""
        self.close()
