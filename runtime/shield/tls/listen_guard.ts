/**
 * Refuses unsafe listening setups before the node opens a socket: beyond loopback the
 * node needs TLS and authentication, unless the operator says `--insecure`, in which
 * case it says loudly what it is doing.
 * @module
 */

/** What the node is about to do. */
export interface ListenPlan {
  readonly hostname: string;
  readonly tls: boolean;
  readonly auth: boolean;
  readonly insecure: boolean;
}

/** The verdict: `error` means refuse to start; `warnings` must be printed. */
export interface ListenVerdict {
  readonly error?: string;
  readonly warnings: readonly string[];
}

/** True for 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) ||
    /^::ffff:127\./.test(h);
}

/** Checks a listen plan. */
export function checkListenPlan(plan: ListenPlan): ListenVerdict {
  const warnings: string[] = [];
  const where = `${plan.hostname}`;
  if (isLoopback(plan.hostname)) {
    if (!plan.auth) {
      warnings.push(`auth: none — the node is OPEN to every local process on ${where}`);
    }
    return { warnings };
  }
  const missing = [
    !plan.tls && "TLS (--tls-cert/--tls-key)",
    !plan.auth && "authentication (--auth-key or --auth-dids)",
  ]
    .filter(Boolean);
  if (missing.length === 0) return { warnings };
  if (!plan.insecure) {
    return {
      error: `refusing to listen on non-loopback ${where} without ${missing.join(" and ")}; ` +
        "pass --insecure to do it anyway",
      warnings,
    };
  }
  const banner = "!".repeat(72);
  warnings.push(
    banner,
    `INSECURE: listening on ${where} without ${missing.join(" and ")} (--insecure).`,
    "Anyone who can reach this address can read and write every reality.",
    banner,
  );
  return { warnings };
}
