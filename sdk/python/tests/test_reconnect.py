"""Reconnect: the node process is stopped and started again on the same port and data
directory; the bus reconnects by itself, resubscribes from the last sequence it saw and
the subscriber gets every pulse exactly once, in order (stored ones replayed)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import tempfile

import pytest

import arqon
from conftest import need, run, stored_reality


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NodeProcess:
    """`deno run -A mod.ts` on a fixed port and data directory, as a child process."""

    def __init__(self, port: int, data_dir: str) -> None:
        self.port = port
        self.data_dir = data_dir
        self.proc: subprocess.Popen[str] | None = None

    async def start(self) -> str:
        deno, root = need("ARQON_DENO"), need("ARQON_ROOT")
        self.proc = subprocess.Popen(
            [deno, "run", "-A", "mod.ts", "--port", str(self.port), "--data-dir", self.data_dir,
             "--shutdown-grace-ms", "200"],
            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        seen = ""
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, self.proc.stdout.readline)  # type: ignore[union-attr]
            if not line:
                raise RuntimeError(f"node exited before listening:\n{seen}")
            seen += line
            m = re.search(r"\(ws (\S+)\)", seen)
            if m:
                # Keep draining its output so the node never blocks on a full pipe.
                loop.run_in_executor(None, self.proc.stdout.read)  # type: ignore[union-attr]
                return m.group(1)

    async def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            await asyncio.get_running_loop().run_in_executor(None, self.proc.wait, 10)


@pytest.fixture
def node_dir():
    d = tempfile.mkdtemp(prefix="arqon-py-reconnect-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@run
async def test_reconnect_resubscribes_with_no_gap(node_dir: str) -> None:
    node = NodeProcess(_free_port(), node_dir)
    url = await node.start()
    try:
        reality = stored_reality(url, "py-reconnect")
        async with arqon.connect(url, name="sub", reconnect_delay=0.05) as sub_bus:
            sub = await sub_bus.subscribe("metrics.>", reality=reality)
            await asyncio.gather(*[
                sub_bus.publish("metrics.cpu", str(i), reality=reality, ack="durable")
                for i in range(1, 51)
            ])
            first = [int((await sub.next(timeout=10)).text()) for _ in range(50)]
            assert first == list(range(1, 51))

            # A call in flight when the connection drops fails with a typed error.
            await sub_bus.subscribe("svc.silent", reality=reality, resume=False)
            pending = asyncio.ensure_future(
                sub_bus.request("svc.silent", b"", reality=reality, timeout=30)
            )
            await sub_bus.flush()
            await node.stop()
            with pytest.raises(arqon.ConnectionLost):
                await asyncio.wait_for(pending, 10)
            assert not sub_bus.is_connected

            await node.start()
            # Another client publishes at once, likely before the subscriber is back.
            async with arqon.connect(url, name="other") as other:
                await asyncio.gather(*[
                    other.publish("metrics.cpu", str(i), reality=reality, ack="durable")
                    for i in range(51, 81)
                ])
            await asyncio.wait_for(sub_bus.connected(), 15)
            await sub.ready()
            await asyncio.gather(*[
                sub_bus.publish("metrics.cpu", str(i), reality=reality, ack="durable")
                for i in range(81, 101)
            ])
            rest = [int((await sub.next(timeout=10)).text()) for _ in range(50)]
            assert rest == list(range(51, 101)), "resumed after 50: no gap, no duplicate"
            await sub_bus.flush()
            assert sub.pending() == 0
            assert sub_bus.reconnects >= 1
    finally:
        await node.stop()


@run
async def test_without_reconnect_subscriptions_end_with_the_connection(node_dir: str) -> None:
    node = NodeProcess(_free_port(), node_dir)
    url = await node.start()
    try:
        bus = await arqon.connect(url, name="once", reconnect=False)
        sub = await bus.subscribe("a.>")
        await node.stop()
        with pytest.raises(arqon.ConnectionLost):
            await asyncio.wait_for(sub.next(), 10)
        await bus.close()
    finally:
        await node.stop()


@run
async def test_publishes_while_disconnected_wait_up_to_the_buffer(node_dir: str) -> None:
    node = NodeProcess(_free_port(), node_dir)
    url = await node.start()
    try:
        reality = stored_reality(url, "py-buffered")
        async with arqon.connect(url, name="buffered", reconnect_delay=0.05,
                                 reconnect_buffer_bytes=64 * 1024) as bus:
            await node.stop()
            while bus.is_connected:
                await asyncio.sleep(0.01)
            queued = []
            refused = None
            for i in range(1000):  # 1 KiB each: the 64 KiB buffer is driven past
                fut = bus.publish("buffered.x", bytes([i % 256]) * 1024, reality=reality,
                                  ack="durable")
                if fut.done() and fut.exception() is not None:
                    refused = fut.exception()
                    break
                queued.append(fut)
            assert isinstance(refused, arqon.ConnectionLost), refused
            assert "reconnect_buffer_bytes" in refused.message
            assert 50 <= len(queued) <= 64, len(queued)
            await node.start()
            acks = await asyncio.wait_for(asyncio.gather(*queued), 20)
            assert [a.sequence for a in acks] == list(range(1, len(queued) + 1)), \
                "queued publishes are sent after the reconnect, in order"
            stored = await bus.history(reality=reality)
            assert [p.payload[0] for p in stored] == [i % 256 for i in range(len(queued))]
    finally:
        await node.stop()
