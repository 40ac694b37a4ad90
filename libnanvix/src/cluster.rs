//! Facts about clusters of the board: names, cores, SRAM, NoC nodes.

use crate::runtime::kcall;
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
