"""Quick start: publish, subscribe, request/reply and history against a running node.

    deno task start                                  # a node on ws://127.0.0.1:7420/v1/ws
    /usr/bin/python3 sdk/python/examples/quickstart.py [ws-url]
"""

import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))  # run from a checkout
import arqon  # noqa: E402

URL = sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1:7420/v1/ws"


async def main() -> None:
    async with arqon.connect(URL, name="quickstart") as bus:
        # Subscribe, then publish: the ack carries the node's id and sequence.
        sub = await bus.subscribe("sensors.>")
        ack = await bus.publish("sensors.kitchen.temp", {"celsius": 21.5})
        print(f"published #{ack.sequence} ({ack.id})")
        pulse = await sub.next(timeout=5)
        print(f"received {pulse.topic} #{pulse.sequence}: {pulse.json()}")

        # Pipelining: keep many publishes in flight, await their acks together.
        acks = await asyncio.gather(*[bus.publish("sensors.hall.temp", str(i)) for i in range(100)])
        print(f"100 more acked, sequences {acks[0].sequence}..{acks[-1].sequence}")

        # Request/reply: a responder answers each request on its reply topic.
        async def responder(s: arqon.Subscription) -> None:
            async for req in s:
                await bus.reply(req, {"sum": sum(req.json())})

        service = await bus.subscribe("math.sum")
        task = asyncio.create_task(responder(service))
        answer = await bus.request("math.sum", [1, 2, 3], timeout=2)
        print(f"math.sum replied {answer.json()}")
        task.cancel()

        # Typed errors carry the node's code and message.
        try:
            await bus.request("nobody.home", b"?", timeout=1)
        except arqon.NoResponders as e:
            print(f"error {e.code}: {e.message}")


asyncio.run(main())
