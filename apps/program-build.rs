//! Build script shared by every program crate: links it as a Nanvix program.
//!
//! A program is a freestanding static-pie ELF: no C start files, no libc, no dynamic
//! linker. The kernel's loader checks exactly these properties.

fn main() {
    for argument in [
        "-nostartfiles",
        "-nostdlib",
        "-static-pie",
        "-Wl,--no-dynamic-linker",
        "-Wl,-z,norelro",
        "-Wl,--build-id=none",
    ] {
        println!("cargo:rustc-link-arg-bins={argument}");
    }
}
