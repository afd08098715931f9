"""Request/reply, history reads and typed errors against a real node."""

from __future__ import annotations

import asyncio

import pytest

import arqon
from conftest import fresh_reality, run, stored_reality


async def _responder(bus: arqon.Bus, sub: arqon.Subscription) -> None:
    async for req in sub:
        await bus.reply(req, {"echo": req.json(), "by": "py"})


@run
async def test_request_reply(url: str) -> None:
    reality = fresh_reality()
    async with arqon.connect(url, name="svc") as svc, arqon.connect(url, name="cli") as cli:
        sub = await svc.subscribe("svc.echo", reality=reality)
        task = asyncio.create_task(_responder(svc, sub))
        replies = await asyncio.gather(*[
            cli.request("svc.echo", {"n": i}, reality=reality, timeout=5) for i in range(50)
        ])
        assert [r.json() for r in replies] == [{"echo": {"n": i}, "by": "py"} for i in range(50)]
        task.cancel()


@run
async def test_request_errors_are_typed(url: str) -> None:
    reality = fresh_reality()
    async with arqon.connect(url, name="cli") as cli:
        with pytest.raises(arqon.NoResponders) as e:
            await cli.request("nobody.listens", b"?", reality=reality, timeout=2)
        assert e.value.code == "NO_RESPONDERS" and "nobody.listens" in e.value.message
        silent = await cli.subscribe("svc.silent", reality=reality)
        with pytest.raises(arqon.RequestTimeout) as t:
            await cli.request("svc.silent", b"?", reality=reality, timeout=0.3)
        assert t.value.code == "TIMEOUT"
        assert silent.pending() == 1, "the request reached the silent responder"


@run
async def test_history_bounds_pattern_and_limit(url: str) -> None:
    reality = stored_reality(url)
    async with arqon.connect(url, name="py-hist") as bus:
        await asyncio.gather(*[
            bus.publish(f"sensor.{'a' if i % 2 else 'b'}.temp", str(i), reality=reality,
                        ack="durable")
            for i in range(1, 101)
        ])
        every = await bus.history(reality=reality)
        assert [p.sequence for p in every] == list(range(1, 101))
        window = await bus.history(reality=reality, from_sequence=10, to_sequence=19)
        assert [p.text() for p in window] == [str(i) for i in range(10, 20)]
        only_a = await bus.history(reality=reality, pattern="sensor.a.>", limit=5)
        assert [p.text() for p in only_a] == ["1", "3", "5", "7", "9"]
        assert all(p.time_ms > 0 for p in every)


@run
async def test_typed_errors_and_the_bus_keeps_working(url: str) -> None:
    async with arqon.connect(url, name="py-errors") as bus:
        with pytest.raises(arqon.InvalidTopic) as e:
            await bus.publish("Not A Topic", b"x")
        assert e.value.code == "INVALID_TOPIC" and e.value.message
        assert isinstance(e.value, arqon.ArqonError)
        with pytest.raises(arqon.InvalidPattern):
            await bus.subscribe("a.>.b")
        limit = bus.welcome.max_frame_bytes
        with pytest.raises(arqon.FrameTooLarge):
            await bus.publish("big.one", b"\0" * (limit + 1))
        with pytest.raises(arqon.InvalidArgument):
            await bus.publish("a.b", b"x", ack="sometimes")
        ack = await bus.publish("still.works", b"ok")
        assert ack.sequence >= 1, "after refusals the connection still serves"
