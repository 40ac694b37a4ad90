//! System manifests (`systems/*.toml`): what runs where, checked field by field.
//!
//! ```toml
//! version = 1
//! board = "mppa256"          # boards/mppa256.toml
//! platform = "hosted"
//! boot = "io0"               # the I/O cluster the board boots first
//!
//! [clusters.io0]
//! critical = true            # its death stops the board (the boot cluster always is)
//! programs = [{ name = "hello", args = ["rounds=3"], heap = "64 KiB", stack = "64 KiB" }]
//! ```
//!
//! Unknown fields are rejected; every error names the field at fault.

use nanvix_board::{Board, BoardFile, ClusterKind, parse_size};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The manifest format version this builder reads.
pub const MANIFEST_VERSION: u32 = 1;
/// Default heap of a program (`nanvix_abi::DEFAULT_HEAP_BYTES`, as the manifest
/// writes it; a test checks they agree).
pub const DEFAULT_HEAP: &str = "64 KiB";
/// Default main-thread stack of a program (`nanvix_abi::DEFAULT_STACK_BYTES`).
pub const DEFAULT_STACK: &str = "64 KiB";

/// A manifest as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    /// Format version; must be [`MANIFEST_VERSION`].
    pub version: u32,
    /// Board name: `boards/<board>.toml`.
    pub board: String,
    /// Platform: `hosted`.
    pub platform: String,
    /// The I/O cluster booted first.
    pub boot: String,
    /// What runs on each cluster, by cluster name.
    #[serde(default)]
    pub clusters: BTreeMap<String, ClusterEntry>,
    /// Programs packed into the image for spawning (by the process server), beside
    /// those the clusters start at boot.
    #[serde(default)]
    pub spawnable: Vec<String>,
    /// The servers init starts and supervises on the boot cluster.
    pub init: Option<InitEntry>,
    /// What a fresh disk's root file system holds beside the programs.
    pub root: Option<RootEntry>,
}

/// The `[root]` section: the root file system a fresh disk starts with (every
/// program of the image goes into `/bin` too).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootEntry {
    /// Files copied in from the host.
    #[serde(default)]
    pub files: Vec<RootFileEntry>,
    /// Users beside root (user 0), written to `/etc/users`, each with a home.
    #[serde(default)]
    pub users: Vec<UserEntry>,
}

/// One file of the root file system.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootFileEntry {
    /// Its absolute path on the disk.
    pub path: String,
    /// The host file it is copied from, relative to the manifest's directory.
    pub source: String,
    /// Permission bits in octal (default `"644"`).
    pub mode: Option<String>,
}

/// One user.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    /// Login name.
    pub name: String,
    /// User id (also its group id), not 0.
    pub id: u32,
}

/// The checked `[root]` section.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RootPlan {
    /// (path on the disk, host source, permission bits).
    pub files: Vec<(String, PathBuf, u16)>,
    /// (name, id), root not among them.
    pub users: Vec<(String, u32)>,
}

/// The `[init]` section: what init starts and supervises.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitEntry {
    /// The servers, started in this order (and stopped in the reverse order).
    #[serde(default)]
    pub servers: Vec<ServerEntry>,
}

/// One server init supervises.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerEntry {
    /// Program name.
    pub name: String,
    /// Arguments after the name.
    #[serde(default)]
    pub args: Vec<String>,
    /// `never`, `on-failure` (the default) or `always`.
    pub restart: Option<String>,
    /// The program slot on the boot cluster (its node follows from it); default:
    /// the lowest one the boot programs and the servers before it left.
    pub slot: Option<u32>,
    /// Heap size, e.g. `"256 KiB"`.
    pub heap: Option<String>,
    /// Main-thread stack size.
    pub stack: Option<String>,
}

/// When init starts a server again after it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    /// Never.
    Never,
    /// When it ended with a status other than 0 (a crash, a kill, a failure).
    OnFailure,
    /// Whenever it ended (unless the board is shutting down).
    Always,
}

impl Restart {
    /// The policy's name in a manifest and in init's arguments.
    pub fn name(self) -> &'static str {
        match self {
            Restart::Never => "never",
            Restart::OnFailure => "on-failure",
            Restart::Always => "always",
        }
    }
}

/// A server init supervises, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerPlan {
    /// Program name.
    pub name: String,
    /// Arguments after the name.
    pub arguments: Vec<String>,
    /// Its restart policy.
    pub restart: Restart,
    /// Its program slot on the boot cluster.
    pub slot: u32,
    /// Heap bytes.
    pub heap_bytes: u64,
    /// Stack bytes.
    pub stack_bytes: u64,
}

/// One cluster's entry in a manifest.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterEntry {
    /// Whether its death stops the board.
    #[serde(default)]
    pub critical: bool,
    /// Programs started at boot, in order (program ids are their positions).
    #[serde(default)]
    pub programs: Vec<ProgramEntry>,
    /// A disk attached to this cluster, of this size (`"16 MiB"`): a DDR-attached
    /// I/O cluster only, one disk a system. Every program of the cluster may use it.
    pub disk: Option<String>,
}

/// One program in a cluster entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramEntry {
    /// Program name: a program crate under `apps/` or `servers/`.
    pub name: String,
    /// Arguments after the name.
    #[serde(default)]
    pub args: Vec<String>,
    /// Heap size, e.g. `"64 KiB"`.
    pub heap: Option<String>,
    /// Main-thread stack size.
    pub stack: Option<String>,
    /// Whether the terminal's input goes to this program (one program at most).
    #[serde(default)]
    pub console_input: bool,
}

/// A platform a manifest can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    /// The chip modelled on Linux.
    Hosted,
    /// One QEMU x86_64 machine per cluster (`docs/src/bare-metal.md`).
    QemuX86_64,
}

impl Platform {
    /// Its name in a manifest, and of its kernel's image section.
    pub fn name(self) -> &'static str {
        match self {
            Platform::Hosted => "hosted",
            Platform::QemuX86_64 => "qemu-x86_64",
        }
    }
}

/// A checked system: the board and what each booted cluster runs.
#[derive(Clone, Debug)]
pub struct System {
    /// Where the manifest was read from.
    pub path: PathBuf,
    /// The board.
    pub board: Board,
    /// The platform.
    pub platform: Platform,
    /// Index of the boot cluster.
    pub boot: usize,
    /// Clusters with programs, in board order (the boot cluster among them).
    pub clusters: Vec<ClusterPlan>,
    /// The manifest as written.
    pub manifest_text: String,
    /// The board file as written.
    pub board_text: String,
    /// Programs packed for spawning, beside those the clusters start.
    pub spawnable: Vec<String>,
    /// The servers init supervises (their programs are packed too).
    pub servers: Vec<ServerPlan>,
    /// The root file system a fresh disk starts with, if the manifest has one.
    pub root: Option<RootPlan>,
}

/// What one cluster runs.
#[derive(Clone, Debug)]
pub struct ClusterPlan {
    /// Index on the board.
    pub index: usize,
    /// Name.
    pub name: String,
    /// Whether its death stops the board.
    pub critical: bool,
    /// Its programs.
    pub programs: Vec<ProgramPlan>,
    /// Bytes of the disk attached to it, if any (whole blocks).
    pub disk_bytes: Option<u64>,
}

/// One program to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramPlan {
    /// Name.
    pub name: String,
    /// Arguments after the name.
    pub arguments: Vec<String>,
    /// Heap bytes.
    pub heap_bytes: u64,
    /// Stack bytes.
    pub stack_bytes: u64,
    /// Whether the terminal's input goes to this program.
    pub console_input: bool,
}

impl System {
    /// Every distinct program the system runs or may spawn.
    pub fn program_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .clusters
            .iter()
            .flat_map(|cluster| cluster.programs.iter().map(|program| program.name.clone()))
            .chain(self.spawnable.iter().cloned())
            .chain(self.servers.iter().map(|server| server.name.clone()))
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// A manifest that does not describe a system this builder can boot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestError {
    /// The manifest file.
    pub path: PathBuf,
    /// Dotted path of the field at fault (`clusters.cc0.programs[0].name`), or
    /// empty when the file itself cannot be read or parsed.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for ManifestError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            write!(formatter, "{}: {}", self.path.display(), self.reason)
        } else {
            write!(
                formatter,
                "{}: `{}`: {}",
                self.path.display(),
                self.field,
                self.reason
            )
        }
    }
}

impl std::error::Error for ManifestError {}

/// Where a manifest's board and programs come from: the workspace (boards/ and
/// apps/) when building, the image's own sections when booting an image.
pub struct Sources<'a> {
    /// The text of the board file named by the argument, or why there is none.
    pub board_text: &'a dyn Fn(&str) -> Result<String, String>,
    /// Names of the programs that exist.
    pub programs: &'a [String],
    /// Where programs come from, for error messages ("crates under apps/ and servers/").
    pub programs_origin: &'a str,
}

/// Reads and checks the manifest at `path`; boards and programs are looked up under
/// the workspace `root`.
pub fn load(root: &Path, path: &Path) -> Result<System, ManifestError> {
    let text = std::fs::read_to_string(path).map_err(|error| ManifestError {
        path: path.to_path_buf(),
        field: String::new(),
        reason: format!("cannot read: {error}"),
    })?;
    let programs = available_programs(root);
    let board_text = |name: &str| workspace_board_text(root, name);
    let sources = Sources {
        board_text: &board_text,
        programs: &programs,
        programs_origin: "programs are crates under apps/ and servers/",
    };
    parse(path, &text, &sources)
}

/// Parses and checks manifest `text` (read from `path`) against `sources`.
pub fn parse(path: &Path, text: &str, sources: &Sources<'_>) -> Result<System, ManifestError> {
    let file: ManifestFile = toml::from_str(text).map_err(|error| ManifestError {
        path: path.to_path_buf(),
        field: toml_error_field(&error),
        reason: error.message().to_string(),
    })?;
    let mut system = check(path, &file, sources)?;
    system.manifest_text = text.to_string();
    Ok(system)
}

fn toml_error_field(error: &toml::de::Error) -> String {
    let message = error.message();
    match message.split('`').nth(1) {
        Some(name)
            if message.starts_with("unknown field") || message.starts_with("missing field") =>
        {
            name.to_string()
        }
        _ => String::new(),
    }
}

/// Checks a parsed manifest.
pub fn check(
    path: &Path,
    file: &ManifestFile,
    sources: &Sources<'_>,
) -> Result<System, ManifestError> {
    let fail = |field: &str, reason: String| ManifestError {
        path: path.to_path_buf(),
        field: field.to_string(),
        reason,
    };
    if file.version != MANIFEST_VERSION {
        return Err(fail(
            "version",
            format!(
                "version {} is not supported (this builder reads {MANIFEST_VERSION})",
                file.version
            ),
        ));
    }
    let board_text = (sources.board_text)(&file.board).map_err(|reason| fail("board", reason))?;
    let board = parse_board(&file.board, &board_text).map_err(|reason| fail("board", reason))?;
    let platform = match file.platform.as_str() {
        "hosted" => Platform::Hosted,
        "qemu-x86_64" => Platform::QemuX86_64,
        other => {
            return Err(fail(
                "platform",
                format!("unknown platform `{other}` (known: hosted, qemu-x86_64)"),
            ));
        }
    };
    for name in file.clusters.keys() {
        if board.cluster(name).is_none() {
            return Err(fail(
                &format!("clusters.{name}"),
                format!("board `{}` has no cluster `{name}`", board.name),
            ));
        }
    }
    let boot = match board.cluster(&file.boot) {
        None => {
            return Err(fail(
                "boot",
                format!("board `{}` has no cluster `{}`", board.name, file.boot),
            ));
        }
        Some(cluster) if cluster.kind != ClusterKind::Io => {
            return Err(fail(
                "boot",
                format!("`{}` is not an I/O cluster", file.boot),
            ));
        }
        Some(cluster) => cluster.index as usize,
    };
    if file
        .clusters
        .get(&file.boot)
        .is_none_or(|entry| entry.programs.is_empty())
    {
        return Err(fail(
            "boot",
            format!(
                "the boot cluster `{}` has no programs in the manifest",
                file.boot
            ),
        ));
    }
    let known_programs = sources.programs;
    let mut console_holder: Option<String> = None;
    let mut disk_holder: Option<String> = None;
    let mut clusters = Vec::new();
    for cluster in &board.clusters {
        let Some(entry) = file.clusters.get(&cluster.name) else {
            continue;
        };
        if entry.programs.is_empty() {
            if entry.disk.is_some() {
                return Err(fail(
                    &format!("clusters.{}.disk", cluster.name),
                    "a cluster with a disk runs the programs that use it".to_string(),
                ));
            }
            continue;
        }
        let field = format!("clusters.{}.programs", cluster.name);
        if cluster.kind == ClusterKind::Compute && entry.programs.len() > 1 {
            return Err(fail(
                &field,
                "a compute cluster runs one program".to_string(),
            ));
        }
        if entry.programs.len() > nanvix_abi::PROGRAMS_MAX {
            return Err(fail(
                &field,
                format!(
                    "a cluster holds at most {} programs",
                    nanvix_abi::PROGRAMS_MAX
                ),
            ));
        }
        let user_cores = cluster.cores as usize - 1;
        if entry.programs.len() > user_cores {
            return Err(fail(
                &field,
                format!(
                    "{} programs but `{}` has {user_cores} user cores (one main thread each)",
                    entry.programs.len(),
                    cluster.name
                ),
            ));
        }
        let mut programs = Vec::new();
        let mut budget = 0u64;
        for (position, program) in entry.programs.iter().enumerate() {
            let field = format!("{field}[{position}]");
            if !known_programs.contains(&program.name) {
                return Err(fail(
                    &format!("{field}.name"),
                    format!(
                        "no program `{}` ({}: {})",
                        program.name,
                        sources.programs_origin,
                        known_programs.join(", ")
                    ),
                ));
            }
            let (heap_bytes, stack_bytes) = memory(&field, &program.heap, &program.stack)
                .map_err(|(field, reason)| fail(&field, reason))?;
            budget = budget
                .saturating_add(heap_bytes)
                .saturating_add(stack_bytes);
            if budget > cluster.sram_bytes {
                return Err(fail(
                    &format!("{field}.heap"),
                    format!(
                        "heaps and stacks need {budget} bytes but `{}` has {} bytes of SRAM",
                        cluster.name, cluster.sram_bytes
                    ),
                ));
            }
            if program.console_input {
                if let Some(holder) = &console_holder {
                    return Err(fail(
                        &format!("{field}.console_input"),
                        format!(
                            "console input already goes to `{holder}`: only one program may hold it"
                        ),
                    ));
                }
                console_holder = Some(field.clone());
            }
            programs.push(ProgramPlan {
                name: program.name.clone(),
                arguments: program.args.clone(),
                heap_bytes,
                stack_bytes,
                console_input: program.console_input,
            });
        }
        let disk_bytes = match &entry.disk {
            None => None,
            Some(size) => {
                let field = format!("clusters.{}.disk", cluster.name);
                if cluster.kind != ClusterKind::Io || !cluster.ddr_attached {
                    return Err(fail(
                        &field,
                        format!("`{}` is not a DDR-attached I/O cluster", cluster.name),
                    ));
                }
                if let Some(holder) = &disk_holder {
                    return Err(fail(
                        &field,
                        format!("`{holder}` has the system's disk already: one disk a system"),
                    ));
                }
                disk_holder = Some(cluster.name.clone());
                let bytes = parse_size(size).map_err(|reason| fail(&field, reason.to_string()))?;
                let block = nanvix_abi::DISK_BLOCK_BYTES as u64;
                if !(DISK_BYTES_MIN..=DISK_BYTES_MAX).contains(&bytes)
                    || !bytes.is_multiple_of(block)
                {
                    return Err(fail(
                        &field,
                        format!(
                            "a disk is whole {block}-byte blocks, {} KiB to {} GiB",
                            DISK_BYTES_MIN >> 10,
                            DISK_BYTES_MAX >> 30
                        ),
                    ));
                }
                if platform == Platform::QemuX86_64 && !bytes.is_power_of_two() {
                    return Err(fail(
                        &field,
                        "on the qemu-x86_64 platform a disk is a power of two of bytes (an ivshmem device's BAR)"
                            .to_string(),
                    ));
                }
                Some(bytes)
            }
        };
        clusters.push(ClusterPlan {
            index: cluster.index as usize,
            name: cluster.name.clone(),
            critical: entry.critical || cluster.index as usize == boot,
            programs,
            disk_bytes,
        });
    }
    for (position, name) in file.spawnable.iter().enumerate() {
        if !known_programs.contains(name) {
            return Err(fail(
                &format!("spawnable[{position}]"),
                format!(
                    "no program `{name}` ({}: {})",
                    sources.programs_origin,
                    known_programs.join(", ")
                ),
            ));
        }
    }
    let servers = match &file.init {
        Some(init) => check_init(init, &mut clusters, boot, sources)
            .map_err(|(field, reason)| fail(&field, reason))?,
        None => Vec::new(),
    };
    let root = match &file.root {
        Some(_) if disk_holder.is_none() => {
            return Err(fail(
                "root",
                "a root file system needs a disk (`disk = \"SIZE\"` on a cluster)".to_string(),
            ));
        }
        Some(entry) => Some(
            check_root(entry, path.parent().unwrap_or(Path::new(".")))
                .map_err(|(field, reason)| fail(&field, reason))?,
        ),
        None => None,
    };
    Ok(System {
        path: path.to_path_buf(),
        board,
        platform,
        boot,
        clusters,
        manifest_text: String::new(),
        board_text,
        spawnable: file.spawnable.clone(),
        servers,
        root,
    })
}

/// The heap and stack bytes of the program or server at `field` (the defaults when
/// not given): sizes with units, a stack of at least 4 KiB; else the field at fault
/// and why.
/// Checks a root file's path: absolute, each component 1 to 58 bytes without NUL
/// and not `.` or `..`, and not under `/bin` (the image's programs).
fn check_path(path: &str) -> Result<(), String> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!("`{path}` is not an absolute path"));
    };
    for part in rest.split('/') {
        if part.is_empty() || part == "." || part == ".." || part.contains('\0') {
            return Err(format!("`{path}` has an empty, `.` or `..` component"));
        }
        if part.len() > nanvix_fs::layout::NAME_MAX {
            return Err(format!(
                "`{part}` is over {} bytes",
                nanvix_fs::layout::NAME_MAX
            ));
        }
    }
    if path == "/bin" || path.starts_with("/bin/") {
        return Err("`/bin` holds the image's programs".to_string());
    }
    Ok(())
}

/// Checks the `[root]` section: paths absolute, sound and unique, sources given
/// relative to `base` (read at build time), modes octal, users named once each
/// with ids other than 0. Errors name the field.
fn check_root(entry: &RootEntry, base: &Path) -> Result<RootPlan, (String, String)> {
    let mut plan = RootPlan::default();
    for (position, file) in entry.files.iter().enumerate() {
        let field = |leaf: &str| format!("root.files[{position}].{leaf}");
        check_path(&file.path).map_err(|reason| (field("path"), reason))?;
        if plan
            .files
            .iter()
            .any(|(path, _, _)| *path == file.path || file.path.starts_with(&format!("{path}/")))
        {
            return Err((
                field("path"),
                format!("`{}` is given twice, or under a file", file.path),
            ));
        }
        let mode = match &file.mode {
            None => 0o644,
            Some(text) => u16::from_str_radix(text, 8)
                .ok()
                .filter(|mode| *mode <= 0o7777)
                .ok_or_else(|| {
                    (
                        field("mode"),
                        format!("`{text}` is not octal permission bits"),
                    )
                })?,
        };
        if file.source.is_empty() {
            return Err((field("source"), "empty".to_string()));
        }
        plan.files
            .push((file.path.clone(), base.join(&file.source), mode));
    }
    for (position, user) in entry.users.iter().enumerate() {
        let field = |leaf: &str| format!("root.users[{position}].{leaf}");
        let name_ok = !user.name.is_empty()
            && user.name.len() <= 32
            && user.name.bytes().all(|byte| {
                byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_' || byte == b'-'
            });
        if !name_ok || user.name == "root" {
            return Err((
                field("name"),
                format!("`{}`: 1 to 32 of a-z 0-9 _ -, not root", user.name),
            ));
        }
        if user.id == 0 {
            return Err((field("id"), "0 is root's".to_string()));
        }
        if plan
            .users
            .iter()
            .any(|(name, id)| *name == user.name || *id == user.id)
        {
            return Err((
                field("name"),
                format!("`{}` or id {} is given twice", user.name, user.id),
            ));
        }
        plan.users.push((user.name.clone(), user.id));
    }
    Ok(plan)
}

/// The smallest disk.
pub const DISK_BYTES_MIN: u64 = 64 << 10;
/// The largest disk.
pub const DISK_BYTES_MAX: u64 = 4 << 30;

fn memory(
    field: &str,
    heap: &Option<String>,
    stack: &Option<String>,
) -> Result<(u64, u64), (String, String)> {
    let size = |leaf: &str, value: &Option<String>, default: &str| {
        parse_size(value.as_deref().unwrap_or(default))
            .map_err(|reason| (format!("{field}.{leaf}"), reason.to_string()))
    };
    let heap_bytes = size("heap", heap, DEFAULT_HEAP)?;
    let stack_bytes = size("stack", stack, DEFAULT_STACK)?;
    if stack_bytes < 4096 {
        return Err((
            format!("{field}.stack"),
            "a stack needs at least 4 KiB".to_string(),
        ));
    }
    Ok((heap_bytes, stack_bytes))
}

/// Checks the `[init]` section: the boot cluster runs `init`, each server is a
/// program, its policy and slot are valid; gives each server its slot and appends
/// init's arguments (`serve=NAME slot=N restart=POLICY heap=BYTES stack=BYTES
/// arg=...`, a server at a time, in order) to the boot cluster's `init`. Errors name the field.
fn check_init(
    init: &InitEntry,
    clusters: &mut [ClusterPlan],
    boot: usize,
    sources: &Sources<'_>,
) -> Result<Vec<ServerPlan>, (String, String)> {
    let Some(boot_cluster) = clusters.iter_mut().find(|cluster| cluster.index == boot) else {
        return Err(("init".into(), "the boot cluster runs no programs".into()));
    };
    let Some(init_position) = boot_cluster
        .programs
        .iter()
        .position(|program| program.name == "init")
    else {
        return Err((
            "init".into(),
            format!(
                "servers need the program `init` on the boot cluster `{}`",
                boot_cluster.name
            ),
        ));
    };
    let mut taken: Vec<u32> = (0..boot_cluster.programs.len() as u32).collect();
    let mut servers = Vec::new();
    for (position, server) in init.servers.iter().enumerate() {
        let field = format!("init.servers[{position}]");
        if !sources.programs.contains(&server.name) {
            return Err((
                format!("{field}.name"),
                format!(
                    "no program `{}` ({}: {})",
                    server.name,
                    sources.programs_origin,
                    sources.programs.join(", ")
                ),
            ));
        }
        let restart = match server.restart.as_deref() {
            None | Some("on-failure") => Restart::OnFailure,
            Some("never") => Restart::Never,
            Some("always") => Restart::Always,
            Some(other) => {
                return Err((
                    format!("{field}.restart"),
                    format!("unknown policy `{other}` (never, on-failure, always)"),
                ));
            }
        };
        let slot = match server.slot {
            Some(slot) if slot as usize >= nanvix_abi::PROGRAMS_MAX => {
                return Err((
                    format!("{field}.slot"),
                    format!("slots go from 0 to {}", nanvix_abi::PROGRAMS_MAX - 1),
                ));
            }
            Some(slot) if taken.contains(&slot) => {
                return Err((
                    format!("{field}.slot"),
                    format!("slot {slot} is taken (a boot program or a server before)"),
                ));
            }
            Some(slot) => slot,
            None => (0..nanvix_abi::PROGRAMS_MAX as u32)
                .find(|slot| !taken.contains(slot))
                .ok_or_else(|| {
                    (
                        format!("{field}.slot"),
                        "every slot of the boot cluster is taken".to_string(),
                    )
                })?,
        };
        taken.push(slot);
        let (heap_bytes, stack_bytes) = memory(&field, &server.heap, &server.stack)?;
        servers.push(ServerPlan {
            name: server.name.clone(),
            arguments: server.args.clone(),
            restart,
            slot,
            heap_bytes,
            stack_bytes,
        });
    }
    let arguments = &mut boot_cluster.programs[init_position].arguments;
    for server in &servers {
        arguments.push(format!("serve={}", server.name));
        arguments.push(format!("slot={}", server.slot));
        arguments.push(format!("restart={}", server.restart.name()));
        arguments.push(format!("heap={}", server.heap_bytes));
        arguments.push(format!("stack={}", server.stack_bytes));
        arguments.extend(
            server
                .arguments
                .iter()
                .map(|argument| format!("arg={argument}")),
        );
    }
    Ok(servers)
}

/// The text of `boards/<name>.toml` under the workspace `root`.
pub fn workspace_board_text(root: &Path, name: &str) -> Result<String, String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || "-_".contains(character))
    {
        return Err(format!("`{name}` is not a board name"));
    }
    let path = root.join("boards").join(format!("{name}.toml"));
    std::fs::read_to_string(&path).map_err(|_| {
        format!(
            "no board `{name}` (boards are files under boards/: {})",
            list_stems(&root.join("boards"), "toml").join(", ")
        )
    })
}

/// Parses and checks the text of board file `name`.
pub fn parse_board(name: &str, text: &str) -> Result<Board, String> {
    let file: BoardFile =
        toml::from_str(text).map_err(|error| format!("board `{name}`: {}", error.message()))?;
    if file.name != name {
        return Err(format!("board file `{name}` names itself `{}`", file.name));
    }
    Board::from_file(name, &file).map_err(|error| format!("board `{name}`: {error}"))
}

/// Program crates: packages under `apps/` and `servers/` with a binary named like
/// the package (libraries such as `servers/rpc` are not programs), sorted.
pub fn available_programs(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = ["apps", "servers"]
        .iter()
        .flat_map(|directory| {
            std::fs::read_dir(root.join(directory))
                .into_iter()
                .flatten()
        })
        .flatten()
        .filter_map(|entry| program_of(&entry.path().join("Cargo.toml")))
        .collect();
    names.sort();
    names
}

/// The package name of the crate whose manifest is `path`, if it has a binary of
/// that name.
fn program_of(path: &Path) -> Option<String> {
    #[derive(Deserialize)]
    struct Package {
        name: String,
    }
    #[derive(Deserialize)]
    struct Binary {
        name: String,
    }
    #[derive(Deserialize)]
    struct CargoFile {
        package: Package,
        #[serde(default)]
        bin: Vec<Binary>,
    }
    let text = std::fs::read_to_string(path).ok()?;
    let file: CargoFile = toml::from_str(&text).ok()?;
    file.bin
        .iter()
        .any(|binary| binary.name == file.package.name)
        .then_some(file.package.name)
}

fn list_stems(directory: &Path, extension: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(directory)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let path = entry.path();
            (path.extension()? == extension)
                .then(|| path.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_sizes_are_the_kernels() {
        assert_eq!(
            parse_size(DEFAULT_HEAP).unwrap(),
            nanvix_abi::DEFAULT_HEAP_BYTES as u64
        );
        assert_eq!(
            parse_size(DEFAULT_STACK).unwrap(),
            nanvix_abi::DEFAULT_STACK_BYTES as u64
        );
    }

    fn root() -> PathBuf {
        crate::workspace_root()
    }

    fn check_text(text: &str) -> Result<System, ManifestError> {
        let programs = available_programs(&root());
        let board_text = |name: &str| workspace_board_text(&root(), name);
        let sources = Sources {
            board_text: &board_text,
            programs: &programs,
            programs_origin: "crates under apps/ and servers/",
        };
        parse(Path::new("test.toml"), text, &sources)
    }

    const GOOD: &str = r#"
version = 1
board = "tiny"
platform = "hosted"
boot = "io0"

[clusters.io0]
programs = [{ name = "hello", args = ["rounds=2"] }]

[clusters.cc0]
critical = false
programs = [{ name = "hello", heap = "128 KiB", stack = "32 KiB" }]
"#;

    #[test]
    fn programs_are_the_binaries_under_apps_and_servers() {
        let programs = available_programs(&root());
        for program in ["hello", "name-test", "name-server"] {
            assert!(programs.iter().any(|name| name == program), "{programs:?}");
        }
        // Libraries are not programs.
        for library in ["nanvix-rpc", "nanvix-name-api", "rpc", "name"] {
            assert!(!programs.iter().any(|name| name == library), "{programs:?}");
        }
    }

    #[test]
    fn the_shipped_systems_are_valid() {
        let system = load(&root(), &root().join("systems/mppa256.toml")).unwrap();
        assert_eq!(system.clusters.len(), 20);
        assert_eq!(system.board.clusters[system.boot].name, "io0");
        assert!(system.clusters[0].critical);
        assert_eq!(system.program_names(), ["hello"]);
    }

    #[test]
    fn a_manifest_may_name_the_qemu_platform_and_give_it_a_disk_of_a_power_of_two() {
        let machines = GOOD.replace("platform = \"hosted\"", "platform = \"qemu-x86_64\"");
        assert_eq!(
            check_text(&machines).unwrap().platform,
            Platform::QemuX86_64
        );
        let disk = |text: &str, size: &str| {
            text.replace(
                "[clusters.io0]\n",
                &format!("[clusters.io0]\ndisk = \"{size}\"\n"),
            )
        };
        let system = check_text(&disk(&machines, "1 MiB")).unwrap();
        assert_eq!(system.clusters[0].disk_bytes, Some(1 << 20));
        let error = check_text(&disk(&machines, "1536 KiB")).unwrap_err();
        assert_eq!(error.field, "clusters.io0.disk", "{error}");
        assert!(error.reason.contains("power of two"), "{error}");
        assert!(check_text(&disk(GOOD, "1536 KiB")).is_ok());
    }

    #[test]
    fn a_good_manifest_expands_with_defaults() {
        let system = check_text(GOOD).unwrap();
        assert_eq!(system.clusters.len(), 2);
        let io0 = &system.clusters[0];
        assert!(io0.critical, "the boot cluster is always critical");
        assert_eq!(io0.programs[0].arguments, ["rounds=2"]);
        assert_eq!(io0.programs[0].heap_bytes, 64 << 10);
        let cc0 = &system.clusters[1];
        assert!(!cc0.critical);
        assert_eq!(
            (cc0.programs[0].heap_bytes, cc0.programs[0].stack_bytes),
            (128 << 10, 32 << 10)
        );
    }

    #[test]
    fn each_bad_manifest_names_its_field() {
        let cases: &[(&str, &str, &str)] = &[
            ("version = 1", "version = 2", "version"),
            ("board = \"tiny\"", "board = \"mppa1024\"", "board"),
            ("board = \"tiny\"", "board = \"../etc\"", "board"),
            ("platform = \"hosted\"", "platform = \"vax\"", "platform"),
            ("boot = \"io0\"", "boot = \"cc0\"", "boot"),
            ("boot = \"io0\"", "boot = \"io7\"", "boot"),
            ("[clusters.cc0]", "[clusters.cc9]", "clusters.cc9"),
            (
                "name = \"hello\", heap",
                "name = \"nosuch\", heap",
                "clusters.cc0.programs[0].name",
            ),
            (
                "heap = \"128 KiB\"",
                "heap = \"128 kB\"",
                "clusters.cc0.programs[0].heap",
            ),
            (
                "heap = \"128 KiB\"",
                "heap = \"3 MiB\"",
                "clusters.cc0.programs[0].heap",
            ),
            (
                "stack = \"32 KiB\"",
                "stack = \"1 KiB\"",
                "clusters.cc0.programs[0].stack",
            ),
            (
                "programs = [{ name = \"hello\", heap",
                "programs = [{ name = \"hello\" }, { name = \"hello\", heap",
                "clusters.cc0.programs",
            ),
            (
                "programs = [{ name = \"hello\", args",
                "programs = [{ name = \"hello\" }, { name = \"hello\" }, { name = \"hello\" }, { name = \"hello\", args",
                "clusters.io0.programs",
            ),
            ("critical = false", "critical = false\nspeed = 9", "speed"),
            ("version = 1", "version = 1\ncolour = \"red\"", "colour"),
            (
                "version = 1",
                "version = 1\nspawnable = [\"hello\", \"nosuch\"]",
                "spawnable[1]",
            ),
            ("board = \"tiny\"\n", "", "board"),
        ];
        for (from, to, field) in cases {
            assert!(GOOD.contains(from), "{from}");
            let text = GOOD.replacen(from, to, 1);
            let error = check_text(&text).unwrap_err();
            assert_eq!(&error.field, field, "{to}: {error}");
            assert!(!error.reason.is_empty());
        }
    }

    /// GOOD with init on io0 and two servers.
    fn with_init() -> String {
        GOOD.replace(
            "programs = [{ name = \"hello\", args = [\"rounds=2\"] }]",
            "programs = [{ name = \"init\" }, { name = \"hello\" }]",
        ) + r#"
[init]
servers = [
    { name = "name-server", restart = "always" },
    { name = "process-server", slot = 4, args = ["x=1"], heap = "256 KiB" },
]
"#
    }

    #[test]
    fn init_gets_its_servers_as_arguments() {
        let system = check_text(&with_init()).unwrap();
        assert_eq!(
            system.servers,
            [
                ServerPlan {
                    name: "name-server".into(),
                    arguments: Vec::new(),
                    restart: Restart::Always,
                    slot: 2,
                    heap_bytes: 64 * 1024,
                    stack_bytes: 64 * 1024,
                },
                ServerPlan {
                    name: "process-server".into(),
                    arguments: vec!["x=1".into()],
                    restart: Restart::OnFailure,
                    slot: 4,
                    heap_bytes: 256 * 1024,
                    stack_bytes: 64 * 1024,
                },
            ]
        );
        assert_eq!(
            system.clusters[0].programs[0].arguments,
            [
                "serve=name-server",
                "slot=2",
                "restart=always",
                "heap=65536",
                "stack=65536",
                "serve=process-server",
                "slot=4",
                "restart=on-failure",
                "heap=262144",
                "stack=65536",
                "arg=x=1",
            ]
        );
        let names = system.program_names();
        assert!(names.iter().any(|name| name == "process-server"), "packed");
    }

    #[test]
    fn each_init_error_names_its_field() {
        let good = with_init();
        let cases = [
            (
                "restart = \"always\"",
                "restart = \"sometimes\"",
                "init.servers[0].restart",
            ),
            ("slot = 4", "slot = 1", "init.servers[1].slot"),
            ("slot = 4", "slot = 16", "init.servers[1].slot"),
            (
                "name = \"process-server\"",
                "name = \"no-such-server\"",
                "init.servers[1].name",
            ),
            (
                "heap = \"256 KiB\"",
                "heap = \"lots\"",
                "init.servers[1].heap",
            ),
            (
                "heap = \"256 KiB\"",
                "stack = \"1 KiB\"",
                "init.servers[1].stack",
            ),
            ("restart = \"always\"", "when = 1", "when"),
            ("{ name = \"init\" }, ", "", "init"),
        ];
        for (from, to, field) in cases {
            let text = good.replacen(from, to, 1);
            assert_ne!(text, good, "{from}");
            let error = check_text(&text).unwrap_err();
            assert_eq!(error.field, field, "{from} -> {to}: {error}");
        }
    }

    #[test]
    fn a_disk_goes_on_one_ddr_attached_io_cluster_that_runs_programs() {
        let with_disk = GOOD.replace("[clusters.io0]\n", "[clusters.io0]\ndisk = \"1 MiB\"\n");
        let system = check_text(&with_disk).unwrap();
        assert_eq!(system.clusters[0].disk_bytes, Some(1 << 20));
        assert_eq!(system.clusters[1].disk_bytes, None);
        let cases = [
            (
                "disk = \"1 MiB\"",
                "disk = \"1001 KiB\"",
                "clusters.io0.disk",
            ),
            ("disk = \"1 MiB\"", "disk = \"32 KiB\"", "clusters.io0.disk"),
            ("disk = \"1 MiB\"", "disk = \"8 GiB\"", "clusters.io0.disk"),
            ("disk = \"1 MiB\"", "disk = \"lots\"", "clusters.io0.disk"),
            ("critical = false", "disk = \"1 MiB\"", "clusters.cc0.disk"),
        ];
        for (from, to, field) in cases {
            let text = with_disk.replacen(from, to, 1);
            let error = check_text(&text).unwrap_err();
            assert_eq!(error.field, field, "{to}: {error}");
        }
        // A disk on a cluster that runs nothing (so boots not) would go unused.
        let programless = GOOD.replace("board = \"tiny\"", "board = \"mppa256\"")
            + "\n[clusters.io1]\ndisk = \"1 MiB\"\n";
        let error = check_text(&programless).unwrap_err();
        assert_eq!(error.field, "clusters.io1.disk", "{error}");
        // Two disks.
        let two = GOOD
            .replace("board = \"tiny\"", "board = \"mppa256\"")
            .replace("[clusters.io0]\n", "[clusters.io0]\ndisk = \"1 MiB\"\n")
            + "\n[clusters.io1]\ndisk = \"1 MiB\"\nprograms = [{ name = \"hello\" }]\n";
        let error = check_text(&two).unwrap_err();
        assert_eq!(error.field, "clusters.io1.disk", "{error}");
        assert!(error.reason.contains("one disk a system"), "{error}");
    }

    #[test]
    fn a_root_file_system_needs_a_disk_and_sound_paths_modes_and_users() {
        let with_root = GOOD.replace("[clusters.io0]\n", "[clusters.io0]\ndisk = \"4 MiB\"\n")
            + "\n[root]\nfiles = [{ path = \"/etc/motd\", source = \"motd\", mode = \"640\" }]\n"
            + "users = [{ name = \"alice\", id = 1000 }]\n";
        let system = check_text(&with_root).unwrap();
        let root = system.root.unwrap();
        assert_eq!(root.files[0].0, "/etc/motd");
        assert_eq!(root.files[0].2, 0o640);
        assert_eq!(root.users, [("alice".to_string(), 1000)]);
        let cases = [
            ("/etc/motd\"", "etc/motd\"", "root.files[0].path"),
            ("/etc/motd\"", "/etc/../motd\"", "root.files[0].path"),
            ("/etc/motd\"", "/bin/motd\"", "root.files[0].path"),
            ("/etc/motd\"", "/etc//motd\"", "root.files[0].path"),
            ("mode = \"640\"", "mode = \"9\"", "root.files[0].mode"),
            ("mode = \"640\"", "mode = \"17777\"", "root.files[0].mode"),
            ("source = \"motd\"", "source = \"\"", "root.files[0].source"),
            ("name = \"alice\"", "name = \"root\"", "root.users[0].name"),
            ("name = \"alice\"", "name = \"Alice\"", "root.users[0].name"),
            ("id = 1000", "id = 0", "root.users[0].id"),
            ("disk = \"4 MiB\"\n", "", "root"),
        ];
        for (from, to, field) in cases {
            let text = with_root.replacen(from, to, 1);
            assert_ne!(text, with_root, "{from}");
            let error = check_text(&text).unwrap_err();
            assert_eq!(error.field, field, "{to}: {error}");
        }
        let twice = with_root.replace(
            "users = [{ name = \"alice\", id = 1000 }]",
            "users = [{ name = \"alice\", id = 1000 }, { name = \"bob\", id = 1000 }]",
        );
        assert_eq!(check_text(&twice).unwrap_err().field, "root.users[1].name");
        let file_twice = with_root.replace(
            "mode = \"640\" }]",
            "mode = \"640\" }, { path = \"/etc/motd/x\", source = \"x\" }]",
        );
        assert_eq!(
            check_text(&file_twice).unwrap_err().field,
            "root.files[1].path"
        );
    }

    #[test]
    fn only_one_program_may_hold_the_console_input() {
        let one = GOOD.replace(
            "args = [\"rounds=2\"] }",
            "args = [\"rounds=2\"], console_input = true }",
        );
        let system = check_text(&one).unwrap();
        assert!(system.clusters[0].programs[0].console_input);
        assert!(!system.clusters[1].programs[0].console_input);
        let two = one.replace(
            "stack = \"32 KiB\" }",
            "stack = \"32 KiB\", console_input = true }",
        );
        let error = check_text(&two).unwrap_err();
        assert_eq!(error.field, "clusters.cc0.programs[0].console_input");
        assert!(
            error.reason.contains("`clusters.io0.programs[0]`"),
            "{error}"
        );
    }

    #[test]
    fn an_empty_boot_cluster_is_refused() {
        let text = GOOD.replace(
            "[clusters.io0]\nprograms = [{ name = \"hello\", args = [\"rounds=2\"] }]",
            "",
        );
        assert_eq!(check_text(&text).unwrap_err().field, "boot");
    }
}
