"""The researcher's flow: submit a job and print its progress as it streams in.

The job service below is a stand-in for a real one (a GPU worker, an operator): it takes
jobs by request on `jobs.submit` and reports on `jobs.<id>.progress` then `jobs.<id>.result`.
The researcher subscribes to the job's topics, submits it, and prints each update until
the result arrives: the flow for a service that reports on topics of its own. A service
that answers with streamed replies is read with `bus.request_stream` instead (nvm_job.py;
docs/python.md, "Streamed results").

    deno task start
    /usr/bin/python3 sdk/python/examples/research_job.py [ws-url]          # with the stand-in
    /usr/bin/python3 sdk/python/examples/research_job.py [ws-url] --no-worker   # a real service
"""

import asyncio
import os
import sys
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))  # run from a checkout
import arqon  # noqa: E402

args = [a for a in sys.argv[1:] if not a.startswith("--")]
URL = args[0] if args else "ws://127.0.0.1:7420/v1/ws"


async def job_service(url: str, ready: asyncio.Event) -> None:
    """Accepts each job, then publishes ten progress steps and a result."""
    async with arqon.connect(url, name="job-service") as bus:
        jobs = await bus.subscribe("jobs.submit", queue="job-service")
        ready.set()
        async for req in jobs:
            job = req.json()
            await bus.reply(req, {"accepted": job["id"]})
            for step in range(1, 11):
                await asyncio.sleep(0.02)  # the work
                await bus.publish(f"jobs.{job['id']}.progress", {"percent": step * 10})
            await bus.publish(f"jobs.{job['id']}.result", {"loss": 0.042, "epochs": job["epochs"]})


async def researcher(url: str) -> None:
    async with arqon.connect(url, name="researcher") as bus:
        job_id = uuid.uuid4().hex[:12]
        # Subscribe before submitting, so no update can be missed.
        updates = await bus.subscribe(f"jobs.{job_id}.>")
        accepted = await bus.request("jobs.submit", {"id": job_id, "epochs": 3}, timeout=5)
        print(f"job {accepted.json()['accepted']} accepted")
        async for pulse in updates:
            if pulse.topic.endswith(".progress"):
                print(f"progress {pulse.json()['percent']}%")
            else:
                print(f"result {pulse.json()}")
                break


async def main() -> None:
    worker = None
    if "--no-worker" not in sys.argv:
        ready = asyncio.Event()
        worker = asyncio.create_task(job_service(URL, ready))
        await ready.wait()
    await researcher(URL)
    if worker:
        worker.cancel()


asyncio.run(main())
