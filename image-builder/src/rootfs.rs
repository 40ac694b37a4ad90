//! The root file system a fresh disk starts with, in `nanvix-fs`'s format: the
//! image's programs in `/bin` (without their debug sections), the manifest's files, `/etc/users` (`name:id` a
//! line, root first) and a home for each user under `/home`, and an empty `/tmp`.

use crate::packing::RootContents;
use nanvix_fs::files::FILES_JOURNAL_MIN;
use nanvix_fs::{BLOCK_SIZE, FileSystem, FsError, MemoryDisk, ROOT};
use std::collections::BTreeMap;

/// The journal of a disk of `blocks` blocks: a sixteenth, 64 to 1024 blocks.
fn journal_blocks(blocks: u64) -> u64 {
    (blocks / 16).clamp(FILES_JOURNAL_MIN.max(64), 1024)
}

/// The inodes of a disk of `blocks` blocks: one for every four blocks, 64 to 65536.
fn inode_count(blocks: u64) -> u32 {
    (blocks / 4).clamp(64, 65_536) as u32
}

/// Builds the root file system of a disk of `blocks` blocks; its bytes.
pub fn build(
    blocks: u64,
    programs: &BTreeMap<String, Vec<u8>>,
    root: &RootContents,
    now: u64,
) -> Result<Vec<u8>, String> {
    let fail = |what: &str, error: FsError| format!("the root file system: {what}: {error}");
    let mut files = FileSystem::format(
        MemoryDisk::new(blocks as usize),
        journal_blocks(blocks),
        inode_count(blocks),
        (0, 0),
        now,
    )
    .map_err(|error| fail("format", error))?;
    let superuser = (0, 0);
    let directory = |files: &mut FileSystem<MemoryDisk>, parent, name: &str, mode, owner| {
        files
            .make_directory(parent, name.as_bytes(), mode, owner, now)
            .map_err(|error| fail(name, error))
    };
    let bin = directory(&mut files, ROOT, "bin", 0o755, superuser)?;
    let etc = directory(&mut files, ROOT, "etc", 0o755, superuser)?;
    let home = directory(&mut files, ROOT, "home", 0o755, superuser)?;
    directory(&mut files, ROOT, "tmp", 0o1777, superuser)?;
    let file = |files: &mut FileSystem<MemoryDisk>, parent, name: &str, mode, bytes: &[u8]| {
        let inode = files
            .create(parent, name.as_bytes(), mode, superuser, now)
            .map_err(|error| fail(name, error))?;
        files
            .write(inode, 0, bytes, now)
            .map_err(|error| fail(name, error))
            .map(drop)
    };
    for (name, elf) in programs {
        let stripped = crate::strip::without_debug_sections(elf)
            .map_err(|error| format!("the root file system: /bin/{name}: {error}"))?;
        file(&mut files, bin, name, 0o755, &stripped)?;
    }
    for (path, mode, bytes) in &root.files {
        // Its directories, made as needed.
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let (name, parents) = parts
            .split_last()
            .ok_or_else(|| format!("{path}: no name"))?;
        let mut parent = ROOT;
        for part in parents {
            parent = match files.lookup(parent, part.as_bytes()) {
                Ok(existing) => existing,
                Err(FsError::NotFound) => directory(&mut files, parent, part, 0o755, superuser)?,
                Err(error) => return Err(fail(path, error)),
            };
        }
        file(&mut files, parent, name, *mode, bytes)?;
    }
    let mut users = String::from("root:0\n");
    for (name, id) in &root.users {
        users.push_str(&format!("{name}:{id}\n"));
        directory(&mut files, home, name, 0o700, (*id, *id))?;
    }
    file(&mut files, etc, "users", 0o644, users.as_bytes())?;
    let disk = files.unmount().map_err(|error| fail("unmount", error))?;
    Ok(disk.to_bytes())
}

/// Writes `bytes` to `file` from its start, leaving all-zero blocks unwritten (the
/// file is sparse and zeroed already).
pub fn write_sparse(file: &std::fs::File, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    for (index, block) in bytes.chunks(BLOCK_SIZE).enumerate() {
        if block.iter().any(|byte| *byte != 0) {
            file.write_all_at(block, (index * BLOCK_SIZE) as u64)?;
        }
    }
    file.sync_data()
}
