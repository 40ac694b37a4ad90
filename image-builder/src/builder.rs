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
/// its features. A `std` that leaked into the kernel fails this build.
pub fn build_canary(root: &Path) -> Result<(), BuildError> {
    let status = cargo()
        .current_dir(root)
        .args([
            "build",
            "--quiet",
            "--release",
            "--manifest-path",
            CANARY_MANIFEST,
        ])
        .arg("--target-dir")
        .arg(target_directory(root).join("canary"))
        .status()
        .map_err(BuildError::Cargo)?;
    if status.success() {
        Ok(())
    } else {
        Err(BuildError::Failed(status))
    }
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
        let mut command = cargo();
        command.current_dir(root).args([
            "build",
            "--quiet",
            "--profile",
            PROFILE,
            "--package",
            HOSTED_KERNEL,
        ]);
        for program in programs {
            command.args(["--package", program]);
        }
        if std::env::var_os("DEFMT_LOG").is_none() {
            command.env("DEFMT_LOG", DEFAULT_DEFMT_LOG);
        }
        let status = command.status().map_err(BuildError::Cargo)?;
        if !status.success() {
            return Err(BuildError::Failed(status));
        }
    }
    let directory = target_directory(root).join(PROFILE);
    let existing = |path: PathBuf| {
        if path.is_file() {
            Ok(path)
        } else {
            Err(BuildError::Missing(path))
        }
    };
    Ok(Artifacts {
        kernel: existing(directory.join(HOSTED_KERNEL))?,
        programs: programs
            .iter()
            .map(|program| Ok((program.clone(), existing(directory.join(program))?)))
            .collect::<Result<_, BuildError>>()?,
    })
}
