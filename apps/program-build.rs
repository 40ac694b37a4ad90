//! Build script shared by every program crate: links it as a Nanvix program.
//!
//! A program is a freestanding static-pie ELF: no C start files, no libc, no dynamic
//! linker. The kernel's loader checks exactly these properties. The vendored linker
//! script `ld/nanvix-defmt.x` (at the workspace root) adds the non-allocated `.defmt`
//! section that the runner decodes log frames with; it only inserts that section
//! into the linker's default layout (see docs/src/logging.md for why).

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let scripts = std::path::Path::new(&manifest).join("../../ld");
    println!("cargo:rustc-link-search={}", scripts.display());
    println!(
        "cargo:rerun-if-changed={}",
        scripts.join("nanvix-defmt.x").display()
    );
    for argument in [
        "-nostartfiles",
        "-nostdlib",
        "-static-pie",
        "-Wl,--no-dynamic-linker",
        "-Wl,-z,norelro",
        "-Wl,--build-id=none",
        "-Tnanvix-defmt.x",
    ] {
        println!("cargo:rustc-link-arg-bins={argument}");
    }
}
