/**
 * One HTTP connection piped by the front door to the node's `Deno.serve` on loopback.
 * The client's bytes pass through `RequestFraming`, which holds each request to its
 * deadlines (`http_deadlines.ts`) and refuses heads over 16 KiB; the server's bytes pass
 * unchanged. When the front door must answer itself (431, 408), it first lets the server
 * finish the responses it owes, so its answer never lands inside one of them.
 * @module
 */
import { writeAll } from "../transport/mod.ts";
import type { DeadlineSweeper, DeadlineWatch, MissedDeadline } from "./http_deadlines.ts";
import { type FramingProblem, RequestFraming } from "./http_framing.ts";
import { answerAndClose, closeQuietly, problemResponse } from "./raw_answer.ts";

/** Read size of piped connections: two buffers per connection, so kept small. */
const PIPE_READ_BYTES = 16 * 1024;
/** Time the server gets to finish the responses it owes before the front door answers. */
const DRAIN_MS = 5000;

/** What a pipe needs from its front door. */
export interface PipeContext {
  /** Checks the deadlines of every pipe; absent: no deadlines. */
  readonly sweeper: DeadlineSweeper | null;
  /** Counts a limit that bit (`http_head_too_large`, `http_header_timeout`, ...). */
  readonly onLimit?: (limit: string) => void;
}

/**
 * Pipes `client` to `server`: `raw` (the first head, already read and parsed as `head`)
 * and `rest` (bytes read past it) first. Resolves when both directions ended.
 */
export async function pipeHttp(
  client: Deno.Conn,
  server: Deno.Conn,
  first: { readonly head: string; readonly raw: Uint8Array; readonly rest: Uint8Array },
  ctx: PipeContext,
  onWatch: (watch: DeadlineWatch | undefined) => void,
): Promise<void> {
  const framing = new RequestFraming();
  let ending = false;
  let serverDone: Promise<void> = Promise.resolve();
  // deno-lint-ignore prefer-const
  let watch: DeadlineWatch | undefined;
  // Ends the pipe; with `answer`, the client gets it once the server has finished the
  // responses it owes (graceful) or at once (the server is cut).
  const finish = async (answer: Response | null, graceful: boolean, linger = false) => {
    if (ending) return;
    ending = true;
    if (graceful && watch) {
      // The server has answered every request it got; told the client is done, it writes
      // out what it still buffers and closes its side: the pump then has forwarded it all.
      const deadline = Date.now() + DRAIN_MS;
      await owedResponses(watch, framing, deadline);
      try {
        await (server as Deno.TcpConn).closeWrite();
      } catch { /* already closed */ }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const left = Math.max(0, deadline - Date.now());
      await Promise.race([serverDone, new Promise((r) => timer = setTimeout(r, left))]);
      clearTimeout(timer);
    }
    closeQuietly(server);
    if (answer) await answerAndClose(client, answer, linger);
    else closeQuietly(client);
  };
  const refuse = (p: FramingProblem) => {
    if (p.status === 431) ctx.onLimit?.("http_head_too_large");
    // A 431 comes before its request reached the server; a broken body cannot be followed.
    // Called from the client's read loop, which then reads no more: the close may linger.
    return finish(problemResponse(p.status, p.code, p.message), p.status === 431, true);
  };
  let toClientAtPhase = 0;
  watch = ctx.sweeper?.watch(framing, (missed: MissedDeadline) => {
    ctx.onLimit?.(`http_${missed}_timeout`);
    if (missed === "idle") return void finish(null, false);
    const answer = problemResponse(408, "TIMEOUT", `request ${missed} not received in time`);
    // A late head reached the server in no part: let it finish, then answer. A late body
    // did: cut the server, and answer only if nothing of a response went out since.
    if (missed === "header") return void finish(answer, true);
    void finish(watch!.toClient === toClientAtPhase ? answer : null, false);
  });
  onWatch(watch);
  try {
    const out: Uint8Array[] = [];
    const early = framing.afterHead(first.head) ?? framing.feed(first.rest, out);
    if (early) {
      await writeAll(server, first.raw);
      return await refuse(early);
    }
    await writeAll(server, first.raw);
    for (const bytes of out) await writeAll(server, bytes);
    toClientAtPhase = 0;
    serverDone = pump(server, client, watch, () => ending);
    await Promise.all([
      pumpRequests(client, server, framing, watch, refuse, () => ending, () => {
        toClientAtPhase = watch?.toClient ?? 0;
      }),
      serverDone,
    ]);
  } finally {
    if (watch) ctx.sweeper!.unwatch(watch);
    closeQuietly(client);
    closeQuietly(server);
  }
}

/** Waits (until `deadline`) until the server has answered every request it received. */
async function owedResponses(
  watch: DeadlineWatch,
  framing: RequestFraming,
  deadline: number,
): Promise<void> {
  while (Date.now() < deadline) {
    if (watch.answered >= framing.requests && watch.responding === 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Copies a client's requests to the server, passing them through `framing`; stops at the
 * first bytes it cannot follow (`onProblem`) or once the pipe is `ending`.
 */
async function pumpRequests(
  from: Deno.Conn,
  to: Deno.Conn,
  framing: RequestFraming,
  watch: DeadlineWatch | undefined,
  onProblem: (problem: FramingProblem) => Promise<void>,
  ending: () => boolean,
  onBody: () => void,
): Promise<void> {
  const buf = new Uint8Array(PIPE_READ_BYTES);
  const out: Uint8Array[] = [];
  try {
    while (true) {
      const n = await from.read(buf);
      if (n === null || ending()) break;
      const before = framing.phase;
      out.length = 0;
      const problem = framing.feed(buf.subarray(0, n), out);
      watch?.touch();
      if (problem) return await onProblem(problem);
      if (before !== "body" && framing.phase === "body") onBody();
      for (const bytes of out) await writeAll(to, bytes);
    }
    if (!ending()) await (to as Deno.TcpConn).closeWrite();
  } catch {
    if (ending()) return;
    closeQuietly(from);
    closeQuietly(to);
  }
}

/** Copies the server's bytes to the client until the server ends, then half-closes. */
async function pump(
  from: Deno.Conn,
  to: Deno.Conn,
  watch: DeadlineWatch | undefined,
  ending: () => boolean,
): Promise<void> {
  const buf = new Uint8Array(PIPE_READ_BYTES);
  try {
    while (true) {
      const n = await from.read(buf);
      if (n === null) break;
      if (watch) watch.toClient += n;
      watch?.touch();
      await writeAll(to, buf.subarray(0, n));
    }
    // The front door may still have to write its own answer.
    if (!ending()) await (to as Deno.TcpConn).closeWrite();
  } catch {
    if (ending()) return;
    closeQuietly(from);
    closeQuietly(to);
  }
}
