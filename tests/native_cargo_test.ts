/**
 * Runs the native workspace's `cargo test` as part of `deno test`, offline against
 * Debian's vendored crates where installed: the core crate always; the DPDK crate (EAL
 * with `--no-huge --no-pci --no-shconf` on `net_ring`) and the RDMA crate (clean
 * "no RDMA device" here) where pkg-config finds their libraries, as in CI.
 */
import { cargo, findCargo, pkgConfigHas } from "../scripts/build_native.ts";

async function cargoTest(crate: string): Promise<void> {
  const path = findCargo();
  if (!path) throw new Error("cargo not found: .ci/run must install it (apt-get install cargo)");
  const { code, output } = await cargo(path, ["test", "-p", crate, "--", "--test-threads=2"], true);
  if (code !== 0) throw new Error(`cargo test -p ${crate} failed (exit ${code}):\n${output}`);
}

Deno.test("native: cargo test passes for the core crate", () => cargoTest("arqon_native"));

Deno.test({
  name: "native: cargo test passes for the DPDK crate (net_ring loopback)",
  ignore: !(await pkgConfigHas("libdpdk")),
  fn: () => cargoTest("arqon_dpdk"),
});

Deno.test({
  name: "native: cargo test passes for the RDMA crate (no device: clean refusal)",
  ignore: !(await pkgConfigHas("libibverbs")),
  fn: () => cargoTest("arqon_rdma"),
});
