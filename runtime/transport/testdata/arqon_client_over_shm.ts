/**
 * The TypeScript client (`ArqonClient`) in a separate process, over shared memory: a
 * `shm://<name>` URL makes the client use the native shm carrier instead of a WebSocket.
 *
 *   deno run -A arqon_client_over_shm.ts <shm-name> <count>
 *
 * Publishes <count> pulses with acks on `client.shm.t`, receives them on its own
 * subscription, checks order, and prints `done acked=<n> received=<n> last_sequence=<s>`.
 * @module
 */
import { ArqonClient } from "../../client/mod.ts";

const [name, countArg] = Deno.args;
const count = Number(countArg);
const client = await ArqonClient.connect(`shm://${name}`, {
  name: "client-over-shm",
  reconnect: false,
});
const sub = client.subscribe("client.shm.>");
await sub.ready;
const acks = [];
for (let i = 0; i < count; i++) {
  const payload = new Uint8Array(4);
  new DataView(payload.buffer).setUint32(0, i, true);
  acks.push(client.publish("client.shm.t", payload));
}
const acked = await Promise.all(acks);
let received = 0;
for await (const p of sub) {
  const i = new DataView(p.payload!.buffer, p.payload!.byteOffset).getUint32(0, true);
  if (i !== received) throw new Error(`pulse ${received} arrived as ${i}`);
  if (p.producerId !== "client-over-shm") throw new Error(`producer ${p.producerId}`);
  if (++received === count) break;
}
console.log(
  `done acked=${acked.length} received=${received} last_sequence=${acked.at(-1)?.sequence}`,
);
await client.close();
