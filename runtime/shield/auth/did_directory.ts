/**
 * Which DIDs the node admits and with what grants, from config. A DID that proves its
 * key but is not listed gets no access (FORBIDDEN), unless the config has a `*` entry.
 * @module
 */
import { parseDidKey } from "../../identity/mod.ts";
import { forbidden } from "./errors.ts";
import { type Grants, parseGrants, type Principal } from "./grants.ts";

/** Grants per DID. */
export class DidDirectory {
  readonly #grants: ReadonlyMap<string, Grants>;

  /** `entries` maps a `did:key` (or `*` for any proven DID) to its grants. */
  constructor(entries: Readonly<Record<string, unknown>>) {
    const grants = new Map<string, Grants>();
    for (const [did, value] of Object.entries(entries)) {
      if (did !== "*") parseDidKey(did);
      try {
        grants.set(did, parseGrants(value));
      } catch (e) {
        throw new TypeError(`grants of ${did}: ${(e as Error).message}`);
      }
    }
    this.#grants = grants;
  }

  /** Reads `{"dids": {"did:key:...": {realities, publish, subscribe, roles}}}` from a file. */
  static async fromFile(path: string): Promise<DidDirectory> {
    const json = JSON.parse(await Deno.readTextFile(path));
    if (!json || typeof json.dids !== "object") {
      throw new TypeError(`${path}: expected {"dids": {...}}`);
    }
    return new DidDirectory(json.dids);
  }

  /** The principal of a DID whose key has been proven; throws FORBIDDEN when not listed. */
  principalFor(did: string): Principal {
    const grants = this.#grants.get(did) ?? this.#grants.get("*");
    if (!grants) throw forbidden(`DID ${did} has no permissions on this node`);
    return { ...grants, subject: did, method: "did" };
  }
}
