//! `nanvix footprint`: the canary's and the qemu-x86_64 kernel's section bytes by
//! kind, each row's image the sum of its code, read-only data and data; the qemu
//! kernel's zeroed data holds its stacks (64 contexts' 64 KiB, 63 application
//! processors' 16 KiB, the boot core's 64 KiB) and page tables.

use nanvix_image_builder::{builder, footprint, workspace_root};

#[test]
fn the_footprint_of_each_kernel_adds_up() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_nanvix"))
        .arg("footprint")
        .current_dir(workspace_root())
        .output()
        .expect("nanvix runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    let rows: Vec<Vec<u64>> = text
        .lines()
        .filter(|line| line.contains("(hal/"))
        .map(|line| {
            line.split_whitespace()
                .rev()
                .take(6)
                .map(|field| field.parse().expect("a number"))
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 2, "{text}");
    for row in rows {
        // Reversed: image, unwind, bss, data, rodata, text.
        assert_eq!(row[0], row[3] + row[4] + row[5], "{text}");
        assert!(row[5] > 0, "{text}");
    }
}

#[test]
fn the_qemu_kernel_zeroed_data_holds_its_stacks_and_page_tables() {
    let kernel = builder::build_qemu_kernel(&workspace_root()).expect("it builds");
    let measured = footprint::measure(&std::fs::read(kernel).unwrap()).unwrap();
    // 64 contexts' 64 KiB kernel stacks, 63 application processors' 16 KiB, the
    // boot core's 64 KiB; the boot map's tables, the MMU window's directory and 32
    // page tables.
    let stacks = 64 * 64 * 1024 + 63 * 16 * 1024 + 64 * 1024;
    let page_tables = 6 * 4096 + 33 * 4096;
    assert!(measured.bss >= stacks + page_tables, "{measured:?}");
    assert!(
        measured.text > 0 && measured.image() < measured.bss,
        "{measured:?}"
    );
    assert!(footprint::measure(b"not an elf").is_err());
}

/// The original's kernel took at most 128 KiB of a cluster's memory on MPPA-256;
/// this one's image (code, read-only data, data) is held to the same (the pinned
/// toolchain makes the figure repeatable: docs/src/bare-metal.md, Footprint).
#[test]
fn the_qemu_kernel_image_fits_in_128_kib() {
    let kernel = builder::build_qemu_kernel(&workspace_root()).expect("it builds");
    let measured = footprint::measure(&std::fs::read(kernel).unwrap()).unwrap();
    assert!(
        measured.image() <= 128 * 1024,
        "the qemu-x86_64 kernel's image is {} B, over 128 KiB: {measured:?}",
        measured.image()
    );
}
