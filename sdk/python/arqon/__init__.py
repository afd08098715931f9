"""ArqonBus for Python: an asyncio client in the style of nats.py.

    import asyncio, arqon

    async def main():
        async with arqon.connect("ws://127.0.0.1:7420/v1/ws", name="lab") as bus:
            sub = await bus.subscribe("sensors.>")
            ack = await bus.publish("sensors.kitchen.temp", {"c": 21.5})
            print("stored as", ack.sequence)
            async for pulse in sub:
                print(pulse.topic, pulse.json())
                break

    asyncio.run(main())

See sdk/python/README.md and docs/python.md.
"""

from __future__ import annotations

from typing import Any, Generator

from .client import Bus
from .errors import *  # noqa: F401,F403 - the typed errors are part of the API
from .errors import ArqonError, ConnectionLost, __all__ as _errors
from .identity import Identity
from .pulse import PublishAck, Pulse
from .subscription import Subscription
from ._stream import ReplyStream

__version__ = "0.2.0"


class _Connect:
    """What ``connect`` returns: ``await`` it for a ``Bus``, or use it as
    ``async with arqon.connect(...) as bus`` (closed on exit)."""

    def __init__(self, url: str, options: dict[str, Any]) -> None:
        self._url = url
        self._options = options
        self._bus: Bus | None = None

    async def _go(self) -> Bus:
        bus = Bus(self._url, **self._options)
        await bus._open()
        self._bus = bus
        return bus

    def __await__(self) -> Generator[Any, None, Bus]:
        return self._go().__await__()

    async def __aenter__(self) -> Bus:
        return await self._go()

    async def __aexit__(self, *exc: object) -> None:
        if self._bus is not None:
            await self._bus.close()


def connect(url: str = "ws://127.0.0.1:7420/v1/ws", **options: Any) -> _Connect:
    """Connects to a node and completes the hello.

    Options: ``name`` (producer id), ``token`` (bearer token when the node requires auth),
    ``identity`` (an ``arqon.Identity``: did:key authentication), ``card`` (agent card,
    a JSON-able dict), ``reconnect`` (default True), ``reconnect_delay`` (first delay, s,
    default 0.1, doubling up to ``max_reconnect_delay`` 5 s), ``max_batch_bytes`` (target
    size of a batch message, default 256 KiB), ``reconnect_buffer_bytes`` (publishes queued
    while disconnected, default 8 MiB; beyond, they fail with ``ConnectionLost``), ``timeout`` (connect and hello, s, default
    10), ``on_error`` (called with node errors that concern no particular call),
    ``ca_file`` (PEM CA certificates to trust for ``tls://``).

    ``url`` is the node's WebSocket (``ws://host:7420/v1/ws``, ``wss://``) or its raw TCP
    listener (``tcp://host:port``, ``tls://host:port``: the node's ``--tcp-port``).

    Raises ``Unauthorized`` (bad token or DID), ``OSError`` (nothing listens) or another
    ``ArqonError`` when the node refuses the client.
    """
    return _Connect(url, options)


__all__ = [
    "connect", "Bus", "Subscription", "ReplyStream", "Pulse", "PublishAck", "Identity", "ArqonError",
    "ConnectionLost", *_errors,
]
