//! Board descriptions: the shape of a chip, one source of truth for its constants.
//!
//! A board file (`boards/*.toml`) is read into a [`BoardFile`] (unknown fields are
//! rejected), then checked and expanded by [`Board::from_file`] into a flat list of
//! clusters with their names, cores, SRAM and NoC nodes. The kernel receives the
//! expanded [`Board`] from the hardware (the board ROM), so nothing in the kernel
//! hard-codes the numbers of any one chip.
#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// Cluster names are this long at most (`cc15` is 4).
pub const CLUSTER_NAME_MAX: usize = 16;

/// Kind of a cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClusterKind {
    /// Runs system servers; may be attached to DDR.
    Io,
    /// Runs one user process.
    Compute,
}

/// One cluster of a board, after expansion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    /// `io0`..`ioN`, `cc0`..`ccN`.
    pub name: String,
    /// Position in [`Board::clusters`].
    pub index: u32,
    /// I/O or compute.
    pub kind: ClusterKind,
    /// Cores, the master core included.
    pub cores: u32,
    /// SRAM size in bytes.
    pub sram_bytes: u64,
    /// First NoC node of the cluster.
    pub first_node: u32,
    /// Number of NoC nodes (DMA interfaces) of the cluster.
    pub node_count: u32,
    /// Whether the cluster can reach DDR.
    pub ddr_attached: bool,
}

impl Cluster {
    /// Whether `node` belongs to this cluster.
    pub fn owns_node(&self, node: u32) -> bool {
        node >= self.first_node && node - self.first_node < self.node_count
    }
}

/// Topology of the NoC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Topology {
    /// A 2-D torus of `width` x `height` routers.
    Torus {
        /// Routers per row.
        width: u32,
        /// Rows.
        height: u32,
    },
}

/// A checked, expanded board.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Board {
    /// Short name (the file name without `.toml`).
    pub name: String,
    /// One line for humans.
    pub description: String,
    /// Every cluster: I/O clusters first, then compute clusters.
    pub clusters: Vec<Cluster>,
    /// DDR size in bytes.
    pub ddr_bytes: u64,
    /// NoC topology.
    pub topology: Topology,
    /// Control-NoC messages in flight per sender-receiver channel.
    pub channel_depth: u32,
}

impl Board {
    /// The cluster with this name.
    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|cluster| cluster.name == name)
    }

    /// The cluster that owns NoC node `node`.
    pub fn cluster_of_node(&self, node: u32) -> Option<&Cluster> {
        self.clusters.iter().find(|cluster| cluster.owns_node(node))
    }

    /// Total NoC nodes.
    pub fn node_count(&self) -> u32 {
        self.clusters.iter().map(|cluster| cluster.node_count).sum()
    }

    /// Checks and expands a parsed board file.
    pub fn from_file(name: &str, file: &BoardFile) -> Result<Board, BoardError> {
        let ddr_bytes = parse_size(&file.ddr).map_err(|reason| BoardError::field("ddr", reason))?;
        let mut clusters = Vec::new();
        let mut next_node = 0u32;
        for (section, prefix, kind, group) in [
            ("io", "io", ClusterKind::Io, &file.io),
            ("compute", "cc", ClusterKind::Compute, &file.compute),
        ] {
            let field = |leaf: &str| format!("{section}.{leaf}");
            if group.count == 0 || group.count > 1024 {
                return Err(BoardError::field(
                    &field("count"),
                    "must be between 1 and 1024",
                ));
            }
            if group.cores < 2 || group.cores > 256 {
                return Err(BoardError::field(
                    &field("cores"),
                    "must be between 2 and 256 (one master core plus user cores)",
                ));
            }
            if group.nodes == 0 || group.nodes > 64 {
                return Err(BoardError::field(
                    &field("nodes"),
                    "must be between 1 and 64",
                ));
            }
            let sram_bytes = parse_size(&group.sram)
                .map_err(|reason| BoardError::field(&field("sram"), reason))?;
            if sram_bytes < 64 * 1024 || sram_bytes % 4096 != 0 {
                return Err(BoardError::field(
                    &field("sram"),
                    "must be at least 64 KiB and a multiple of 4 KiB",
                ));
            }
            for attached in &group.ddr_attached {
                let known = attached
                    .strip_prefix(prefix)
                    .and_then(|number| number.parse::<u32>().ok())
                    .is_some_and(|number| {
                        number < group.count && attached == &format!("{prefix}{number}")
                    });
                if !known {
                    return Err(BoardError::field(
                        &field("ddr_attached"),
                        &format!("`{attached}` is not a cluster of this section"),
                    ));
                }
            }
            for number in 0..group.count {
                let cluster_name = format!("{prefix}{number}");
                clusters.push(Cluster {
                    index: clusters.len() as u32,
                    kind,
                    cores: group.cores,
                    sram_bytes,
                    first_node: next_node,
                    node_count: group.nodes,
                    ddr_attached: group.ddr_attached.contains(&cluster_name),
                    name: cluster_name,
                });
                next_node += group.nodes;
            }
        }
        let topology = match file.noc.topology.as_str() {
            "torus" => Topology::Torus {
                width: file.noc.width,
                height: file.noc.height,
            },
            _ => return Err(BoardError::field("noc.topology", "must be \"torus\"")),
        };
        let routers = file.noc.width as u64 * file.noc.height as u64;
        if routers < clusters.len() as u64 {
            return Err(BoardError::field(
                "noc.width",
                &format!(
                    "a {}x{} torus has fewer routers than the board's {} clusters",
                    file.noc.width,
                    file.noc.height,
                    clusters.len()
                ),
            ));
        }
        if !(1..=1024).contains(&file.noc.channel_depth)
            || !file.noc.channel_depth.is_power_of_two()
        {
            return Err(BoardError::field(
                "noc.channel_depth",
                "must be a power of two between 1 and 1024",
            ));
        }
        Ok(Board {
            name: name.to_string(),
            description: file.description.clone(),
            clusters,
            ddr_bytes,
            topology,
            channel_depth: file.noc.channel_depth,
        })
    }
}

/// A board file as written (`boards/*.toml`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoardFile {
    /// Must match the file name.
    pub name: String,
    /// One line for humans.
    #[serde(default)]
    pub description: String,
    /// DDR size, e.g. `"2 GiB"`.
    pub ddr: String,
    /// The I/O clusters.
    pub io: ClusterGroup,
    /// The compute clusters.
    pub compute: ClusterGroup,
    /// The NoC.
    pub noc: NocSection,
}

/// A group of identical clusters in a board file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterGroup {
    /// How many.
    pub count: u32,
    /// Cores per cluster, the master included.
    pub cores: u32,
    /// SRAM per cluster, e.g. `"2 MiB"`.
    pub sram: String,
    /// NoC nodes per cluster.
    pub nodes: u32,
    /// Names of the clusters of this group that reach DDR.
    #[serde(default)]
    pub ddr_attached: Vec<String>,
}

/// The `[noc]` section of a board file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NocSection {
    /// `"torus"`.
    pub topology: String,
    /// Routers per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Control-NoC messages in flight per sender-receiver channel.
    pub channel_depth: u32,
}

/// A board file that does not describe a usable board; names the field at fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoardError {
    /// Dotted path of the field, e.g. `compute.sram`.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl BoardError {
    fn field(field: &str, reason: &str) -> BoardError {
        BoardError {
            field: field.to_string(),
            reason: reason.to_string(),
        }
    }
}

impl core::fmt::Display for BoardError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(formatter, "`{}`: {}", self.field, self.reason)
    }
}

/// Parses a size such as `"4 MiB"`, `"64KiB"`, `"2 GiB"` or `"4096"` into bytes.
pub fn parse_size(text: &str) -> Result<u64, &'static str> {
    let text = text.trim();
    let split = text
        .find(|character: char| !character.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| "expected a size such as \"2 MiB\"")?;
    let multiplier: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return Err("unknown unit: use B, KiB, MiB or GiB"),
    };
    number.checked_mul(multiplier).ok_or("size too large")
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    fn board_file(text: &str) -> BoardFile {
        toml::from_str(text).expect("board file parses")
    }

    const MPPA256: &str = include_str!("../../boards/mppa256.toml");
    const TINY: &str = include_str!("../../boards/tiny.toml");

    #[test]
    fn mppa256_has_twenty_clusters_with_the_reference_shape() {
        let board = Board::from_file("mppa256", &board_file(MPPA256)).unwrap();
        assert_eq!(board.clusters.len(), 20);
        let io0 = board.cluster("io0").unwrap();
        assert_eq!((io0.cores, io0.sram_bytes, io0.node_count), (4, 4 << 20, 4));
        assert!(io0.ddr_attached && board.cluster("io1").unwrap().ddr_attached);
        assert!(!board.cluster("io2").unwrap().ddr_attached);
        let cc15 = board.cluster("cc15").unwrap();
        assert_eq!(
            (cc15.cores, cc15.sram_bytes, cc15.first_node),
            (16, 2 << 20, 31)
        );
        assert_eq!(board.node_count(), 32);
        assert_eq!(board.cluster_of_node(5).unwrap().name, "io1");
        assert_eq!(board.cluster_of_node(16).unwrap().name, "cc0");
        assert!(board.cluster_of_node(32).is_none());
    }

    #[test]
    fn tiny_board_is_small() {
        let board = Board::from_file("tiny", &board_file(TINY)).unwrap();
        assert_eq!(board.clusters.len(), 3);
    }

    #[test]
    fn unknown_fields_are_rejected_by_name() {
        let text = MPPA256.replace("[noc]", "[noc]\nspeed = 3");
        let error = toml::from_str::<BoardFile>(&text).unwrap_err().to_string();
        assert!(error.contains("unknown field `speed`"), "{error}");
    }

    #[test]
    fn each_bad_value_names_its_field() {
        let cases = [
            ("sram = \"2 MiB\"", "sram = \"2 MB\"", "compute.sram"),
            ("sram = \"2 MiB\"", "sram = \"1000\"", "compute.sram"),
            ("cores = 16", "cores = 1", "compute.cores"),
            ("count = 16", "count = 0", "compute.count"),
            ("nodes = 1", "nodes = 0", "compute.nodes"),
            ("ddr = \"2 GiB\"", "ddr = \"lots\"", "ddr"),
            (
                "topology = \"torus\"",
                "topology = \"mesh\"",
                "noc.topology",
            ),
            ("height = 5", "height = 1", "noc.width"),
            (
                "channel_depth = 16",
                "channel_depth = 12",
                "noc.channel_depth",
            ),
            (
                "[\"io0\", \"io1\"]",
                "[\"io0\", \"cc1\"]",
                "io.ddr_attached",
            ),
        ];
        for (from, to, field) in cases {
            assert!(MPPA256.contains(from), "{from}");
            let text = MPPA256.replacen(from, to, 1);
            let error = Board::from_file("mppa256", &board_file(&text)).unwrap_err();
            assert_eq!(error.field, field, "{to}: {error}");
        }
    }

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("4 MiB"), Ok(4 << 20));
        assert_eq!(parse_size("64KiB"), Ok(64 << 10));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("4 MB").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999 GiB").is_err());
    }
}
