//! QEMU for the qemu-x86_64 platform: found on the host, or installed from Debian's
//! packages (`qemu-system-x86`) when missing, so that the README's commands stay
//! all the set-up a fresh machine needs; and one boot of a kernel under it.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The emulator.
pub const QEMU: &str = "qemu-system-x86_64";
/// The Debian package that has it.
pub const QEMU_PACKAGE: &str = "qemu-system-x86";
/// What the kernel writes to QEMU's exit device to pass: QEMU then exits with
/// `(value << 1) | 1`, 33.
pub const STATUS_PASS: i32 = 33;
/// The same for a failure: 35.
pub const STATUS_FAIL: i32 = 35;

/// The emulator's path: on `PATH`, or installed now with `apt-get` (as root;
/// anyone else is told what to install).
pub fn ensure_installed() -> Result<PathBuf, String> {
    if let Some(found) = find_on_path(QEMU) {
        return Ok(found);
    }
    if find_on_path("apt-get").is_none() {
        return Err(format!(
            "{QEMU} is not installed and this host has no apt-get: install QEMU's x86_64 system emulator"
        ));
    }
    // SAFETY: `geteuid` reads the process's effective user id and touches nothing.
    if unsafe { libc::geteuid() } != 0 {
        return Err(format!(
            "{QEMU} is not installed: run `sudo apt-get install {QEMU_PACKAGE}`"
        ));
    }
    eprintln!("nanvix: installing {QEMU_PACKAGE} (Debian's package) for the qemu-x86_64 platform");
    let apt = |arguments: &[&str]| {
        Command::new("apt-get")
            .args(arguments)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
            .map_err(|error| format!("cannot run apt-get: {error}"))
    };
    apt(&["update", "-qq"])?;
    let installed = apt(&["install", "-y", "-qq", QEMU_PACKAGE])?;
    if !installed.success() {
        return Err(format!(
            "apt-get install {QEMU_PACKAGE} failed ({installed})"
        ));
    }
    find_on_path(QEMU)
        .ok_or_else(|| format!("{QEMU} still missing after installing {QEMU_PACKAGE}"))
}

/// `name` in one of `PATH`'s directories, if there.
fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|directory| directory.join(name))
        .find(|candidate| candidate.is_file())
}

/// How one boot ended.
#[derive(Debug)]
pub struct Boot {
    /// QEMU's exit status ([`STATUS_PASS`], [`STATUS_FAIL`], or another: a crash of
    /// the emulator, or `None` when it was stopped at the time limit).
    pub status: Option<i32>,
    /// What the kernel wrote to its serial console.
    pub console: String,
}

/// Boots `kernel` on one QEMU x86_64 machine with `cores` cores and the PVH
/// command line `command_line`, its serial console captured, and stops it after
/// `limit` if it has not ended by itself.
pub fn boot(
    qemu: &Path,
    kernel: &Path,
    cores: usize,
    command_line: &str,
    limit: Duration,
) -> Result<Boot, String> {
    boot_with(qemu, kernel, cores, command_line, &[], limit)
}

/// QEMU's arguments for an ivshmem device over the shared memory file `path` of
/// `bytes` bytes (the file is made, zeroed, if missing): what machines sharing it
/// see as one memory.
pub fn shared_memory_arguments(path: &Path, bytes: u64) -> Result<Vec<String>, String> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|error| format!("{}: {error}", path.display()))?;
    file.set_len(bytes)
        .map_err(|error| format!("{}: {error}", path.display()))?;
    Ok(vec![
        "-object".into(),
        format!(
            "memory-backend-file,id=shared,share=on,mem-path={},size={bytes}",
            path.display()
        ),
        "-device".into(),
        "ivshmem-plain,memdev=shared".into(),
    ])
}

/// As [`boot`], with `extra` QEMU arguments (devices).
pub fn boot_with(
    qemu: &Path,
    kernel: &Path,
    cores: usize,
    command_line: &str,
    extra: &[String],
    limit: Duration,
) -> Result<Boot, String> {
    let mut child = Command::new(qemu)
        .args(["-nodefaults", "-display", "none", "-no-reboot", "-m", "64M"])
        .args(["-serial", "stdio"])
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
        .arg("-smp")
        .arg(cores.to_string())
        .arg("-kernel")
        .arg(kernel)
        .arg("-append")
        .arg(command_line)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|error| format!("cannot start {}: {error}", qemu.display()))?;
    let mut output = child.stdout.take().ok_or("no console pipe")?;
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = output.read_to_end(&mut bytes);
        bytes
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.code(),
            Ok(None) if started.elapsed() >= limit => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(error) => return Err(format!("waiting for QEMU: {error}")),
        }
    };
    let bytes = reader.join().unwrap_or_default();
    Ok(Boot {
        status,
        console: String::from_utf8_lossy(&bytes).replace('\r', ""),
    })
}
