//! The qemu-x86_64 platform's kernel: boots the microkernel over the platform's HAL
//! with the boot bundle QEMU loaded (`mode=kernel`, what the runner passes); any
//! other mode ends with failure (the platform's checks are `nanvix-qemu-checks`).
#![no_std]
#![no_main]

use nanvix_hal_qemu::{argument, machine, say, start, system};

/// The Rust entry, from the boot code: `info` is the `hvm_start_info`'s address.
#[unsafe(no_mangle)]
extern "C" fn kmain(info: usize) -> ! {
    let line = start(info);
    match argument(line, "mode") {
        Some("kernel") => system::boot(info),
        other => {
            let mode = other.unwrap_or("(none)");
            say!(
                "nanvix-qemu: no such mode: `{}` (the checks are nanvix-qemu-checks)",
                mode
            );
            machine::exit(machine::FAIL)
        }
    }
}
