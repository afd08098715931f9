"""Publish and subscribe against a real node: counts, order, sequences, payload checksums,
JSON, wildcards, durable acks, queue groups, credit and replay from a sequence."""

from __future__ import annotations

import asyncio
import hashlib

import arqon
from conftest import fresh_reality, run, stored_reality


@run
async def test_round_trip_counts_order_and_checksums(url: str) -> None:
    reality = fresh_reality()
    async with arqon.connect(url, name="py-sub") as sub_bus, \
            arqon.connect(url, name="py-pub") as pub_bus:
        sub = await sub_bus.subscribe("orders.>", reality=reality)
        other = await sub_bus.subscribe("orders.*.created", reality=reality)
        n = 2000
        payloads = [hashlib.sha256(str(i).encode()).digest() * 8 for i in range(n)]
        futs = [
            pub_bus.publish(f"orders.{'eu' if i % 2 else 'us'}.created", p, reality=reality)
            for i, p in enumerate(payloads)
        ]
        acks = await asyncio.gather(*futs)
        assert [a.sequence for a in acks] == list(range(1, n + 1)), "acks in order, no gap"
        assert all(a.reality == reality for a in acks)
        got = [await sub.next(timeout=10) for _ in range(n)]
        assert [p.sequence for p in got] == list(range(1, n + 1))
        assert [p.payload for p in got] == payloads, "payloads arrive intact, in order"
        assert [p.id for p in got] == [a.id for a in acks]
        assert got[0].producer == "py-pub" and got[0].reality == reality
        assert len([await other.next(timeout=10) for _ in range(n)]) == n
        assert sub.pending() == 0 and other.pending() == 0, "nothing beyond what was sent"


@run
async def test_json_text_and_headers(url: str) -> None:
    reality = fresh_reality()
    async with arqon.connect(url, name="py-json") as bus:
        sub = await bus.subscribe("lab.>", reality=reality)
        await bus.publish("lab.reading", {"temp": 21.5, "tags": ["a"]}, reality=reality)
        await bus.publish("lab.note", "grüße", reality=reality, content_type="text/plain",
                          headers={"k": "v"})
        first, second = await sub.next(timeout=5), await sub.next(timeout=5)
        assert first.json() == {"temp": 21.5, "tags": ["a"]}
        assert first.content_type == "application/json"
        assert second.text() == "grüße" and second.headers == {"k": "v"}


@run
async def test_durable_ack_and_fire_and_forget(url: str) -> None:
    reality = stored_reality(url)
    async with arqon.connect(url, name="py-durable") as bus:
        acks = await asyncio.gather(*[
            bus.publish("audit.entry", f"e{i}".encode(), reality=reality, ack="durable")
            for i in range(50)
        ])
        assert [a.sequence for a in acks] == list(range(1, 51))
        assert await bus.publish("audit.entry", b"nowait", reality=reality, ack="none") is None
        await bus.flush()
        stored = await bus.history(reality=reality, pattern="audit.>")
        assert [p.payload for p in stored] == [f"e{i}".encode() for i in range(50)] + [b"nowait"]


@run
async def test_queue_group_shares_each_pulse_with_one_member(url: str) -> None:
    reality = fresh_reality()
    async with arqon.connect(url, name="w1") as b1, arqon.connect(url, name="w2") as b2, \
            arqon.connect(url, name="producer") as pub:
        m1 = await b1.subscribe("jobs.>", reality=reality, queue="workers")
        m2 = await b2.subscribe("jobs.>", reality=reality, queue="workers")
        n = 400
        await asyncio.gather(*[pub.publish("jobs.run", str(i), reality=reality) for i in range(n)])
        await b1.flush()
        await b2.flush()
        await asyncio.sleep(0.2)
        seen1 = [int((await m1.next(timeout=5)).text()) for _ in range(m1.pending())]
        seen2 = [int((await m2.next(timeout=5)).text()) for _ in range(m2.pending())]
        assert sorted(seen1 + seen2) == list(range(n)), "each pulse to exactly one member"
        assert seen1 and seen2, "both members get work"
        assert seen1 == sorted(seen1) and seen2 == sorted(seen2), "each in order"


@run
async def test_credit_holds_deliveries_at_max_in_flight(url: str) -> None:
    reality = fresh_reality()
    async with arqon.connect(url, name="py-credit") as bus:
        sub = await bus.subscribe("ticks.>", reality=reality, max_in_flight=10)
        await asyncio.gather(*[bus.publish("ticks.t", str(i), reality=reality) for i in range(100)])
        await bus.flush()
        await asyncio.sleep(0.3)
        assert sub.pending() == 10, "the node stops at the credit window"
        got = [int((await sub.next(timeout=5)).text()) for _ in range(100)]
        assert got == list(range(100)), "granting credit as consumed brings the rest, in order"


@run
async def test_subscribe_from_sequence_replays_then_continues_live(url: str) -> None:
    reality = stored_reality(url)
    async with arqon.connect(url, name="py-replay") as bus:
        await asyncio.gather(*[
            bus.publish("log.line", str(i), reality=reality, ack="durable") for i in range(1, 21)
        ])
        sub = await bus.subscribe("log.>", reality=reality, from_sequence=11)
        await asyncio.gather(*[bus.publish("log.line", str(i), reality=reality) for i in range(21, 31)])
        got = [(await sub.next(timeout=5)).sequence for _ in range(20)]
        assert got == list(range(11, 31)), "stored 11..20 then live 21..30, no gap or duplicate"
        await sub.close()
        async for _ in sub:
            raise AssertionError("a closed subscription yields nothing more")
