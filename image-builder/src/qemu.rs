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
    // Boards started at once (the tests run several) would race for apt's lock,
    // and all but one fail: one installs while the others wait, then find it.
    let lock_path = std::env::temp_dir().join("nanvix-qemu-install.lock");
    let lock = std::fs::File::create(&lock_path)
        .map_err(|error| format!("cannot create {}: {error}", lock_path.display()))?;
    lock.lock()
        .map_err(|error| format!("cannot lock {}: {error}", lock_path.display()))?;
    if let Some(found) = find_on_path(QEMU) {
        return Ok(found);
    }
    eprintln!("nanvix: installing {QEMU_PACKAGE} (Debian's package) for the qemu-x86_64 platform");
    let apt = |arguments: &[&str]| {
        Command::new("apt-get")
            // Another apt at work on the host (not a board of ours): wait for it.
            .args(["-o", "DPkg::Lock::Timeout=600"])
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
    boot_machine(
        qemu,
        kernel,
        cores,
        TEST_MEMORY_MIB,
        command_line,
        extra,
        limit,
    )
}

/// RAM of a machine that runs one of the kernel's test modes, in MiB.
const TEST_MEMORY_MIB: u64 = 64;
/// Where the kernel puts a cluster's SRAM in the machine's RAM (the kernel's
/// `system::SRAM_BASE`): below it lie the kernel and its heap.
pub const SRAM_BASE: u64 = 32 << 20;
/// RAM past the SRAM and the bundle: QEMU's tables at the top of RAM and a margin.
const MEMORY_MARGIN: u64 = 8 << 20;

/// RAM (in MiB) of the machine of a cluster with `sram_bytes` of SRAM booted with a
/// bundle of `bundle_bytes`: the kernel's ranges, the SRAM, then room for QEMU to
/// put the bundle at the top of RAM above it.
pub fn cluster_memory_mib(sram_bytes: u64, bundle_bytes: u64) -> u64 {
    (SRAM_BASE + sram_bytes + bundle_bytes + MEMORY_MARGIN).div_ceil(1 << 20)
}

/// What a machine has beside its NoC memory: the blocks of its disk and the bytes
/// of the board's DDR it reaches (0: none of it), and whether it is warm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Storage {
    /// Disk blocks.
    pub disk_blocks: u64,
    /// DDR bytes.
    pub ddr_bytes: u64,
    /// Whether the cluster stays on, idle, between programs (booted on request).
    pub warm: bool,
}

/// The PCI slots (bus 0) of a machine's ivshmem devices: the NoC memory, the disk,
/// the DDR, the staging store (the kernel's `pci::NOC_SLOT`, `DISK_SLOT`,
/// `DDR_SLOT`, `STAGING_SLOT`).
pub const IVSHMEM_SLOTS: [u32; 4] = [0x10, 0x11, 0x12, 0x13];

/// The boot bundle of cluster `cluster` in epoch `epoch`: its `programs`, its
/// `storage`, and the ELFs of `library` (name and bytes; every program the list
/// names must be among them). The board is the NoC memory ROM's.
pub fn bundle(
    (cluster, epoch): (usize, u32),
    programs: &[crate::manifest::ProgramPlan],
    storage: Storage,
    library: &[(&str, &[u8])],
) -> Vec<u8> {
    nanvix_board_protocol::BootBundle {
        cluster: cluster as u32,
        epoch,
        disk_blocks: storage.disk_blocks,
        ddr_bytes: storage.ddr_bytes,
        warm: storage.warm,
        programs: programs
            .iter()
            .map(|program| nanvix_board_protocol::BootProgram {
                name: &program.name,
                arguments: program.arguments.clone(),
                heap_bytes: program.heap_bytes,
                stack_bytes: program.stack_bytes,
                console_input: program.console_input,
            })
            .collect(),
        library: library
            .iter()
            .map(|(name, elf)| nanvix_board_protocol::LibraryProgram { name, elf })
            .collect(),
    }
    .encode()
}

/// QEMU's arguments for the board's NoC memory: the memory file at `path` (of
/// `bytes`, a power of two) as an ivshmem device at its slot.
pub fn noc_arguments(path: &str, bytes: u64) -> Vec<String> {
    device_arguments("noc", IVSHMEM_SLOTS[0], path, bytes)
}

/// QEMU's arguments for a file at `path` of `bytes` (a power of two: a BAR's size)
/// as the ivshmem device `name` at PCI slot `slot` of bus 0, shared (writes reach
/// the file).
pub fn device_arguments(name: &str, slot: u32, path: &str, bytes: u64) -> Vec<String> {
    vec![
        "-object".into(),
        format!("memory-backend-file,id={name},share=on,mem-path={path},size={bytes}"),
        "-device".into(),
        format!("ivshmem-plain,memdev={name},addr={slot:#x}"),
    ]
}

/// Boots cluster `cluster` of `board` on a machine of its cores: the kernel in its
/// `kernel` mode with the bundle at `bundle` (of `bundle_bytes`) and the board's
/// NoC memory (`noc`: [`noc_arguments`]), stopped after `limit` if it has not ended
/// by itself.
#[allow(clippy::too_many_arguments)]
pub fn boot_cluster(
    qemu: &Path,
    kernel: &Path,
    board: &nanvix_board::Board,
    cluster: usize,
    bundle: &Path,
    bundle_bytes: u64,
    noc: &[String],
    limit: Duration,
) -> Result<Boot, String> {
    let shape = &board.clusters[cluster];
    let mut arguments = vec!["-initrd".to_string(), bundle.display().to_string()];
    arguments.extend_from_slice(noc);
    boot_machine(
        qemu,
        kernel,
        shape.cores as usize,
        cluster_memory_mib(shape.sram_bytes, bundle_bytes),
        "mode=kernel",
        &arguments,
        limit,
    )
}

/// QEMU's arguments for one machine of `cores` cores and `memory_mib` of RAM that
/// boots `kernel` with `command_line`: no default devices or display, no reboot
/// (a triple fault ends QEMU), the serial port on standard input and output, the
/// exit device.
pub fn machine_arguments(
    kernel: &str,
    cores: usize,
    memory_mib: u64,
    command_line: &str,
) -> Vec<String> {
    [
        "-nodefaults",
        "-display",
        "none",
        "-no-reboot",
        "-serial",
        "stdio",
        "-device",
        "isa-debug-exit,iobase=0xf4,iosize=0x04",
    ]
    .into_iter()
    .map(String::from)
    .chain([
        "-m".into(),
        format!("{memory_mib}M"),
        "-smp".into(),
        cores.to_string(),
        "-kernel".into(),
        kernel.into(),
        "-append".into(),
        command_line.into(),
    ])
    .collect()
}

/// One machine: `cores` cores, `memory_mib` of RAM, the kernel's command line and
/// `extra` arguments; its console captured.
fn boot_machine(
    qemu: &Path,
    kernel: &Path,
    cores: usize,
    memory_mib: u64,
    command_line: &str,
    extra: &[String],
    limit: Duration,
) -> Result<Boot, String> {
    let mut child = Command::new(qemu)
        .args(machine_arguments(
            &kernel.display().to_string(),
            cores,
            memory_mib,
            command_line,
        ))
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
