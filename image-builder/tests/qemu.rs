//! The qemu-x86_64 platform, first step: its kernel boots under QEMU (PVH entry,
//! long mode), reads its command line, speaks on the serial console and ends QEMU
//! through the exit device; a mode it does not have ends it with failure. Each boot
//! has a time limit.

use nanvix_image_builder::{builder, qemu, workspace_root};
use std::time::Duration;

/// The longest one boot may take (QEMU reaches the kernel in about 0.1 s here).
const LIMIT: Duration = Duration::from_secs(60);

fn boot(command_line: &str) -> qemu::Boot {
    let root = workspace_root();
    let kernel = builder::build_qemu_kernel(&root).expect("the qemu-x86_64 kernel builds");
    let emulator = qemu::ensure_installed().expect("QEMU is there or installed");
    qemu::boot(&emulator, &kernel, 1, command_line, LIMIT).expect("QEMU starts")
}

#[test]
fn the_kernel_boots_in_long_mode_and_says_hello() {
    let boot = boot("mode=hello");
    assert_eq!(boot.status, Some(qemu::STATUS_PASS), "{}", boot.console);
    assert!(
        boot.console
            .contains("nanvix-qemu: booted in long mode, command line `mode=hello`"),
        "{}",
        boot.console
    );
    assert!(
        boot.console.contains("nanvix-qemu: hello from bare metal"),
        "{}",
        boot.console
    );
}

#[test]
fn a_mode_the_kernel_does_not_have_ends_it_with_failure() {
    let boot = boot("mode=nonesuch");
    assert_eq!(boot.status, Some(qemu::STATUS_FAIL), "{}", boot.console);
    assert!(
        boot.console
            .contains("nanvix-qemu: no such mode: Some(\"nonesuch\")"),
        "{}",
        boot.console
    );
}
