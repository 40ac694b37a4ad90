//! Inter-cluster syncs and the barrier built on them.
//!
//! A sync joins a list of NoC nodes. In [`Mode::AllToOne`], `nodes[0]` creates a
//! [`SyncReceiver`] and waits until every other node signalled through its
//! [`SyncSender`]; in [`Mode::OneToAll`], `nodes[0]` signals and every other node
//! waits. Each signal releases exactly one wait, and a signal sent before its
//! receiver existed is kept for it.

use crate::runtime::kcall;
use nanvix_abi::{COMM_SYNC, CommCounters, Errno, Kcall, SYNC_ALL_TO_ONE, SYNC_ONE_TO_ALL};

pub use nanvix_abi::{SYNC_NODES_MAX, SYNCS_MAX};

/// Who signals whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Every node but `nodes[0]` signals; `nodes[0]` waits for all of them.
    AllToOne,
    /// `nodes[0]` signals; every other node waits for it.
    OneToAll,
}

impl Mode {
    fn raw(self) -> usize {
        match self {
            Mode::AllToOne => SYNC_ALL_TO_ONE,
            Mode::OneToAll => SYNC_ONE_TO_ALL,
        }
    }
}

/// The receiving end of a sync: created on this program's node, waited on.
#[derive(Debug, PartialEq, Eq)]
pub struct SyncReceiver {
    id: usize,
}

impl SyncReceiver {
    /// Creates the receiving end of the sync over `nodes` in `mode`.
    pub fn create(nodes: &[u32], mode: Mode) -> Result<SyncReceiver, Errno> {
        let id = kcall(
            Kcall::SyncCreate,
            [nodes.as_ptr() as usize, nodes.len(), mode.raw(), 0, 0],
        )?;
        Ok(SyncReceiver { id })
    }

    /// The kernel's id of this sync.
    pub fn id(&self) -> usize {
        self.id
    }

    /// Waits for a signal of every node this end waits for, and consumes them.
    pub fn wait(&self) -> Result<(), Errno> {
        kcall(Kcall::SyncWait, [self.id, 0, 0, 0, 0]).map(|_| ())
    }

    /// Its counters: waits completed and the cycles they waited.
    pub fn counters(&self) -> Result<CommCounters, Errno> {
        crate::noc::counters(COMM_SYNC, self.id)
    }

    /// Removes the receiving end.
    pub fn unlink(self) -> Result<(), Errno> {
        kcall(Kcall::SyncUnlink, [self.id, 0, 0, 0, 0]).map(|_| ())
    }
}

/// The sending end of a sync: opened on this program's node, signalled.
#[derive(Debug, PartialEq, Eq)]
pub struct SyncSender {
    id: usize,
}

impl SyncSender {
    /// Opens the sending end of the sync over `nodes` in `mode`.
    pub fn open(nodes: &[u32], mode: Mode) -> Result<SyncSender, Errno> {
        let id = kcall(
            Kcall::SyncOpen,
            [nodes.as_ptr() as usize, nodes.len(), mode.raw(), 0, 0],
        )?;
        Ok(SyncSender { id })
    }

    /// The kernel's id of this sync.
    pub fn id(&self) -> usize {
        self.id
    }

    /// Sends one signal to the receiving end(s).
    pub fn signal(&self) -> Result<(), Errno> {
        kcall(Kcall::SyncSignal, [self.id, 0, 0, 0, 0]).map(|_| ())
    }

    /// Its counters: signals sent.
    pub fn counters(&self) -> Result<CommCounters, Errno> {
        crate::noc::counters(COMM_SYNC, self.id)
    }

    /// Closes the sending end.
    pub fn close(self) -> Result<(), Errno> {
        kcall(Kcall::SyncClose, [self.id, 0, 0, 0, 0]).map(|_| ())
    }
}

/// A barrier across the programs of a list of nodes (one program a node):
/// `nodes[0]` leads. Two syncs: everyone signals the leader (all to one), then the
/// leader releases everyone (one to all).
#[derive(Debug)]
pub enum Barrier {
    /// The leader's ends.
    Leader {
        gather: SyncReceiver,
        release: SyncSender,
    },
    /// A follower's ends.
    Follower {
        gather: SyncSender,
        release: SyncReceiver,
    },
}

impl Barrier {
    /// Joins the barrier over `nodes` from node `this` (one of them).
    pub fn new(nodes: &[u32], this: u32) -> Result<Barrier, Errno> {
        if nodes.first() == Some(&this) {
            Ok(Barrier::Leader {
                gather: SyncReceiver::create(nodes, Mode::AllToOne)?,
                release: SyncSender::open(nodes, Mode::OneToAll)?,
            })
        } else {
            Ok(Barrier::Follower {
                gather: SyncSender::open(nodes, Mode::AllToOne)?,
                release: SyncReceiver::create(nodes, Mode::OneToAll)?,
            })
        }
    }

    /// Returns once every program of the barrier called `wait` as often.
    pub fn wait(&self) -> Result<(), Errno> {
        match self {
            Barrier::Leader { gather, release } => {
                gather.wait()?;
                release.signal()
            }
            Barrier::Follower { gather, release } => {
                gather.signal()?;
                release.wait()
            }
        }
    }

    /// Leaves the barrier: unlinks and closes its two ends.
    pub fn destroy(self) -> Result<(), Errno> {
        match self {
            Barrier::Leader { gather, release } => {
                let unlinked = gather.unlink();
                release.close()?;
                unlinked
            }
            Barrier::Follower { gather, release } => {
                let closed = gather.close();
                release.unlink()?;
                closed
            }
        }
    }
}
