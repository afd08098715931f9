"""Opening one connection: the WebSocket (subprotocol ``arqon.v1.proto``) or, for
``tcp://`` and ``tls://`` URLs, the node's raw TCP transport (``_tcp.py``), then the hello
until the node's welcome, answering a ``did:key`` challenge when the client has an
identity. A refusal (bad token, unknown DID, wrong version) raises its typed error."""

from __future__ import annotations

import asyncio
import json
from typing import Any, NamedTuple

import websockets  # Debian: python3-websockets

from . import _mask
from ._tcp import TcpClosed, TcpSocket, is_tcp_url
from ._wire import PROTOCOL_VERSION, SUBPROTOCOL, encode, pb
from .errors import ArqonError, ConnectionLost, error_of
from .identity import Identity

_mask.install()

# Whether the schema carries an agent card in the hello (it does not in protocol v1: the
# card is then kept on the client only; see docs/python.md).
HELLO_HAS_CARD = "card" in pb.Hello.DESCRIPTOR.fields_by_name


class Welcome(NamedTuple):
    """What the node said when it accepted the client."""

    node_id: str
    session_id: str
    max_frame_bytes: int
    capabilities: tuple[str, ...]


def _hello(name: str, token: str, identity: Identity | None, card: Any, **proof: Any) -> bytes:
    hello = pb.Hello(
        client_name=name,
        protocol_version=PROTOCOL_VERSION,
        capabilities=["batch"],
        token=token,
        did=identity.did if identity else "",
        **proof,
    )
    if card is not None and HELLO_HAS_CARD:
        hello.card = json.dumps(card)  # type: ignore[attr-defined]
    return encode(hello=hello)


async def open_connection(
    url: str,
    *,
    name: str,
    token: str,
    identity: Identity | None,
    card: Any,
    timeout: float,
    ca_file: str | None = None,
) -> tuple[Any, Welcome]:
    """Dials ``url`` and completes the hello; returns the socket and the welcome."""
    if is_tcp_url(url):
        ws: Any = await TcpSocket.connect(url, timeout=timeout, ca_file=ca_file)
    else:
        ws = await _websocket(url, timeout)
    try:
        return ws, await _handshake(ws, name, token, identity, card, timeout)
    except BaseException:
        await ws.close()
        raise


async def _websocket(url: str, timeout: float) -> Any:
    return await websockets.connect(
        url,
        subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
        compression=None,  # the node speaks no permessage-deflate; do not offer it
        open_timeout=timeout,
        max_size=64 * 1024 * 1024,
        # Larger than the library's 64 KiB defaults: batches of publishes and of
        # deliveries are up to 256 KiB; smaller limits would stall the pipe once a batch.
        read_limit=1024 * 1024,
        write_limit=1024 * 1024,
        max_queue=256,
    )


async def _handshake(
    ws: Any, name: str, token: str, identity: Identity | None, card: Any, timeout: float,
) -> Welcome:
    if ws.subprotocol != SUBPROTOCOL:
        raise ArqonError("UNSUPPORTED_SUBPROTOCOL", f"node chose {ws.subprotocol!r}")
    await ws.send(_hello(name, token, identity, card))
    while True:
        try:
            data = await asyncio.wait_for(ws.recv(), timeout)
        except websockets.ConnectionClosed as e:
            raise ConnectionLost(f"closed during hello ({e.code} {e.reason})") from None
        except TcpClosed as e:
            raise ConnectionLost(f"closed during hello ({e})") from None
        if isinstance(data, str):
            continue
        frame = pb.Frame.FromString(data)
        kind = frame.WhichOneof("kind")
        if kind == "welcome":
            w = frame.welcome
            return Welcome(
                w.node_id, w.session_id, w.max_frame_bytes or 1024 * 1024,
                tuple(w.capabilities),
            )
        if kind == "challenge":
            if identity is None:
                raise ArqonError("PROTOCOL_VIOLATION", "challenged without an identity")
            c = frame.challenge
            proof = identity.answer_challenge(c.node_id, c.nonce)
            await ws.send(_hello(name, token, identity, card, nonce=c.nonce, signature=proof))
            continue
        if kind == "error":
            raise error_of(frame.error.code, frame.error.message)
        # Anything else before the welcome is ignored (e.g. a ping).
