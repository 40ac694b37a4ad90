//! Portals: bulk transfers over the data NoC that the receiver allows one at a
//! time, naming the sender's node and bounding the transfer's size.

use super::ids::{IdTable, Owned};
use super::{Abort, Claim, DataTransfer, Kernel};
use crate::paging::Access;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};
use nanvix_abi::{
    CommCounters, Errno, MessageHeader, PORTAL_ALLOW_TAG, PORTAL_NONBLOCK, PORTAL_PORTS,
    PORTAL_TAG, PORTAL_TRANSFER_MAX, PORTAL_WAIT_POLL, PORTALS_MAX,
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
        started: Option<StartedWrite>,
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

/// A write started by `portal_awrite`: the transfer's state between passes. Its
/// chunks go out as soon as the receiver's allow is here and the data NoC has room,
/// from the master's passes or the waiting thread's, while the program goes on.
#[derive(Clone, Copy, Debug)]
pub(super) struct StartedWrite {
    pub address: usize,
    pub length: usize,
    /// Whether the receiver's allow was taken (then the chunks may go).
    pub allowed: bool,
    /// Bytes sent so far.
    pub sent: usize,
    pub outcome: Option<Result<usize, Errno>>,
    /// Whether a core is sending for it now (one at a time).
    pub busy: bool,
    /// The core waiting for it in `portal_wait`, and whether it is parked.
    pub waiter: Option<(CoreId, bool)>,
    /// When it started (cycles).
    pub at: u64,
}

/// What `portal_wait` finds on a portal: a started read or write, `Some` (and
/// removed) once it ended.
pub(super) enum Started {
    Read(Option<StartedRead>),
    Write(Option<StartedWrite>),
}

/// A started write taken for one pass, or why it was not.
pub(super) enum TakenWrite {
    /// Its state (marked busy) and where it goes: (node, port).
    Taken(StartedWrite, u32, u32),
    /// Another core has it, or it ended and waits for `portal_wait`.
    Elsewhere,
    /// The portal or its started write is gone.
    Gone,
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

/// The parked waiter to wake now that a started transfer `ended` (marked awake).
fn wake_if_ended(ended: bool, waiter: &mut Option<(CoreId, bool)>) -> Option<CoreId> {
    match waiter {
        Some((core, parked)) if ended && *parked => {
            *parked = false;
            Some(*core)
        }
        _ => None,
    }
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
        match self.entries.owned(owner, id)? {
            Entry::Sender { node, port, .. } => Ok((*node, *port)),
            Entry::Receiver { .. } => Err(Errno::BadDescriptor),
        }
    }

    #[allow(clippy::type_complexity)]
    fn receiver(
        &mut self,
        owner: usize,
        id: usize,
    ) -> Result<(u32, u32, &mut Option<Allow>, &mut bool, &mut CommCounters), Errno> {
        match self.entries.owned_mut(owner, id)? {
            Entry::Receiver {
                node,
                port,
                allow,
                reading,
                counters,
                ..
            } => Ok((*node, *port, allow, reading, counters)),
            Entry::Sender { .. } => Err(Errno::BadDescriptor),
        }
    }

    /// The counters of `owner`'s portal `id` (either end).
    pub fn counters(&self, owner: usize, id: usize) -> Result<CommCounters, Errno> {
        match self.entries.owned(owner, id)? {
            Entry::Receiver { counters, .. } | Entry::Sender { counters, .. } => Ok(*counters),
        }
    }

    /// The started read of `owner`'s created portal `id`, if any.
    fn started_read(&mut self, owner: usize, id: usize) -> Option<&mut StartedRead> {
        match self.entries.owned_mut(owner, id) {
            Ok(Entry::Receiver {
                started: Some(read),
                ..
            }) => Some(read),
            _ => None,
        }
    }

    /// The started write of `owner`'s opened portal `id`, if any.
    fn started_write(&mut self, owner: usize, id: usize) -> Option<&mut StartedWrite> {
        match self.entries.owned_mut(owner, id) {
            Ok(Entry::Sender {
                started: Some(write),
                ..
            }) => Some(write),
            _ => None,
        }
    }

    /// Records the started read of `owner`'s portal `id` (whose read began).
    pub fn start_read(&mut self, owner: usize, id: usize, read: StartedRead) {
        if let Ok(Entry::Receiver { started, .. }) = self.entries.owned_mut(owner, id) {
            *started = Some(read);
        }
    }

    /// Takes the started read of `owner`'s portal `id` for one pass: its state,
    /// marked busy; `None` when there is none, it ended, or another core has it.
    pub fn take_started_read(&mut self, owner: usize, id: usize) -> Option<StartedRead> {
        let read = self
            .started_read(owner, id)
            .filter(|read| !read.busy && read.outcome.is_none())?;
        read.busy = true;
        Some(*read)
    }

    /// Puts back the state of a pass: `None` when the read is gone (its owner's
    /// end counted it), else a parked waiter to wake if it ended.
    pub fn put_started_read(
        &mut self,
        owner: usize,
        id: usize,
        read: StartedRead,
    ) -> Option<Option<CoreId>> {
        let stored = self.started_read(owner, id)?;
        *stored = StartedRead {
            busy: false,
            waiter: stored.waiter,
            ..read
        };
        Some(wake_if_ended(stored.outcome.is_some(), &mut stored.waiter))
    }

    /// Every started read that waits for chunks: (owner, id).
    pub fn started_reads(&self) -> Vec<(usize, usize)> {
        self.pending(|entry| {
            matches!(entry, Entry::Receiver { started: Some(read), .. } if read.outcome.is_none())
        })
    }

    /// Every started write still going: (owner, id).
    pub fn started_writes(&self) -> Vec<(usize, usize)> {
        self.pending(|entry| {
            matches!(entry, Entry::Sender { started: Some(write), .. } if write.outcome.is_none())
        })
    }

    /// (owner, id) of every entry `pending` says yes to.
    fn pending(&self, pending: impl Fn(&Entry) -> bool) -> Vec<(usize, usize)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(id, entry)| match entry {
                Some(entry) if pending(entry) => Some((entry.owner(), id)),
                _ => None,
            })
            .collect()
    }

    /// What was started on `owner`'s portal `id`, removed once it ended; `EINVAL`
    /// when nothing was.
    pub fn started(&mut self, owner: usize, id: usize) -> Result<Started, Errno> {
        match self.entries.owned_mut(owner, id)? {
            Entry::Receiver { started: None, .. } | Entry::Sender { started: None, .. } => {
                Err(Errno::Invalid)
            }
            Entry::Receiver { started, .. } => Ok(Started::Read(
                started.take_if(|read| read.outcome.is_some()),
            )),
            Entry::Sender { started, .. } => Ok(Started::Write(
                started.take_if(|write| write.outcome.is_some()),
            )),
        }
    }

    /// The waiter slot of portal `id`'s started transfer, and whether it ended.
    fn waiter_of(
        &mut self,
        owner: usize,
        id: usize,
    ) -> Option<(bool, &mut Option<(CoreId, bool)>)> {
        match self.entries.owned_mut(owner, id).ok()? {
            Entry::Receiver {
                started: Some(read),
                ..
            } => Some((read.outcome.is_some(), &mut read.waiter)),
            Entry::Sender {
                started: Some(write),
                ..
            } => Some((write.outcome.is_some(), &mut write.waiter)),
            _ => None,
        }
    }

    /// Makes `core` the parked waiter of portal `id`'s started transfer, unless it
    /// ended or another thread waits; returns whether it parked.
    pub fn park_started_waiter(
        &mut self,
        owner: usize,
        id: usize,
        core: CoreId,
    ) -> Result<bool, Errno> {
        let Some((ended, waiter)) = self.waiter_of(owner, id) else {
            return Ok(false);
        };
        if waiter.is_some_and(|(waiting, _)| waiting != core) {
            return Err(Errno::Busy);
        }
        if ended {
            return Ok(false);
        }
        *waiter = Some((core, true));
        Ok(true)
    }

    /// Clears the waiter of portal `id`'s started transfer; returns whether it was
    /// still parked (nobody woke it).
    pub fn unpark_started_waiter(&mut self, owner: usize, id: usize) -> bool {
        self.waiter_of(owner, id)
            .and_then(|(_, waiter)| waiter.take())
            .is_some_and(|(_, parked)| parked)
    }

    /// Records a write of `length` bytes at `address` started at `at` on `owner`'s
    /// opened portal `id`; `EBUSY` while one is started there.
    pub fn start_write(
        &mut self,
        owner: usize,
        id: usize,
        (address, length): (usize, usize),
        at: u64,
    ) -> Result<(), Errno> {
        match self.entries.owned_mut(owner, id)? {
            Entry::Sender { started, .. } => {
                if started.is_some() {
                    return Err(Errno::Busy);
                }
                *started = Some(StartedWrite {
                    address,
                    length,
                    allowed: false,
                    sent: 0,
                    outcome: None,
                    busy: false,
                    waiter: None,
                    at,
                });
                Ok(())
            }
            Entry::Receiver { .. } => Err(Errno::BadDescriptor),
        }
    }

    /// The started writes of `owner` still going that no core is sending for now:
    /// (id, node, port, bytes sent, length).
    pub fn idle_writes(&self, owner: usize) -> Vec<(usize, u32, u32, usize, usize)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(id, entry)| match entry {
                Some(Entry::Sender {
                    owner: holder,
                    node,
                    port,
                    started: Some(write),
                    ..
                }) if *holder == owner && !write.busy && write.outcome.is_none() => {
                    Some((id, *node, *port, write.sent, write.length))
                }
                _ => None,
            })
            .collect()
    }

    /// Whether a started write got its allow and waits for room.
    pub fn writes_waiting_for_room(&self) -> bool {
        self.entries.iter().flatten().any(|entry| {
            matches!(entry, Entry::Sender { started: Some(write), .. } if write.allowed && write.outcome.is_none())
        })
    }

    /// Takes the started write of `owner`'s portal `id` for one pass.
    pub fn take_started_write(&mut self, owner: usize, id: usize) -> TakenWrite {
        let Ok(Entry::Sender {
            node,
            port,
            started: Some(write),
            ..
        }) = self.entries.owned_mut(owner, id)
        else {
            return TakenWrite::Gone;
        };
        if write.busy || write.outcome.is_some() {
            return TakenWrite::Elsewhere;
        }
        write.busy = true;
        TakenWrite::Taken(*write, *node, *port)
    }

    /// Puts back the state of a pass: `None` when the write is gone (its owner's
    /// end counted it), else a parked waiter to wake if it ended.
    pub fn put_started_write(
        &mut self,
        owner: usize,
        id: usize,
        write: StartedWrite,
    ) -> Option<Option<CoreId>> {
        let stored = self.started_write(owner, id)?;
        *stored = StartedWrite {
            busy: false,
            waiter: stored.waiter,
            ..write
        };
        Some(wake_if_ended(stored.outcome.is_some(), &mut stored.waiter))
    }

    /// Counts a write of `bytes` to opened portal `id` that waited `wait_cycles`.
    pub fn count_write(&mut self, owner: usize, id: usize, bytes: usize, wait_cycles: u64) {
        if let Ok(Entry::Sender { counters, .. }) = self.entries.owned_mut(owner, id) {
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

    /// Closes `owner`'s opened portal `id`; `EBUSY` while a started write on it is
    /// still going (its receiver would get part of a transfer).
    pub fn close(&mut self, owner: usize, id: usize) -> Result<(), Errno> {
        self.destination(owner, id)?;
        if self
            .started_write(owner, id)
            .is_some_and(|write| write.outcome.is_none())
        {
            return Err(Errno::Busy);
        }
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

    /// Removes every portal of `owner`; returns how many started reads and
    /// started writes were still going (no longer).
    pub fn remove_owner(&mut self, owner: usize) -> (usize, usize) {
        let removed = self.entries.remove_owner(owner);
        let going = |kind: fn(&Entry) -> bool| removed.iter().filter(|entry| kind(entry)).count();
        (
            going(
                |entry| matches!(entry, Entry::Receiver { started: Some(read), .. } if read.outcome.is_none()),
            ),
            going(
                |entry| matches!(entry, Entry::Sender { started: Some(write), .. } if write.outcome.is_none()),
            ),
        )
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
        let payload = super::two_words(port, size as u32);
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
            for _ in 0..self.receive_spin_budget(core) {
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
        let (space, header_range, _) =
            self.receive_space(index, header_address, buffer, capacity)?;
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
        space.write_value_into(&header_range, &header)?;
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

    /// Starts a write to portal `id` (`portal_awrite`): its chunks go out from
    /// here, then from the master's passes (or the waiting thread's) as the allow
    /// and room come, while the program goes on.
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
        let at = self.platform.cores().cycles();
        self.portals
            .lock()
            .start_write(index, id, (address, length), at)?;
        self.started_writes.fetch_add(1, Ordering::SeqCst);
        self.progress_portal_write(index, id);
        // The master follows it from now on.
        self.platform.cores().unpark(0);
        Ok(0)
    }

    /// One pass over started write `id` of program `owner`, if the data channel
    /// to its receiver is free now. Returns whether the write ended.
    pub(super) fn progress_portal_write(&self, owner: usize, id: usize) -> bool {
        let Ok((node, _)) = self.portals.lock().destination(owner, id) else {
            return false;
        };
        let Some(destination) = self.board.cluster_of_node(node) else {
            return false;
        };
        let destination = destination.index as usize;
        let Some(_transfer) = self.data_send_locks[destination].try_lock() else {
            return false;
        };
        self.write_pass_locked(owner, id, destination)
    }

    /// The master's pass over every started write; returns whether one still
    /// waits for room (its allow came): nobody rings the master for that.
    pub(super) fn progress_portal_writes(&self) -> bool {
        let writes = self.portals.lock().started_writes();
        for (owner, id) in writes {
            self.progress_portal_write(owner, id);
        }
        self.portals.lock().writes_waiting_for_room()
    }

    /// One pass over started write `id` of program `owner`, whose receiver is on
    /// cluster `destination`, with that channel's send lock held: takes the allow
    /// once it is here, claims the channel, and sends what the ring has room for.
    /// Returns whether the write ended (or is gone), so it holds the channel no more.
    pub(super) fn write_pass_locked(&self, owner: usize, id: usize, destination: usize) -> bool {
        let (mut write, node, port) = match self.portals.lock().take_started_write(owner, id) {
            TakenWrite::Taken(write, node, port) => (write, node, port),
            TakenWrite::Elsewhere => return false,
            TakenWrite::Gone => {
                self.release_claim(destination, Claim::Write(owner, id));
                return true;
            }
        };
        let before = (write.allowed, write.sent);
        write.outcome = self.write_round(owner, id, (node, port, destination), &mut write);
        if (write.allowed, write.sent) != before || write.outcome.is_some() {
            self.write_progress.fetch_add(1, Ordering::Relaxed);
        }
        let ended = write.outcome.is_some();
        let put = self.portals.lock().put_started_write(owner, id, write);
        // A write that failed, or whose program ended meanwhile (its portal is
        // gone), after part of it went out owes its receiver an abort marker.
        if put.is_none() || matches!(write.outcome, Some(Err(_))) {
            let abort = Abort::of(
                self.source_of(owner),
                (node, PORTAL_TAG + port),
                write.sent,
                write.length,
            );
            self.end_claim(destination, Claim::Write(owner, id), abort);
        } else if ended {
            self.release_claim(destination, Claim::Write(owner, id));
        }
        self.ended_pass(&self.started_writes, ended, put);
        ended || put.is_none()
    }

    /// Moves `write` on: its outcome once it ended, `None` while it waits for the
    /// allow, for the channel (another started write holds it) or for room.
    fn write_round(
        &self,
        owner: usize,
        id: usize,
        (node, port, destination): (u32, u32, usize),
        write: &mut StartedWrite,
    ) -> Option<Result<usize, Errno>> {
        if self.ending_status(owner).is_some() {
            return Some(Err(super::ENDING));
        }
        let sender = self.info(owner).node;
        if !write.allowed {
            match self
                .portals
                .lock()
                .take_credit(node, port, sender, write.length)
            {
                Ok(true) => write.allowed = true,
                Ok(false) => {
                    let dead = matches!(
                        self.platform.board().cluster_state(destination),
                        ClusterState::Dead { .. }
                    );
                    return dead.then_some(Err(Errno::HostDown));
                }
                Err(errno) => return Some(Err(errno)),
            }
        }
        {
            let mut claims = self.data_claims.lock();
            match claims[destination] {
                Some(claim) if claim != Claim::Write(owner, id) => return None,
                _ => claims[destination] = Some(Claim::Write(owner, id)),
            }
        }
        let sent = self.data_send_chunks(
            self.source_of(owner),
            &self.space(owner),
            (node, PORTAL_TAG + port),
            (write.address, write.length),
            &mut write.sent,
        );
        match sent {
            Ok(true) => Some(Ok(write.length)),
            Ok(false) => None,
            Err(errno) => Some(Err(errno)),
        }
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
        let put = self.portals.lock().put_started_read(owner, id, read);
        self.ended_pass(&self.started_reads, ended, put);
        ended
    }

    /// After a pass put back (`put`) a started transfer that `ended` or not:
    /// counts it out of `going` and wakes its parked waiter. A transfer whose
    /// portal went meanwhile was counted out by its owner's end.
    fn ended_pass(&self, going: &AtomicUsize, ended: bool, put: Option<Option<CoreId>>) {
        let Some(waiter) = put else {
            return;
        };
        if ended {
            going.fetch_sub(1, Ordering::SeqCst);
        }
        if let Some(core) = waiter {
            self.parked_receivers.fetch_sub(1, Ordering::SeqCst);
            self.platform.cores().unpark(core);
        }
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
        flags: usize,
    ) -> Result<usize, Errno> {
        if flags & !PORTAL_WAIT_POLL != 0 {
            return Err(Errno::Invalid);
        }
        let poll = flags & PORTAL_WAIT_POLL != 0;
        // A poll moves the transfer on once, then says whether it ended.
        let mut moved = false;
        loop {
            let started = self.portals.lock().started(index, id)?;
            let read = match started {
                Started::Read(Some(read)) => read,
                Started::Write(Some(write)) => {
                    let outcome = write.outcome.unwrap_or(Err(Errno::InputOutput));
                    if let Ok(bytes) = outcome {
                        let waited = self.platform.cores().cycles().wrapping_sub(write.at);
                        self.portals.lock().count_write(index, id, bytes, waited);
                    }
                    return outcome;
                }
                Started::Read(None) if poll => {
                    if core::mem::replace(&mut moved, true) {
                        return Err(Errno::Again);
                    }
                    self.route(None);
                    self.progress_portal_read(index, id);
                    continue;
                }
                Started::Write(None) if poll => {
                    if core::mem::replace(&mut moved, true) {
                        return Err(Errno::Again);
                    }
                    self.progress_portal_write(index, id);
                    continue;
                }
                Started::Read(None) => {
                    self.follow_started(index, core, id, Self::progress_portal_read)?;
                    continue;
                }
                Started::Write(None) => {
                    self.follow_started(index, core, id, Self::progress_portal_write)?;
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

    /// Follows the started transfer on portal `id` from this core with `pass` for
    /// a while, then parks until the master (following it too) says it ended.
    fn follow_started(
        &self,
        index: usize,
        core: CoreId,
        id: usize,
        pass: fn(&Self, usize, usize) -> bool,
    ) -> Result<(), Errno> {
        self.pollers.fetch_add(1, Ordering::SeqCst);
        for _ in 0..self.receive_spin_budget(core) {
            if pass(self, index, id) {
                break;
            }
            core::hint::spin_loop();
        }
        self.stop_polling();
        if self.portals.lock().park_started_waiter(index, id, core)? {
            self.park_receiver(core, || {
                self.portals.lock().unpark_started_waiter(index, id)
            })?;
        }
        Ok(())
    }

    /// Routes an allow that arrived for `node` (one of ours: the sender's).
    pub(super) fn route_portal_allow(
        &self,
        node: u32,
        header: &MessageHeader,
        payload: &[u8],
    ) -> ReceiveDecision {
        let Some((port, size)) = super::read_two_words(payload) else {
            self.undeliverable.fetch_add(1, Ordering::Relaxed);
            return ReceiveDecision::Take;
        };
        let size = size as usize;
        if port as usize >= PORTAL_PORTS || size > PORTAL_TRANSFER_MAX {
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
