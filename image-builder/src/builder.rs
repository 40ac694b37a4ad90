//! Builds what a system needs: the cluster kernel and the program ELFs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The cargo profile kernels and programs are built with (see the workspace
/// `Cargo.toml`: release optimisation, panic=abort, full debug info).
pub const PROFILE: &str = "nanvix";
/// The defmt log level programs and kernels are built with when the environment
/// does not set `DEFMT_LOG`: frames below it are left out of the ELFs.
pub const DEFAULT_DEFMT_LOG: &str = "info";
/// Package of the hosted cluster kernel.
pub const HOSTED_KERNEL: &str = "nanvix-kernel-hosted";

/// The manifest of the bare-metal canary (a workspace of its own).
pub const CANARY_MANIFEST: &str = "hal/canary/Cargo.toml";

/// Builds the bare-metal canary: the microkernel linked freestanding (no std, no
/// libc) over a stub HAL, in a workspace of its own so that no hosted crate lends
/// its features. A `std` that leaked into the kernel fails this build. Its ELF's
/// path.
pub fn build_canary(root: &Path) -> Result<PathBuf, BuildError> {
    build_own_workspace(root, CANARY_MANIFEST, "canary", None, "nanvix-hal-canary")
}

/// How the qemu-x86_64 kernel's code is generated, for this host's target alone
/// (build scripts and procedural macros are built without): LLVM's machine outliner
/// (repeated instruction sequences become calls; LLVM never outlines from a
/// function that uses the red zone) and the static relocation model (the kernel is
/// linked at a fixed address), 2.5 KB of its image; blocks laid out by LLVM's
/// ext-TSP placement and loops without strength reduction, 1.5 KB more
/// (docs/src/bare-metal.md). These are options of the pinned toolchain's LLVM.
pub const QEMU_KERNEL_CODE_GENERATION: CodeGeneration = CodeGeneration {
    target: "x86_64-unknown-linux-gnu",
    flags: &[
        "-C",
        "llvm-args=-enable-machine-outliner=always",
        "-C",
        "relocation-model=static",
        "-C",
        "llvm-args=-enable-ext-tsp-block-placement",
        "-C",
        "llvm-args=-disable-lsr",
    ],
};

/// A workspace's code generation flags and the target they apply to.
#[derive(Clone, Copy, Debug)]
pub struct CodeGeneration {
    /// The target triple (the host's: the kernel is freestanding code for it).
    pub target: &'static str,
    /// rustc's flags for that target's crates.
    pub flags: &'static [&'static str],
}

/// Builds the release profile of the workspace of its own at `manifest`, into the
/// target directory's `target` folder (with `code_generation` for its crates, if
/// given); the path of its executable `binary`.
fn build_own_workspace(
    root: &Path,
    manifest: &str,
    target: &str,
    code_generation: Option<CodeGeneration>,
    binary: &str,
) -> Result<PathBuf, BuildError> {
    let mut command = cargo();
    command
        .current_dir(root)
        .args(["build", "--quiet", "--release", "--manifest-path", manifest])
        .arg("--target-dir")
        .arg(target_directory(root).join(target));
    let mut output = target_directory(root).join(target);
    if let Some(code_generation) = code_generation {
        // With `--target`, these flags reach the target's crates and not the
        // build scripts' and procedural macros' (built for the host on their own).
        command
            .args(["--target", code_generation.target])
            .env(
                "CARGO_ENCODED_RUSTFLAGS",
                code_generation.flags.join("\x1f"),
            )
            .env_remove("RUSTFLAGS");
        output = output.join(code_generation.target);
    }
    let status = command.status().map_err(BuildError::Cargo)?;
    if !status.success() {
        return Err(BuildError::Failed(status));
    }
    let executable = output.join("release").join(binary);
    if executable.is_file() {
        Ok(executable)
    } else {
        Err(BuildError::Missing(executable))
    }
}

/// The manifest of the qemu-x86_64 platform's kernel (a workspace of its own).
pub const QEMU_KERNEL_MANIFEST: &str = "hal/qemu/Cargo.toml";

/// Builds the qemu-x86_64 platform's kernel (freestanding, linked at 1 MiB for
/// QEMU's PVH loader, in a workspace of its own); its ELF's path.
pub fn build_qemu_kernel(root: &Path) -> Result<PathBuf, BuildError> {
    build_own_workspace(
        root,
        QEMU_KERNEL_MANIFEST,
        "qemu",
        Some(QEMU_KERNEL_CODE_GENERATION),
        "nanvix-qemu-kernel",
    )
}

/// Builds the qemu-x86_64 platform's checks (the kernel's workspace builds both
/// executables): the platform's HAL alone, one check per `mode=` word
/// (`docs/src/bare-metal.md`).
pub fn build_qemu_checks(root: &Path) -> Result<PathBuf, BuildError> {
    build_own_workspace(
        root,
        QEMU_KERNEL_MANIFEST,
        "qemu",
        Some(QEMU_KERNEL_CODE_GENERATION),
        "nanvix-qemu-checks",
    )
}

/// Paths of built artifacts.
#[derive(Clone, Debug)]
pub struct Artifacts {
    /// The hosted cluster kernel executable.
    pub kernel: PathBuf,
    /// Program ELFs by name.
    pub programs: BTreeMap<String, PathBuf>,
}

/// A build that failed.
#[derive(Debug)]
pub enum BuildError {
    /// cargo could not be started.
    Cargo(std::io::Error),
    /// cargo reported a failure (its output went to the terminal).
    Failed(std::process::ExitStatus),
    /// An artifact is missing after the build (or before, with `--no-build`).
    Missing(PathBuf),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::Cargo(error) => write!(formatter, "cannot run cargo: {error}"),
            BuildError::Failed(status) => write!(formatter, "cargo build failed ({status})"),
            BuildError::Missing(path) => {
                write!(formatter, "{} is missing: build it first", path.display())
            }
        }
    }
}

impl std::error::Error for BuildError {}

/// The target directory cargo uses for this workspace.
pub fn target_directory(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// The cargo to run: the one that started us, if any.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Builds the kernel and `programs` (unless `build` is false) and returns their paths.
///
/// defmt reads `DEFMT_LOG` at build time; the user's value is kept, otherwise
/// [`DEFAULT_DEFMT_LOG`] is used.
pub fn build(root: &Path, programs: &[String], build: bool) -> Result<Artifacts, BuildError> {
    if build {
        let command = || {
            let mut command = cargo();
            command
                .current_dir(root)
                .args(["build", "--quiet", "--profile", PROFILE]);
            if std::env::var_os("DEFMT_LOG").is_none() {
                command.env("DEFMT_LOG", DEFAULT_DEFMT_LOG);
            }
            command
        };
        let run = |command: &mut Command| -> Result<(), BuildError> {
            let status = command.status().map_err(BuildError::Cargo)?;
            if status.success() {
                Ok(())
            } else {
                Err(BuildError::Failed(status))
            }
        };
        run(command().args(["--package", HOSTED_KERNEL]))?;
        if !programs.is_empty() {
            // Programs keep their frame pointers, so a fault or panic report can walk
            // their stacks; the kernel and the HAL do without (they cost its hot
            // paths). Separate flags want a target directory of their own.
            let mut programs_command = command();
            for program in programs {
                programs_command.args(["--package", program]);
            }
            let mut flags = std::env::var("RUSTFLAGS").unwrap_or_default();
            flags.push_str(" -C force-frame-pointers=yes");
            programs_command
                .env("RUSTFLAGS", flags.trim())
                .arg("--target-dir")
                .arg(programs_directory(root));
            run(&mut programs_command)?;
        }
    }
    let existing = |path: PathBuf| {
        if path.is_file() {
            Ok(path)
        } else {
            Err(BuildError::Missing(path))
        }
    };
    let programs_built = programs_directory(root).join(PROFILE);
    Ok(Artifacts {
        kernel: existing(target_directory(root).join(PROFILE).join(HOSTED_KERNEL))?,
        programs: programs
            .iter()
            .map(|program| Ok((program.clone(), existing(programs_built.join(program))?)))
            .collect::<Result<_, BuildError>>()?,
    })
}

/// Where programs are built (a target directory of their own: their flags differ).
pub fn programs_directory(root: &Path) -> PathBuf {
    target_directory(root).join("programs")
}
