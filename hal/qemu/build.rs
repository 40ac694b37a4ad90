//! Links the kernel freestanding at its script's addresses: no C start files, no
//! libc, a static executable with QEMU's PVH note kept (with `lld`, Rust's default
//! linker for this host target).

fn main() {
    let directory = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    println!("cargo:rustc-link-arg-bins=-T{directory}/linker.ld");
    for argument in [
        "-nostartfiles",
        "-nostdlib",
        "-static",
        "-no-pie",
        "-Wl,--build-id=none",
        "-Wl,-z,max-page-size=0x1000",
        // Identical functions (generic code alike for several types) kept once:
        // the kernel never tells functions apart by their addresses.
        "-Wl,--icf=all",
    ] {
        println!("cargo:rustc-link-arg-bins={argument}");
    }
    println!("cargo:rerun-if-changed=linker.ld");
    println!("cargo:rerun-if-changed=src/boot.s");
}
