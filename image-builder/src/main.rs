//! `nanvix`: build images, boot them on a board, inspect them, run the tests.

use clap::{Parser, Subcommand, ValueEnum};
use nanvix_image_builder::image::{Image, looks_like_image};
use nanvix_image_builder::logs::LogLevel;
use nanvix_image_builder::manifest::System;
use nanvix_image_builder::packing::{self, Payloads};
use nanvix_image_builder::runner::{EventFormat, RunOptions};
use nanvix_image_builder::{builder, docs, manifest, runner, workspace_root};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Build and run Nanvix systems.
#[derive(Parser)]
#[command(name = "nanvix", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Boot a manifest (building what it needs) or an image (default:
    /// systems/mppa256.toml).
    Run {
        /// A system manifest or an image built by `nanvix build`.
        system: Option<PathBuf>,
        /// How to print what happens: `human` (default) or `json` (one event per line).
        #[arg(long, value_enum, default_value = "human")]
        events: Events,
        /// Stop the board after this many seconds (exit status 124).
        #[arg(long)]
        timeout: Option<f64>,
        /// For a manifest: do not build; use the kernel and programs already built.
        #[arg(long)]
        no_build: bool,
        /// Use this ELF file for program NAME instead of the built one (NAME=PATH).
        #[arg(long = "program", value_name = "NAME=PATH")]
        program_overrides: Vec<String>,
        /// Run a cluster's process only on these host CPUs (CLUSTER=CPU[,CPU...]).
        #[arg(long = "pin", value_name = "CLUSTER=CPUS")]
        pins: Vec<String>,
        /// Print decoded log frames at this level and above (programs keep only the
        /// levels they were built with: DEFMT_LOG, default info).
        #[arg(long, value_enum, default_value = "info")]
        log_level: LogLevelChoice,
        /// How clusters ring each other: `futex` wakes (default) or bounded `polling`
        /// (what the bare-metal backend does without a doorbell device).
        #[arg(long, value_enum, default_value = "futex")]
        doorbells: DoorbellChoice,
        /// Run this cluster's kernel under callgrind (instruction counts, written to
        /// target/callgrind/); slow, for code-path length only.
        #[arg(long, value_name = "CLUSTER")]
        callgrind: Option<String>,
        /// Stop this cluster's kernel at its start so that a debugger can attach
        /// (hosted: `gdb -p PID`; qemu-x86_64: the machine's debugger stub,
        /// `target remote 127.0.0.1:PORT`), and print how to load its programs'
        /// symbols.
        #[arg(long, value_name = "CLUSTER")]
        gdb: Option<String>,
        /// The disk image file of a system with a disk, kept between runs (default:
        /// target/disks/<system>.disk).
        #[arg(long, value_name = "PATH")]
        disk: Option<PathBuf>,
        /// Start the disk over from zeros.
        #[arg(long)]
        fresh_disk: bool,
        /// Log this user in on the program that takes the console input (nsh):
        /// one of the manifest's `[root]` users, or root.
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
    },
    /// Check a manifest, build the kernel and programs it needs and pack an image.
    Build {
        /// The system manifest.
        manifest: PathBuf,
        /// Where to write the image (default: target/images/<manifest name>.img).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Check a disk image of the vfs server without changing it: the superblock, the
    /// journal's committed records, and the files (directories, link counts, the
    /// block bitmap) as a mount would find them. Exit status 0 when sound, 1 when it
    /// found corruption (each problem printed), 2 when it cannot read the file.
    Fsck {
        /// The disk image.
        disk: PathBuf,
    },
    /// Show what an image holds: sections, sizes, checksums, the system it boots.
    Inspect {
        /// The image.
        image: PathBuf,
    },
    /// Run benchmarks on boards against baselines measured in the same run; write
    /// rows to target/bench/<name>.json and print a table.
    Bench {
        /// Benchmarks to run: baselines, kcall, buffer, knoise, noc, mailbox, rpc, data, portal, collectives, boot, spawn, idle
        /// (default: all).
        names: Vec<String>,
        /// Separate board launches per benchmark.
        #[arg(long, default_value_t = 5)]
        launches: usize,
        /// Fewer iterations per baseline trial (for a quick look, not for quoting).
        #[arg(long)]
        quick: bool,
    },
    /// Check a manifest without building anything.
    Check {
        /// The system manifest.
        manifest: PathBuf,
    },
    /// Build every kernel and program, the bare-metal canary and the qemu-x86_64
    /// kernel (installing QEMU from Debian's packages if missing), then run every
    /// test of the workspace.
    Test {
        /// Extra arguments for `cargo test` (after `--`).
        #[arg(last = true)]
        cargo_arguments: Vec<String>,
    },
    /// Regenerate the pages of docs/ that come from tables in the code.
    Docs {
        /// Only check that they are current.
        #[arg(long)]
        check: bool,
    },
    /// Build the microkernel linked freestanding (the canary, over a stub HAL) and
    /// the qemu-x86_64 kernel, and print what their images take.
    Footprint,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DoorbellChoice {
    Futex,
    Polling,
}

#[derive(Clone, Copy, ValueEnum)]
enum Events {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogLevelChoice {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl From<LogLevelChoice> for LogLevel {
    fn from(choice: LogLevelChoice) -> LogLevel {
        match choice {
            LogLevelChoice::Trace => LogLevel::Trace,
            LogLevelChoice::Debug => LogLevel::Debug,
            LogLevelChoice::Info => LogLevel::Info,
            LogLevelChoice::Warn => LogLevel::Warn,
            LogLevelChoice::Error => LogLevel::Error,
        }
    }
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("nanvix: {message}");
    ExitCode::from(2)
}

/// Checks a manifest and builds its kernel and programs (or only finds them).
fn build_system(root: &Path, path: &Path, build: bool) -> Result<(System, Payloads), String> {
    let system = manifest::load(root, path).map_err(|error| error.to_string())?;
    let mut artifacts =
        builder::build(root, &system.program_names(), build).map_err(|error| error.to_string())?;
    if system.platform == manifest::Platform::QemuX86_64 {
        artifacts.kernel = builder::build_qemu_kernel(root).map_err(|error| error.to_string())?;
    }
    let mut payloads = packing::read_payloads(&artifacts).map_err(|error| error.to_string())?;
    packing::check_budgets(&system, &payloads).map_err(|error| error.to_string())?;
    if let Some(plan) = &system.root {
        payloads.root = Some(packing::RootContents::read(plan)?);
    }
    Ok((system, payloads))
}

/// Reads and unpacks an image.
fn open_image(path: &Path) -> Result<(Image, System, Payloads), String> {
    let bytes = std::fs::read(path).map_err(|error| format!("{}: {error}", path.display()))?;
    let image = Image::decode(&bytes).map_err(|error| format!("{}: {error}", path.display()))?;
    let (system, payloads) =
        packing::unpack(path, &image).map_err(|error| format!("{}: {error}", path.display()))?;
    Ok((image, system, payloads))
}

/// What `nanvix run` was asked to do.
struct RunChoices {
    format: EventFormat,
    timeout: Option<f64>,
    no_build: bool,
    program_overrides: Vec<String>,
    pins: Vec<(String, Vec<usize>)>,
    log_level: LogLevel,
    polling_doorbells: bool,
    callgrind: Option<(String, PathBuf)>,
    gdb: Option<(String, PathBuf)>,
    disk: Option<PathBuf>,
    fresh_disk: bool,
    user: Option<String>,
}

/// Opens the disk image file of `system`'s disk, if it has one: `path`, or
/// `target/disks/<system>.disk`; created (zeros, sparse) when new or `fresh`, with
/// the system's root file system when it has one. An existing file of another size
/// is refused: the disk it holds is another.
fn open_disk(
    root: &Path,
    system_path: &Path,
    (system, payloads): (&System, &Payloads),
    path: Option<&Path>,
    fresh: bool,
) -> Result<Option<std::sync::Arc<std::fs::File>>, String> {
    let Some(bytes) = system.clusters.iter().find_map(|plan| plan.disk_bytes) else {
        return match path {
            Some(path) => Err(format!(
                "--disk {}: the system has no disk (`disk = \"SIZE\"` on a cluster)",
                path.display()
            )),
            None => Ok(None),
        };
    };
    let path = match path {
        Some(path) => path.to_path_buf(),
        None => {
            let stem = system_path
                .file_stem()
                .and_then(|stem| stem.to_str())
                .unwrap_or("system");
            builder::target_directory(root)
                .join("disks")
                .join(format!("{stem}.disk"))
        }
    };
    if let Some(directory) = path.parent() {
        std::fs::create_dir_all(directory)
            .map_err(|error| format!("{}: {error}", directory.display()))?;
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|error| format!("disk {}: {error}", path.display()))?;
    let length = file
        .metadata()
        .map_err(|error| format!("disk {}: {error}", path.display()))?
        .len();
    if fresh || length == 0 {
        file.set_len(0)
            .and_then(|()| file.set_len(bytes))
            .and_then(|()| allocate_whole(&file, bytes))
            .map_err(|error| format!("disk {}: {error}", path.display()))?;
        if let Some(contents) = &payloads.root {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |since| since.as_nanos() as u64);
            let blocks = bytes / nanvix_fs::BLOCK_SIZE as u64;
            let made =
                nanvix_image_builder::rootfs::build(blocks, &payloads.programs, contents, now)
                    .and_then(|image| {
                        nanvix_image_builder::rootfs::write_sparse(&file, &image)
                            .map_err(|error| error.to_string())
                    });
            if let Err(error) = made {
                // Empty again, so that the next run makes it anew.
                let _ = file.set_len(0);
                return Err(format!("disk {}: {error}", path.display()));
            }
        }
    } else if length != bytes {
        return Err(format!(
            "disk {}: {length} bytes, but the system's disk is {bytes}: pass --fresh-disk to start it over",
            path.display()
        ));
    }
    Ok(Some(std::sync::Arc::new(file)))
}

/// Allocates the `bytes` of a new disk image `file` on the host at once, as a
/// disk's blocks exist from the start: a host too full for it says so now (not as
/// an I/O error in the middle of a run), and a block's first write costs what any
/// write does.
fn allocate_whole(file: &std::fs::File, bytes: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let length = libc::off_t::try_from(bytes).map_err(|_| std::io::ErrorKind::InvalidInput)?;
    // SAFETY: `posix_fallocate` on the open descriptor of `file`, which outlives the
    // call; it touches no memory of this process.
    match unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, length) } {
        0 => Ok(()),
        errno => Err(std::io::Error::from_raw_os_error(errno)),
    }
}

/// The kernel's target (text + read-only data + data): the original's on MPPA-256.
const FOOTPRINT_TARGET: u64 = 128 << 10;
/// Its stretch target.
const FOOTPRINT_STRETCH: u64 = 96 << 10;

/// `nanvix footprint`: builds the canary and the qemu-x86_64 kernel and prints
/// their section bytes by kind.
fn footprint(root: &Path) -> Result<(), String> {
    let canary = builder::build_canary(root).map_err(|error| error.to_string())?;
    let qemu = builder::build_qemu_kernel(root).map_err(|error| error.to_string())?;
    println!(
        "{:<48} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10}",
        "kernel", "text", "rodata", "data", "bss", "unwind", "image"
    );
    for (what, path) in [
        ("microkernel over a stub HAL (hal/canary)", canary),
        ("qemu-x86_64 kernel (hal/qemu)", qemu),
    ] {
        let bytes = std::fs::read(&path).map_err(|error| format!("{}: {error}", path.display()))?;
        let measured = nanvix_image_builder::footprint::measure(&bytes)
            .map_err(|error| format!("{}: {error}", path.display()))?;
        println!(
            "{what:<48} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10}",
            measured.text,
            measured.rodata,
            measured.data,
            measured.bss,
            measured.unwind,
            measured.image()
        );
    }
    println!(
        "image: text + rodata + data, in bytes (target at most {} KiB, stretch {} KiB); bss holds stacks, page tables and statics",
        FOOTPRINT_TARGET >> 10,
        FOOTPRINT_STRETCH >> 10
    );
    Ok(())
}

/// Parses `CLUSTER=CPU[,CPU...]` pins.
fn parse_pins(entries: &[String]) -> Result<Vec<(String, Vec<usize>)>, String> {
    entries
        .iter()
        .map(|entry| {
            let (cluster, cpus) = entry
                .split_once('=')
                .ok_or_else(|| format!("--pin {entry}: expected CLUSTER=CPU[,CPU...]"))?;
            let cpus = cpus
                .split(',')
                .map(|cpu| cpu.trim().parse::<usize>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| format!("--pin {entry}: CPUs are numbers"))?;
            if cpus.is_empty() || cpus.iter().any(|cpu| *cpu >= libc::CPU_SETSIZE as usize) {
                return Err(format!("--pin {entry}: CPU out of range"));
            }
            Ok((cluster.to_string(), cpus))
        })
        .collect()
}

/// `--user NAME`: gives the program that takes the console input the argument
/// `user=NAME`, for one of the system's users.
fn log_in(system: &mut System, user: &str) -> Result<(), String> {
    let known = user == "root"
        || system
            .root
            .as_ref()
            .is_some_and(|root| root.users.iter().any(|(name, _)| name == user));
    if !known {
        return Err(format!(
            "--user {user}: the system has no such user (its manifest's [root] users, or root)"
        ));
    }
    let console = system
        .clusters
        .iter_mut()
        .flat_map(|plan| plan.programs.iter_mut())
        .find(|program| program.console_input)
        .ok_or_else(|| {
            format!("--user {user}: no program of the system takes the console input")
        })?;
    console.arguments.push(format!("user={user}"));
    Ok(())
}

fn run(root: &Path, path: &Path, choices: &RunChoices) -> Result<i32, String> {
    let RunChoices {
        format,
        timeout,
        no_build,
        program_overrides,
        pins,
        log_level,
        polling_doorbells,
        callgrind,
        gdb,
        disk,
        fresh_disk,
        user,
    } = choices;
    let (format, timeout, no_build) = (*format, *timeout, *no_build);
    let head = std::fs::read(path).map_err(|error| format!("{}: {error}", path.display()))?;
    let (mut system, mut payloads) = if looks_like_image(&head) {
        let (_, system, payloads) = open_image(path)?;
        (system, payloads)
    } else {
        build_system(root, path, !no_build)?
    };
    if let Some(user) = user {
        log_in(&mut system, user)?;
    }
    for entry in program_overrides {
        let Some((name, file)) = entry.split_once('=') else {
            return Err(format!("--program {entry}: expected NAME=PATH"));
        };
        if !payloads.programs.contains_key(name) {
            return Err(format!(
                "--program {entry}: the system runs no program `{name}`"
            ));
        }
        let elf = std::fs::read(file).map_err(|error| format!("--program {entry}: {error}"))?;
        payloads.programs.insert(name.to_string(), elf);
    }
    let timeout = match timeout.map(Duration::try_from_secs_f64) {
        Some(Err(_)) => return Err("--timeout must be a positive number of seconds".into()),
        Some(Ok(timeout)) => Some(timeout),
        None => None,
    };
    for (cluster, _) in pins {
        if !system.clusters.iter().any(|plan| plan.name == *cluster) {
            return Err(format!(
                "--pin {cluster}=...: the system boots no cluster `{cluster}`"
            ));
        }
    }
    if let Some((cluster, directory)) = callgrind {
        if !system.clusters.iter().any(|plan| plan.name == *cluster) {
            return Err(format!(
                "--callgrind {cluster}: the system boots no cluster `{cluster}`"
            ));
        }
        std::fs::create_dir_all(directory)
            .map_err(|error| format!("{}: {error}", directory.display()))?;
    }
    if let Some((cluster, directory)) = gdb {
        if !system.clusters.iter().any(|plan| plan.name == *cluster) {
            return Err(format!(
                "--gdb {cluster}: the system boots no cluster `{cluster}`"
            ));
        }
        std::fs::create_dir_all(directory)
            .map_err(|error| format!("{}: {error}", directory.display()))?;
    }
    let disk = open_disk(
        root,
        path,
        (&system, &payloads),
        disk.as_deref(),
        *fresh_disk,
    )?;
    let options = RunOptions {
        disk,
        format,
        timeout,
        pins: pins.clone(),
        log_level: *log_level,
        polling_doorbells: *polling_doorbells,
        callgrind: callgrind.clone(),
        gdb: gdb.clone(),
    };
    runner::run(&system, &payloads, &options, &mut std::io::stdout())
        .map_err(|error| error.to_string())
}

fn build(root: &Path, path: &Path, output: Option<PathBuf>) -> Result<(), String> {
    let (system, payloads) = build_system(root, path, true)?;
    let image = packing::pack(&system, &payloads, &packing::revision(root));
    let output = output.unwrap_or_else(|| {
        let stem = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or("system");
        builder::target_directory(root)
            .join("images")
            .join(format!("{stem}.img"))
    });
    if let Some(parent) = output
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)
            .map_err(|error| format!("{}: {error}", parent.display()))?;
    }
    let bytes = image.encode();
    // Write beside the target and rename, so a reader never sees half an image.
    let partial = output.with_extension(format!("partial-{}", std::process::id()));
    std::fs::write(&partial, &bytes)
        .and_then(|()| std::fs::rename(&partial, &output))
        .map_err(|error| {
            let _ = std::fs::remove_file(&partial);
            format!("{}: {error}", output.display())
        })?;
    println!(
        "{}: {} bytes, {} sections",
        output.display(),
        bytes.len(),
        image.sections.len()
    );
    Ok(())
}

/// Checks the disk image at `path` and prints what it found; whether it is sound.
fn fsck(path: &Path) -> Result<bool, String> {
    use nanvix_fs::{BLOCK_SIZE, MemoryDisk, journal};
    let bytes =
        std::fs::read(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let mut problems = Vec::new();
    if bytes.len() % BLOCK_SIZE != 0 {
        problems.push(format!(
            "{} bytes is not a whole number of {BLOCK_SIZE}-byte blocks",
            bytes.len()
        ));
    }
    let disk = MemoryDisk::from_bytes(&bytes);
    let check = journal::check(&mut disk.clone());
    problems.extend(check.problems.iter().map(ToString::to_string));
    if check.problems.is_empty() {
        // The files as a mount would find them: on a copy, the journal replayed.
        match nanvix_fs::FileSystem::mount(disk) {
            Ok(mut files) => {
                problems.extend(
                    files
                        .check()
                        .iter()
                        .map(|problem| format!("files: {problem}")),
                );
            }
            Err(error) => problems.push(format!("files: {error}")),
        }
    }
    for problem in &problems {
        println!("{}: {problem}", path.display());
    }
    if problems.is_empty() {
        println!(
            "{}: clean: {} blocks of {BLOCK_SIZE} bytes, a journal of {} blocks, {} committed transactions waiting for the next mount",
            path.display(),
            check.blocks,
            check.journal_blocks,
            check.pending
        );
    }
    Ok(problems.is_empty())
}

fn inspect(path: &Path) -> Result<(), String> {
    let (image, system, _) = open_image(path)?;
    let bytes = std::fs::metadata(path)
        .map(|metadata| metadata.len())
        .unwrap_or(0);
    println!(
        "{}: Nanvix image, format {}, {bytes} bytes",
        path.display(),
        nanvix_image_builder::image::FORMAT_VERSION
    );
    println!(
        "system: board {}, boot {}, {} clusters booted",
        system.board.name,
        system.board.clusters[system.boot].name,
        system.clusters.len()
    );
    for cluster in &system.clusters {
        let programs: Vec<&str> = cluster
            .programs
            .iter()
            .map(|program| program.name.as_str())
            .collect();
        println!(
            "  {:<6}{} {}",
            cluster.name,
            if cluster.critical { " (critical)" } else { "" },
            programs.join(", ")
        );
    }
    println!(
        "{:<10} {:<12} {:>10}  {:<8}  checksum (sha256/128)",
        "section", "name", "bytes", "flags"
    );
    for section in &image.sections {
        println!(
            "{:<10} {:<12} {:>10}  {:<8}  {}",
            section.kind.label(),
            section.name,
            section.data.len(),
            if section.required {
                "required"
            } else {
                "optional"
            },
            section.checksum_hex()
        );
    }
    if let Some(revision) = image.find(nanvix_image_builder::image::SectionKind::Revision, None) {
        println!("revision: {}", String::from_utf8_lossy(&revision.data));
    }
    Ok(())
}

fn bench(root: &Path, names: &[String], launches: usize, quick: bool) -> Result<(), String> {
    if launches == 0 {
        return Err("--launches must be at least 1".into());
    }
    let target = builder::target_directory(root);
    let mut images = std::collections::BTreeMap::new();
    for (stem, manifest) in [
        ("kcall", "systems/bench/kcall.toml"),
        ("buffer", "systems/bench/buffer.toml"),
        ("knoise", "systems/bench/knoise.toml"),
        ("noc", "systems/bench/noc.toml"),
        ("mailbox", "systems/bench/mailbox.toml"),
        ("rpc", "systems/bench/rpc.toml"),
        ("spawn", "systems/bench/spawn.toml"),
        ("spawn-file", "systems/bench/spawn-file.toml"),
        ("file", "systems/bench/file.toml"),
        ("memory", "systems/bench/memory.toml"),
        ("data", "systems/bench/data.toml"),
        ("portal", "systems/bench/portal.toml"),
        ("collectives", "systems/bench/collectives.toml"),
        ("mppa256", "systems/mppa256.toml"),
        ("idle", "systems/bench/idle.toml"),
    ] {
        let output = target.join("images").join(format!("bench-{stem}.img"));
        build(root, &root.join(manifest), Some(output.clone()))?;
        images.insert(stem.to_string(), output);
    }
    let probe_board =
        manifest::parse_board("tiny", &manifest::workspace_board_text(root, "tiny")?)?;
    let kernel = builder::build(root, &[], false)
        .map_err(|error| error.to_string())?
        .kernel;
    let options = nanvix_image_builder::bench::BenchOptions {
        nanvix: std::env::current_exe().map_err(|error| error.to_string())?,
        images,
        kernel,
        probe_board,
        launches,
        baseline_options: if quick {
            nanvix_bench::Options::quick()
        } else {
            nanvix_bench::Options::default()
        },
    };
    let directory = target.join("bench");
    let rows = nanvix_image_builder::bench::run(&options, names, &directory)
        .map_err(|error| error.to_string())?;
    print!("{}", nanvix_bench::table(&rows));
    println!("rows written under {}", directory.display());
    Ok(())
}

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when the reader of our output goes away
    // (`nanvix inspect IMAGE | head`); cluster processes die with us.
    // SAFETY: signal(2) restoring the default action of SIGPIPE, before any thread.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = Cli::parse();
    let root = workspace_root();
    let result = match cli.command {
        Commands::Run {
            system,
            events,
            timeout,
            no_build,
            program_overrides,
            pins,
            log_level,
            doorbells,
            callgrind,
            gdb,
            disk,
            fresh_disk,
            user,
        } => {
            let path = system.unwrap_or_else(|| root.join("systems/mppa256.toml"));
            let format = match events {
                Events::Human => EventFormat::Human,
                Events::Json => EventFormat::Json,
            };
            let pins = match parse_pins(&pins) {
                Ok(pins) => pins,
                Err(error) => return fail(error),
            };
            let options = RunChoices {
                format,
                timeout,
                no_build,
                program_overrides,
                pins,
                log_level: log_level.into(),
                polling_doorbells: doorbells == DoorbellChoice::Polling,
                callgrind: callgrind
                    .map(|cluster| (cluster, builder::target_directory(&root).join("callgrind"))),
                gdb: gdb.map(|cluster| (cluster, builder::target_directory(&root).join("gdb"))),
                disk,
                fresh_disk,
                user,
            };
            match run(&root, &path, &options) {
                Ok(status) => return ExitCode::from(status.clamp(0, 255) as u8),
                Err(error) => Err(error),
            }
        }
        Commands::Build { manifest, output } => build(&root, &manifest, output),
        Commands::Inspect { image } => inspect(&image),
        Commands::Fsck { disk } => match fsck(&disk) {
            Ok(true) => return ExitCode::SUCCESS,
            Ok(false) => return ExitCode::FAILURE,
            Err(error) => Err(error),
        },
        Commands::Bench {
            names,
            launches,
            quick,
        } => bench(&root, &names, launches, quick),
        Commands::Check { manifest } => manifest::load(&root, &manifest)
            .map(|system| {
                println!(
                    "{}: board {}, {} clusters booted, programs: {}",
                    manifest.display(),
                    system.board.name,
                    system.clusters.len(),
                    system.program_names().join(", ")
                );
            })
            .map_err(|error| error.to_string()),
        Commands::Test { cargo_arguments } => {
            let programs = manifest::available_programs(&root);
            if let Err(error) = builder::build(&root, &programs, true) {
                return fail(error);
            }
            if let Err(error) = builder::build_canary(&root) {
                return fail(error);
            }
            // The qemu-x86_64 platform's tests boot its kernel under QEMU.
            if let Err(error) = builder::build_qemu_kernel(&root) {
                return fail(error);
            }
            if let Err(error) = nanvix_image_builder::qemu::ensure_installed() {
                return fail(error);
            }
            let status = builder::cargo()
                .current_dir(&root)
                .args(["test", "--workspace"])
                .args(&cargo_arguments)
                .status();
            match status {
                Ok(status) if status.success() => return ExitCode::SUCCESS,
                Ok(_) => return ExitCode::FAILURE,
                Err(error) => Err(format!("cannot run cargo test: {error}")),
            }
        }
        Commands::Footprint => footprint(&root),
        Commands::Docs { check } => docs::pages().into_iter().try_for_each(|(page, text)| {
            let path = root.join(page);
            if check {
                let current = std::fs::read_to_string(&path).unwrap_or_default();
                if current == text {
                    Ok(())
                } else {
                    Err(format!(
                        "{} is stale: run `cargo nanvix docs`",
                        path.display()
                    ))
                }
            } else {
                std::fs::write(&path, text)
                    .map_err(|error| format!("cannot write {}: {error}", path.display()))
            }
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(error),
    }
}
