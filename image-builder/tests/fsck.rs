//! `nanvix fsck`: a sound file system image (with transactions waiting in its
//! journal) is reported clean; a corrupt superblock, a corrupt bitmap, a file that
//! is no disk and a ragged file are reported with what is wrong (exit status 1)
//! and left unchanged; a missing file is an error (status 2).

use nanvix_fs::{BLOCK_SIZE, FileSystem, MemoryDisk, ROOT};
use std::path::Path;
use std::process::Command;

const NANVIX: &str = env!("CARGO_BIN_EXE_nanvix");

/// Runs `nanvix fsck` on `disk`: (exit status, standard output, standard error).
fn fsck(disk: &Path) -> (i32, String, String) {
    let output = Command::new(NANVIX).arg("fsck").arg(disk).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A file system of 64 blocks with a journal of 16 and a file; its last
/// transactions committed and not yet checkpointed; and the byte of its bitmap that
/// holds the root directory's block's bit, with that bit.
fn disk() -> (Vec<u8>, usize, u8) {
    let mut files = FileSystem::format(MemoryDisk::new(64), 16, 32, (0, 0), 0).unwrap();
    let file = files.create(ROOT, b"file", 0o644, (0, 0), 0).unwrap();
    files.write(file, 0, b"contents", 0).unwrap();
    let layout = files.layout();
    let root_block = layout.first_free();
    let byte = layout.bitmap_start as usize * BLOCK_SIZE + root_block as usize / 8;
    (files.into_device().to_bytes(), byte, 1 << (root_block % 8))
}

fn disk_bytes() -> Vec<u8> {
    disk().0
}

#[test]
fn fsck_reports_a_sound_disk_clean_and_corruption_by_name_without_changing_it() {
    let directory = std::env::temp_dir().join(format!("nanvix-fsck-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("disk.img");
    std::fs::write(&path, disk_bytes()).unwrap();
    let (status, output, _) = fsck(&path);
    assert_eq!(status, 0, "{output}");
    assert!(
        output.contains("clean: 64 blocks of 4096 bytes, a journal of 16 blocks, 1 committed"),
        "{output}"
    );
    let cases: [(&str, Vec<u8>, &str); 5] = [
        (
            "the root directory's block free in the bitmap",
            {
                // The journal would write the bitmap again at mount: checkpoint
                // first, so the corruption is in place, past the journal's reach.
                let (bytes, byte, bit) = disk();
                let files = FileSystem::mount(MemoryDisk::from_bytes(&bytes)).unwrap();
                let mut bytes = files.unmount().unwrap().to_bytes();
                bytes[byte] &= !bit;
                bytes
            },
            "files: block 20 is held but free in the bitmap",
        ),
        (
            "a flipped superblock bit",
            {
                let mut bytes = disk_bytes();
                bytes[20] ^= 1;
                bytes
            },
            "superblock: corrupt: superblock checksum",
        ),
        (
            "no disk at all",
            vec![0x5a; 8 * BLOCK_SIZE],
            "superblock: not a nanvix disk (bad magic)",
        ),
        (
            "a ragged end",
            {
                let mut bytes = disk_bytes();
                bytes.truncate(bytes.len() - 100);
                bytes
            },
            "is not a whole number of 4096-byte blocks",
        ),
        ("an empty file", Vec::new(), "superblock: device too small"),
    ];
    for (what, bytes, wanted) in cases {
        std::fs::write(&path, &bytes).unwrap();
        let (status, output, errors) = fsck(&path);
        assert_eq!(status, 1, "{what}: {output}{errors}");
        assert!(output.contains(wanted), "{what}: {output}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{what}: changed");
    }
    let (status, _, errors) = fsck(&directory.join("missing.img"));
    assert_eq!(status, 2);
    assert!(errors.contains("cannot read"), "{errors}");
    let _ = std::fs::remove_dir_all(&directory);
}
