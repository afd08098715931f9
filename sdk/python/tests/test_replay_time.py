"""Subscriptions that replay from a time (``from_time_ms``) against
a real node: the pulses after the time are replayed in order, then live ones follow with no
gap; a time in the future replays nothing."""

from __future__ import annotations

import asyncio
import time

import arqon
from conftest import run, stored_reality


@run
async def test_subscribe_from_time_replays_what_came_after_then_goes_live(url: str) -> None:
    reality = stored_reality(url)
    async with arqon.connect(url, name="py-time") as bus:
        for i in range(1, 6):
            await bus.publish("t.x", str(i), reality=reality, ack="durable")
        await asyncio.sleep(0.05)  # the HLC wall clock separates the two groups
        between = int(time.time() * 1000)
        await asyncio.sleep(0.05)
        for i in range(6, 11):
            await bus.publish("t.x", str(i), reality=reality, ack="durable")
        sub = await bus.subscribe("t.>", reality=reality, from_time_ms=between)
        await bus.publish("t.x", "11", reality=reality)
        got = [(await sub.next(timeout=5)).text() for _ in range(6)]
        assert got == [str(i) for i in range(6, 12)], "stored 6..10, then live 11"
        await sub.close()
        future = await bus.subscribe("t.>", reality=reality, from_time_ms=between + 3_600_000)
        await bus.publish("t.x", "12", reality=reality)
        assert (await future.next(timeout=5)).text() == "12", "nothing replayed, live goes on"
        await future.close()
