//! The memory server program: serves [`MemoryProtocol`] on [`MEMORY_PORT`] of its
//! node, named shared memory segments kept in the board's DDR (its cluster must be
//! DDR-attached), callers' bytes on [`MEMORY_BULK_PORTS`]. Arguments:
//! `quotas=USER:BYTES,...` (the bytes of a user's segments at most) and
//! `ddr=OFFSET:BYTES` (the part of the DDR it keeps; default all). Prints
//! `memory-server: serving on node N port P` once it serves.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec;
use libnanvix::cluster::Clusters;
use libnanvix::mailbox::Inbox;
use libnanvix::{ddr, posix, println, process, signal};
use memory_server::FreeRuns;
use nanvix_memory_api::{
    MEMORY_BULK_PORTS, MEMORY_PORT, MemoryClient, MemoryError, MemoryProtocol, MemoryReply,
    MemoryRequest, SEGMENT_BYTES_MAX, SegmentStat, TRANSFER_MAX,
};
use nanvix_process_api::Identities;
use nanvix_rpc::transport::{Bulk, Handled, serve_bulk};

libnanvix::entry!(main);

/// The user who may do anything.
const SUPERUSER: u32 = 0;
/// Segments take the DDR in multiples of this.
const GRAIN: u64 = 64 << 10;
/// The longest segment name.
const NAME_MAX: usize = 64;

/// One segment.
struct Segment {
    owner: u32,
    mode: u16,
    size: u64,
    /// Where its bytes start in the DDR, and how many it has room for there.
    at: u64,
    capacity: u64,
}

/// The segments and the DDR they lie in.
struct Memory {
    segments: BTreeMap<String, Segment>,
    /// The DDR the server keeps that no segment holds.
    free: FreeRuns,
    quotas: BTreeMap<u32, u64>,
}

impl Memory {
    /// The bytes `user`'s segments hold.
    fn held_by(&self, user: u32) -> u64 {
        self.segments
            .values()
            .filter(|segment| segment.owner == user)
            .map(|segment| segment.size)
            .sum()
    }

    fn segment(&self, name: &str) -> Result<&Segment, MemoryError> {
        self.segments.get(name).ok_or(MemoryError::NotFound)
    }

    /// Segment `name`, if `user` has every bit of `wanted` (4 read, 2 write) on it.
    fn permitted(&self, name: &str, user: u32, wanted: u16) -> Result<&Segment, MemoryError> {
        let segment = self.segment(name)?;
        let bits = if user == segment.owner {
            segment.mode >> 6
        } else {
            segment.mode
        };
        if user == SUPERUSER || bits & wanted == wanted {
            Ok(segment)
        } else {
            Err(MemoryError::Denied)
        }
    }

    /// Sets segment `name`'s size (new bytes zero), moving it where it has room.
    fn resize(&mut self, name: &str, user: u32, size: u64) -> Result<(), MemoryError> {
        if size > SEGMENT_BYTES_MAX {
            return Err(MemoryError::TooLarge);
        }
        let segment = self.permitted(name, user, 2)?;
        let (owner, old_size, at, capacity) =
            (segment.owner, segment.size, segment.at, segment.capacity);
        if let Some(quota) = self.quotas.get(&owner)
            && size > old_size
            && self.held_by(owner) - old_size + size > *quota
        {
            return Err(MemoryError::OverQuota);
        }
        // Grown past its room: a new run, the bytes moved there, the old one freed.
        let (new_at, new_capacity) = if size <= capacity {
            (at, capacity)
        } else {
            let grown = size.div_ceil(GRAIN) * GRAIN;
            let moved = self.free.allocate(grown).ok_or(MemoryError::NoSpace)?;
            copy(at, moved, old_size);
            self.free.release(at, capacity);
            (moved, grown)
        };
        if size > old_size {
            zero(new_at + old_size, size - old_size);
        }
        if let Some(segment) = self.segments.get_mut(name) {
            segment.size = size;
            segment.at = new_at;
            segment.capacity = new_capacity;
        }
        Ok(())
    }
}

/// Copies `bytes` bytes of the DDR from `from` to `to` (runs that do not overlap).
fn copy(from: u64, to: u64, bytes: u64) {
    let mut buffer = vec![0u8; (bytes as usize).min(TRANSFER_MAX)];
    let mut done = 0;
    while done < bytes {
        let piece = ((bytes - done) as usize).min(buffer.len());
        let _ = ddr::read(from + done, &mut buffer[..piece]);
        let _ = ddr::write(to + done, &buffer[..piece]);
        done += piece as u64;
    }
}

/// Zeroes `bytes` bytes of the DDR from `at`.
fn zero(at: u64, bytes: u64) {
    let zeros = vec![0u8; (bytes as usize).min(TRANSFER_MAX)];
    let mut done = 0;
    while done < bytes {
        let piece = ((bytes - done) as usize).min(zeros.len());
        let _ = ddr::write(at + done, &zeros[..piece]);
        done += piece as u64;
    }
}

/// Whether `name` is a segment name: `/` and 1 to 63 more bytes, no other `/`.
fn valid_name(name: &str) -> bool {
    name.len() >= 2 && name.len() <= NAME_MAX && name.starts_with('/') && !name[1..].contains('/')
}

fn done<T>(_: T) -> Handled<MemoryReply> {
    Handled::Reply(MemoryReply::Done)
}

impl Memory {
    fn serve(&mut self, user: u32, request: MemoryRequest, bulk: Bulk) -> Handled<MemoryReply> {
        let result = match request {
            MemoryRequest::Create { name, mode } => {
                if !valid_name(&name) {
                    Err(MemoryError::Invalid)
                } else {
                    match self.segments.entry(name) {
                        alloc::collections::btree_map::Entry::Occupied(_) => {
                            Err(MemoryError::Exists)
                        }
                        alloc::collections::btree_map::Entry::Vacant(place) => {
                            place.insert(Segment {
                                owner: user,
                                mode: mode & 0o777,
                                size: 0,
                                at: 0,
                                capacity: 0,
                            });
                            Ok(done(()))
                        }
                    }
                }
            }
            MemoryRequest::Open { name, write } => self
                .permitted(&name, user, if write { 6 } else { 4 })
                .map(|segment| {
                    Handled::Reply(MemoryReply::Segment(SegmentStat {
                        size: segment.size,
                        owner: segment.owner,
                        mode: segment.mode,
                    }))
                }),
            MemoryRequest::Resize { name, size } => self.resize(&name, user, size).map(done),
            MemoryRequest::Read {
                name,
                offset,
                length,
            } => {
                let accepts = match bulk {
                    Bulk::Accepts(capacity) => capacity,
                    _ => 0,
                };
                self.permitted(&name, user, 4).map(|segment| {
                    let count = (length as usize)
                        .min(accepts)
                        .min(TRANSFER_MAX)
                        .min(segment.size.saturating_sub(offset) as usize);
                    let mut bytes = vec![0u8; count];
                    let _ = ddr::read(segment.at + offset, &mut bytes);
                    Handled::ReplyWith(
                        MemoryReply::Read {
                            count: count as u32,
                        },
                        bytes,
                    )
                })
            }
            MemoryRequest::Write { name, offset } => match bulk {
                Bulk::Received(bytes) => self.permitted(&name, user, 2).and_then(|segment| {
                    match offset.checked_add(bytes.len() as u64) {
                        Some(end) if end <= segment.size => {
                            let _ = ddr::write(segment.at + offset, &bytes);
                            Ok(Handled::Reply(MemoryReply::Written {
                                count: bytes.len() as u32,
                            }))
                        }
                        _ => Err(MemoryError::Invalid),
                    }
                }),
                _ => Err(MemoryError::Invalid),
            },
            MemoryRequest::Unlink { name } => {
                let owner = self.segment(&name).map(|segment| segment.owner);
                match owner {
                    Ok(owner) if user == SUPERUSER || user == owner => {
                        if let Some(segment) = self.segments.remove(&name) {
                            self.free.release(segment.at, segment.capacity);
                        }
                        Ok(done(()))
                    }
                    Ok(_) => Err(MemoryError::Denied),
                    Err(error) => Err(error),
                }
            }
            MemoryRequest::Stop => Ok(Handled::Stop),
        };
        result.unwrap_or_else(|error| Handled::Reply(MemoryReply::Refused(error)))
    }
}

/// Reads `quotas=USER:BYTES,...`.
fn parse_quotas(text: &str) -> Result<BTreeMap<u32, u64>, String> {
    let mut quotas = BTreeMap::new();
    for entry in text.split(',').filter(|entry| !entry.is_empty()) {
        let (user, bytes) = entry
            .split_once(':')
            .and_then(|(user, bytes)| Some((user.parse().ok()?, bytes.parse().ok()?)))
            .ok_or_else(|| alloc::format!("`{entry}`: expected USER:BYTES"))?;
        quotas.insert(user, bytes);
    }
    Ok(quotas)
}

fn main() -> i32 {
    let Ok(size) = ddr::size() else {
        println!("memory-server: this cluster is not attached to DDR");
        return 1;
    };
    let region = match process::argument("ddr").map(|text| {
        text.split_once(':')
            .and_then(|(at, bytes)| Some((at.parse::<u64>().ok()?, bytes.parse::<u64>().ok()?)))
    }) {
        None => (0, size),
        Some(Some((at, bytes))) if at.checked_add(bytes).is_some_and(|end| end <= size) => {
            (at, bytes)
        }
        Some(_) => {
            println!("memory-server: ddr=OFFSET:BYTES inside the DDR's {size} bytes");
            return 2;
        }
    };
    let quotas = match parse_quotas(process::argument("quotas").unwrap_or("")) {
        Ok(quotas) => quotas,
        Err(problem) => {
            println!("memory-server: quotas={problem}");
            return 2;
        }
    };
    let inbox = match Inbox::create(MEMORY_PORT) {
        Ok(inbox) => inbox,
        Err(errno) => {
            println!("memory-server: cannot create port {MEMORY_PORT}: {errno}");
            return 1;
        }
    };
    let stop_self = |_| {
        if let Ok(mut own) = MemoryClient::connect(process::node()) {
            let _ = own.stop();
        }
    };
    if let Err(errno) = signal::follow_supervisor(stop_self) {
        println!("memory-server: cannot follow its supervisor: {errno}");
    }
    let start = region.0.div_ceil(GRAIN) * GRAIN;
    let end = (region.0 + region.1) / GRAIN * GRAIN;
    let mut memory = Memory {
        segments: BTreeMap::new(),
        free: FreeRuns::new(start, end.saturating_sub(start)),
        quotas,
    };
    let board = Clusters::read();
    let own_cluster = board.of_node(process::node());
    let mut identities = Identities::new(posix::process_server_node());
    println!(
        "memory-server: serving on node {} port {MEMORY_PORT}",
        process::node()
    );
    let served =
        serve_bulk::<MemoryProtocol>(&inbox, MEMORY_BULK_PORTS, |header, _, request, bulk, _| {
            if request == MemoryRequest::Stop && board.of_node(header.source_node) != own_cluster {
                return Handled::Reply(MemoryReply::Refused(MemoryError::Denied));
            }
            match identities.user_of(header) {
                Some(user) => memory.serve(user, request, bulk),
                None => Handled::Reply(MemoryReply::Refused(MemoryError::Denied)),
            }
        });
    match served {
        Ok(counters) => {
            println!("memory-server: stopped: {counters:?}");
            0
        }
        Err(errno) => {
            println!("memory-server: reading port {MEMORY_PORT}: {errno}");
            1
        }
    }
}
