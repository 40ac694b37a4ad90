//! Test program: the vfs server.
//!
//! Arguments (`server=CLUSTER` names the server's cluster):
//! - `mode=local`: on the server's cluster: files written, read back, seeked,
//!   appended, truncated, listed, renamed and removed, each refusal checked; then
//!   waits (at most 60 s) for `/tmp/remote-done`, which `mode=remote` writes, checks
//!   what the remote client wrote, and stops the server. Prints `vfs-test: local:
//!   N checks, 0 failed`.
//! - `mode=remote`: on another cluster: writes and reads back `/tmp/remote-data`
//!   (64 KiB), is refused the server's `Stop`, then writes `/tmp/remote-done`.
//!   Prints `vfs-test: remote: N checks, 0 failed`.
//! - `mode=persisted`: at the next boot, checks `/data/kept` is still there, then
//!   stops the server; prints `vfs-test: persisted: N checks, 0 failed`.
//! - `mode=api` (as alice, `cwd=/home/alice`): libnanvix's file API: relative
//!   paths, whole-file reads and writes, a file larger than one transfer, append,
//!   seek, set_len, metadata, directories, the working directory, the errnos, and
//!   paths longer than a message (and one over `PATH_MAX`: ENAMETOOLONG).
//!   Prints `vfs-test: api: N checks, 0 failed`.
//! - `mode=share writer=W` (several at once, each on a compute cluster): appends
//!   200 records of 64 bytes to `/tmp/shared`, then writes `/tmp/shared-done-W`.
//!   Prints `vfs-test: share: N checks, 0 failed`.
//! - `mode=shared writers=N` (on the server's cluster): waits for the writers,
//!   checks the file holds each one's records whole and in its order, and stops the
//!   server. Prints `vfs-test: shared: N checks, 0 failed`.
//! - `mode=append`: appends 64-byte records to `/tmp/log` for ever, an `fsync`
//!   after every third; prints `vfs-test: synced N` after each (a test kills the
//!   server's cluster meanwhile).
//! - `mode=users` (`server-node=NODE`, `init=NODE`; a program of the system, root):
//!   spawns itself as alice (1000) with `mode=alice`, then as bob (1001) with
//!   `mode=bob`, each to end with 0, checks as root what alice left, and asks init
//!   to shut down. Prints `vfs-test: users: N checks, 0 failed`.
//! - `mode=alice`: makes a private file in her home, a shared one in `/tmp` (whose
//!   descriptor it leaves open, writing its node and number to `/tmp/alice-left`),
//!   and is refused what is root's. Prints `vfs-test: alice: N checks, 0 failed`.
//! - `mode=bob`: is refused alice's home, writing, removing or renaming her file in
//!   sticky `/tmp`, changing its mode, and (on the warm cluster alice ran on, which
//!   it says) the descriptor she left open; reads what she shares. Prints
//!   `vfs-test: bob: N checks, 0 failed` and `vfs-test: bob ran on alice's node`.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use libnanvix::fs::{self, File, OpenOptions, SeekFrom};
use libnanvix::posix::{self, Termination};
use libnanvix::testing::Checks;
use libnanvix::{Errno, cluster, println, process, thread};
use nanvix_init_api::InitClient;
use nanvix_vfs_api::{
    OPEN_APPEND, OPEN_CREATE, OPEN_EXCLUSIVE, OPEN_READ, OPEN_TRUNCATE, OPEN_WRITE, VfsCallError,
    VfsClient, VfsError,
};

libnanvix::entry!(main);

fn pattern(seed: u8, length: usize) -> Vec<u8> {
    (0..length)
        .map(|index| (index as u8).wrapping_mul(13).wrapping_add(seed))
        .collect()
}

fn refused<T>(result: Result<T, VfsCallError>) -> Option<VfsError> {
    match result {
        Err(VfsCallError::Refused(error)) => Some(error),
        _ => None,
    }
}

fn connect() -> Option<VfsClient> {
    let node = match (
        process::argument("server-node"),
        process::argument("server"),
    ) {
        (Some(node), _) => node.parse().ok()?,
        (None, Some(server)) => cluster::find(server).map(|info| info.first_node)?,
        // Where libnanvix's file calls go.
        (None, None) => fs::vfs_server_node(),
    };
    // The server may still be mounting the disk: try for a while.
    for _ in 0..200 {
        if let Ok(mut client) = VfsClient::connect(node) {
            if client.stat("/").is_ok() {
                return Some(client);
            }
            let _ = client.close();
        }
        let _ = thread::sleep_nanoseconds(10_000_000);
    }
    None
}

fn main() -> i32 {
    let Some(mut client) = connect() else {
        println!("vfs-test: no server");
        return 1;
    };
    match process::argument("mode") {
        Some("local") => local(&mut client),
        Some("remote") => remote(&mut client),
        Some("share") => share(&mut client),
        Some("shared") => shared(&mut client),
        Some("persisted") => persisted(&mut client),
        Some("users") => users(&mut client),
        Some("append") => append(&mut client),
        Some("api") => api(),
        Some("alice") => alice(&mut client),
        Some("bob") => bob(&mut client),
        _ => {
            println!("vfs-test: mode=local|remote|persisted|users|alice|bob");
            2
        }
    }
}

/// Reads the whole file at `path` (at most `capacity` bytes).
fn read_file(client: &mut VfsClient, path: &str, capacity: usize) -> Result<Vec<u8>, VfsCallError> {
    let descriptor = client.open(path, OPEN_READ, 0)?;
    let mut bytes = vec![0u8; capacity];
    let mut filled = 0;
    while filled < capacity {
        let count = client.read(descriptor, &mut bytes[filled..])?;
        if count == 0 {
            break;
        }
        filled += count;
    }
    client.close_file(descriptor)?;
    bytes.truncate(filled);
    Ok(bytes)
}

fn local(client: &mut VfsClient) -> i32 {
    let mut checks = Checks::new();
    checks.same("mkdir", client.make_directory("/data", 0o755), Ok(()));
    let file = client.open("/data/file", OPEN_READ | OPEN_WRITE | OPEN_CREATE, 0o644);
    checks.same("create", file.is_ok(), true);
    let file = file.unwrap_or(0);
    let bytes = pattern(1, 100_000);
    checks.same("write", client.write(file, &bytes), Ok(100_000));
    checks.same("seek", client.seek(file, 0), Ok(0));
    let mut back = vec![0u8; 100_000];
    checks.same("read", client.read(file, &mut back), Ok(100_000));
    checks.same("the bytes read", back == bytes, true);
    checks.same("read at the end", client.read(file, &mut back), Ok(0));
    checks.same(
        "stat",
        client.stat("/data/file").map(|stat| stat.size),
        Ok(100_000),
    );
    checks.same("truncate", client.truncate(file, 10), Ok(()));
    checks.same("fsync", client.sync_file(file), Ok(()));
    checks.same("sync", client.sync(), Ok(()));
    checks.same("close", client.close_file(file), Ok(()));
    checks.same(
        "read a closed descriptor",
        refused(client.read(file, &mut back)),
        Some(VfsError::BadDescriptor),
    );
    checks.same(
        "fsync a closed descriptor",
        refused(client.sync_file(file)),
        Some(VfsError::BadDescriptor),
    );
    // Appends go to the end.
    let appended = client.open("/data/file", OPEN_WRITE | OPEN_APPEND, 0);
    let appended = appended.unwrap_or(0);
    checks.same("append", client.write(appended, b"tail"), Ok(4));
    checks.same("close", client.close_file(appended), Ok(()));
    let mut wanted = pattern(1, 10);
    wanted.extend_from_slice(b"tail");
    checks.same(
        "after truncate and append",
        read_file(client, "/data/file", 64),
        Ok(wanted.clone()),
    );
    // Directories.
    let listing = client.list("/data", 4096).map(|entries| {
        entries
            .into_iter()
            .map(|(name, _, directory)| (name, directory))
            .collect::<Vec<_>>()
    });
    checks.same(
        "list",
        listing,
        Ok(vec![
            (".".into(), true),
            ("..".into(), true),
            ("file".into(), false),
        ]),
    );
    checks.same("rename", client.rename("/data/file", "/data/kept"), Ok(()));
    checks.same("renamed", read_file(client, "/data/kept", 64), Ok(wanted));
    // Refusals.
    checks.same(
        "open a missing file",
        refused(client.open("/data/none", OPEN_READ, 0)),
        Some(VfsError::NotFound),
    );
    checks.same(
        "create exclusively what exists",
        refused(client.open(
            "/data/kept",
            OPEN_WRITE | OPEN_CREATE | OPEN_EXCLUSIVE,
            0o644,
        )),
        Some(VfsError::Exists),
    );
    checks.same(
        "open a directory",
        refused(client.open("/data", OPEN_READ, 0)),
        Some(VfsError::IsDirectory),
    );
    checks.same(
        "a relative path",
        refused(client.stat("data")),
        Some(VfsError::Invalid),
    );
    checks.same(
        "no read or write",
        refused(client.open("/data/kept", 0, 0)),
        Some(VfsError::Invalid),
    );
    checks.same(
        "unknown flags",
        refused(client.open("/data/kept", OPEN_READ | 1 << 20, 0)),
        Some(VfsError::Invalid),
    );
    checks.same(
        "remove a full directory",
        refused(client.remove_directory("/data")),
        Some(VfsError::NotEmpty),
    );
    checks.same(
        "unlink a directory",
        refused(client.unlink("/data")),
        Some(VfsError::IsDirectory),
    );
    let read_only = client.open("/data/kept", OPEN_READ, 0).unwrap_or(0);
    checks.same(
        "write a read-only descriptor",
        refused(client.write(read_only, b"x")),
        Some(VfsError::BadDescriptor),
    );
    checks.same("close", client.close_file(read_only), Ok(()));
    // A scratch file made and removed.
    let scratch = client
        .open(
            "/data/scratch",
            OPEN_WRITE | OPEN_CREATE | OPEN_TRUNCATE,
            0o600,
        )
        .unwrap_or(0);
    checks.same("scratch", client.close_file(scratch), Ok(()));
    checks.same("unlink", client.unlink("/data/scratch"), Ok(()));
    checks.same(
        "unlinked",
        refused(client.stat("/data/scratch")),
        Some(VfsError::NotFound),
    );
    // The remote client's files, once it is done.
    let mut done = false;
    for _ in 0..6000 {
        if client.stat("/tmp/remote-done").is_ok() {
            done = true;
            break;
        }
        let _ = thread::sleep_nanoseconds(10_000_000);
    }
    checks.same("the remote client finished", done, true);
    checks.same(
        "what the remote client wrote",
        read_file(client, "/tmp/remote-data", 1 << 16),
        Ok(pattern(2, 1 << 16)),
    );
    // A file open when its last name goes stays until closed.
    let held = client
        .open("/data/held", OPEN_READ | OPEN_WRITE | OPEN_CREATE, 0o644)
        .unwrap_or(0);
    checks.same("write a file", client.write(held, b"still here"), Ok(10));
    checks.same("unlink it while open", client.unlink("/data/held"), Ok(()));
    checks.same(
        "its name is gone",
        refused(client.stat("/data/held")),
        Some(VfsError::NotFound),
    );
    let mut kept = [0u8; 10];
    checks.same("seek", client.seek(held, 0), Ok(0));
    checks.same("read it unlinked", client.read(held, &mut kept), Ok(10));
    checks.same("what it holds", &kept, b"still here");
    checks.same("close it", client.close_file(held), Ok(()));
    let status = checks.finish("vfs-test: local");
    let _ = client.stop();
    status
}

fn remote(client: &mut VfsClient) -> i32 {
    let mut checks = Checks::new();
    let bytes = pattern(2, 1 << 16);
    let file = client.open(
        "/tmp/remote-data",
        OPEN_READ | OPEN_WRITE | OPEN_CREATE | OPEN_TRUNCATE,
        0o644,
    );
    checks.same("create", file.is_ok(), true);
    let file = file.unwrap_or(0);
    checks.same("write", client.write(file, &bytes), Ok(1 << 16));
    checks.same("seek", client.seek(file, 0), Ok(0));
    let mut back = vec![0u8; 1 << 16];
    checks.same("read", client.read(file, &mut back), Ok(1 << 16));
    checks.same("the bytes read", back == bytes, true);
    checks.same("close", client.close_file(file), Ok(()));
    checks.same(
        "stop from another cluster",
        refused(client.stop()),
        Some(VfsError::Denied),
    );
    let done = client.open("/tmp/remote-done", OPEN_WRITE | OPEN_CREATE, 0o644);
    checks.same(
        "done",
        done.map(|descriptor| client.close_file(descriptor).is_ok()),
        Ok(true),
    );
    checks.finish("vfs-test: remote")
}

fn persisted(client: &mut VfsClient) -> i32 {
    let mut checks = Checks::new();
    let mut wanted = pattern(1, 10);
    wanted.extend_from_slice(b"tail");
    checks.same("kept", read_file(client, "/data/kept", 64), Ok(wanted));
    checks.same(
        "the remote data",
        read_file(client, "/tmp/remote-data", 1 << 16).map(|bytes| bytes.len()),
        Ok(1 << 16),
    );
    let status = checks.finish("vfs-test: persisted");
    let _ = client.stop();
    status
}

/// Runs this program as `user` with `mode` (and the server's node, and the
/// working directory `cwd`) on a compute cluster; how it ended.
fn run_as(user: u32, mode: &str, cwd: &str) -> Result<Termination, Errno> {
    let node = process::argument("server-node").unwrap_or("0");
    let mode = format!("mode={mode}");
    let server = format!("server-node={node}");
    let vfs = format!("vfs-server={node}");
    let cwd = format!("cwd={cwd}");
    let pid = posix::spawn_as(user, "vfs-test", &[&mode, &server, &vfs, &cwd])?;
    posix::waitpid(pid)
}

fn users(client: &mut VfsClient) -> i32 {
    let mut checks = Checks::new();
    checks.same(
        "alice's run",
        run_as(ALICE, "alice", "/"),
        Ok(Termination::Exited(0)),
    );
    checks.same(
        "bob's run",
        run_as(BOB, "bob", "/"),
        Ok(Termination::Exited(0)),
    );
    checks.same(
        "alice's run of the file API",
        run_as(ALICE, "api", "/home/alice"),
        Ok(Termination::Exited(0)),
    );
    // Root may do anything: alice's private file is hers, and root reads it.
    checks.same(
        "alice's file's owner and mode",
        client
            .stat("/home/alice/secret")
            .map(|stat| (stat.user, stat.group, stat.mode & 0o7777)),
        Ok((ALICE, ALICE, 0o600)),
    );
    checks.same(
        "root reads it",
        read_file(client, "/home/alice/secret", 64),
        Ok(SECRET.to_vec()),
    );
    checks.same(
        "root changes its mode",
        client.change_mode("/home/alice/secret", 0o640),
        Ok(()),
    );
    let status = checks.finish("vfs-test: users");
    let init = process::argument("init").and_then(|node| node.parse().ok());
    match init.map(InitClient::connect) {
        Some(Ok(mut init)) => {
            let _ = init.shutdown(status);
        }
        _ => println!("vfs-test: cannot reach init"),
    }
    status
}

/// Alice's user id (the test system's users table).
const ALICE: u32 = 1000;
/// Bob's.
const BOB: u32 = 1001;
/// What alice keeps private.
const SECRET: &[u8] = b"alice's secret";

fn alice(client: &mut VfsClient) -> i32 {
    let mut checks = Checks::new();
    let secret = client.open(
        "/home/alice/secret",
        OPEN_WRITE | OPEN_CREATE | OPEN_TRUNCATE,
        0o600,
    );
    checks.same("create in her home", secret.is_ok(), true);
    if let Ok(secret) = secret {
        checks.same("write it", client.write(secret, SECRET), Ok(SECRET.len()));
        checks.same("close it", client.close_file(secret), Ok(()));
    }
    let shared = client.open(
        "/tmp/alice-shared",
        OPEN_READ | OPEN_WRITE | OPEN_CREATE | OPEN_TRUNCATE,
        0o644,
    );
    checks.same("create in /tmp", shared.is_ok(), true);
    let shared = shared.unwrap_or(0);
    checks.same("write it", client.write(shared, b"shared"), Ok(6));
    // Left open at her end: the next process on this cluster must not use it.
    let left = format!("{} {}", process::node(), shared);
    let note = client.open("/tmp/alice-left", OPEN_WRITE | OPEN_CREATE, 0o644);
    checks.same(
        "leave a note",
        note.and_then(|note| {
            client.write(note, left.as_bytes())?;
            client.close_file(note)
        }),
        Ok(()),
    );
    checks.same(
        "write root's file",
        refused(client.open("/etc/users", OPEN_WRITE, 0)),
        Some(VfsError::Denied),
    );
    checks.same(
        "create in root's directory",
        refused(client.make_directory("/etc/alice", 0o755)),
        Some(VfsError::Denied),
    );
    checks.same(
        "remove root's file",
        refused(client.unlink("/etc/users")),
        Some(VfsError::Denied),
    );
    checks.same(
        "change root's file's mode",
        refused(client.change_mode("/etc/users", 0o666)),
        Some(VfsError::Denied),
    );
    checks.same(
        "read the users table",
        read_file(client, "/etc/users", 256).map(|bytes| bytes.starts_with(b"root:0")),
        Ok(true),
    );
    checks.finish("vfs-test: alice")
}

fn bob(client: &mut VfsClient) -> i32 {
    let mut checks = Checks::new();
    checks.same(
        "read alice's private file",
        refused(client.open("/home/alice/secret", OPEN_READ, 0)),
        Some(VfsError::Denied),
    );
    checks.same(
        "stat in alice's home",
        refused(client.stat("/home/alice/secret")),
        Some(VfsError::Denied),
    );
    checks.same(
        "list alice's home",
        refused(client.list("/home/alice", 4096)),
        Some(VfsError::Denied),
    );
    checks.same(
        "read what alice shares",
        read_file(client, "/tmp/alice-shared", 64),
        Ok(b"shared".to_vec()),
    );
    checks.same(
        "write what alice shares",
        refused(client.open("/tmp/alice-shared", OPEN_WRITE, 0)),
        Some(VfsError::Denied),
    );
    checks.same(
        "remove alice's file from sticky /tmp",
        refused(client.unlink("/tmp/alice-shared")),
        Some(VfsError::Denied),
    );
    checks.same(
        "rename alice's file in sticky /tmp",
        refused(client.rename("/tmp/alice-shared", "/tmp/bob-now")),
        Some(VfsError::Denied),
    );
    checks.same(
        "change the mode of alice's file",
        refused(client.change_mode("/tmp/alice-shared", 0o666)),
        Some(VfsError::Denied),
    );
    let own = client.open("/tmp/bob-file", OPEN_WRITE | OPEN_CREATE, 0o600);
    checks.same(
        "make and remove his own file in /tmp",
        own.and_then(|own| {
            client.close_file(own)?;
            client.unlink("/tmp/bob-file")
        }),
        Ok(()),
    );
    // The descriptor alice left open on her node.
    let left = read_file(client, "/tmp/alice-left", 64).unwrap_or_default();
    let left = core::str::from_utf8(&left).unwrap_or("");
    let mut words = left.split(' ').map(|word| word.parse::<u32>().ok());
    if let (Some(Some(node)), Some(Some(descriptor))) = (words.next(), words.next()) {
        if node == process::node() {
            println!("vfs-test: bob ran on alice's node");
        }
        let mut buffer = [0u8; 8];
        checks.same(
            "use the descriptor alice left open",
            refused(client.read(descriptor, &mut buffer)),
            Some(VfsError::BadDescriptor),
        );
    } else {
        checks.same("alice's note", left, "NODE DESCRIPTOR");
    }
    checks.finish("vfs-test: bob")
}

/// Record `number` of `mode=append`: its number, then a pattern of it.
pub fn record(number: u32) -> [u8; 64] {
    let mut bytes = [0u8; 64];
    bytes[..4].copy_from_slice(&number.to_le_bytes());
    for (index, byte) in bytes[4..].iter_mut().enumerate() {
        *byte = (number as u8).wrapping_mul(7).wrapping_add(index as u8);
    }
    bytes
}

fn append(client: &mut VfsClient) -> i32 {
    let Ok(log) = client.open(
        "/tmp/log",
        OPEN_WRITE | OPEN_CREATE | OPEN_APPEND | OPEN_TRUNCATE,
        0o644,
    ) else {
        println!("vfs-test: cannot open /tmp/log");
        return 1;
    };
    for number in 0.. {
        if client.write(log, &record(number)) != Ok(64) {
            println!("vfs-test: record {number} not written");
            return 1;
        }
        if number % 3 == 2 {
            if client.sync_file(log).is_err() {
                println!("vfs-test: fsync after record {number} failed");
                return 1;
            }
            println!("vfs-test: synced {}", number + 1);
        }
    }
    0
}

/// Paths longer than one message (their requests travel beside it), and one
/// over `PATH_MAX`.
fn long_paths(checks: &mut Checks) {
    let mut long = String::from("/home/alice");
    for level in 0..6 {
        long.push_str(&alloc::format!("/{level}{}", "d".repeat(50)));
    }
    checks.same(
        "long: make the directories",
        fs::create_dir_all(&long),
        Ok(()),
    );
    let file = alloc::format!("{long}/file.txt");
    checks.same("long: write", fs::write(&file, b"far away\n"), Ok(()));
    checks.same(
        "long: read",
        fs::read_to_string(&file),
        Ok(String::from("far away\n")),
    );
    checks.same(
        "long: stat",
        fs::metadata(&file).map(|found| found.len()),
        Ok(9),
    );
    checks.same(
        "long: list",
        fs::read_dir(&long).map(|entries| {
            entries
                .into_iter()
                .map(|entry| entry.name)
                .collect::<Vec<String>>()
        }),
        Ok(alloc::vec![String::from("file.txt")]),
    );
    let renamed = alloc::format!("{long}/renamed-{}.txt", "r".repeat(40));
    checks.same("long: rename", fs::rename(&file, &renamed), Ok(()));
    checks.same("long: remove", fs::remove_file(&renamed), Ok(()));
    let too_long = alloc::format!("/home/alice/{}", "x/".repeat(2100));
    checks.same(
        "a path over PATH_MAX",
        fs::metadata(&too_long).map(drop),
        Err(Errno::NameTooLong),
    );
}

fn api() -> i32 {
    let mut checks = Checks::new();
    checks.same(
        "the working directory",
        fs::current_dir(),
        String::from("/home/alice"),
    );
    checks.same("write relative", fs::write("notes.txt", b"hello\n"), Ok(()));
    checks.same(
        "read it back absolute",
        fs::read_to_string("/home/alice/notes.txt"),
        Ok(String::from("hello\n")),
    );
    // Larger than one transfer: several writes and reads.
    let big = pattern(5, 300_000);
    let written = File::create("big").and_then(|mut file| {
        file.write_all(&big)?;
        file.sync_all()
    });
    checks.same("write 300 000 bytes", written, Ok(()));
    checks.same(
        "read them",
        fs::read("big").map(|bytes| bytes == big),
        Ok(true),
    );
    let appended = OpenOptions::new()
        .append(true)
        .open("notes.txt")
        .and_then(|mut file| {
            file.write_all(b"world\n")?;
            file.metadata().map(|metadata| metadata.len())
        });
    checks.same("append", appended, Ok(12));
    let tail = File::open("notes.txt").and_then(|mut file| {
        let at = file.seek(SeekFrom::End(-6))?;
        let mut bytes = [0u8; 6];
        let count = file.read_full(&mut bytes)?;
        Ok((at, count, bytes))
    });
    checks.same("seek from the end", tail, Ok((6, 6, *b"world\n")));
    let shortened = OpenOptions::new()
        .write(true)
        .open("notes.txt")
        .and_then(|file| {
            file.set_len(5)?;
            file.metadata()
        });
    checks.same(
        "set_len and metadata",
        shortened.map(|metadata| {
            (
                metadata.len(),
                metadata.uid(),
                metadata.permissions(),
                metadata.is_file(),
            )
        }),
        Ok((5, ALICE, 0o644, true)),
    );
    checks.same("create_dir_all", fs::create_dir_all("a/b/c"), Ok(()));
    checks.same(
        "read_dir",
        fs::read_dir("a").map(|entries| {
            entries
                .iter()
                .map(|entry| (entry.name.clone(), entry.is_dir))
                .collect::<Vec<_>>()
        }),
        Ok(vec![(String::from("b"), true)]),
    );
    checks.same("cd", fs::set_current_dir("a/b"), Ok(()));
    checks.same("where", fs::current_dir(), String::from("/home/alice/a/b"));
    checks.same("cd ..", fs::set_current_dir("../.."), Ok(()));
    checks.same(
        "cd to a file",
        fs::set_current_dir("big"),
        Err(Errno::NotDirectory),
    );
    checks.same("rename", fs::rename("big", "a/big"), Ok(()));
    checks.same(
        "remove a full directory",
        fs::remove_dir("a"),
        Err(Errno::NotEmpty),
    );
    checks.same("remove_file", fs::remove_file("a/big"), Ok(()));
    checks.same("remove_dir", fs::remove_dir("a/b/c"), Ok(()));
    checks.same(
        "a missing file",
        fs::read("missing").map(drop),
        Err(Errno::NoEntry),
    );
    checks.same(
        "bob's home",
        fs::read("/home/bob/anything").map(drop),
        Err(Errno::Access),
    );
    checks.same(
        "create where it exists",
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open("notes.txt")
            .map(drop),
        Err(Errno::Exists),
    );
    checks.same("sync", fs::sync(), Ok(()));
    long_paths(&mut checks);
    checks.finish("vfs-test: api")
}

/// Records each writer of `mode=share` appends.
const SHARED_RECORDS: u32 = 200;

/// Record `number` of writer `writer` of `mode=share`: the writer, the number, then
/// a pattern of both.
fn shared_record(writer: u32, number: u32) -> [u8; 64] {
    let mut bytes = [0u8; 64];
    bytes[..4].copy_from_slice(&writer.to_le_bytes());
    bytes[4..8].copy_from_slice(&number.to_le_bytes());
    for (index, byte) in bytes[8..].iter_mut().enumerate() {
        *byte = (writer as u8)
            .wrapping_mul(31)
            .wrapping_add(number as u8)
            .wrapping_add(index as u8);
    }
    bytes
}

/// `mode=share writer=W`: appends its records to `/tmp/shared` while the other
/// writers do, reading the file's size between appends, then writes
/// `/tmp/shared-done-W`.
fn share(client: &mut VfsClient) -> i32 {
    let mut checks = Checks::new();
    let writer: u32 = process::argument("writer")
        .and_then(|writer| writer.parse().ok())
        .unwrap_or(0);
    let file = client.open("/tmp/shared", OPEN_WRITE | OPEN_CREATE | OPEN_APPEND, 0o666);
    checks.same("open to append", file.is_ok(), true);
    let file = file.unwrap_or(0);
    let mut appended = 0;
    for number in 0..SHARED_RECORDS {
        if client.write(file, &shared_record(writer, number)) == Ok(64) {
            appended += 1;
        }
        // The size only grows, by whole records.
        if let Ok(stat) = client.stat_file(file)
            && stat.size % 64 != 0
        {
            checks.same("a whole number of records", stat.size % 64, 0);
        }
    }
    checks.same("appended", appended, SHARED_RECORDS);
    checks.same("close", client.close_file(file), Ok(()));
    let done = format!("/tmp/shared-done-{writer}");
    let marked = client
        .open(&done, OPEN_WRITE | OPEN_CREATE, 0o644)
        .and_then(|descriptor| client.close_file(descriptor));
    checks.same("mark done", marked, Ok(()));
    checks.finish("vfs-test: share")
}

/// `mode=shared writers=N` (on the server's cluster): waits (at most 60 s) for
/// the writers' done files, checks `/tmp/shared` holds every record of each, whole
/// and in each writer's order, and stops the server.
fn shared(client: &mut VfsClient) -> i32 {
    let mut checks = Checks::new();
    let writers: u32 = process::argument("writers")
        .and_then(|writers| writers.parse().ok())
        .unwrap_or(2);
    let all_done = |client: &mut VfsClient| {
        (0..writers).all(|writer| client.stat(&format!("/tmp/shared-done-{writer}")).is_ok())
    };
    let mut waited = 0;
    while !all_done(client) && waited < 6000 {
        let _ = thread::sleep_nanoseconds(10_000_000);
        waited += 1;
    }
    checks.same("every writer done", all_done(client), true);
    let bytes = read_file(
        client,
        "/tmp/shared",
        64 * (SHARED_RECORDS * writers) as usize + 64,
    )
    .unwrap_or_default();
    checks.same(
        "size",
        bytes.len(),
        64 * (SHARED_RECORDS * writers) as usize,
    );
    let mut next = vec![0u32; writers as usize];
    let mut whole = true;
    for record in bytes.chunks(64) {
        let writer = u32::from_le_bytes([record[0], record[1], record[2], record[3]]);
        let Some(expected) = next.get_mut(writer as usize) else {
            whole = false;
            break;
        };
        whole &= record == shared_record(writer, *expected);
        *expected += 1;
    }
    checks.same("each record whole, in its writer's order", whole, true);
    checks.same(
        "every record of each",
        next,
        vec![SHARED_RECORDS; writers as usize],
    );
    let status = checks.finish("vfs-test: shared");
    let _ = client.stop();
    status
}
