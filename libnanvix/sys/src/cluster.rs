//! Facts about clusters of the board (names, cores, SRAM, NoC nodes, states), and
//! powering compute clusters on and off.

use crate::runtime::kcall;
use alloc::vec::Vec;
use nanvix_abi::{CLUSTER_SELF, ClusterInfo, Errno, Kcall};

/// Facts about cluster `index` of the board.
pub fn info(index: usize) -> Result<ClusterInfo, Errno> {
    let mut info = ClusterInfo::zeroed();
    kcall(
        Kcall::ClusterInfo,
        [
            index,
            &raw mut info as usize,
            core::mem::size_of::<ClusterInfo>(),
            0,
            0,
        ],
    )?;
    Ok(info)
}

/// Facts about the caller's own cluster.
pub fn this() -> Result<ClusterInfo, Errno> {
    info(CLUSTER_SELF)
}

/// The index of the cluster named `name`, if the board has one.
pub fn find(name: &str) -> Option<ClusterInfo> {
    let count = this().ok()?.cluster_count as usize;
    (0..count)
        .filter_map(|index| info(index).ok())
        .find(|info| info.name() == name)
}

/// The board's clusters as read once: each one's index, kind and NoC nodes (facts
/// that never change), so a server maps a caller's node to its cluster without a
/// kcall per request.
pub struct Clusters {
    /// (index, kind, first node, node count) of each cluster.
    clusters: Vec<(usize, u32, u32, u32)>,
}

impl Clusters {
    /// Reads the board's clusters from the kernel.
    pub fn read() -> Clusters {
        let count = this().map_or(0, |this| this.cluster_count as usize);
        let clusters = (0..count)
            .filter_map(|index| info(index).ok())
            .map(|info| {
                (
                    info.index as usize,
                    info.kind,
                    info.first_node,
                    info.node_count,
                )
            })
            .collect();
        Clusters { clusters }
    }

    /// The index of the cluster that owns NoC node `node`.
    pub fn of_node(&self, node: u32) -> Option<usize> {
        self.clusters
            .iter()
            .find(|(_, _, first, count)| node.wrapping_sub(*first) < *count)
            .map(|(index, ..)| *index)
    }

    /// The indices of the compute clusters.
    pub fn compute(&self) -> Vec<usize> {
        self.clusters
            .iter()
            .filter(|(_, kind, ..)| *kind == nanvix_abi::ClusterKind::Compute as u32)
            .map(|(index, ..)| *index)
            .collect()
    }

    /// Whether the cluster owning `node` is on, not idle, and `now(epoch, run)`
    /// holds of it: the program a holder recorded runs still (a warm cluster's
    /// next process is another run of the same epoch).
    pub fn alive_in(&self, node: u32, now: impl Fn(u32, u32) -> bool) -> bool {
        self.of_node(node)
            .and_then(|index| info(index).ok())
            .is_some_and(|info| {
                info.state == nanvix_abi::CLUSTER_ON && info.idle == 0 && now(info.epoch, info.run)
            })
    }

    /// The run of the cluster owning `node` (how many programs it started in its
    /// epoch; 0 for a node of no cluster).
    pub fn run_of(&self, node: u32) -> u32 {
        self.of_node(node)
            .and_then(|index| info(index).ok())
            .map_or(0, |info| info.run)
    }
}

/// Asks the board to power compute cluster `index` on with the image's program
/// `program` and `arguments`; only programs on I/O clusters may. The cluster comes
/// up on its own, in a new boot epoch ([`info`] shows it on).
pub fn power_on(index: usize, program: &str, arguments: &[&str]) -> Result<(), Errno> {
    let words = join_arguments(arguments);
    kcall(
        Kcall::ClusterPowerOn,
        [
            index,
            program.as_ptr() as usize,
            program.len(),
            words.as_ptr() as usize,
            words.len(),
        ],
    )?;
    Ok(())
}

/// Hands the board the program `elf` under the name `name` (its file name, say);
/// returns the name it is staged as (`name@` and 16 hexadecimal digits of its
/// hash), which [`power_on`] runs like an image program. Only programs on I/O
/// clusters may; `ENOEXEC` for bytes the loader cannot run.
pub fn stage_program(name: &str, elf: &[u8]) -> Result<alloc::string::String, Errno> {
    let mut staged = [0u8; nanvix_abi::PROGRAM_NAME_MAX];
    let length = kcall(
        Kcall::ProgramStage,
        [
            name.as_ptr() as usize,
            name.len(),
            elf.as_ptr() as usize,
            elf.len(),
            staged.as_mut_ptr() as usize,
        ],
    )?;
    let staged = staged.get(..length).ok_or(Errno::InputOutput)?;
    core::str::from_utf8(staged)
        .map(alloc::string::String::from)
        .map_err(|_| Errno::InputOutput)
}

/// `arguments` NUL-separated, as `cluster_power_on` and `program_spawn` take them.
pub(crate) fn join_arguments(arguments: &[&str]) -> Vec<u8> {
    let mut words = Vec::new();
    for argument in arguments {
        if !words.is_empty() {
            words.push(0);
        }
        words.extend_from_slice(argument.as_bytes());
    }
    words
}

/// Asks the board to power compute cluster `index` off: its programs end at once,
/// killed by `signal` (its status is then 128 + `signal`), and it is off (not dead)
/// from then on. Only programs on I/O clusters may.
pub fn power_off(index: usize, signal: u32) -> Result<(), Errno> {
    kcall(Kcall::ClusterPowerOff, [index, signal as usize, 0, 0, 0])?;
    Ok(())
}

/// Blocks until the board's state generation (bumped on every cluster boot,
/// power-off and death) differs from `generation`, or `timeout_nanoseconds` passed
/// (0: do not wait); returns the generation then.
pub fn wait_for_change(generation: u32, timeout_nanoseconds: u64) -> u32 {
    kcall(
        Kcall::ClusterWait,
        [generation as usize, timeout_nanoseconds as usize, 0, 0, 0],
    )
    .map_or(generation, |now| now as u32)
}
