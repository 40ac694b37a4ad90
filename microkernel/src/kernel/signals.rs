//! Inter-cluster syncs: signals over a list of nodes, all to one or one to all,
//! counted per sender so that every signal releases exactly one wait, and kept
//! when they arrive before their receiver exists.

use super::Kernel;
use super::ids::{IdTable, Owned};
use crate::paging::Access;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use nanvix_abi::{
    CommCounters, Errno, MessageHeader, SYNC_ALL_TO_ONE, SYNC_NODES_MAX, SYNC_ONE_TO_ALL, SYNC_TAG,
    SYNCS_MAX,
};
use nanvix_hal::{BoardControl, ClusterState, CoreId, Cores, Platform, ReceiveDecision};

/// Distinct syncs the cluster keeps early signals for; signals of further ones wait
/// in their NoC channels.
pub const SYNC_EARLY_MAX: usize = 64;

/// What names a sync on both sides: its mode and its nodes, `nodes[0]` first and
/// the others sorted (the order the others are given in does not matter).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct SyncKey {
    mode: u8,
    nodes: Vec<u32>,
}

impl SyncKey {
    /// The key of `nodes` in `mode`: 2 to [`SYNC_NODES_MAX`] distinct nodes and a
    /// known mode, or `EINVAL`.
    pub fn new(mode: usize, nodes: &[u32]) -> Result<SyncKey, Errno> {
        if !(2..=SYNC_NODES_MAX).contains(&nodes.len())
            || (mode != SYNC_ALL_TO_ONE && mode != SYNC_ONE_TO_ALL)
        {
            return Err(Errno::Invalid);
        }
        // The others go in by binary search (a handful of nodes: no sort's code).
        let mut canonical = Vec::with_capacity(nodes.len());
        canonical.push(nodes[0]);
        for &node in &nodes[1..] {
            match canonical[1..].binary_search(&node) {
                Err(at) if node != nodes[0] => canonical.insert(at + 1, node),
                _ => return Err(Errno::Invalid),
            }
        }
        Ok(SyncKey {
            mode: mode as u8,
            nodes: canonical,
        })
    }

    fn all_to_one(&self) -> bool {
        usize::from(self.mode) == SYNC_ALL_TO_ONE
    }

    /// The nodes whose signals the receiver waits for.
    fn senders(&self) -> &[u32] {
        if self.all_to_one() {
            &self.nodes[1..]
        } else {
            &self.nodes[..1]
        }
    }

    /// The nodes a signal goes to.
    fn receivers(&self) -> &[u32] {
        if self.all_to_one() {
            &self.nodes[..1]
        } else {
            &self.nodes[1..]
        }
    }

    /// The signal's payload: mode, count, two zero bytes, then the nodes.
    fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(4 + 4 * self.nodes.len());
        bytes.extend_from_slice(&[self.mode, self.nodes.len() as u8, 0, 0]);
        for node in &self.nodes {
            bytes.extend_from_slice(&node.to_le_bytes());
        }
        bytes
    }

    /// The key a signal's payload names, if it is well formed.
    fn decode(bytes: &[u8]) -> Option<SyncKey> {
        let (&[mode, count, 0, 0], rest) = bytes.split_first_chunk::<4>()? else {
            return None;
        };
        if rest.len() != 4 * usize::from(count) {
            return None;
        }
        let nodes: Vec<u32> = rest
            .chunks_exact(4)
            .map(|chunk| u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
            .collect();
        SyncKey::new(usize::from(mode), &nodes).ok()
    }
}

/// A sync this cluster's programs hold.
enum Entry {
    /// Created: its owner waits on it at `node`; `credits[i]` counts the signals
    /// of `key.senders()[i]` not consumed yet.
    Receiver {
        owner: usize,
        node: u32,
        key: SyncKey,
        credits: Vec<u32>,
        waiter: Option<CoreId>,
        parked: bool,
        counters: CommCounters,
    },
    /// Opened: its owner signals it.
    Sender {
        owner: usize,
        key: SyncKey,
        counters: CommCounters,
    },
}

impl Owned for Entry {
    fn owner(&self) -> usize {
        match self {
            Entry::Receiver { owner, .. } | Entry::Sender { owner, .. } => *owner,
        }
    }
}

/// The cluster's inter-cluster syncs, by id.
#[derive(Default)]
pub(super) struct SyncSignalTable {
    entries: IdTable<Entry>,
    /// Signals that came for (node, sync) before it was created: credits by sender.
    early: Vec<(u32, SyncKey, Vec<u32>)>,
}

impl SyncSignalTable {
    fn insert(&mut self, entry: Entry) -> Result<usize, Errno> {
        self.entries.insert(entry, SYNCS_MAX)
    }

    fn bound(&self, node: u32, key: &SyncKey) -> Option<usize> {
        self.entries.iter().position(|entry| {
            matches!(entry, Some(Entry::Receiver { node: at, key: named, .. }) if *at == node && named == key)
        })
    }

    /// Creates `owner`'s receiving end of `key` at `node` (which the mode must put
    /// there); signals that came first are credited.
    pub fn create(&mut self, owner: usize, node: u32, key: SyncKey) -> Result<usize, Errno> {
        let receives = if key.all_to_one() {
            key.nodes[0] == node
        } else {
            key.nodes[1..].contains(&node)
        };
        if !receives {
            return Err(Errno::Invalid);
        }
        if self.bound(node, &key).is_some() {
            return Err(Errno::Busy);
        }
        let credits = match self
            .early
            .iter()
            .position(|(at, named, _)| *at == node && *named == key)
        {
            Some(position) => self.early.swap_remove(position).2,
            None => alloc::vec![0; key.senders().len()],
        };
        self.insert(Entry::Receiver {
            owner,
            node,
            key,
            credits,
            waiter: None,
            parked: false,
            counters: CommCounters::default(),
        })
    }

    /// Opens `owner`'s sending end of `key` from `node` (which the mode must put
    /// among the senders).
    pub fn open(&mut self, owner: usize, node: u32, key: SyncKey) -> Result<usize, Errno> {
        if !key.senders().contains(&node) {
            return Err(Errno::Invalid);
        }
        self.insert(Entry::Sender {
            owner,
            key,
            counters: CommCounters::default(),
        })
    }

    /// The payload and receivers of `owner`'s opened sync `id`.
    pub fn signal(&mut self, owner: usize, id: usize) -> Result<(Vec<u8>, Vec<u32>), Errno> {
        match self.entries.owned_mut(owner, id)? {
            Entry::Sender { key, counters, .. } => {
                counters.operations += 1;
                Ok((key.encode(), key.receivers().to_vec()))
            }
            Entry::Receiver { .. } => Err(Errno::BadDescriptor),
        }
    }

    /// The counters of `owner`'s sync `id` (either end).
    pub fn counters(&self, owner: usize, id: usize) -> Result<CommCounters, Errno> {
        match self.entries.owned(owner, id)? {
            Entry::Receiver { counters, .. } | Entry::Sender { counters, .. } => Ok(*counters),
        }
    }

    /// Adds `wait_cycles` to the waits of created sync `id`.
    pub fn count_wait(&mut self, owner: usize, id: usize, wait_cycles: u64) {
        if let Ok(Entry::Receiver { counters, .. }) = self.entries.owned_mut(owner, id) {
            counters.wait_cycles += wait_cycles;
        }
    }

    pub fn close(&mut self, owner: usize, id: usize) -> Result<(), Errno> {
        if !matches!(self.entries.owned(owner, id)?, Entry::Sender { .. }) {
            return Err(Errno::BadDescriptor);
        }
        self.entries[id] = None;
        Ok(())
    }

    pub fn unlink(&mut self, owner: usize, id: usize) -> Result<(), Errno> {
        match self.entries.owned(owner, id)? {
            Entry::Receiver { waiter, .. } => {
                if waiter.is_some() {
                    return Err(Errno::Busy);
                }
                self.entries[id] = None;
                Ok(())
            }
            Entry::Sender { .. } => Err(Errno::BadDescriptor),
        }
    }

    /// One look at `owner`'s created sync `id` for `core`: consumes one signal of
    /// each sender when all are there (`Ok(None)`); else returns the senders it
    /// still waits for, with `core` recorded as its waiter.
    pub fn try_wait(
        &mut self,
        owner: usize,
        id: usize,
        core: CoreId,
    ) -> Result<Option<Vec<u32>>, Errno> {
        match self.entries.owned_mut(owner, id)? {
            Entry::Receiver {
                key,
                credits,
                waiter,
                counters,
                ..
            } => {
                if waiter.is_some_and(|waiting| waiting != core) {
                    return Err(Errno::Busy);
                }
                if credits.iter().all(|credit| *credit > 0) {
                    for credit in credits.iter_mut() {
                        *credit -= 1;
                    }
                    *waiter = None;
                    counters.operations += 1;
                    return Ok(None);
                }
                *waiter = Some(core);
                let missing = key
                    .senders()
                    .iter()
                    .zip(credits.iter())
                    .filter(|(_, credit)| **credit == 0)
                    .map(|(node, _)| *node)
                    .collect();
                Ok(Some(missing))
            }
            Entry::Sender { .. } => Err(Errno::BadDescriptor),
        }
    }

    /// Ends a wait that failed or stopped: the sync has no waiter any more.
    pub fn end_wait(&mut self, owner: usize, id: usize) {
        if let Ok(Entry::Receiver { waiter, parked, .. }) = self.entries.owned_mut(owner, id) {
            *waiter = None;
            *parked = false;
        }
    }

    /// Marks the waiter of sync `id` parked unless all signals are there; returns
    /// whether it parked.
    pub fn park_waiter(&mut self, owner: usize, id: usize) -> bool {
        match self.entries.owned_mut(owner, id) {
            Ok(Entry::Receiver {
                credits, parked, ..
            }) if credits.contains(&0) => {
                *parked = true;
                true
            }
            _ => false,
        }
    }

    /// Clears the parked mark; returns whether it was still set (nobody woke it).
    pub fn unpark_waiter(&mut self, owner: usize, id: usize) -> bool {
        match self.entries.owned_mut(owner, id) {
            Ok(Entry::Receiver { parked, .. }) => core::mem::replace(parked, false),
            _ => false,
        }
    }

    /// Credits a signal from `source` for `key` at `node`: to its sync, or kept
    /// for it. Returns the decision and a parked waiter to wake. A signal from a
    /// node the sync does not wait for is dropped (`Take`, `None`, counted by the
    /// caller through `false`).
    pub fn deliver(
        &mut self,
        node: u32,
        key: SyncKey,
        source: u32,
    ) -> (ReceiveDecision, Option<CoreId>, bool) {
        let Some(position) = key.senders().iter().position(|sender| *sender == source) else {
            return (ReceiveDecision::Take, None, false);
        };
        if let Some(id) = self.bound(node, &key)
            && let Some(Some(Entry::Receiver {
                credits,
                waiter,
                parked,
                ..
            })) = self.entries.get_mut(id)
        {
            credits[position] = credits[position].saturating_add(1);
            let wake = if core::mem::replace(parked, false) {
                *waiter
            } else {
                None
            };
            return (ReceiveDecision::Take, wake, true);
        }
        let early = self.early.len();
        match self
            .early
            .iter_mut()
            .find(|(at, named, _)| *at == node && *named == key)
        {
            Some((_, _, credits)) => credits[position] = credits[position].saturating_add(1),
            None if early >= SYNC_EARLY_MAX => {
                return (ReceiveDecision::Keep, None, true);
            }
            None => {
                let mut credits = alloc::vec![0; key.senders().len()];
                credits[position] = 1;
                self.early.push((node, key, credits));
            }
        }
        (ReceiveDecision::Take, None, true)
    }

    /// Every parked waiter (to look again: a cluster died), unmarked.
    pub fn parked_waiters(&mut self) -> Vec<CoreId> {
        let mut woken = Vec::new();
        for entry in self.entries.iter_mut().flatten() {
            if let Entry::Receiver {
                waiter: Some(core),
                parked,
                ..
            } = entry
                && core::mem::replace(parked, false)
            {
                woken.push(*core);
            }
        }
        woken
    }

    /// Removes every sync of ended program `owner`.
    pub fn remove_owner(&mut self, owner: usize) {
        self.entries.remove_owner(owner);
    }
}

impl<P: Platform> Kernel<P> {
    /// Reads and checks a sync's node list from program `index`'s memory.
    fn sync_key(
        &self,
        index: usize,
        address: usize,
        count: usize,
        mode: usize,
    ) -> Result<SyncKey, Errno> {
        if !(2..=SYNC_NODES_MAX).contains(&count) {
            return Err(Errno::Invalid);
        }
        let space = self.space(index);
        space.check(address, count * 4, Access::Read)?;
        let bytes = space.read(address, count * 4)?;
        let nodes: Vec<u32> = bytes
            .chunks_exact(4)
            .map(|chunk| u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
            .collect();
        for node in &nodes {
            self.check_destination(*node as usize, 0)?;
        }
        SyncKey::new(mode, &nodes)
    }

    pub(super) fn sync_create(
        &self,
        index: usize,
        address: usize,
        count: usize,
        mode: usize,
    ) -> Result<usize, Errno> {
        let key = self.sync_key(index, address, count, mode)?;
        let node = self.info(index).node;
        self.sync_signals.lock().create(index, node, key)
    }

    pub(super) fn sync_open(
        &self,
        index: usize,
        address: usize,
        count: usize,
        mode: usize,
    ) -> Result<usize, Errno> {
        let key = self.sync_key(index, address, count, mode)?;
        let node = self.info(index).node;
        self.sync_signals.lock().open(index, node, key)
    }

    /// Sends one signal of sync `id` to every receiver; a dead one does not stop
    /// the others.
    pub(super) fn sync_signal(&self, index: usize, id: usize) -> Result<usize, Errno> {
        let (payload, receivers) = self.sync_signals.lock().signal(index, id)?;
        let mut outcome = Ok(0);
        for node in receivers {
            if let Err(errno) = self.send_tagged(index, node, SYNC_TAG, &payload) {
                outcome = Err(errno);
            }
        }
        outcome
    }

    pub(super) fn sync_close(&self, index: usize, id: usize) -> Result<usize, Errno> {
        self.sync_signals.lock().close(index, id).map(|()| 0)
    }

    pub(super) fn sync_unlink(&self, index: usize, id: usize) -> Result<usize, Errno> {
        self.sync_signals.lock().unlink(index, id).map(|()| 0)
    }

    /// Waits until sync `id` has a signal of every node it waits for and consumes
    /// them: polls the NoC from this core first, then parks until a signal (or a
    /// death) wakes it. A node still awaited on a dead cluster fails the wait.
    pub(super) fn sync_wait(&self, index: usize, core: CoreId, id: usize) -> Result<usize, Errno> {
        let started = self.platform.cores().cycles();
        let outcome = self.sync_wait_loop(index, core, id);
        let mut signals = self.sync_signals.lock();
        if outcome.is_err() {
            signals.end_wait(index, id);
        } else {
            signals.count_wait(
                index,
                id,
                self.platform.cores().cycles().wrapping_sub(started),
            );
        }
        outcome
    }

    fn sync_wait_loop(&self, index: usize, core: CoreId, id: usize) -> Result<usize, Errno> {
        loop {
            let mut seen = self.sync_deliveries.load(Ordering::Acquire);
            let Some(missing) = self.sync_signals.lock().try_wait(index, id, core)? else {
                return Ok(0);
            };
            self.check_senders_alive(&missing)?;
            self.pollers.fetch_add(1, Ordering::SeqCst);
            let mut done = false;
            for _ in 0..self.receive_spin_budget(core) {
                self.route(None);
                let now = self.sync_deliveries.load(Ordering::Acquire);
                if now != seen {
                    seen = now;
                    if self
                        .sync_signals
                        .lock()
                        .try_wait(index, id, core)?
                        .is_none()
                    {
                        done = true;
                        break;
                    }
                }
                core::hint::spin_loop();
            }
            self.stop_polling();
            if done {
                return Ok(0);
            }
            if self.sync_signals.lock().park_waiter(index, id) {
                self.park_receiver(core, || self.sync_signals.lock().unpark_waiter(index, id))?;
            }
        }
    }

    /// `EHOSTDOWN` when one of `nodes` is on a dead cluster.
    pub(super) fn check_senders_alive(&self, nodes: &[u32]) -> Result<(), Errno> {
        let board = self.platform.board();
        for node in nodes {
            if let Some(cluster) = self.board.cluster_of_node(*node)
                && matches!(
                    board.cluster_state(cluster.index as usize),
                    ClusterState::Dead { .. }
                )
            {
                return Err(Errno::HostDown);
            }
        }
        Ok(())
    }

    /// Routes one sync signal that arrived for `node`.
    pub(super) fn route_to_sync(
        &self,
        node: u32,
        header: &MessageHeader,
        payload: &[u8],
    ) -> ReceiveDecision {
        let Some(key) = SyncKey::decode(payload) else {
            self.undeliverable.fetch_add(1, Ordering::Relaxed);
            return ReceiveDecision::Take;
        };
        let (decision, wake, credited) =
            self.sync_signals
                .lock()
                .deliver(node, key, header.source_node);
        if !credited {
            self.undeliverable.fetch_add(1, Ordering::Relaxed);
        }
        if decision == ReceiveDecision::Keep {
            self.backlogged.store(true, Ordering::SeqCst);
        } else {
            self.sync_deliveries.fetch_add(1, Ordering::Release);
        }
        if let Some(core) = wake {
            self.parked_receivers.fetch_sub(1, Ordering::SeqCst);
            self.platform.cores().unpark(core);
        }
        decision
    }

    /// Wakes every parked sync waiter (a cluster died: each looks again).
    pub(super) fn wake_sync_waiters(&self) {
        let woken = self.sync_signals.lock().parked_waiters();
        for core in woken {
            self.parked_receivers.fetch_sub(1, Ordering::SeqCst);
            self.platform.cores().unpark(core);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(mode: usize, nodes: &[u32]) -> SyncKey {
        SyncKey::new(mode, nodes).unwrap()
    }

    #[test]
    fn keys_are_checked_and_the_others_order_does_not_matter() {
        assert_eq!(SyncKey::new(SYNC_ALL_TO_ONE, &[1]), Err(Errno::Invalid));
        assert_eq!(
            SyncKey::new(SYNC_ALL_TO_ONE, &[1, 2, 2]),
            Err(Errno::Invalid)
        );
        assert_eq!(
            SyncKey::new(SYNC_ALL_TO_ONE, &[1, 2, 1]),
            Err(Errno::Invalid)
        );
        assert_eq!(SyncKey::new(7, &[1, 2]), Err(Errno::Invalid));
        let many: Vec<u32> = (0..=SYNC_NODES_MAX as u32).collect();
        assert_eq!(SyncKey::new(SYNC_ONE_TO_ALL, &many), Err(Errno::Invalid));
        assert_eq!(
            key(SYNC_ALL_TO_ONE, &[1, 3, 2]),
            key(SYNC_ALL_TO_ONE, &[1, 2, 3])
        );
        assert_ne!(
            key(SYNC_ALL_TO_ONE, &[1, 2, 3]),
            key(SYNC_ALL_TO_ONE, &[2, 1, 3])
        );
        let round = key(SYNC_ONE_TO_ALL, &[5, 9, 7]);
        assert_eq!(SyncKey::decode(&round.encode()), Some(round));
        assert_eq!(SyncKey::decode(&[1, 2, 0]), None);
        assert_eq!(SyncKey::decode(&[1, 3, 0, 0, 1, 0, 0, 0]), None);
    }

    #[test]
    fn all_to_one_waits_for_every_sender_and_counts_each_signal_once() {
        let mut table = SyncSignalTable::default();
        let nodes = key(SYNC_ALL_TO_ONE, &[1, 2, 3]);
        assert_eq!(table.create(0, 2, nodes.clone()), Err(Errno::Invalid));
        let id = table.create(0, 1, nodes.clone()).unwrap();
        assert_eq!(table.create(1, 1, nodes.clone()), Err(Errno::Busy));
        table.deliver(1, nodes.clone(), 2);
        table.deliver(1, nodes.clone(), 2);
        assert_eq!(table.try_wait(0, id, 0), Ok(Some(alloc::vec![3])));
        assert_eq!(table.try_wait(0, id, 1), Err(Errno::Busy));
        table.deliver(1, nodes.clone(), 3);
        assert_eq!(table.try_wait(0, id, 0), Ok(None));
        assert_eq!(table.try_wait(0, id, 0), Ok(Some(alloc::vec![3])));
        let (_, _, credited) = table.deliver(1, nodes.clone(), 9);
        assert!(!credited, "node 9 is not in the list");
        table.end_wait(0, id);
        assert_eq!(table.unlink(0, id), Ok(()));
    }

    #[test]
    fn signals_before_the_sync_exists_are_kept() {
        let mut table = SyncSignalTable::default();
        let nodes = key(SYNC_ONE_TO_ALL, &[1, 2, 3]);
        table.deliver(3, nodes.clone(), 1);
        let id = table.create(0, 3, nodes.clone()).unwrap();
        assert_eq!(table.try_wait(0, id, 0), Ok(None));
        assert_eq!(table.try_wait(0, id, 0), Ok(Some(alloc::vec![1])));
    }

    #[test]
    fn senders_are_where_the_mode_puts_them() {
        let mut table = SyncSignalTable::default();
        let nodes = key(SYNC_ONE_TO_ALL, &[1, 2, 3]);
        assert_eq!(table.open(0, 2, nodes.clone()), Err(Errno::Invalid));
        let id = table.open(0, 1, nodes.clone()).unwrap();
        let (payload, receivers) = table.signal(0, id).unwrap();
        assert_eq!(receivers, [2, 3]);
        assert_eq!(SyncKey::decode(&payload), Some(nodes));
        assert_eq!(table.signal(1, id), Err(Errno::BadDescriptor));
        assert_eq!(table.unlink(0, id), Err(Errno::BadDescriptor));
        table.close(0, id).unwrap();
        assert_eq!(table.close(0, id), Err(Errno::BadDescriptor));
    }

    #[test]
    fn early_signals_of_too_many_syncs_wait_in_their_channels() {
        let mut table = SyncSignalTable::default();
        for other in 0..SYNC_EARLY_MAX as u32 {
            let nodes = key(SYNC_ALL_TO_ONE, &[1, 100 + other]);
            assert_eq!(
                table.deliver(1, nodes, 100 + other).0,
                ReceiveDecision::Take
            );
        }
        let nodes = key(SYNC_ALL_TO_ONE, &[1, 2]);
        assert_eq!(table.deliver(1, nodes, 2).0, ReceiveDecision::Keep);
    }
}
