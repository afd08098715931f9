//! Compiles `src/shim.c` against DPDK (found with pkg-config) into a static library:
//! DPDK's burst calls (`rte_eth_tx_burst`, `rte_pktmbuf_alloc`, ...) are inline functions
//! in its headers, so they need a C compilation unit. Uses the system `cc` and `ar`
//! directly so the crate needs no build dependencies.
use std::process::Command;

fn pkg_config(args: &[&str]) -> String {
    let out = Command::new("pkg-config")
        .args(args)
        .output()
        .expect("pkg-config not found: apt-get install pkg-config");
    if !out.status.success() {
        panic!(
            "pkg-config {args:?} failed: DPDK development files are missing \
             (apt-get install dpdk-dev libdpdk-dev); build only the core crate instead"
        );
    }
    String::from_utf8(out.stdout).unwrap()
}

fn run(cmd: &mut Command) {
    let status = cmd.status().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(status.success(), "{cmd:?} failed");
}

fn main() {
    println!("cargo:rerun-if-changed=src/shim.c");
    let out = std::env::var("OUT_DIR").unwrap();
    let cflags = pkg_config(&["--cflags", "libdpdk"]);
    let obj = format!("{out}/shim.o");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    run(Command::new(&cc)
        .args([
            "-O2",
            "-fPIC",
            "-Wall",
            "-Wno-deprecated-declarations",
            "-c",
            "src/shim.c",
            "-o",
            &obj,
        ])
        .args(cflags.split_whitespace()));
    run(Command::new("ar").args(["crs", &format!("{out}/libarqon_dpdk_shim.a"), &obj]));
    println!("cargo:rustc-link-search=native={out}");
    println!("cargo:rustc-link-lib=static=arqon_dpdk_shim");
    for lib in [
        "rte_ethdev",
        "rte_mbuf",
        "rte_mempool",
        "rte_ring",
        "rte_eal",
        "rte_kvargs",
    ] {
        println!("cargo:rustc-link-lib=dylib={lib}");
    }
    for flag in pkg_config(&["--libs-only-L", "libdpdk"]).split_whitespace() {
        println!(
            "cargo:rustc-link-search=native={}",
            flag.trim_start_matches("-L")
        );
    }
}
