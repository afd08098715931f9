/**
 * One HTTP connection piped by the front door to the node's `Deno.serve` on its private
 * Unix socket. The client's bytes pass through `RequestFraming`, which holds each request
 * to its deadlines (`http_deadlines.ts`), refuses heads over 16 KiB and gives each head
 * the client's address (`PEER_HEADER`, see `request_relay.ts`); the server's bytes pass
 * unchanged. A WebSocket upgrade (the `deno` engine) is allowed only as a connection's
 * first request: the client's next bytes wait for the server's answer; after a 101 the pipe
 * carries bytes as they come, with no deadlines, and after a refusal the connection ends
 * with it. Past an upgrade no head is rewritten, so a connection that did not switch
 * protocols must not go on: its client could name any address in `PEER_HEADER`. When the front door must answer itself (431, 408), it first lets the server
 * finish the responses it owes, so its answer never lands inside one of them.
 * @module
 */
import { writeAll } from "../transport/mod.ts";
import type { DeadlineSweeper, DeadlineWatch, MissedDeadline } from "./http_deadlines.ts";
import { type FramingProblem, RequestFraming } from "./http_framing.ts";
import { answerAndClose, closeQuietly, problemResponse } from "./raw_answer.ts";
import { relayedHead } from "./request_relay.ts";
import type { PeerAddress } from "./tls/mod.ts";

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
 * Pipes `client` to `server`: the first head (already read and parsed as `head`) and
 * `rest` (bytes read past it) first; every head names `peer`. With `upgrade`, the first
 * request asks to switch protocols (see above). Resolves when both directions ended.
 * `onWatch` is told the connection's deadline watch, and `undefined` once it has none
 * (ended or upgraded).
 */
export async function pipeHttp(
  client: Deno.Conn,
  server: Deno.Conn,
  first: { readonly head: string; readonly raw: Uint8Array; readonly rest: Uint8Array },
  peer: PeerAddress,
  ctx: PipeContext,
  onWatch: (watch: DeadlineWatch | undefined) => void,
  upgrade = false,
): Promise<void> {
  const rewrite = (head: string) => relayedHead(head.split("\r\n"), peer);
  const framing = new RequestFraming(rewrite);
  let ending = false;
  let serverDone: Promise<void> = Promise.resolve();
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
    const firstHead = rewrite(first.head);
    if (upgrade) {
      framing.afterHead(first.head);
      // The client's next bytes wait for the server's answer to the upgrade.
      const answer = Promise.withResolvers<boolean>();
      await writeAll(server, firstHead);
      serverDone = pump(server, client, () => watch, () => ending, (chunk) => {
        answer.resolve(new TextDecoder().decode(chunk.subarray(0, 13)) === "HTTP/1.1 101 ");
      });
      serverDone.then(() => answer.resolve(false));
      if (!(await answer.promise)) {
        await Promise.all([finish(null, true), serverDone]);
        return;
      }
      // Switched: no longer HTTP, so no deadlines (its protocol has its own).
      framing.upgrade();
      if (watch) ctx.sweeper!.unwatch(watch);
      watch = undefined;
      onWatch(undefined);
      if (first.rest.length) await writeAll(server, first.rest);
    } else {
      const out: Uint8Array[] = [];
      const early = framing.afterHead(first.head) ?? framing.feed(first.rest, out);
      if (early) {
        await writeAll(server, firstHead);
        return await refuse(early);
      }
      await writeAll(server, firstHead);
      for (const bytes of out) await writeAll(server, bytes);
      serverDone = pump(server, client, () => watch, () => ending);
    }
    toClientAtPhase = 0;
    await Promise.all([
      pumpRequests(client, server, framing, () => watch, refuse, () => ending, () => {
        toClientAtPhase = watch?.toClient ?? 0;
      }),
      serverDone,
    ]);
  } finally {
    if (watch) ctx.sweeper!.unwatch(watch);
    onWatch(undefined);
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
  watchOf: () => DeadlineWatch | undefined,
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
      watchOf()?.touch();
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
  watchOf: () => DeadlineWatch | undefined,
  ending: () => boolean,
  onData?: (chunk: Uint8Array) => void,
): Promise<void> {
  const buf = new Uint8Array(PIPE_READ_BYTES);
  try {
    while (true) {
      const n = await from.read(buf);
      if (n === null) break;
      onData?.(buf.subarray(0, n));
      const watch = watchOf();
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
