/**
 * The harness of `bench/operators_bench.ts`, apart from what it measures: load roles run as
 * pinned child processes of the bench script, the operator HTTP calls, CPU readings.
 * @module
 */
import { type NodeProcess, pinned, readLine } from "../support.ts";

/**
 * Load roles: `script --role ...` spawned on `cpu` (null: unpinned). `runToEnd` waits for a
 * role's last line (JSON; throws when it reported lost or wrong outputs); `startLongRole`
 * starts one that runs until its stdin closes.
 */
export function loadRoles(script: string, cpu: string | null) {
  /** Spawns the script as a load role on the load CPU. */
  function role(args: string[]): Deno.ChildProcess {
    const [cmd, full] = pinned(cpu, Deno.execPath(), ["run", "-A", script, "--role", ...args]);
    return new Deno.Command(cmd, { args: full, stdin: "piped", stdout: "piped", stderr: "inherit" })
      .spawn();
  }

  /** Runs a role to completion; its last line as JSON; throws when it reported lost outputs. */
  async function runToEnd<T>(args: string[]): Promise<T> {
    const child = role(args);
    await child.stdin.close();
    const out = await child.output();
    const last = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
    if (!out.success) throw new Error(`load role ${args.join(" ")} failed (lost/wrong): ${last}`);
    return JSON.parse(last) as T;
  }

  /** A role that runs until told to stop: started once it printed `ready`. */
  async function startLongRole(args: string[]) {
    const child = role(args);
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const line = (await readLine(reader)).trim();
    if (line !== "ready") throw new Error(`load role ${args[0]} did not start: ${line}`);
    return {
      pid: child.pid,
      async stop<T>(): Promise<T> {
        await child.stdin.close();
        let rest = "";
        while (true) {
          const { value, done } = await reader.read();
          if (done) break;
          rest += value;
        }
        await child.status;
        return JSON.parse(rest.trim().split("\n").at(-1)!) as T;
      },
    };
  }

  return { runToEnd, startLongRole };
}

/** Installs (or replaces) an operator: multipart component and manifest. */
export async function install(
  node: NodeProcess,
  name: string,
  wasm: Uint8Array,
  manifest: unknown,
) {
  const form = new FormData();
  form.append("component", new Blob([wasm as BlobPart]), `${name}.wasm`);
  form.append("manifest", JSON.stringify(manifest));
  const res = await fetch(`${node.httpUrl}/v1/operators/${name}`, { method: "PUT", body: form });
  const body = await res.text();
  if (res.status !== 201 && res.status !== 200) throw new Error(`install ${name}: ${body}`);
}

/** Deletes an operator. */
export async function remove(node: NodeProcess, name: string): Promise<void> {
  const res = await fetch(`${node.httpUrl}/v1/operators/${name}`, { method: "DELETE" });
  await res.body?.cancel();
}

/** What the bench reads of `GET /v1/operators/{name}`. */
export interface OperatorStatus {
  status: string;
  counters: { pulsesIn: number; pulsesOut: number; failures: number; fuelUsed: number };
  handle_ms: { p50: number; p99: number };
}
/** An operator's status. */
export async function status(node: NodeProcess, name: string): Promise<OperatorStatus> {
  return await (await fetch(`${node.httpUrl}/v1/operators/${name}`)).json();
}

/** Node CPU seconds spent while `fn` ran, with its result. */
export async function cpuOf<T>(node: NodeProcess, fn: () => Promise<T>): Promise<[T, number]> {
  const c0 = node.cpuSeconds();
  const r = await fn();
  return [r, node.cpuSeconds() - c0];
}

/**
 * CPU seconds (user + system) the Worker threads of process `pid` have used (Deno names
 * them `worker-<n>`): an operator's computation, as the external service's process is
 * the external side's. 0 when there are none, NaN off Linux.
 */
export function workerCpu(pid: number): number {
  try {
    let total = 0;
    for (const e of Deno.readDirSync(`/proc/${pid}/task`)) {
      const dir = `/proc/${pid}/task/${e.name}`;
      if (!Deno.readTextFileSync(`${dir}/comm`).startsWith("worker-")) continue;
      const stat = Deno.readTextFileSync(`${dir}/stat`);
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      total += (Number(f[11]) + Number(f[12])) / 100;
    }
    return total;
  } catch {
    return NaN;
  }
}

/** The median (the mean of the middle two for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** CPU seconds (user + system) process `pid` has used; NaN when unknown. */
export function procCpu(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}
