/**
 * Runs the native workspace's `cargo test` (ring, futex, shm, udp and bench unit tests)
 * as part of `deno test`, offline against Debian's vendored crates where installed.
 */
import { cargo, findCargo } from "../scripts/build_native.ts";

Deno.test("native: cargo test passes for the core crate", async () => {
  const path = findCargo();
  if (!path) throw new Error("cargo not found: .ci/run must install it (apt-get install cargo)");
  const code = await cargo(path, ["test", "-p", "arqon_native", "--", "--test-threads=2"]);
  if (code !== 0) throw new Error(`cargo test failed with exit code ${code}`);
});
