//! The qemu-x86_64 platform's checks: the mode the command line names
//! (`nanvix_hal_qemu::checks`), without the microkernel.
#![no_std]
#![no_main]

/// The Rust entry, from the boot code: `info` is the `hvm_start_info`'s address.
#[unsafe(no_mangle)]
extern "C" fn kmain(info: usize) -> ! {
    nanvix_hal_qemu::checks::run(nanvix_hal_qemu::start(info))
}
