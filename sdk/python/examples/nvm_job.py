"""The researcher's flow: submit a simulated experiment to the `nvm-job` operator and print
its progress as it streams in, with one streamed request.

    deno task start
    curl -X PUT http://127.0.0.1:7420/v1/operators/nvm -H 'content-type: application/json' \\
      -d '{"builtin": "nvm-job", "inputs": ["nvm.job.submit"]}'
    /usr/bin/python3 sdk/python/examples/nvm_job.py [ws-url]
    /usr/bin/python3 sdk/python/examples/nvm_job.py [ws-url] --install   # installs it first
"""

import asyncio
import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))  # run from a checkout
import arqon  # noqa: E402

args = [a for a in sys.argv[1:] if not a.startswith("--")]
URL = args[0] if args else "ws://127.0.0.1:7420/v1/ws"


def install_operator(ws_url: str) -> None:
    """PUT /v1/operators/nvm {"builtin": "nvm-job", ...} on the node behind `ws_url`."""
    http = "http" + ws_url.split("/v1/ws")[0][len("ws"):]
    body = {"builtin": "nvm-job", "inputs": ["nvm.job.submit"]}
    req = urllib.request.Request(f"{http}/v1/operators/nvm", data=json.dumps(body).encode(),
                                 method="PUT", headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as res:
        assert res.status in (200, 201), res.status


async def main() -> None:
    if "--install" in sys.argv:
        install_operator(URL)
    job = {"job_id": "exp-42", "steps": 2000, "dt": 0.01, "k_c": 0.4, "joules": 20, "reports": 5}
    async with arqon.connect(URL, name="researcher") as bus:
        async for reply in bus.request_stream("nvm.job.submit", job, timeout=10):
            p = reply.json()
            energy = p["state"]["energy"]
            print(f"step {p['step']}/{job['steps']}: energy {energy:.3f} J"
                  + (" (done)" if p["done"] else ""))
        try:  # the energy cap (when bound to nvm.job.submit) refuses jobs over 50 J
            async for reply in bus.request_stream("nvm.job.submit", {**job, "joules": 75}):
                print("ran:", reply.json()["step"])
        except arqon.PolicyDenied as e:
            print(f"refused: {e.code}")


asyncio.run(main())
