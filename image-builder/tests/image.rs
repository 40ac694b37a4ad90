//! The image file through the CLI: build, inspect, reproducibility, corrupt images.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const NANVIX: &str = env!("CARGO_BIN_EXE_nanvix");

fn root() -> PathBuf {
    nanvix_image_builder::workspace_root()
}

fn scratch(name: &str) -> PathBuf {
    let directory = nanvix_image_builder::builder::target_directory(&root())
        .join("test-scratch")
        .join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    directory
}

fn nanvix(arguments: &[&str], paths: &[&Path]) -> Output {
    Command::new(NANVIX)
        .args(arguments)
        .args(paths)
        .output()
        .unwrap()
}

fn build(manifest: &str, output: &Path) -> Vec<u8> {
    let result = nanvix(&["build", "--output"], &[output, &root().join(manifest)]);
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    std::fs::read(output).unwrap()
}

#[test]
fn building_twice_gives_the_same_bytes_and_inspect_shows_the_contents() {
    let directory = scratch("reproducible");
    let first = build("systems/tiny.toml", &directory.join("first.img"));
    let second = build("systems/tiny.toml", &directory.join("second.img"));
    assert!(first == second, "two builds of the same manifest differ");
    let inspected = nanvix(&["inspect"], &[&directory.join("first.img")]);
    assert!(inspected.status.success());
    let text = String::from_utf8_lossy(&inspected.stdout);
    for expected in [
        "Nanvix image, format 1",
        "system: board tiny, boot io0, 3 clusters booted",
        "manifest",
        "board      tiny",
        "kernel     hosted",
        "program    hello",
        "rootfs",
        "revision",
    ] {
        assert!(
            text.contains(expected),
            "`{expected}` missing from:\n{text}"
        );
    }
    std::fs::remove_dir_all(&directory).unwrap();
}

/// Runs `nanvix run` on a damaged image: it must fail with status 2, say why, and
/// boot nothing (no event at all on standard output).
fn refused(image: &Path, reason: &str) {
    for command in [&["run", "--events", "json"][..], &["inspect"][..]] {
        let result = nanvix(command, &[image]);
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(2), "{command:?}: {stderr}");
        assert!(
            stderr.contains(reason),
            "{command:?}: `{reason}` not in: {stderr}"
        );
        if command[0] == "run" {
            assert!(
                result.stdout.is_empty(),
                "something booted: {}",
                String::from_utf8_lossy(&result.stdout)
            );
        }
    }
}

#[test]
fn corrupt_images_are_refused_before_anything_boots() {
    let directory = scratch("corrupt");
    let good = build("systems/tiny.toml", &directory.join("good.img"));
    let write = |name: &str, bytes: &[u8]| {
        let path = directory.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    refused(
        &write("truncated.img", &good[..good.len() / 2]),
        "lies outside the file",
    );
    refused(&write("header.img", &good[..40]), "truncated image");
    let mut flipped = good.clone();
    let last = flipped.len() - 1000;
    flipped[last] ^= 0xff;
    refused(
        &write("flipped.img", &flipped),
        "does not match its checksum",
    );
    let mut version = good.clone();
    version[8] = 9;
    refused(
        &write("version.img", &version),
        "image format version 9 is not supported",
    );
    let mut table = good.clone();
    table[64] = 0x63;
    refused(
        &write("table.img", &table),
        "section table does not match its checksum",
    );
    std::fs::remove_dir_all(&directory).unwrap();
}

#[test]
fn a_budget_that_does_not_fit_the_sram_names_the_program() {
    let directory = scratch("budget");
    // The heap and stack fit cc0's 2 MiB on their own; with the program image they
    // do not, which only the build (which knows the image's size) can tell.
    let manifest = directory.join("big.toml");
    let text = std::fs::read_to_string(root().join("systems/tiny.toml"))
        .unwrap()
        .replace(
            "programs = [{ name = \"hello\", args = [\"rounds=1000\", \"partner=cc1\"] }]",
            "programs = [{ name = \"hello\", heap = \"1960 KiB\", stack = \"64 KiB\" }]",
        );
    std::fs::write(&manifest, text).unwrap();
    let result = nanvix(
        &["build", "--output"],
        &[&directory.join("big.img"), &manifest],
    );
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`clusters.cc0.programs[0]`"), "{stderr}");
    assert!(stderr.contains("bytes of SRAM"), "{stderr}");
    assert!(!directory.join("big.img").exists());
    std::fs::remove_dir_all(&directory).unwrap();
}
