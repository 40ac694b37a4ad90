//! What the runner and a cluster process tell each other.
//!
//! The runner starts a cluster process with a [`BootSpec`] (JSON in the environment
//! variable [`BOOT_ENVIRONMENT`]); the cluster reports [`ClusterReport`]s as JSON lines
//! on the inherited descriptor the spec names. Standard output and error of the
//! process carry only raw kernel output (for example a Rust panic message).

pub use nanvix_board_protocol::{ClusterReport, ProgramRequest};
use serde::{Deserialize, Serialize};

/// Environment variable holding the boot spec.
pub const BOOT_ENVIRONMENT: &str = "NANVIX_BOOT";

/// How the runner boots one cluster.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct BootSpec {
    /// Index of the cluster on the board.
    pub cluster: u32,
    /// Boot epoch of this incarnation.
    pub epoch: u32,
    /// Inherited descriptor of the NoC memory.
    pub noc_fd: i32,
    /// Inherited descriptor (write end of a pipe) for reports.
    pub report_fd: i32,
    /// Programs to load, in order; program ids are their positions.
    pub programs: Vec<ProgramSpec>,
    /// Whether cross-cluster doorbells are polled instead of futex wakes.
    #[serde(default)]
    pub polling_doorbells: bool,
    /// Whether the cluster stays on, idle, when its programs end (a warm cluster,
    /// booted on request), waiting for the next program on its control pipe.
    #[serde(default)]
    pub warm: bool,
    /// Inherited descriptor (read end of a pipe) the runner sends program requests
    /// on, one JSON [`ProgramRequest`] a line (-1: none).
    #[serde(default = "no_descriptor")]
    pub control_fd: i32,
    /// The image's programs, by name, with the path of each one's ELF file: what a
    /// power request may boot and `program_spawn` may start.
    #[serde(default)]
    pub image_programs: Vec<(String, String)>,
    /// The run's staging directory: programs staged while the board runs
    /// (`program_stage`), one file each, named as staged (empty: none).
    #[serde(default)]
    pub staged_directory: String,
    /// Inherited descriptor of the disk image file attached to this cluster (-1:
    /// none), and its blocks.
    #[serde(default = "no_descriptor")]
    pub disk_fd: i32,
    /// Blocks of that disk.
    #[serde(default)]
    pub disk_blocks: u64,
    /// Inherited descriptor of the board's DDR file, for a DDR-attached cluster
    /// (-1: none), and its bytes.
    #[serde(default = "no_descriptor")]
    pub ddr_fd: i32,
    /// Bytes of the DDR.
    #[serde(default)]
    pub ddr_bytes: u64,
}

/// Whether `name` has the form of a staged program's name: a base of 1 to
/// `STAGED_BASE_MAX` ASCII letters, digits, `-`, `_` and `.` (not only dots), `@`,
/// and 16 lowercase hexadecimal digits.
pub fn is_staged_name(name: &str) -> bool {
    let Some((base, hash)) = name.split_once('@') else {
        return false;
    };
    nanvix_abi::is_staged_base(base.as_bytes()) && nanvix_abi::is_staged_hash(hash.as_bytes())
}

/// The file of the program staged as `name` in the staging directory `directory`;
/// `None` without a directory or for a name not of the staged form.
pub fn staged_path(directory: Option<&std::path::Path>, name: &str) -> Option<std::path::PathBuf> {
    let directory = directory?;
    is_staged_name(name).then(|| directory.join(name))
}

/// One program to load at boot.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProgramSpec {
    /// Program name (its ELF's name).
    pub name: String,
    /// Path of its ELF file.
    pub path: String,
    /// Arguments after the name.
    pub arguments: Vec<String>,
    /// Heap size in bytes.
    pub heap_bytes: u64,
    /// Main-thread stack size in bytes.
    pub stack_bytes: u64,
    /// Whether the console input (the process' standard input) goes to it.
    #[serde(default)]
    pub console_input: bool,
}

/// `BootSpec::control_fd` when there is no control pipe.
fn no_descriptor() -> i32 {
    -1
}

#[cfg(test)]
mod tests {
    use super::{is_staged_name, staged_path};
    use std::path::Path;

    #[test]
    fn a_staged_name_is_a_plain_base_an_at_and_16_hex_digits() {
        for good in ["wc@0123456789abcdef", "my-prog_2.v1@ffffffffffffffff"] {
            assert!(is_staged_name(good), "{good}");
        }
        for bad in [
            "wc",
            "wc@0123456789abcde",
            "wc@0123456789ABCDEF",
            "@0123456789abcdef",
            "..@0123456789abcdef",
            "a/b@0123456789abcdef",
            "../x@0123456789abcdef",
            "wc@0123456789abcdef/",
        ] {
            assert!(!is_staged_name(bad), "{bad}");
        }
        let directory = Path::new("/run/staged");
        assert_eq!(
            staged_path(Some(directory), "wc@0123456789abcdef"),
            Some(directory.join("wc@0123456789abcdef"))
        );
        assert_eq!(staged_path(Some(directory), "../wc@0123456789abcdef"), None);
        assert_eq!(staged_path(None, "wc@0123456789abcdef"), None);
    }
}
