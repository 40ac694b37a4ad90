//! Build script of the hosted kernel executable: keeps a decodable defmt table.
//!
//! The vendored `ld/nanvix-defmt.x` (workspace root) inserts the non-allocated
//! `.defmt` section into the linker's default layout. The executable is a PIE that
//! Linux loads at a base aligned to its largest segment alignment; 64 KiB pages make
//! that base a multiple of 64 KiB, which the 16-bit defmt indices need (see
//! docs/src/logging.md). Only the binary gets these arguments.

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let scripts = std::path::Path::new(&manifest).join("../../ld");
    println!("cargo:rustc-link-search={}", scripts.display());
    println!(
        "cargo:rerun-if-changed={}",
        scripts.join("nanvix-defmt.x").display()
    );
    println!("cargo:rustc-link-arg-bins=-Tnanvix-defmt.x");
    println!("cargo:rustc-link-arg-bins=-Wl,-z,max-page-size=65536");
}
