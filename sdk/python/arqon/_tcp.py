"""The node's raw TCP transport (``tcp://host:port``, ``tls://host:port``): each protobuf
``Frame`` preceded by its length as a 4-byte big-endian unsigned integer (docs/API.md,
"Raw TCP"). ``TcpSocket`` offers the part of a ``websockets`` connection the ``Bus`` uses
(``send``, ``recv``, iteration, ``close``, ``close_code``/``close_reason``), so everything
above the socket is shared."""

from __future__ import annotations

import asyncio
import ssl
import struct
from typing import AsyncIterator
from urllib.parse import urlsplit

from ._wire import SUBPROTOCOL

_LENGTH = struct.Struct(">I")
# Largest frame accepted from the node (its frames are far smaller).
_MAX_FRAME = 64 * 1024 * 1024


class TcpClosed(Exception):
    """The TCP connection ended (the node closed it, or it failed)."""


def is_tcp_url(url: str) -> bool:
    """Whether ``url`` names the raw TCP transport."""
    return url.startswith(("tcp://", "tls://"))


class TcpSocket:
    """One raw TCP (or TLS) connection carrying length-prefixed frames."""

    #: The TCP listener speaks protobuf frames only.
    subprotocol = SUBPROTOCOL

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.close_code: int | None = None
        self.close_reason = ""

    @classmethod
    async def connect(cls, url: str, *, timeout: float, ca_file: str | None) -> "TcpSocket":
        """Dials ``tcp://host:port`` or ``tls://host:port`` (``ca_file``: PEM CAs to trust)."""
        parts = urlsplit(url)
        if parts.port is None or parts.hostname is None:
            raise ValueError(f"{url}: host and port are required")
        context = None
        if parts.scheme == "tls":
            context = ssl.create_default_context(cafile=ca_file)
            context.minimum_version = ssl.TLSVersion.TLSv1_3
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(parts.hostname, parts.port, ssl=context,
                                    limit=1024 * 1024),
            timeout,
        )
        sock = writer.get_extra_info("socket")
        if sock is not None:
            import socket

            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def send(self, frame: bytes) -> None:
        """Writes one frame with its length prefix; raises ``TcpClosed`` once closed."""
        if self.close_code is not None:
            raise TcpClosed(self.close_reason)
        self._writer.write(_LENGTH.pack(len(frame)) + frame)
        try:
            await self._writer.drain()
        except (ConnectionError, OSError) as e:
            self._closed(1006, str(e))
            raise TcpClosed(str(e)) from None

    async def recv(self) -> bytes:
        """The next frame; raises ``TcpClosed`` when the connection ended."""
        try:
            head = await self._reader.readexactly(4)
            (length,) = _LENGTH.unpack(head)
            if length > _MAX_FRAME:
                raise TcpClosed(f"frame of {length} bytes from the node")
            return await self._reader.readexactly(length)
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as e:
            self._closed(1006, "connection closed by the node")
            raise TcpClosed(str(e)) from None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            try:
                yield await self.recv()
            except TcpClosed:
                return

    def _closed(self, code: int, reason: str) -> None:
        if self.close_code is None:
            self.close_code = code
            self.close_reason = reason

    async def close(self) -> None:
        """Closes the connection (TCP has no close handshake)."""
        self._closed(1000, "")
        try:
            self._writer.close()
            await self._writer.wait_closed()
        except (ConnectionError, OSError, ssl.SSLError):
            pass
