//! System tests of the file system on the board's disk: a program formats it,
//! appends records (each write durable when it returns) and powers off; the next
//! boot finds them all; a cluster killed while appending leaves a disk that `nanvix
//! fsck` finds clean and that holds every record acknowledged before the kill, in
//! order, none torn. And the root file system `nanvix run` puts on a fresh disk:
//! the programs, the manifest's files and users, readable on the board and on the
//! host, kept by the next run.

use nanvix_harness::{Board, signal};
use std::path::Path;

mod common;

use common::{NANVIX, boot_on_disk as boot, pid_of, wait_for_line};

/// The console lines of fs-test.
fn lines(board: &Board) -> Vec<String> {
    common::console_lines(board, |_, program, _| program == "fs-test")
}

fn fsck(disk: &Path) -> (bool, String) {
    let output = std::process::Command::new(NANVIX)
        .arg("fsck")
        .arg(disk)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn files_survive_a_power_off_and_a_killed_cluster_with_every_acknowledged_write() {
    let directory = std::env::temp_dir().join(format!("nanvix-files-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let disk = directory.join("files.disk");
    for (name, fresh, wanted) in [
        ("fs-format", true, "fs-test: formatted"),
        ("fs-append", false, "fs-test: acknowledged 20"),
        ("fs-verify", false, "fs-test: verified 25 records"),
    ] {
        let mut board = boot(name, &disk, fresh);
        assert_eq!(
            board.wait_exit().unwrap(),
            0,
            "{name}: {}",
            board.transcript()
        );
        assert!(
            lines(&board).iter().any(|line| line == wanted),
            "{name}: {}",
            board.transcript()
        );
    }
    let (clean, report) = fsck(&disk);
    assert!(clean, "{report}");
    // Appending until killed: every record acknowledged before the kill stays.
    let mut board = boot("fs-kill", &disk, false);
    wait_for_line(&mut board, "io0", "fs-test: acknowledged 60");
    signal(pid_of(&board, "io0"), libc::SIGKILL).unwrap();
    assert_eq!(board.wait_exit().unwrap(), 1, "{}", board.transcript());
    let acknowledged: u64 = lines(&board)
        .iter()
        .filter_map(|line| line.strip_prefix("fs-test: acknowledged "))
        .filter_map(|count| count.parse().ok())
        .max()
        .unwrap();
    assert!(acknowledged >= 60);
    let (clean, report) = fsck(&disk);
    assert!(clean, "after the kill: {report}");
    let mut board = boot("fs-verify-more", &disk, false);
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    let verified: u64 = lines(&board)
        .iter()
        .find_map(|line| line.strip_prefix("fs-test: verified "))
        .and_then(|rest| rest.strip_suffix(" records"))
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("{}", board.transcript()));
    assert!(
        verified >= acknowledged,
        "{verified} records after the kill, {acknowledged} acknowledged"
    );
    let _ = std::fs::remove_dir_all(&directory);
}

/// The file at `path` of the file system in `disk`: its inode's fields and bytes.
fn read_file(disk: &Path, path: &str) -> (nanvix_fs::Inode, Vec<u8>) {
    use nanvix_fs::{Caller, FileSystem, MemoryDisk};
    let bytes = std::fs::read(disk).unwrap();
    let mut files = FileSystem::mount(MemoryDisk::from_bytes(&bytes)).unwrap();
    let inode = files.resolve(path, &Caller::root()).unwrap();
    let fields = files.inode(inode).unwrap();
    let mut contents = vec![0; fields.size as usize];
    if fields.is_regular() {
        files.read(inode, 0, &mut contents).unwrap();
    }
    (fields, contents)
}

#[test]
fn a_fresh_disk_starts_with_the_root_file_system_and_keeps_what_changed() {
    let directory = std::env::temp_dir().join(format!("nanvix-root-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let disk = directory.join("root.disk");
    let mut board = boot("root", &disk, true);
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    let said = lines(&board);
    assert!(
        said.iter()
            .any(|line| line == "fs-test: users: root:0 alice:1000 bob:1001"),
        "{}",
        board.transcript()
    );
    assert!(
        said.iter()
            .any(|line| line == "fs-test: /bin has 2 programs, fs-test among them"),
        "{}",
        board.transcript()
    );
    let (clean, report) = fsck(&disk);
    assert!(clean, "{report}");
    let (motd, text) = read_file(&disk, "/etc/motd");
    assert_eq!(text, b"Welcome to Nanvix.\n");
    assert_eq!((motd.mode & 0o7777, motd.user), (0o644, 0));
    let (readme, _) = read_file(&disk, "/usr/share/doc/readme");
    assert_eq!(readme.mode & 0o7777, 0o600);
    let (home, _) = read_file(&disk, "/home/alice");
    assert!(home.is_directory());
    assert_eq!(
        (home.mode & 0o7777, home.user, home.group),
        (0o700, 1000, 1000)
    );
    let (tmp, _) = read_file(&disk, "/tmp");
    assert_eq!(tmp.mode & 0o7777, 0o1777);
    let (hello, elf) = read_file(&disk, "/bin/hello");
    assert_eq!(hello.mode & 0o7777, 0o755);
    assert_eq!(&elf[..4], b"\x7fELF");
    // A change to the disk stays: the next run does not start it over.
    {
        use nanvix_fs::{FileSystem, MemoryDisk, ROOT};
        let bytes = std::fs::read(&disk).unwrap();
        let mut files = FileSystem::mount(MemoryDisk::from_bytes(&bytes)).unwrap();
        files.unlink(ROOT, b"bin", 0).unwrap_err();
        let tmp = files.lookup(ROOT, b"tmp").unwrap();
        files.create(tmp, b"marker", 0o644, (0, 0), 0).unwrap();
        std::fs::write(&disk, files.unmount().unwrap().to_bytes()).unwrap();
    }
    let mut board = boot("root", &disk, false);
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    assert!(read_file(&disk, "/tmp/marker").0.is_regular());
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn a_root_file_system_that_cannot_be_made_is_refused_with_nothing_booted() {
    let directory = std::env::temp_dir().join(format!("nanvix-root-bad-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    for (name, wanted) in [
        ("root-missing", "root.files[0].source"),
        (
            "root-small",
            "the root file system: format: device too small",
        ),
    ] {
        let manifest = nanvix_image_builder::workspace_root()
            .join(format!("image-builder/tests/systems/{name}.toml"));
        let output = std::process::Command::new(NANVIX)
            .args(["run", "--fresh-disk", "--disk"])
            .arg(directory.join(format!("{name}.disk")))
            .arg(manifest)
            .output()
            .unwrap();
        let errors = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {errors}");
        assert!(errors.contains(wanted), "{name}: {errors}");
        assert!(
            !String::from_utf8_lossy(&output.stdout).contains("up (pid"),
            "{name}: a cluster booted"
        );
        // A disk left half made would pass for a raw one next time: it is empty.
        let disk = directory.join(format!("{name}.disk"));
        assert!(
            std::fs::metadata(&disk).map_or(0, |metadata| metadata.len()) == 0,
            "{name}"
        );
    }
    let _ = std::fs::remove_dir_all(&directory);
}
