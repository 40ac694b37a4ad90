//! The qemu-x86_64 platform, first steps: its kernel boots under QEMU (PVH entry,
//! long mode), reads its command line, speaks on the serial console and ends QEMU
//! through the exit device; a mode it does not have ends it with failure; an
//! invalid opcode and a wild pointer are reported (vector, where, the address) and
//! end it with failure; on 4 and 16 cores every application processor comes online.
//! Each boot has a time limit.

use nanvix_image_builder::{builder, qemu, workspace_root};
use std::time::Duration;

/// The longest one boot may take (QEMU reaches the kernel in about 0.1 s here).
const LIMIT: Duration = Duration::from_secs(60);

fn boot(command_line: &str) -> qemu::Boot {
    boot_on(1, command_line)
}

fn boot_on(cores: usize, command_line: &str) -> qemu::Boot {
    let root = workspace_root();
    let kernel = builder::build_qemu_kernel(&root).expect("the qemu-x86_64 kernel builds");
    let emulator = qemu::ensure_installed().expect("QEMU is there or installed");
    qemu::boot(&emulator, &kernel, cores, command_line, LIMIT).expect("QEMU starts")
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

#[test]
fn an_invalid_opcode_is_reported_and_ends_the_machine() {
    let boot = boot("mode=invalid-opcode");
    assert_eq!(boot.status, Some(qemu::STATUS_FAIL), "{}", boot.console);
    assert!(
        boot.console
            .contains("nanvix-qemu: fault: vector 6 (invalid opcode), error 0x0, at rip 0x"),
        "{}",
        boot.console
    );
}

#[test]
fn a_wild_pointer_is_a_page_fault_reported_with_its_address() {
    let boot = boot("mode=wild-pointer");
    assert_eq!(boot.status, Some(qemu::STATUS_FAIL), "{}", boot.console);
    assert!(
        boot.console
            .contains("nanvix-qemu: fault: vector 14 (page fault)"),
        "{}",
        boot.console
    );
    assert!(
        boot.console.contains("address 0x1000000000"),
        "{}",
        boot.console
    );
    assert!(
        !boot.console.contains("where nothing is mapped"),
        "{}",
        boot.console
    );
}

#[test]
fn every_application_processor_comes_online() {
    for cores in [4, 16] {
        let boot = boot_on(cores, "mode=smp");
        assert_eq!(boot.status, Some(qemu::STATUS_PASS), "{}", boot.console);
        let others = cores - 1;
        assert!(
            boot.console.contains(&format!(
                "nanvix-qemu: {others} of {others} application processors online"
            )),
            "{}",
            boot.console
        );
        let greetings = boot
            .console
            .lines()
            .filter(|line| {
                line.contains("application processor")
                    && line.ends_with(|c: char| c.is_ascii_digit())
                    && line.contains("online, APIC id")
            })
            .count();
        assert_eq!(greetings, others, "{}", boot.console);
    }
}
