"""The Python side of ``deno task bench:sdk``: publishes 1 KB pulses with ``ack="received"``
for a fixed time, keeping ``window`` acknowledgements in flight (pipelined, as an
application would with ``asyncio`` futures), and prints one JSON line with the count of
acked publishes, the seconds they took and this process's CPU time per acked publish (a
figure that holds even when other processes share the CPU).

    /usr/bin/python3 sdk/python/bench/publish_load.py ws://127.0.0.1:7420/v1/ws 5 4096
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import arqon  # noqa: E402

TOPIC = "bench.sdk.python"
PAYLOAD = b"\x00" * 1024
WARMUP_S = 1.0


async def run(url: str, seconds: float, window: int) -> dict:
    async with arqon.connect(url, name="sdk-bench-py") as bus:
        futs: list = [None] * window
        i = 0
        acked = 0
        publish = bus.publish
        t_end = time.perf_counter() + WARMUP_S + seconds
        t_start = time.perf_counter() + WARMUP_S
        measuring = False
        while True:
            slot = i % window
            prev = futs[slot]
            if prev is not None:
                await prev
                if measuring:
                    acked += 1
            if not measuring and i % 256 == 0:
                now = time.perf_counter()
                if now >= t_start:
                    measuring = True
                    t0 = now
                    c0 = time.process_time()
            if i % 256 == 0 and measuring and time.perf_counter() >= t_end:
                break
            futs[slot] = publish(TOPIC, PAYLOAD)
            i += 1
        elapsed = time.perf_counter() - t0
        cpu = time.process_time() - c0
        for f in futs:
            if f is not None:
                await f
        return {
            "acked": acked, "seconds": elapsed, "rate": acked / elapsed,
            "cpu_us": cpu / acked * 1e6,  # this process's CPU per acked publish
        }


if __name__ == "__main__":
    url, seconds, window = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(asyncio.run(run(url, seconds, window))))
