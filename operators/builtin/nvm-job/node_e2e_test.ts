/**
 * `nvm-job` on a real node, installed with `PUT /v1/operators/{name}` `{"builtin": "nvm-job"}`:
 * a streamed request over hand-built protobuf frames receives every progress pulse as a
 * reply (the last final) while a plain subscriber sees the same pulses on
 * `nvm.job.result.<id>`; the same submit twice gives the same bytes; SSE over fetch; bad
 * jobs are typed errors for the requester; the energy cap policy bound to `nvm.job.submit`
 * refuses a job over 50 J before it starts.
 */
import assert from "node:assert/strict";
import { F, msg, num, pb, type PbField, type PbMessage, str } from "../../../tests/support/pb.ts";
import { RawSocket } from "../../../tests/support/raw_ws.ts";
import { call, client, delivered, waitStatus } from "../../../tests/support/operators.ts";
import { withNode } from "../../../tests/support/node.ts";
import type { ArqonNode } from "../../../mod.ts";

const PROTO = "arqon.v1.proto";
const enc = new TextEncoder();
const dec = new TextDecoder();

const JOB = { job_id: "exp-1", steps: 1000, dt: 0.01, k_c: 0.4, joules: 20, reports: 4 };

async function installJob(node: ArqonNode): Promise<void> {
  const res = await call(node.url, "PUT", "/v1/operators/nvm", {
    builtin: "nvm-job",
    reality: "default",
    inputs: ["nvm.job.submit"],
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  await waitStatus(node.url, "nvm", (s) => s.status === "running", "running");
}

async function requester(url: string): Promise<RawSocket> {
  const s = await RawSocket.open(url, PROTO);
  s.send(pb([[F.hello, [[1, "lab"], [2, 1]]]]));
  await s.wait(F.welcome);
  return s;
}

/** A streamed request frame with the job as payload and `seed` as the pulse's entropy seed. */
function submit(corr: number, job: unknown, seed = 99): Uint8Array {
  const payload = typeof job === "string" ? job : JSON.stringify(job);
  const pulse: PbField[] = [[3, "nvm.job.submit"], [10, "application/json"], [
    11,
    enc.encode(payload),
  ]];
  if (seed) pulse.push([14, seed]);
  return pb([[F.request, [[1, corr], [2, pulse], [3, 5000], [4, 1]]]]);
}

const repliesOf = (s: RawSocket, corr: number): PbMessage[] =>
  s.of(F.reply).filter((r) => num(r, 1) === corr);
const errorOf = (s: RawSocket, corr: number): PbMessage | undefined =>
  s.of(F.error).find((e) => num(e, 3) === corr);

Deno.test("nvm-job streams its progress as replies (last final) and on nvm.job.result.<id>; twice the same bytes", async () => {
  await withNode(async (node) => {
    await installJob(node);
    const watcher = await client(node.wsUrl, "nvm.job.result.>");
    const req = await requester(node.wsUrl);
    req.send(submit(1, JOB));
    await req.until(() => repliesOf(req, 1).length === 4, "4 replies");
    const first = repliesOf(req, 1);
    assert.deepEqual(first.map((r) => num(r, 3)), [0, 0, 0, 1], "the last reply is final");
    const bodies = first.map((r) => JSON.parse(str(msg(r, 2), 11)));
    assert.deepEqual(bodies.map((b) => b.step), [250, 500, 750, 1000]);
    assert.deepEqual(bodies.map((b) => b.done), [false, false, false, true]);
    assert.ok(bodies.every((b) => b.job_id === "exp-1" && b.state.x.length === 4));
    // The same pulses, on the result topic, for a plain subscriber.
    await watcher.until(() => delivered(watcher).length === 4, "4 progress pulses");
    assert.deepEqual(
      delivered(watcher).map((p) => p.topic),
      Array(4).fill("nvm.job.result.exp-1"),
    );
    assert.deepEqual(
      delivered(watcher).map((p) => atob(p.payload)),
      first.map((r) => str(msg(r, 2), 11)),
    );

    // Determinism: the same submit (same entropy seed) gives the same bytes; another seed not.
    req.send(submit(2, JOB));
    req.send(submit(3, JOB, 100));
    await req.until(() => repliesOf(req, 3).length === 4 && repliesOf(req, 2).length === 4, "8");
    const payloads = (c: number) => repliesOf(req, c).map((r) => str(msg(r, 2), 11));
    assert.deepEqual(payloads(2), payloads(1));
    assert.notDeepEqual(payloads(3), payloads(1));
    const status = (await call(node.url, "GET", "/v1/operators/nvm")).body;
    assert.equal(status.counters.pulsesIn, 3);
    assert.equal(status.counters.pulsesOut, 12, "replies are not counted as outputs twice");
    await watcher.close();
    await req.close();
  });
});

Deno.test("nvm-job over HTTP: POST ?stream=true answers with one SSE event per progress pulse", async () => {
  await withNode(async (node) => {
    await installJob(node);
    const res = await fetch(`${node.url}/v1/realities/default/request/nvm.job.submit?stream=true`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...JOB, job_id: "http-1", reports: 3 }),
    });
    assert.equal(res.status, 200);
    const events = (await res.text()).split("\n\n").filter((b) => b.startsWith("event: reply"));
    const data = events.map((b) => {
      const line = b.split("\n").find((l) => l.startsWith("data: "))!;
      return JSON.parse(line.slice(6));
    });
    assert.deepEqual(data.map((d) => d.final), [false, false, true]);
    assert.deepEqual(data.map((d) => d.pulse.topic.startsWith("_inbox.")), [true, true, true]);
    const steps = data.map((d) =>
      JSON.parse(dec.decode(Uint8Array.from(atob(d.pulse.payload), (c) => c.charCodeAt(0)))).step
    );
    assert.deepEqual(steps, [333, 666, 1000]);
  });
});

Deno.test("bad jobs are typed errors for the requester: not JSON (the card refuses it), diverging, too large", async () => {
  await withNode(async (node) => {
    await installJob(node);
    const req = await requester(node.wsUrl);
    const started = Date.now();
    req.send(submit(1, "this is not json"));
    await req.until(() => errorOf(req, 1) !== undefined, "schema error");
    assert.equal(num(errorOf(req, 1)!, 1), 24, "SCHEMA_VIOLATION");
    assert.match(
      str(errorOf(req, 1)!, 2),
      /input_schema of operator nvm/,
      JSON.stringify([...errorOf(req, 1)!]),
    );
    assert.ok(Date.now() - started < 4000, "answered, not timed out");
    // Valid for the card, refused by the operator: INVALID_ARGUMENT with its message.
    req.send(submit(2, { ...JOB, dt: 1, k_c: 10 }));
    req.send(submit(3, { ...JOB, steps: 100_000 }));
    await req.until(() => errorOf(req, 2) !== undefined && errorOf(req, 3) !== undefined, "errors");
    assert.equal(num(errorOf(req, 2)!, 1), 19, "INVALID_ARGUMENT");
    assert.match(str(errorOf(req, 2)!, 2), /diverge/);
    assert.equal(num(errorOf(req, 3)!, 1), 19);
    assert.match(str(errorOf(req, 3)!, 2), /max_work/);
    assert.equal(req.of(F.reply).length, 0);
    // Over HTTP the same error arrives as an SSE error event.
    const res = await fetch(`${node.url}/v1/realities/default/request/nvm.job.submit?stream=true`, {
      method: "POST",
      body: "{not json",
    });
    assert.match(await res.text(), /event: error\ndata: \{"error":\{"code":"SCHEMA_VIOLATION"/);
    // The operator keeps serving.
    req.send(submit(4, JOB));
    await req.until(() => repliesOf(req, 4).length === 4, "replies after errors");
    await req.close();
  });
});

Deno.test("the energy cap policy bound to nvm.job.submit refuses a job over 50 J before it starts", async () => {
  await withNode(async (node) => {
    await installJob(node);
    const up = await fetch(
      `${node.url}/v1/policies/energy?builtin=energy_cap&topic=nvm.job.submit`,
      {
        method: "PUT",
      },
    );
    assert.equal(up.status, 201, await up.text());
    const watcher = await client(node.wsUrl, "nvm.job.>");
    const req = await requester(node.wsUrl);
    req.send(submit(1, { ...JOB, job_id: "hot", joules: 75 }));
    await req.until(() => errorOf(req, 1) !== undefined, "denial");
    assert.equal(num(errorOf(req, 1)!, 1), 14, "POLICY_DENIED");
    assert.match(str(errorOf(req, 1)!, 2), /requested 75\.0 J exceeds the limit of 50\.0 J/);
    // Not JSON at all: the policy cannot check the cap, so it denies (fail-closed).
    req.send(submit(2, "joules=10"));
    await req.until(() => errorOf(req, 2) !== undefined, "denial 2");
    assert.equal(num(errorOf(req, 2)!, 1), 14);
    assert.match(str(errorOf(req, 2)!, 2), /not valid JSON/);
    // Over HTTP the refusal is a 403 before any SSE stream opens.
    const res = await fetch(`${node.url}/v1/realities/default/request/nvm.job.submit?stream=true`, {
      method: "POST",
      body: JSON.stringify({ ...JOB, job_id: "hot2", joules: 50.5 }),
    });
    assert.equal(res.status, 403);
    assert.equal((await res.json()).error.code, "POLICY_DENIED");
    // Within the cap the job runs.
    req.send(submit(3, { ...JOB, job_id: "ok", joules: 50 }));
    await req.until(() => repliesOf(req, 3).length === 4, "allowed job");
    await watcher.until(() => delivered(watcher).length === 5, "the allowed job and its progress");
    // Nothing of the refused jobs ever ran: no submit delivered, no progress published.
    assert.deepEqual(delivered(watcher).map((p) => p.topic), [
      "nvm.job.submit",
      ...Array(4).fill("nvm.job.result.ok"),
    ]);
    const status = (await call(node.url, "GET", "/v1/operators/nvm")).body;
    assert.equal(status.counters.pulsesIn, 1);
    await watcher.close();
    await req.close();
  });
});
