//! Portals: bulk transfers over the data NoC that the receiver allows one at a
//! time, naming the sender's node and bounding the transfer's size.

use super::{DataTransfer, Kernel};
use crate::paging::Access;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use nanvix_abi::{
    CommCounters, Errno, MessageHeader, PORTAL_ALLOW_TAG, PORTAL_NONBLOCK, PORTAL_PORTS,
    PORTAL_TAG, PORTAL_TRANSFER_MAX, PORTALS_MAX,
};
use nanvix_hal::{BoardControl, ClusterState, CoreId, Cores, Platform, ReceiveDecision};

/// Allows this cluster keeps for its senders at once; more wait in their channels.
pub const PORTAL_CREDITS_MAX: usize = 1024;

/// A portal's pending allow: who may send and how much.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Allow {
    pub node: u32,
    pub size: usize,
}

enum Entry {
    /// Created: its owner allows and reads.
    Receiver {
        owner: usize,
        node: u32,
        port: u32,
        allow: Option<Allow>,
        reading: bool,
        counters: CommCounters,
    },
    /// Opened: its owner writes to (node, port).
    Sender {
        owner: usize,
        node: u32,
        port: u32,
        counters: CommCounters,
    },
}

impl Entry {
    fn owner(&self) -> usize {
        match self {
            Entry::Receiver { owner, .. } | Entry::Sender { owner, .. } => *owner,
        }
    }
}

/// An allow a receiver sent to one of this cluster's nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Credit {
    receiver: u32,
    port: u32,
    sender: u32,
    size: usize,
}

/// The cluster's portals, by id, and the allows its senders hold.
#[derive(Default)]
pub(super) struct PortalTable {
    entries: Vec<Option<Entry>>,
    credits: Vec<Credit>,
    /// Writers waiting for an allow, parked (counted in the kernel's parked
    /// receivers) or not.
    waiting: Vec<(CoreId, bool)>,
}

fn port_of(port: usize) -> Result<u32, Errno> {
    u32::try_from(port)
        .ok()
        .filter(|port| (*port as usize) < PORTAL_PORTS)
        .ok_or(Errno::Invalid)
}

impl PortalTable {
    fn insert(&mut self, entry: Entry) -> Result<usize, Errno> {
        let owner = entry.owner();
        if self
            .entries
            .iter()
            .flatten()
            .filter(|entry| entry.owner() == owner)
            .count()
            >= PORTALS_MAX
        {
            return Err(Errno::Again);
        }
        match self.entries.iter().position(Option::is_none) {
            Some(id) => {
                self.entries[id] = Some(entry);
                Ok(id)
            }
            None => {
                self.entries.push(Some(entry));
                Ok(self.entries.len() - 1)
            }
        }
    }

    pub fn create(&mut self, owner: usize, node: u32, port: usize) -> Result<usize, Errno> {
        let port = port_of(port)?;
        let taken = self.entries.iter().flatten().any(|entry| {
            matches!(entry, Entry::Receiver { node: at, port: bound, .. } if *at == node && *bound == port)
        });
        if taken {
            return Err(Errno::Busy);
        }
        self.insert(Entry::Receiver {
            owner,
            node,
            port,
            allow: None,
            reading: false,
            counters: CommCounters::default(),
        })
    }

    pub fn open(&mut self, owner: usize, node: u32, port: usize) -> Result<usize, Errno> {
        let port = port_of(port)?;
        self.insert(Entry::Sender {
            owner,
            node,
            port,
            counters: CommCounters::default(),
        })
    }

    /// Where `owner`'s opened portal `id` leads.
    pub fn destination(&self, owner: usize, id: usize) -> Result<(u32, u32), Errno> {
        match self.entries.get(id) {
            Some(Some(Entry::Sender {
                owner: holder,
                node,
                port,
                ..
            })) if *holder == owner => Ok((*node, *port)),
            _ => Err(Errno::BadDescriptor),
        }
    }

    #[allow(clippy::type_complexity)]
    fn receiver(
        &mut self,
        owner: usize,
        id: usize,
    ) -> Result<(u32, u32, &mut Option<Allow>, &mut bool, &mut CommCounters), Errno> {
        match self.entries.get_mut(id) {
            Some(Some(Entry::Receiver {
                owner: holder,
                node,
                port,
                allow,
                reading,
                counters,
            })) if *holder == owner => Ok((*node, *port, allow, reading, counters)),
            _ => Err(Errno::BadDescriptor),
        }
    }

    /// The counters of `owner`'s portal `id` (either end).
    pub fn counters(&self, owner: usize, id: usize) -> Result<CommCounters, Errno> {
        match self.entries.get(id) {
            Some(Some(Entry::Receiver {
                owner: holder,
                counters,
                ..
            }))
            | Some(Some(Entry::Sender {
                owner: holder,
                counters,
                ..
            })) if *holder == owner => Ok(*counters),
            _ => Err(Errno::BadDescriptor),
        }
    }

    /// Counts a write of `bytes` to opened portal `id` that waited `wait_cycles`.
    pub fn count_write(&mut self, owner: usize, id: usize, bytes: usize, wait_cycles: u64) {
        if let Some(Some(Entry::Sender {
            owner: holder,
            counters,
            ..
        })) = self.entries.get_mut(id)
            && *holder == owner
        {
            counters.operations += 1;
            counters.bytes += bytes as u64;
            counters.wait_cycles += wait_cycles;
        }
    }

    /// Records an allow of `size` bytes from `node` on `owner`'s portal `id`;
    /// returns the portal's port (for the allow message).
    pub fn allow(&mut self, owner: usize, id: usize, node: u32, size: usize) -> Result<u32, Errno> {
        let (_, port, allow, _, _) = self.receiver(owner, id)?;
        if allow.is_some() {
            return Err(Errno::Busy);
        }
        *allow = Some(Allow { node, size });
        Ok(port)
    }

    /// Withdraws the allow of portal `id` (its message could not be sent, or its
    /// transfer failed for good).
    pub fn withdraw(&mut self, owner: usize, id: usize) {
        if let Ok((_, _, allow, _, _)) = self.receiver(owner, id) {
            *allow = None;
        }
    }

    /// Starts the read of portal `id`: its (node, port) and pending allow.
    pub fn begin_read(&mut self, owner: usize, id: usize) -> Result<(u32, u32, Allow), Errno> {
        let (node, port, allow, reading, _) = self.receiver(owner, id)?;
        let allowed = allow.ok_or(Errno::Invalid)?;
        if *reading {
            return Err(Errno::Busy);
        }
        *reading = true;
        Ok((node, port, allowed))
    }

    /// Ends the read of portal `id`; a complete (or failed for good) transfer
    /// uses the allow up. `moved`: the bytes and wait cycles of a transfer read.
    pub fn end_read(
        &mut self,
        owner: usize,
        id: usize,
        allow_used: bool,
        moved: Option<(usize, u64)>,
    ) {
        if let Ok((_, _, allow, reading, counters)) = self.receiver(owner, id) {
            *reading = false;
            if allow_used {
                *allow = None;
            }
            if let Some((bytes, wait_cycles)) = moved {
                counters.operations += 1;
                counters.bytes += bytes as u64;
                counters.wait_cycles += wait_cycles;
            }
        }
    }

    pub fn close(&mut self, owner: usize, id: usize) -> Result<(), Errno> {
        self.destination(owner, id)?;
        self.entries[id] = None;
        Ok(())
    }

    pub fn unlink(&mut self, owner: usize, id: usize) -> Result<(), Errno> {
        let (_, _, allow, reading, _) = self.receiver(owner, id)?;
        if allow.is_some() || *reading {
            return Err(Errno::Busy);
        }
        self.entries[id] = None;
        Ok(())
    }

    /// Uses up the allow `receiver` gave `sender` for `port`, if it bounds
    /// `length`: `Ok(true)`; `Ok(false)` when there is none yet; `EMSGSIZE` (the
    /// allow stays) when it is too small.
    pub fn take_credit(
        &mut self,
        receiver: u32,
        port: u32,
        sender: u32,
        length: usize,
    ) -> Result<bool, Errno> {
        let Some(position) = self.credits.iter().position(|credit| {
            (credit.receiver, credit.port, credit.sender) == (receiver, port, sender)
        }) else {
            return Ok(false);
        };
        if length > self.credits[position].size {
            return Err(Errno::MessageSize);
        }
        self.credits.remove(position);
        Ok(true)
    }

    /// Keeps an allow that arrived; returns whether there was room, and the parked
    /// writers to wake (each looks for its own).
    pub fn credit(
        &mut self,
        receiver: u32,
        port: u32,
        sender: u32,
        size: usize,
    ) -> (bool, Vec<CoreId>) {
        if self.credits.len() >= PORTAL_CREDITS_MAX {
            return (false, Vec::new());
        }
        self.credits.push(Credit {
            receiver,
            port,
            sender,
            size,
        });
        (true, self.parked_writers())
    }

    /// Every parked writer, unmarked (an allow came, or a cluster died).
    pub fn parked_writers(&mut self) -> Vec<CoreId> {
        let mut woken = Vec::new();
        for (core, parked) in &mut self.waiting {
            if core::mem::replace(parked, false) {
                woken.push(*core);
            }
        }
        woken
    }

    pub fn remove_owner(&mut self, owner: usize) {
        for entry in &mut self.entries {
            if entry.as_ref().is_some_and(|entry| entry.owner() == owner) {
                *entry = None;
            }
        }
    }
}

impl<P: Platform> Kernel<P> {
    pub(super) fn portal_create(&self, index: usize, port: usize) -> Result<usize, Errno> {
        let node = self.info(index).node;
        self.portals.lock().create(index, node, port)
    }

    pub(super) fn portal_open(
        &self,
        index: usize,
        node: usize,
        port: usize,
    ) -> Result<usize, Errno> {
        let (node, _) = self.check_destination(node, 0)?;
        self.portals.lock().open(index, node, port)
    }

    pub(super) fn portal_close(&self, index: usize, id: usize) -> Result<usize, Errno> {
        self.portals.lock().close(index, id).map(|()| 0)
    }

    pub(super) fn portal_unlink(&self, index: usize, id: usize) -> Result<usize, Errno> {
        self.portals.lock().unlink(index, id).map(|()| 0)
    }

    /// Allows `node` one transfer of at most `size` bytes into portal `id` and
    /// tells the sender's kernel.
    pub(super) fn portal_allow(
        &self,
        index: usize,
        id: usize,
        node: usize,
        size: usize,
    ) -> Result<usize, Errno> {
        let (node, _) = self.check_destination(node, 0)?;
        if size == 0 || size > PORTAL_TRANSFER_MAX {
            return Err(Errno::Invalid);
        }
        let port = self.portals.lock().allow(index, id, node, size)?;
        let mut payload = [0u8; 8];
        payload[..4].copy_from_slice(&port.to_le_bytes());
        payload[4..].copy_from_slice(&(size as u32).to_le_bytes());
        if let Err(errno) = self.send_tagged(index, node, PORTAL_ALLOW_TAG, &payload) {
            self.portals.lock().withdraw(index, id);
            return Err(errno);
        }
        Ok(0)
    }

    /// Writes one transfer to portal `id` once its receiver allowed this node.
    pub(super) fn portal_write(
        &self,
        index: usize,
        core: CoreId,
        id: usize,
        address: usize,
        length: usize,
        flags: usize,
    ) -> Result<usize, Errno> {
        let (node, port) = self.portals.lock().destination(index, id)?;
        if flags & !PORTAL_NONBLOCK != 0 {
            return Err(Errno::Invalid);
        }
        if length > PORTAL_TRANSFER_MAX {
            return Err(Errno::MessageSize);
        }
        self.space(index).check(address, length, Access::Read)?;
        let sender = self.info(index).node;
        let (_, destination) = self.check_destination(node as usize, 0)?;
        let started = self.platform.cores().cycles();
        self.wait_for_allow(core, (node, port, sender), length, flags)?;
        let waited = self.platform.cores().cycles().wrapping_sub(started);
        let sent =
            self.data_send_tagged(index, node, destination, PORTAL_TAG + port, address, length)?;
        self.portals.lock().count_write(index, id, length, waited);
        Ok(sent)
    }

    /// Waits until the receiver `(node, port)` allowed `sender` a transfer of at
    /// least `length` bytes, and uses the allow up.
    fn wait_for_allow(
        &self,
        core: CoreId,
        (node, port, sender): (u32, u32, u32),
        length: usize,
        flags: usize,
    ) -> Result<(), Errno> {
        let take = || self.portals.lock().take_credit(node, port, sender, length);
        if take()? {
            return Ok(());
        }
        if flags & PORTAL_NONBLOCK != 0 {
            return Err(Errno::Access);
        }
        loop {
            if let Some(cluster) = self.board.cluster_of_node(node)
                && matches!(
                    self.platform.board().cluster_state(cluster.index as usize),
                    ClusterState::Dead { .. }
                )
            {
                return Err(Errno::HostDown);
            }
            let mut seen = self.portal_deliveries.load(Ordering::Acquire);
            self.pollers.fetch_add(1, Ordering::SeqCst);
            let mut allowed = Ok(false);
            for _ in 0..self.receive_spin_budget() {
                self.route(None);
                let now = self.portal_deliveries.load(Ordering::Acquire);
                if now != seen {
                    seen = now;
                    allowed = take();
                    if allowed != Ok(false) {
                        break;
                    }
                }
                core::hint::spin_loop();
            }
            self.stop_polling();
            if allowed? {
                return Ok(());
            }
            // Park until an allow (or a death) wakes us; look once more first.
            {
                let mut portals = self.portals.lock();
                if portals.take_credit(node, port, sender, length)? {
                    return Ok(());
                }
                portals.waiting.push((core, true));
                self.parked_receivers.fetch_add(1, Ordering::SeqCst);
            }
            self.platform.cores().unpark(0);
            let woken = self.park_without_core(core);
            {
                let mut portals = self.portals.lock();
                if let Some(position) = portals.waiting.iter().position(|(at, _)| *at == core) {
                    let (_, still_parked) = portals.waiting.swap_remove(position);
                    if still_parked {
                        self.parked_receivers.fetch_sub(1, Ordering::SeqCst);
                    }
                }
            }
            woken?;
            if take()? {
                return Ok(());
            }
        }
    }

    /// Receives the transfer portal `id`'s pending allow named.
    pub(super) fn portal_read(
        &self,
        index: usize,
        core: CoreId,
        id: usize,
        header_address: usize,
        buffer: usize,
        capacity: usize,
    ) -> Result<usize, Errno> {
        let space = self.space(index);
        space.check(
            header_address,
            core::mem::size_of::<MessageHeader>(),
            Access::Write,
        )?;
        space.check(buffer, capacity, Access::Write)?;
        let (node, port, allow) = self.portals.lock().begin_read(index, id)?;
        let cluster = self
            .board
            .cluster_of_node(allow.node)
            .map(|cluster| cluster.index as usize)
            .ok_or(Errno::Invalid)?;
        let mut transfer = DataTransfer {
            node,
            id: PORTAL_TAG + port,
            allowed: Some((cluster, allow.size)),
            space: space.clone(),
            buffer,
            capacity,
            started: None,
            received: 0,
            outcome: None,
        };
        let started = self.platform.cores().cycles();
        let received = self.receive_transfer(core, &mut transfer);
        // A transfer that stays queued (too long for the buffer) keeps its allow.
        let used = !matches!(received, Err(Errno::MessageSize) | Err(super::ENDING));
        let moved = received
            .as_ref()
            .ok()
            .map(|(_, total)| (*total, self.platform.cores().cycles().wrapping_sub(started)));
        self.portals.lock().end_read(index, id, used, moved);
        let (header, total) = received?;
        space.write_value(header_address, &header)?;
        Ok(total)
    }

    /// Routes an allow that arrived for `node` (one of ours: the sender's).
    pub(super) fn route_portal_allow(
        &self,
        node: u32,
        header: &MessageHeader,
        payload: &[u8],
    ) -> ReceiveDecision {
        let (Some(port), Some(size)) = (
            payload.get(..4).and_then(|bytes| bytes.try_into().ok()),
            payload.get(4..8).and_then(|bytes| bytes.try_into().ok()),
        ) else {
            self.undeliverable.fetch_add(1, Ordering::Relaxed);
            return ReceiveDecision::Take;
        };
        let (port, size) = (u32::from_le_bytes(port), u32::from_le_bytes(size) as usize);
        if payload.len() != 8 || port as usize >= PORTAL_PORTS || size > PORTAL_TRANSFER_MAX {
            self.undeliverable.fetch_add(1, Ordering::Relaxed);
            return ReceiveDecision::Take;
        }
        let (kept, woken) = self
            .portals
            .lock()
            .credit(header.source_node, port, node, size);
        if !kept {
            self.backlogged.store(true, Ordering::SeqCst);
            return ReceiveDecision::Keep;
        }
        self.portal_deliveries.fetch_add(1, Ordering::Release);
        for core in woken {
            self.parked_receivers.fetch_sub(1, Ordering::SeqCst);
            self.platform.cores().unpark(core);
        }
        ReceiveDecision::Take
    }

    /// Wakes every writer parked for an allow (a cluster died: each looks again).
    pub(super) fn wake_portal_writers(&self) {
        let woken = self.portals.lock().parked_writers();
        for core in woken {
            self.parked_receivers.fetch_sub(1, Ordering::SeqCst);
            self.platform.cores().unpark(core);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_bind_once_and_ids_name_one_kind_and_owner() {
        let mut table = PortalTable::default();
        assert_eq!(table.create(0, 4, PORTAL_PORTS), Err(Errno::Invalid));
        let inportal = table.create(0, 4, 2).unwrap();
        assert_eq!(table.create(1, 4, 2), Err(Errno::Busy));
        let outportal = table.open(0, 8, 2).unwrap();
        assert_eq!(table.destination(0, outportal), Ok((8, 2)));
        assert_eq!(table.destination(0, inportal), Err(Errno::BadDescriptor));
        assert_eq!(table.unlink(0, outportal), Err(Errno::BadDescriptor));
        assert_eq!(table.close(1, outportal), Err(Errno::BadDescriptor));
        table.close(0, outportal).unwrap();
        assert_eq!(table.close(0, outportal), Err(Errno::BadDescriptor));
    }

    #[test]
    fn one_allow_at_a_time_and_unlink_waits_for_it() {
        let mut table = PortalTable::default();
        let id = table.create(0, 4, 2).unwrap();
        assert_eq!(
            table.begin_read(0, id),
            Err(Errno::Invalid),
            "nothing allowed"
        );
        assert_eq!(table.allow(0, id, 9, 100), Ok(2));
        assert_eq!(table.allow(0, id, 9, 100), Err(Errno::Busy));
        assert_eq!(table.unlink(0, id), Err(Errno::Busy));
        let (_, _, allow) = table.begin_read(0, id).unwrap();
        assert_eq!(allow, Allow { node: 9, size: 100 });
        assert_eq!(table.begin_read(0, id), Err(Errno::Busy));
        table.end_read(0, id, false, None);
        assert!(
            table.begin_read(0, id).is_ok(),
            "a kept transfer keeps its allow"
        );
        table.end_read(0, id, true, Some((100, 7)));
        assert_eq!(
            table.counters(0, id),
            Ok(CommCounters {
                operations: 1,
                bytes: 100,
                wait_cycles: 7,
                queued: 0
            })
        );
        assert_eq!(table.unlink(0, id), Ok(()));
        assert_eq!(table.unlink(0, id), Err(Errno::BadDescriptor));
    }

    #[test]
    fn credits_bound_the_write_and_are_used_once() {
        let mut table = PortalTable::default();
        assert_eq!(table.take_credit(4, 2, 8, 10), Ok(false));
        let (kept, _) = table.credit(4, 2, 8, 10);
        assert!(kept);
        assert_eq!(
            table.take_credit(4, 2, 9, 10),
            Ok(false),
            "another sender's"
        );
        assert_eq!(table.take_credit(4, 2, 8, 11), Err(Errno::MessageSize));
        assert_eq!(table.take_credit(4, 2, 8, 10), Ok(true));
        assert_eq!(table.take_credit(4, 2, 8, 10), Ok(false), "used up");
    }
}
