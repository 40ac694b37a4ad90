//! Portals: bulk transfers over the data NoC that the receiver allows one at a
//! time, naming the sender's node and bounding the transfer's size.

use super::ids::{IdTable, Owned};
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
        started: Option<StartedRead>,
    },
    /// Opened: its owner writes to (node, port).
    Sender {
        owner: usize,
        node: u32,
        port: u32,
        counters: CommCounters,
        started: Option<(usize, usize)>,
    },
}

/// A read started by `portal_aread`: the transfer's state between passes.
#[derive(Clone, Copy, Debug)]
pub(super) struct StartedRead {
    pub header: usize,
    pub buffer: usize,
    pub capacity: usize,
    /// The allowed sender's cluster and the allow's size.
    pub allowed: (usize, usize),
    pub started: Option<(usize, MessageHeader)>,
    pub received: usize,
    pub outcome: Option<Result<usize, Errno>>,
    pub gone_rounds: u32,
    /// Whether a core is taking chunks for it now (one at a time).
    pub busy: bool,
    /// The core waiting for it in `portal_wait`, and whether it is parked.
    pub waiter: Option<(CoreId, bool)>,
    /// When it started (cycles).
    pub at: u64,
}

impl Owned for Entry {
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
    entries: IdTable<Entry>,
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
        self.entries.insert(entry, PORTALS_MAX)
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
            started: None,
        })
    }

    pub fn open(&mut self, owner: usize, node: u32, port: usize) -> Result<usize, Errno> {
        let port = port_of(port)?;
        self.insert(Entry::Sender {
            owner,
            node,
            port,
            counters: CommCounters::default(),
            started: None,
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
                ..
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

    /// Records the started read of `owner`'s portal `id` (whose read began).
    pub fn start_read(&mut self, owner: usize, id: usize, read: StartedRead) {
        if let Some(Some(Entry::Receiver {
            owner: holder,
            started,
            ..
        })) = self.entries.get_mut(id)
            && *holder == owner
        {
            *started = Some(read);
        }
    }

    /// Takes the started read of `owner`'s portal `id` for one pass: its state,
    /// marked busy; `None` when there is none, it ended, or another core has it.
    pub fn take_started_read(&mut self, owner: usize, id: usize) -> Option<StartedRead> {
        match self.entries.get_mut(id) {
            Some(Some(Entry::Receiver {
                owner: holder,
                started: Some(read),
                ..
            })) if *holder == owner && !read.busy && read.outcome.is_none() => {
                read.busy = true;
                Some(*read)
            }
            _ => None,
        }
    }

    /// Puts back the state of a pass; returns a parked waiter to wake when the
    /// read ended.
    pub fn put_started_read(
        &mut self,
        owner: usize,
        id: usize,
        read: StartedRead,
    ) -> Option<CoreId> {
        let Some(Some(Entry::Receiver {
            owner: holder,
            started: Some(stored),
            ..
        })) = self.entries.get_mut(id)
        else {
            return None;
        };
        if *holder != owner {
            return None;
        }
        let waiter = stored.waiter;
        *stored = StartedRead {
            busy: false,
            waiter,
            ..read
        };
        match (stored.outcome, &mut stored.waiter) {
            (Some(_), Some((core, parked))) if *parked => {
                *parked = false;
                Some(*core)
            }
            _ => None,
        }
    }

    /// Every started read that waits for chunks: (owner, id).
    pub fn started_reads(&self) -> Vec<(usize, usize)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(id, entry)| match entry {
                Some(Entry::Receiver {
                    owner,
                    started: Some(read),
                    ..
                }) if read.outcome.is_none() => Some((*owner, id)),
                _ => None,
            })
            .collect()
    }

    /// What was started on `owner`'s portal `id`: a read (its state, `Ok(Some)`
    /// when ended: then removed), or a write (`Err` with its buffer and length,
    /// removed).
    #[allow(clippy::type_complexity)]
    pub fn started(
        &mut self,
        owner: usize,
        id: usize,
    ) -> Result<Result<Option<StartedRead>, (usize, usize)>, Errno> {
        match self.entries.get_mut(id) {
            Some(Some(Entry::Receiver {
                owner: holder,
                started,
                ..
            })) if *holder == owner => match started {
                None => Err(Errno::Invalid),
                Some(read) if read.outcome.is_some() => Ok(Ok(started.take())),
                Some(_) => Ok(Ok(None)),
            },
            Some(Some(Entry::Sender {
                owner: holder,
                started,
                ..
            })) if *holder == owner => match started.take() {
                Some(write) => Ok(Err(write)),
                None => Err(Errno::Invalid),
            },
            _ => Err(Errno::BadDescriptor),
        }
    }

    /// Makes `core` the parked waiter of portal `id`'s started read, unless it
    /// ended or another thread waits; returns whether it parked.
    pub fn park_started_waiter(
        &mut self,
        owner: usize,
        id: usize,
        core: CoreId,
    ) -> Result<bool, Errno> {
        match self.entries.get_mut(id) {
            Some(Some(Entry::Receiver {
                owner: holder,
                started: Some(read),
                ..
            })) if *holder == owner => {
                if read.waiter.is_some_and(|(waiting, _)| waiting != core) {
                    return Err(Errno::Busy);
                }
                if read.outcome.is_some() {
                    return Ok(false);
                }
                read.waiter = Some((core, true));
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Clears the waiter of portal `id`'s started read; returns whether it was
    /// still parked (nobody woke it).
    pub fn unpark_started_waiter(&mut self, owner: usize, id: usize) -> bool {
        match self.entries.get_mut(id) {
            Some(Some(Entry::Receiver {
                owner: holder,
                started: Some(read),
                ..
            })) if *holder == owner => read.waiter.take().is_some_and(|(_, parked)| parked),
            _ => false,
        }
    }

    /// Records a started write of `owner`'s opened portal `id`.
    pub fn start_write(
        &mut self,
        owner: usize,
        id: usize,
        address: usize,
        length: usize,
    ) -> Result<(), Errno> {
        match self.entries.get_mut(id) {
            Some(Some(Entry::Sender {
                owner: holder,
                started,
                ..
            })) if *holder == owner => {
                if started.is_some() {
                    return Err(Errno::Busy);
                }
                *started = Some((address, length));
                Ok(())
            }
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

    /// The (node, port) of `owner`'s created portal `id`.
    pub fn receiver_place(&mut self, owner: usize, id: usize) -> Result<(u32, u32), Errno> {
        self.receiver(owner, id)
            .map(|(node, port, ..)| (node, port))
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

    /// Ends the read of portal `id` that ended with `outcome` after `wait_cycles`:
    /// a transfer that stays queued (too long for the buffer) or a read cut short
    /// by the program's end keeps the allow; any other outcome uses it up.
    pub fn finish_read(
        &mut self,
        owner: usize,
        id: usize,
        outcome: Result<usize, Errno>,
        wait_cycles: u64,
    ) {
        let used = !matches!(outcome, Err(Errno::MessageSize) | Err(super::ENDING));
        let moved = outcome.ok().map(|total| (total, wait_cycles));
        self.end_read(owner, id, used, moved);
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

    /// Returns how many started reads were still waiting (no longer).
    pub fn remove_owner(&mut self, owner: usize) -> usize {
        self.entries
            .remove_owner(owner)
            .iter()
            .filter(|entry| {
                matches!(entry, Entry::Receiver { started: Some(read), .. } if read.outcome.is_none())
            })
            .count()
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
        let space = self.receive_space(index, header_address, buffer, capacity)?;
        let (node, port, allowed) = self.begin_portal_read(index, id)?;
        let mut transfer = DataTransfer {
            node,
            id: PORTAL_TAG + port,
            allowed: Some(allowed),
            space: space.clone(),
            buffer,
            capacity,
            started: None,
            received: 0,
            outcome: None,
        };
        let started = self.platform.cores().cycles();
        let received = self.receive_transfer(core, &mut transfer);
        let waited = self.platform.cores().cycles().wrapping_sub(started);
        let outcome = received
            .as_ref()
            .map(|(_, total)| *total)
            .map_err(|errno| *errno);
        self.portals.lock().finish_read(index, id, outcome, waited);
        let (header, total) = received?;
        space.write_value(header_address, &header)?;
        Ok(total)
    }

    /// Begins the read of portal `id`'s pending allow: the portal's (node, port),
    /// and the allowed sender's cluster and the allow's size.
    fn begin_portal_read(
        &self,
        index: usize,
        id: usize,
    ) -> Result<(u32, u32, (usize, usize)), Errno> {
        let mut portals = self.portals.lock();
        let (node, port, allow) = portals.begin_read(index, id)?;
        match self.board.cluster_of_node(allow.node) {
            Some(cluster) => Ok((node, port, (cluster.index as usize, allow.size))),
            None => {
                portals.end_read(index, id, false, None);
                Err(Errno::Invalid)
            }
        }
    }

    /// Starts the read of portal `id`'s allowed transfer (`portal_aread`).
    pub(super) fn portal_aread(
        &self,
        index: usize,
        id: usize,
        header_address: usize,
        buffer: usize,
        capacity: usize,
    ) -> Result<usize, Errno> {
        self.receive_space(index, header_address, buffer, capacity)?;
        let (_, _, allowed) = self.begin_portal_read(index, id)?;
        let mut portals = self.portals.lock();
        portals.start_read(
            index,
            id,
            StartedRead {
                header: header_address,
                buffer,
                capacity,
                allowed,
                started: None,
                received: 0,
                outcome: None,
                gone_rounds: 0,
                busy: false,
                waiter: None,
                at: self.platform.cores().cycles(),
            },
        );
        drop(portals);
        // The master follows it while it waits: watch the NoC.
        self.started_reads.fetch_add(1, Ordering::SeqCst);
        self.platform.cores().unpark(0);
        Ok(0)
    }

    /// Starts a write to portal `id` (`portal_awrite`): it goes out in the wait.
    pub(super) fn portal_awrite(
        &self,
        index: usize,
        id: usize,
        address: usize,
        length: usize,
    ) -> Result<usize, Errno> {
        self.portals.lock().destination(index, id)?;
        if length > PORTAL_TRANSFER_MAX {
            return Err(Errno::MessageSize);
        }
        self.space(index).check(address, length, Access::Read)?;
        self.portals
            .lock()
            .start_write(index, id, address, length)?;
        Ok(0)
    }

    /// One pass over started read `id` of program `owner`: takes the chunks that
    /// are there. Returns whether the read ended.
    pub(super) fn progress_portal_read(&self, owner: usize, id: usize) -> bool {
        let (node, port, mut read) = {
            let mut portals = self.portals.lock();
            let Ok((node, port)) = portals.receiver_place(owner, id) else {
                return false;
            };
            let Some(read) = portals.take_started_read(owner, id) else {
                return false;
            };
            (node, port, read)
        };
        let mut transfer = DataTransfer {
            node,
            id: PORTAL_TAG + port,
            allowed: Some(read.allowed),
            space: self.space(owner),
            buffer: read.buffer,
            capacity: read.capacity,
            started: read.started,
            received: read.received,
            outcome: None,
        };
        self.transfer_round(&mut transfer, &mut read.gone_rounds);
        read.started = transfer.started;
        read.received = transfer.received;
        read.outcome = transfer.outcome;
        let ended = read.outcome.is_some();
        if ended {
            self.started_reads.fetch_sub(1, Ordering::SeqCst);
        }
        if let Some(core) = self.portals.lock().put_started_read(owner, id, read) {
            self.parked_receivers.fetch_sub(1, Ordering::SeqCst);
            self.platform.cores().unpark(core);
        }
        ended
    }

    /// The master's pass over every started portal read.
    pub(super) fn progress_portal_reads(&self) {
        let reads = self.portals.lock().started_reads();
        for (owner, id) in reads {
            self.progress_portal_read(owner, id);
        }
    }

    /// Waits until what was started on portal `id` ended (`portal_wait`).
    pub(super) fn portal_collect(
        &self,
        index: usize,
        core: CoreId,
        id: usize,
    ) -> Result<usize, Errno> {
        loop {
            let started = self.portals.lock().started(index, id)?;
            let read = match started {
                Err((address, length)) => {
                    // A started write: it goes out now.
                    return self.portal_write(index, core, id, address, length, 0);
                }
                Ok(Some(read)) => read,
                Ok(None) => {
                    // Still reading: follow it from here, then park until the
                    // master (following it too) says it ended.
                    self.pollers.fetch_add(1, Ordering::SeqCst);
                    for _ in 0..self.receive_spin_budget() {
                        if self.progress_portal_read(index, id) {
                            break;
                        }
                        core::hint::spin_loop();
                    }
                    self.stop_polling();
                    if self.portals.lock().park_started_waiter(index, id, core)? {
                        self.parked_receivers.fetch_add(1, Ordering::SeqCst);
                        self.platform.cores().unpark(0);
                        let woken = self.park_without_core(core);
                        if self.portals.lock().unpark_started_waiter(index, id) {
                            self.parked_receivers.fetch_sub(1, Ordering::SeqCst);
                        }
                        woken?;
                    }
                    continue;
                }
            };
            let outcome = read.outcome.unwrap_or(Err(Errno::InputOutput));
            let waited = self.platform.cores().cycles().wrapping_sub(read.at);
            self.portals.lock().finish_read(index, id, outcome, waited);
            let total = outcome?;
            let (_, mut header) = read.started.ok_or(Errno::InputOutput)?;
            header.length = total as u32;
            self.space(index).write_value(read.header, &header)?;
            return Ok(total);
        }
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
