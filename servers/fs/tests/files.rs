//! The file layer on memory disks: files read back across the direct, indirect and
//! double-indirect blocks and through holes; directories and their names, "." and
//! ".."; unlink, rmdir, rename (also of directories, with their ".."), truncate;
//! each bad request refused with its error and nothing changed; permissions by
//! owner, group and others; a full disk; and after a crash at each point of a
//! workload of file operations, a tree that checks clean and is the tree after at
//! least every operation that returned.

use nanvix_fs::files::{FILES_JOURNAL_MIN, access};
use nanvix_fs::layout::{DIRECT_BLOCKS, NAME_MAX, POINTERS_PER_BLOCK};
use nanvix_fs::{
    BLOCK_SIZE, BlockDevice, Caller, CrashingDisk, FileSystem, FsError, MemoryDisk, ROOT,
};
use std::collections::BTreeMap;

const NOW: u64 = 1_700_000_000_000_000_000;

fn fresh(blocks: usize, journal: u64) -> FileSystem<MemoryDisk> {
    FileSystem::format(MemoryDisk::new(blocks), journal, 256, (0, 0), NOW).unwrap()
}

fn user(user: u32, groups: &[u32]) -> Caller {
    Caller {
        user,
        groups: groups.to_vec(),
    }
}

fn names<D: BlockDevice>(files: &mut FileSystem<D>, directory: u32) -> Vec<String> {
    files
        .read_directory(directory)
        .unwrap()
        .into_iter()
        .map(|entry| String::from_utf8(entry.name).unwrap())
        .collect()
}

#[test]
fn a_new_file_system_has_an_empty_root_and_checks_clean() {
    let mut files = fresh(256, 64);
    assert_eq!(names(&mut files, ROOT), [".", ".."]);
    let root = files.stat(ROOT).unwrap();
    assert!(root.fields.is_directory());
    assert_eq!((root.fields.links, root.fields.mode & 0o777), (2, 0o755));
    assert_eq!(files.check(), []);
    let disk = files.unmount().unwrap();
    let mut files = FileSystem::mount(disk).unwrap();
    assert_eq!(files.check(), []);
    // The smallest journal, with an inode table larger than one of its records.
    let mut small =
        FileSystem::format(MemoryDisk::new(512), FILES_JOURNAL_MIN, 1024, (0, 0), NOW).unwrap();
    assert_eq!(small.check(), []);
    assert_eq!(
        FileSystem::format(MemoryDisk::new(256), FILES_JOURNAL_MIN - 1, 64, (0, 0), NOW).err(),
        Some(FsError::Journal(nanvix_fs::JournalError::TooSmall))
    );
}

#[test]
fn files_read_back_across_every_kind_of_block_and_holes_read_zeros() {
    let mut files = fresh(2048, 300);
    let file = files.create(ROOT, b"data", 0o644, (5, 6), NOW).unwrap();
    let bytes: Vec<u8> = (0..40 * BLOCK_SIZE)
        .map(|index| (index * 7 % 251) as u8)
        .collect();
    assert_eq!(files.write(file, 100, &bytes, NOW).unwrap(), bytes.len());
    let mut read = vec![0; bytes.len() + 200];
    let count = files.read(file, 0, &mut read).unwrap();
    assert_eq!(count, bytes.len() + 100);
    assert_eq!(&read[..100], &[0; 100]);
    assert_eq!(&read[100..count], &bytes[..]);
    // Past the single-indirect blocks: a hole, then one block in the double ones.
    let far = ((DIRECT_BLOCKS + POINTERS_PER_BLOCK + 3) * BLOCK_SIZE) as u64 + 5;
    files.write(file, far, b"far away", NOW).unwrap();
    let stat = files.stat(file).unwrap();
    assert_eq!(stat.fields.size, far + 8);
    let mut buffer = [1u8; 16];
    assert_eq!(files.read(file, far - 8, &mut buffer).unwrap(), 16);
    assert_eq!(&buffer, b"\0\0\0\0\0\0\0\0far away");
    assert_eq!(files.read(file, far + 8, &mut buffer).unwrap(), 0);
    assert_eq!(files.check(), []);
    // Truncation frees the blocks and zeroes the tail of the last one kept.
    let free = files.free_blocks().unwrap();
    files.truncate(file, 5000, NOW).unwrap();
    assert!(files.free_blocks().unwrap() > free + 40);
    files.truncate(file, 9000, NOW).unwrap();
    let mut tail = vec![9u8; 9000];
    assert_eq!(files.read(file, 0, &mut tail).unwrap(), 9000);
    assert_eq!(&tail[100..5000], &bytes[..4900]);
    assert!(tail[5000..].iter().all(|byte| *byte == 0));
    assert_eq!(files.check(), []);
    // Gone with its last name: every block back.
    files.unlink(ROOT, b"data", NOW).unwrap();
    let disk = files.unmount().unwrap();
    let mut files = FileSystem::mount(disk).unwrap();
    assert_eq!(files.check(), []);
    assert_eq!(files.lookup(ROOT, b"data"), Err(FsError::NotFound));
}

#[test]
fn directories_nest_rename_and_remove() {
    let mut files = fresh(512, 64);
    let home = files
        .make_directory(ROOT, b"home", 0o755, (0, 0), NOW)
        .unwrap();
    let alice = files
        .make_directory(home, b"alice", 0o700, (10, 10), NOW)
        .unwrap();
    let notes = files.create(alice, b"notes", 0o600, (10, 10), NOW).unwrap();
    files.write(notes, 0, b"hello", NOW).unwrap();
    assert_eq!(
        files.resolve("/home/alice/notes", &Caller::root()),
        Ok(notes)
    );
    assert_eq!(
        files.resolve("/home/./alice/../alice", &Caller::root()),
        Ok(alice)
    );
    assert_eq!(files.lookup(alice, b".."), Ok(home));
    assert_eq!(files.stat(home).unwrap().fields.links, 3);
    // Many entries: the directory grows past one block.
    for index in 0..100 {
        files
            .create(home, format!("file-{index}").as_bytes(), 0o644, (0, 0), NOW)
            .unwrap();
    }
    assert_eq!(names(&mut files, home).len(), 103);
    // Rename within a directory, across directories (a directory, with its ".."),
    // and over an existing file.
    files
        .rename((alice, b"notes"), (alice, b"diary"), NOW)
        .unwrap();
    let archive = files
        .make_directory(ROOT, b"archive", 0o755, (0, 0), NOW)
        .unwrap();
    files
        .rename((home, b"alice"), (archive, b"alice"), NOW)
        .unwrap();
    assert_eq!(files.lookup(alice, b".."), Ok(archive));
    assert_eq!(files.stat(home).unwrap().fields.links, 2);
    assert_eq!(files.stat(archive).unwrap().fields.links, 3);
    files
        .rename((home, b"file-1"), (home, b"file-2"), NOW)
        .unwrap();
    assert_eq!(files.lookup(home, b"file-1"), Err(FsError::NotFound));
    // A directory cannot move under itself; nor replace a non-empty directory.
    assert_eq!(
        files.rename((ROOT, b"archive"), (alice, b"loop"), NOW),
        Err(FsError::Invalid)
    );
    let empty = files
        .make_directory(ROOT, b"empty", 0o755, (0, 0), NOW)
        .unwrap();
    assert_eq!(
        files.rename((ROOT, b"empty"), (ROOT, b"archive"), NOW),
        Err(FsError::NotEmpty)
    );
    assert_eq!(
        files.remove_directory(ROOT, b"archive", NOW),
        Err(FsError::NotEmpty)
    );
    assert_eq!(files.unlink(ROOT, b"empty", NOW), Err(FsError::IsDirectory));
    assert_eq!(
        files.remove_directory(home, b"file-0", NOW),
        Err(FsError::NotDirectory)
    );
    files.remove_directory(ROOT, b"empty", NOW).unwrap();
    assert_eq!(files.inode(empty), Err(FsError::NotFound));
    assert_eq!(files.check(), []);
    let disk = files.unmount().unwrap();
    let mut files = FileSystem::mount(disk).unwrap();
    let mut text = [0; 5];
    let diary = files
        .resolve("/archive/alice/diary", &Caller::root())
        .unwrap();
    files.read(diary, 0, &mut text).unwrap();
    assert_eq!(&text, b"hello");
    assert_eq!(files.check(), []);
}

#[test]
fn bad_requests_are_refused_and_change_nothing() {
    let mut files = fresh(256, 64);
    let file = files.create(ROOT, b"file", 0o644, (0, 0), NOW).unwrap();
    let before = files.unmount().unwrap();
    let mut files = FileSystem::mount(before.clone()).unwrap();
    let long = vec![b'x'; NAME_MAX + 1];
    let cases: Vec<(&str, Result<(), FsError>, FsError)> = vec![
        (
            "empty name",
            files.create(ROOT, b"", 0o644, (0, 0), NOW).map(drop),
            FsError::Invalid,
        ),
        (
            "dot",
            files.create(ROOT, b".", 0o644, (0, 0), NOW).map(drop),
            FsError::Invalid,
        ),
        (
            "slash",
            files.create(ROOT, b"a/b", 0o644, (0, 0), NOW).map(drop),
            FsError::Invalid,
        ),
        (
            "NUL",
            files.create(ROOT, b"a\0", 0o644, (0, 0), NOW).map(drop),
            FsError::Invalid,
        ),
        (
            "too long",
            files.create(ROOT, &long, 0o644, (0, 0), NOW).map(drop),
            FsError::NameTooLong,
        ),
        (
            "exists",
            files.create(ROOT, b"file", 0o644, (0, 0), NOW).map(drop),
            FsError::Exists,
        ),
        (
            "in a file",
            files.create(file, b"x", 0o644, (0, 0), NOW).map(drop),
            FsError::NotDirectory,
        ),
        (
            "free inode",
            files.create(40, b"x", 0o644, (0, 0), NOW).map(drop),
            FsError::NotFound,
        ),
        (
            "inode 0",
            files.create(0, b"x", 0o644, (0, 0), NOW).map(drop),
            FsError::NotFound,
        ),
        (
            "no such inode",
            files.create(1 << 30, b"x", 0o644, (0, 0), NOW).map(drop),
            FsError::NotFound,
        ),
        (
            "unlink missing",
            files.unlink(ROOT, b"nothing", NOW),
            FsError::NotFound,
        ),
        (
            "rename missing",
            files.rename((ROOT, b"nothing"), (ROOT, b"x"), NOW),
            FsError::NotFound,
        ),
        (
            "read a directory",
            files.read(ROOT, 0, &mut [0; 4]).map(drop),
            FsError::IsDirectory,
        ),
        (
            "write a directory",
            files.write(ROOT, 0, b"x", NOW).map(drop),
            FsError::IsDirectory,
        ),
        (
            "past the largest file",
            files.write(file, u64::MAX - 2, b"xyz", NOW).map(drop),
            FsError::TooLarge,
        ),
        (
            "truncate a directory",
            files.truncate(ROOT, 0, NOW),
            FsError::IsDirectory,
        ),
        (
            "relative path",
            files.resolve("file", &Caller::root()).map(drop),
            FsError::Invalid,
        ),
        (
            "through a file",
            files.resolve("/file/x", &Caller::root()).map(drop),
            FsError::NotDirectory,
        ),
    ];
    for (what, result, error) in cases {
        assert_eq!(result, Err(error), "{what}");
    }
    assert_eq!(
        files.unmount().unwrap(),
        before,
        "refused requests wrote nothing"
    );
}

#[test]
fn permissions_go_by_owner_group_and_others() {
    let mut files = fresh(256, 64);
    let private = files
        .make_directory(ROOT, b"private", 0o750, (10, 20), NOW)
        .unwrap();
    let file = files
        .create(private, b"file", 0o640, (10, 20), NOW)
        .unwrap();
    let inode = files.inode(file).unwrap();
    let (owner, member, other) = (user(10, &[10]), user(11, &[20]), user(12, &[30]));
    use access::{EXECUTE, READ, WRITE};
    for (caller, wanted, allowed) in [
        (&owner, READ | WRITE, true),
        (&owner, EXECUTE, false),
        (&member, READ, true),
        (&member, WRITE, false),
        (&other, READ, false),
        (&Caller::root(), READ | WRITE | EXECUTE, true),
    ] {
        assert_eq!(
            FileSystem::<MemoryDisk>::permits(&inode, caller, wanted),
            allowed,
            "{caller:?} {wanted}"
        );
    }
    assert_eq!(files.resolve("/private/file", &member), Ok(file));
    assert_eq!(files.resolve("/private/file", &other), Err(FsError::Denied));
    files.change_mode(private, 0o755, NOW).unwrap();
    assert_eq!(files.resolve("/private/file", &other), Ok(file));
    assert!(
        files.inode(private).unwrap().is_directory(),
        "the type stays"
    );
}

#[test]
fn a_held_file_outlives_its_last_name_until_let_go_or_the_next_mount() {
    let mut files = fresh(256, 64);
    let free = files.free_blocks().unwrap();
    let file = files.create(ROOT, b"open", 0o644, (0, 0), NOW).unwrap();
    files.write(file, 0, &[7u8; 3 * BLOCK_SIZE], NOW).unwrap();
    files.hold(file);
    files.hold(file);
    files.unlink(ROOT, b"open", NOW).unwrap();
    assert_eq!(files.lookup(ROOT, b"open"), Err(FsError::NotFound));
    // Still readable and writable, and no orphan for the checker while held.
    let mut back = vec![0u8; 3 * BLOCK_SIZE];
    assert_eq!(files.read(file, 0, &mut back), Ok(3 * BLOCK_SIZE));
    assert_eq!(back, vec![7u8; 3 * BLOCK_SIZE]);
    assert_eq!(files.write(file, 0, b"more", NOW), Ok(4));
    assert_eq!(files.inode(file).unwrap().links, 0);
    assert_eq!(files.check(), []);
    // The first of two holds goes: it stays; the last: it is freed.
    files.let_go(file).unwrap();
    assert!(files.inode(file).is_ok());
    files.let_go(file).unwrap();
    assert_eq!(files.inode(file).map(drop), Err(FsError::NotFound));
    assert_eq!(files.free_blocks(), Ok(free));
    assert_eq!(files.check(), []);

    // Held when the disk goes down: the next mount frees it.
    let file = files.create(ROOT, b"kept", 0o644, (0, 0), NOW).unwrap();
    files.write(file, 0, &[1u8; 2 * BLOCK_SIZE], NOW).unwrap();
    files.hold(file);
    files.unlink(ROOT, b"kept", NOW).unwrap();
    let disk = files.into_device();
    let mut files = FileSystem::mount(disk).unwrap();
    assert_eq!(files.inode(file).map(drop), Err(FsError::NotFound));
    assert_eq!(files.free_blocks(), Ok(free));
    assert_eq!(files.check(), []);

    // A rename over a held file keeps it too.
    let held = files.create(ROOT, b"a", 0o644, (0, 0), NOW).unwrap();
    files.create(ROOT, b"b", 0o644, (0, 0), NOW).unwrap();
    files.hold(held);
    files.rename((ROOT, b"b"), (ROOT, b"a"), NOW).unwrap();
    assert!(files.inode(held).is_ok());
    assert_eq!(files.check(), []);
    files.let_go(held).unwrap();
    assert_eq!(files.inode(held).map(drop), Err(FsError::NotFound));
    assert_eq!(files.check(), []);
}

#[test]
fn a_full_disk_refuses_and_stays_sound() {
    let mut files = fresh(128, 32);
    let file = files.create(ROOT, b"big", 0o644, (0, 0), NOW).unwrap();
    let block = [7u8; BLOCK_SIZE];
    let mut written = 0u64;
    let error = loop {
        match files.write(file, written, &block, NOW) {
            Ok(_) => written += BLOCK_SIZE as u64,
            Err(error) => break error,
        }
    };
    assert_eq!(error, FsError::NoSpace);
    assert_eq!(files.stat(file).unwrap().fields.size, written);
    assert_eq!(
        files.create(ROOT, b"more", 0o644, (0, 0), NOW).map(drop),
        Ok(())
    );
    assert_eq!(files.check(), []);
    files.unlink(ROOT, b"big", NOW).unwrap();
    assert_eq!(files.check(), []);
}

/// The tree: path to a file's inode and bytes, or `None` for a directory.
type Tree = BTreeMap<String, Option<(u32, Vec<u8>)>>;

fn tree_of<D: BlockDevice>(files: &mut FileSystem<D>) -> Tree {
    let mut tree = Tree::new();
    let mut pending = vec![(ROOT, String::new())];
    while let Some((directory, path)) = pending.pop() {
        for entry in files.read_directory(directory).unwrap() {
            if entry.name == b"." || entry.name == b".." {
                continue;
            }
            let child = format!("{path}/{}", String::from_utf8(entry.name).unwrap());
            let stat = files.stat(entry.inode).unwrap();
            if stat.fields.is_directory() {
                tree.insert(child.clone(), None);
                pending.push((entry.inode, child));
            } else {
                let mut bytes = vec![0; stat.fields.size as usize];
                files.read(entry.inode, 0, &mut bytes).unwrap();
                tree.insert(child, Some((entry.inode, bytes)));
            }
        }
    }
    tree
}

/// A write of the crash workload: the file's inode, the offset, the bytes.
type Written = (u32, u64, Vec<u8>);

/// Operation `number` of the crash workload (each one transaction), on `files`:
/// whether it returned `Ok`, and what it wrote to a file, if it did. Each round of
/// seven makes a directory (once), creates a file, writes it, renames it,
/// overwrites it (in blocks it has: in place), truncates it, and unlinks a file of
/// an earlier round.
fn operation<D: BlockDevice>(files: &mut FileSystem<D>, number: u32) -> (bool, Option<Written>) {
    let name = format!("f{}", (number / 7) % 3);
    let directory = |files: &mut FileSystem<D>| files.resolve("/d", &Caller::root());
    let mut written = None;
    let mut write = |files: &mut FileSystem<D>, file: u32, offset: u64, bytes: Vec<u8>| {
        let result = files.write(file, offset, &bytes, NOW).map(drop);
        written = Some((file, offset, bytes));
        result
    };
    let result = match number % 7 {
        0 => files
            .make_directory(ROOT, b"d", 0o755, (0, 0), NOW)
            .map(drop),
        1 => directory(files)
            .and_then(|d| files.create(d, name.as_bytes(), 0o644, (0, 0), NOW))
            .map(drop),
        2 => directory(files)
            .and_then(|d| files.lookup(d, name.as_bytes()))
            .and_then(|file| {
                let bytes = vec![number as u8; 3000 + number as usize * 11];
                write(files, file, u64::from(number) * 100, bytes)
            }),
        3 => directory(files).and_then(|d| {
            files.rename(
                (d, name.as_bytes()),
                (ROOT, format!("r{number}").as_bytes()),
                NOW,
            )
        }),
        4 => files
            .lookup(ROOT, format!("r{}", number - 1).as_bytes())
            .and_then(|file| write(files, file, 50, vec![0x80 | number as u8; 1500])),
        5 => files
            .lookup(ROOT, format!("r{}", number - 2).as_bytes())
            .and_then(|file| files.truncate(file, 700, NOW)),
        _ => files.unlink(
            ROOT,
            format!("r{}", number.saturating_sub(10)).as_bytes(),
            NOW,
        ),
    };
    (result.is_ok(), written)
}

const OPERATIONS: u32 = 48;

#[test]
fn after_a_crash_anywhere_the_tree_checks_clean_and_holds_every_finished_operation() {
    crash_everywhere(None);
}

/// As above with operations that wait for a sync every second: a crash keeps every
/// synced operation and a prefix of the rest, each whole.
#[test]
fn after_a_crash_anywhere_the_tree_holds_every_synced_operation_and_a_prefix_of_the_rest() {
    crash_everywhere(Some(2));
}

/// Operation `number`, then with `sync_every`, a sync after every such count;
/// whether the operation now counts as finished (durable).
fn step<D: BlockDevice>(files: &mut FileSystem<D>, number: u32, sync_every: Option<u32>) -> bool {
    operation(files, number);
    match sync_every {
        None => true,
        Some(every) => number % every == every - 1 && files.sync().is_ok(),
    }
}

/// Whether `tree` is `model` (the tree after some number of operations) but for
/// file bytes that one of the `later` writes put there: file bytes go in place
/// before the operation that writes them is durable, so a crash may keep bytes
/// of a lost write over blocks the file had (an unsynced overwrite may tear);
/// names, sizes, directories and every other byte are the model's.
fn is_model_but_for_later_writes(tree: &Tree, model: &Tree, later: &[Written]) -> bool {
    tree.len() == model.len()
        && tree
            .iter()
            .zip(model)
            .all(|((path, entry), (model_path, model_entry))| {
                path == model_path
                    && match (entry, model_entry) {
                        (None, None) => true,
                        (Some((inode, bytes)), Some((model_inode, model_bytes))) => {
                            inode == model_inode
                                && bytes.len() == model_bytes.len()
                                && bytes.iter().zip(model_bytes).enumerate().all(
                                    |(at, (byte, model_byte))| {
                                        byte == model_byte
                                            || later.iter().any(|(file, offset, written)| {
                                                file == inode
                                                    && (at as u64).checked_sub(*offset).and_then(
                                                        |within| written.get(within as usize),
                                                    ) == Some(byte)
                                            })
                                    },
                                )
                        }
                        _ => false,
                    }
            })
}

fn crash_everywhere(sync_every: Option<u32>) {
    let formatted = fresh(256, 40).unmount().unwrap();
    // The trees after each number of operations, what each operation wrote, and
    // the workload's length.
    let mut model = FileSystem::mount(formatted.clone()).unwrap();
    let mut trees = vec![tree_of(&mut model)];
    let mut writes = Vec::new();
    for number in 0..OPERATIONS {
        writes.push(operation(&mut model, number).1);
        trees.push(tree_of(&mut model));
    }
    let overwrites = writes.iter().flatten().count();
    assert!(overwrites >= 12, "{overwrites} writes");
    let mut dry = FileSystem::mount(CrashingDisk::new(formatted.clone(), 0)).unwrap();
    dry.set_synchronous(sync_every.is_none());
    for number in 0..OPERATIONS {
        step(&mut dry, number, sync_every);
    }
    dry.sync().unwrap();
    let operations = dry.into_device().operations();
    assert!(operations > 60, "{operations} device operations");
    let mut crashes = 0;
    let mut torn = 0;
    for point in 1..operations {
        let mut device = CrashingDisk::new(formatted.clone(), u64::from(point as u32) * 13);
        device.crash_after(point);
        let mut files = FileSystem::mount(device).unwrap();
        files.set_synchronous(sync_every.is_none());
        // An operation that met the crash returned an error; those before it
        // finished (with syncs, those before the last sync). Stop at the first
        // failure the crash caused.
        let mut finished = 0;
        for number in 0..OPERATIONS {
            let durable = step(&mut files, number, sync_every);
            if files.device().crashed() {
                break;
            }
            if durable {
                finished = number + 1;
            }
        }
        let mut device = files.into_device();
        device.crash();
        crashes += 1;
        let medium = device.into_medium();
        let mut files = FileSystem::mount(medium)
            .unwrap_or_else(|error| panic!("crash after {point} operations: {error}"));
        assert_eq!(files.check(), [], "crash after {point} operations");
        let tree = tree_of(&mut files);
        let exact = (finished as usize..=OPERATIONS as usize).any(|count| trees[count] == tree);
        let holds = exact
            || (finished as usize..=OPERATIONS as usize).any(|count| {
                let later: Vec<Written> = writes[count..].iter().flatten().cloned().collect();
                is_model_but_for_later_writes(&tree, &trees[count], &later)
            });
        torn += usize::from(!exact);
        assert!(
            holds,
            "crash after {point} device operations: {finished} finished, the tree is none of the trees after at least as many"
        );
    }
    eprintln!("{crashes} crashes, {torn} kept bytes of a lost write");
    assert!(crashes >= 20);
}

/// A block freed since the last sync is not taken again before one: file bytes go
/// in place, so had a new file's bytes gone to it and the machine crashed, the free
/// would be lost and the old file would hold the new file's bytes. On a full disk,
/// the allocation syncs and then takes it.
#[test]
fn a_block_freed_since_the_last_sync_never_shows_another_files_bytes_after_a_crash() {
    let formatted = fresh(128, 40).unmount().unwrap();
    for seed in 0..16 {
        let mut files = FileSystem::mount(CrashingDisk::new(formatted.clone(), seed)).unwrap();
        files.set_synchronous(false);
        let old = files.create(ROOT, b"old", 0o644, (0, 0), NOW).unwrap();
        files.write(old, 0, &[0xaa; BLOCK_SIZE], NOW).unwrap();
        // The rest of the disk full.
        let filler = files.create(ROOT, b"filler", 0o644, (0, 0), NOW).unwrap();
        let mut at = 0;
        while files.write(filler, at, &[1; BLOCK_SIZE], NOW).is_ok() {
            at += BLOCK_SIZE as u64;
        }
        files.sync().unwrap();
        // Freed, not synced; the one free block is the freed one.
        files.truncate(old, 0, NOW).unwrap();
        let new = files.create(ROOT, b"new", 0o644, (0, 0), NOW).unwrap();
        files.write(new, 0, &[0xcc; BLOCK_SIZE], NOW).unwrap();
        let mut device = files.into_device();
        device.crash();
        let mut files = FileSystem::mount(device.into_medium()).unwrap();
        assert_eq!(files.check(), [], "seed {seed}");
        let old = files.lookup(ROOT, b"old").unwrap();
        let size = files.stat(old).unwrap().fields.size as usize;
        let mut bytes = vec![0; size];
        files.read(old, 0, &mut bytes).unwrap();
        assert!(
            bytes.is_empty() || bytes == [0xaa; BLOCK_SIZE],
            "seed {seed}: the old file holds {} bytes, not its own",
            bytes.len()
        );
    }
}
