/**
 * A Worker for `thread_nice_test.ts`: feeds the fuel figures it is sent to a
 * `ThreadPriority` of its own thread and answers with the nice value it set.
 * @module
 */
/// <reference lib="deno.worker" />
import { ThreadPriority } from "../../thread_nice.ts";

const priority = new ThreadPriority();
self.onmessage = (e: MessageEvent<{ fuel: number; pulses: number }>) => {
  priority.observe(e.data.fuel, e.data.pulses);
  self.postMessage({ nice: priority.nice });
};
self.postMessage({ ready: true });
