"""Streamed requests (``bus.request_stream``) against a real node: every reply in order until
the final one, typed errors raised from the loop, the timeout between replies, leaving
early."""

from __future__ import annotations

import asyncio

import pytest

import arqon
from conftest import fresh_reality, run


async def _counter(bus: arqon.Bus, sub: arqon.Subscription) -> None:
    """Answers each request with n non-final replies then a final one; `fail` with an error."""
    async for req in sub:
        body = req.json()
        if body.get("fail"):
            await bus.reply(req, {"step": 0}, final=False)
            await bus.publish(req.reply_to, "cannot compute", reality=req.raw.reality_id,
                              ack="none", headers={"arqon-error": "INVALID_ARGUMENT"})
            continue
        if body.get("stall"):
            await bus.reply(req, {"step": 0}, final=False)
            continue
        for i in range(1, body["n"]):
            await bus.reply(req, {"step": i}, final=False)
        await bus.reply(req, {"step": body["n"], "done": True})


@run
async def test_request_stream_yields_every_reply_until_the_final_one(url: str) -> None:
    reality = fresh_reality()
    async with arqon.connect(url, name="svc") as svc, arqon.connect(url, name="cli") as cli:
        sub = await svc.subscribe("calc.count", reality=reality)
        task = asyncio.create_task(_counter(svc, sub))
        steps = [r.json()["step"] async for r in
                 cli.request_stream("calc.count", {"n": 6}, reality=reality, timeout=5)]
        assert steps == [1, 2, 3, 4, 5, 6]
        # Two streams at once keep their replies apart.
        a, b = await asyncio.gather(
            _collect(cli.request_stream("calc.count", {"n": 3}, reality=reality)),
            _collect(cli.request_stream("calc.count", {"n": 5}, reality=reality)),
        )
        assert (a, b) == ([1, 2, 3], [1, 2, 3, 4, 5])
        # Leaving early: the bus goes on serving.
        async for r in cli.request_stream("calc.count", {"n": 50}, reality=reality):
            assert r.json()["step"] == 1
            break
        one = await cli.request("calc.count", {"n": 3}, reality=reality)
        assert one.json() == {"step": 1}, "a plain request takes the first reply"
        task.cancel()


async def _collect(stream: arqon.ReplyStream) -> list[int]:
    return [r.json()["step"] async for r in stream]


@run
async def test_request_stream_raises_typed_errors(url: str) -> None:
    reality = fresh_reality()
    async with arqon.connect(url, name="svc") as svc, arqon.connect(url, name="cli") as cli:
        with pytest.raises(arqon.NoResponders):
            async for _ in cli.request_stream("nobody.listens", b"?", reality=reality):
                pass
        sub = await svc.subscribe("calc.count", reality=reality)
        task = asyncio.create_task(_counter(svc, sub))
        seen = []
        with pytest.raises(arqon.InvalidArgument) as e:
            async for r in cli.request_stream("calc.count", {"fail": True}, reality=reality):
                seen.append(r.json())
        assert seen == [{"step": 0}] and e.value.message == "cannot compute"
        seen = []
        with pytest.raises(arqon.RequestTimeout) as t:
            async for r in cli.request_stream("calc.count", {"stall": True}, reality=reality,
                                              timeout=0.3):
                seen.append(r.json())
        assert seen == [{"step": 0}] and t.value.code == "TIMEOUT"
        task.cancel()
