"""The Python SDK over the node's raw TCP transport (``tcp://``): the same Bus, with
pulses crossing to and from a WebSocket client in order, request/reply, typed errors."""

from __future__ import annotations

import asyncio
import hashlib

import arqon
from conftest import fresh_reality, run


@run
async def test_tcp_round_trip_and_interop_with_websocket(url: str, tcp_url: str) -> None:
    reality = fresh_reality()
    async with arqon.connect(tcp_url, name="py-tcp") as tcp_bus, \
            arqon.connect(url, name="py-ws") as ws_bus:
        assert tcp_bus.welcome is not None and tcp_bus.welcome.session_id
        tcp_sub = await tcp_bus.subscribe("t.>", reality=reality)
        ws_sub = await ws_bus.subscribe("t.>", reality=reality)
        n = 1000
        payloads = [hashlib.sha256(str(i).encode()).digest() for i in range(n)]
        acks = await asyncio.gather(*[
            tcp_bus.publish("t.tcp", p, reality=reality) for p in payloads
        ])
        assert [a.sequence for a in acks] == list(range(1, n + 1)), "acks in order, no gap"
        await ws_bus.publish("t.ws", b"from-ws", reality=reality)
        got = [await tcp_sub.next(timeout=10) for _ in range(n + 1)]
        assert [p.payload for p in got] == payloads + [b"from-ws"], "in order over TCP"
        seen = [await ws_sub.next(timeout=10) for _ in range(n + 1)]
        assert [p.producer for p in seen[:n]] == ["py-tcp"] * n


@run
async def test_tcp_request_reply_and_typed_errors(tcp_url: str) -> None:
    reality = fresh_reality()
    async with arqon.connect(tcp_url, name="py-svc") as svc, \
            arqon.connect(tcp_url, name="py-caller") as caller:
        sub = await svc.subscribe("svc.upper", reality=reality)

        async def serve() -> None:
            req = await sub.next(timeout=10)
            await svc.reply(req, req.payload.upper())

        server = asyncio.create_task(serve())
        reply = await caller.request("svc.upper", b"over tcp", reality=reality, timeout=5)
        assert reply.payload == b"OVER TCP"
        await server
        try:
            await caller.request("svc.none", b"x", reality=reality, timeout=1)
        except arqon.ArqonError as e:
            assert e.code in ("NO_RESPONDERS", "TIMEOUT")
        else:
            raise AssertionError("a request with no responder must fail")
