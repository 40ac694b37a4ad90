//! Which cluster owns a node, and whether the incarnation that sent something runs.

use alloc::vec::Vec;
use libnanvix::abi::CLUSTER_ON;
use libnanvix::cluster;

/// The board's clusters: each one's index and nodes.
pub struct Clusters {
    /// (index, first node, node count) of each cluster.
    nodes: Vec<(usize, u32, u32)>,
}

impl Clusters {
    /// Reads the board's clusters from the kernel.
    pub fn read() -> Clusters {
        let count = cluster::this().map_or(0, |this| this.cluster_count as usize);
        let nodes = (0..count)
            .filter_map(|index| cluster::info(index).ok())
            .map(|info| (info.index as usize, info.first_node, info.node_count))
            .collect();
        Clusters { nodes }
    }

    /// The index of the cluster that owns `node`.
    pub fn of_node(&self, node: u32) -> Option<usize> {
        self.nodes
            .iter()
            .find(|(_, first, count)| node.wrapping_sub(*first) < *count)
            .map(|(index, _, _)| *index)
    }

    /// Whether the cluster owning `node` is on in boot epoch `epoch` (so what that
    /// incarnation holds is still held).
    pub fn alive(&self, node: u32, epoch: u32) -> bool {
        self.of_node(node)
            .and_then(|index| cluster::info(index).ok())
            .is_some_and(|info| info.state == CLUSTER_ON && info.epoch == epoch)
    }
}
