//! `nanvix fsck`: a sound disk image (with transactions waiting in its journal) is
//! reported clean; a corrupt one, a file that is no disk and a ragged file are
//! reported with what is wrong (exit status 1) and left unchanged; a missing file
//! is an error (status 2).

use nanvix_fs::{BLOCK_SIZE, Journal, MemoryDisk, Transaction};
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

/// A disk of 32 blocks, a journal of 8, two transactions committed and not yet
/// checkpointed.
fn disk_bytes() -> Vec<u8> {
    let mut journal = Journal::format(MemoryDisk::new(32), 8).unwrap();
    for number in 0..2u8 {
        let mut transaction = Transaction::new();
        transaction.write(
            journal.data_start() + u64::from(number),
            &[number; BLOCK_SIZE],
        );
        journal.commit(&transaction).unwrap();
    }
    journal.into_device().to_bytes()
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
        output.contains("clean: 32 blocks of 4096 bytes, a journal of 8 blocks, 2 committed"),
        "{output}"
    );
    let cases: [(&str, Vec<u8>, &str); 4] = [
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
