//! Compiles `src/shim.c` against libibverbs (found with pkg-config): `ibv_post_send`,
//! `ibv_poll_cq` and friends are inline functions in `verbs.h`, so they need a C unit.
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=src/shim.c");
    let out = std::env::var("OUT_DIR").unwrap();
    let pc = |args: &[&str]| {
        let o = Command::new("pkg-config")
            .args(args)
            .output()
            .expect("pkg-config not found");
        if !o.status.success() {
            panic!("pkg-config {args:?} failed: apt-get install libibverbs-dev (or build only the core crate)");
        }
        String::from_utf8(o.stdout).unwrap()
    };
    let cflags = pc(&["--cflags", "libibverbs"]);
    let obj = format!("{out}/shim.o");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let ok = Command::new(&cc)
        .args([
            "-O2",
            "-fPIC",
            "-Wall",
            "-Wextra",
            "-c",
            "src/shim.c",
            "-o",
            &obj,
        ])
        .args(cflags.split_whitespace())
        .status()
        .expect("cc not found");
    assert!(ok.success(), "compiling src/shim.c failed");
    let ok = Command::new("ar")
        .args(["crs", &format!("{out}/libarqon_rdma_shim.a"), &obj])
        .status()
        .unwrap();
    assert!(ok.success());
    println!("cargo:rustc-link-search=native={out}");
    println!("cargo:rustc-link-lib=static=arqon_rdma_shim");
    for flag in pc(&["--libs", "libibverbs"]).split_whitespace() {
        if let Some(l) = flag.strip_prefix("-l") {
            println!("cargo:rustc-link-lib=dylib={l}");
        } else if let Some(p) = flag.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={p}");
        }
    }
}
