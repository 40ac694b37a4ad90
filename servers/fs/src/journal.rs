//! A checksummed redo journal: a transaction's metadata writes go to the journal
//! first, and to their places only once the journal holds them durably, so after a
//! crash at any point each transaction is on the disk whole or not at all, and
//! every one whose [`Journal::commit`] returned is there. A transaction's file
//! bytes go in place (ordered): flushed before the record that links their blocks.
//!
//! Layout: block 0 is the superblock; blocks `1..=journal_blocks` the journal;
//! the rest the data area the layers above own. A record in the journal is a
//! descriptor block (its number in sequence, its target blocks, a CRC-32 of its
//! data), its data blocks, and a commit block repeating the sequence number and the
//! data's CRC: a crash that tore any of them leaves a record that does not check,
//! and replay stops there. The superblock names the sequence number the journal's
//! first record must carry; a checkpoint (every write in place flushed) moves it on
//! and starts the journal again from its first block.
//!
//! [`Journal::commit`] is durable when it returns. A commit can also wait
//! ([`Journal::commit_unsynced`]): its file bytes go in place unflushed and its
//! journaled writes join the running record in memory (read from there) until
//! [`Journal::sync`] flushes the file bytes, writes the running record and flushes
//! it, and only then writes its blocks in place. A crash loses the commits since
//! the last sync, whole, never a commit before one it keeps; of their file bytes,
//! those over blocks a file already had may stay. A block freed by a waiting commit
//! is not reused before the sync ([`Journal::may_reuse`]), and file bytes for a
//! block a record since the last checkpoint writes are journaled (a replay would
//! otherwise put the record's older bytes over them).

use crate::device::{BLOCK_SIZE, Block, BlockDevice, DeviceError};
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

/// The superblock's first bytes.
pub const SUPERBLOCK_MAGIC: [u8; 8] = *b"NVXFS\0\0\x01";
/// The on-disk format's version.
pub const FORMAT_VERSION: u32 = 1;
/// A descriptor block's first bytes.
const DESCRIPTOR_MAGIC: [u8; 8] = *b"NVXJDESC";
/// A commit block's first bytes.
const COMMIT_MAGIC: [u8; 8] = *b"NVXJCMIT";
/// The most blocks one transaction writes: the targets one descriptor block holds.
pub const TRANSACTION_BLOCKS_MAX: usize = (BLOCK_SIZE - DESCRIPTOR_HEADER - 4) / 8;
/// The fewest journal blocks: one transaction of one block.
pub const JOURNAL_BLOCKS_MIN: u64 = 3;
/// A descriptor's bytes before its targets: magic, sequence, count, data CRC.
const DESCRIPTOR_HEADER: usize = 8 + 8 + 4 + 4;
/// The superblock's checked bytes (its CRC follows).
const SUPERBLOCK_BYTES: usize = 48;
/// The most blocks a sync writes in place in one device write.
const RUN_BLOCKS_MAX: usize = 32;
/// The most blocks the running record gathers from several commits before a sync
/// writes it (a larger single commit is a record of its own).
const RUNNING_BLOCKS_MAX: usize = 64;

/// Why the journal refused or failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JournalError {
    /// The device failed.
    Device(DeviceError),
    /// Block 0 is not a superblock of this format.
    NotFormatted,
    /// A superblock of another version of the format.
    UnsupportedVersion(u32),
    /// The superblock or a checksummed record contradicts itself or the device.
    Corrupt(&'static str),
    /// The device is too small for the journal asked for, or the journal for one
    /// block.
    TooSmall,
    /// A transaction larger than one descriptor or the journal holds.
    TooLarge,
    /// A write outside the data area.
    OutOfRange(u64),
    /// No memory for the blocks to write at once.
    OutOfMemory,
}

impl From<DeviceError> for JournalError {
    fn from(error: DeviceError) -> JournalError {
        JournalError::Device(error)
    }
}

impl core::fmt::Display for JournalError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            JournalError::Device(error) => write!(formatter, "device: {error}"),
            JournalError::NotFormatted => formatter.write_str("not a nanvix disk (bad magic)"),
            JournalError::UnsupportedVersion(version) => {
                write!(formatter, "format version {version} is not supported")
            }
            JournalError::Corrupt(what) => write!(formatter, "corrupt: {what}"),
            JournalError::TooSmall => formatter.write_str("device too small"),
            JournalError::TooLarge => formatter.write_str("transaction too large"),
            JournalError::OutOfRange(block) => {
                write!(formatter, "block {block} is outside the data area")
            }
            JournalError::OutOfMemory => formatter.write_str("no memory for the blocks to write"),
        }
    }
}

/// The superblock's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Superblock {
    block_count: u64,
    journal_blocks: u64,
    /// The sequence number the journal's first record must carry.
    sequence: u64,
}

impl Superblock {
    fn encode(&self) -> Block {
        let mut block = [0; BLOCK_SIZE];
        block[0..8].copy_from_slice(&SUPERBLOCK_MAGIC);
        block[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        block[12..16].copy_from_slice(&(BLOCK_SIZE as u32).to_le_bytes());
        block[16..24].copy_from_slice(&self.block_count.to_le_bytes());
        block[24..32].copy_from_slice(&1u64.to_le_bytes());
        block[32..40].copy_from_slice(&self.journal_blocks.to_le_bytes());
        block[40..48].copy_from_slice(&self.sequence.to_le_bytes());
        let crc = crc32fast::hash(&block[..SUPERBLOCK_BYTES]);
        block[48..52].copy_from_slice(&crc.to_le_bytes());
        block
    }

    /// The superblock in `block`, checked against itself and a device of
    /// `device_blocks` blocks.
    fn decode(block: &Block, device_blocks: u64) -> Result<Superblock, JournalError> {
        if block[0..8] != SUPERBLOCK_MAGIC {
            return Err(JournalError::NotFormatted);
        }
        let crc = u32_at(block, 48);
        if crc32fast::hash(&block[..SUPERBLOCK_BYTES]) != crc {
            return Err(JournalError::Corrupt("superblock checksum"));
        }
        let version = u32_at(block, 8);
        if version != FORMAT_VERSION {
            return Err(JournalError::UnsupportedVersion(version));
        }
        if u32_at(block, 12) as usize != BLOCK_SIZE {
            return Err(JournalError::Corrupt("block size"));
        }
        let superblock = Superblock {
            block_count: u64_at(block, 16),
            journal_blocks: u64_at(block, 32),
            sequence: u64_at(block, 40),
        };
        if u64_at(block, 24) != 1 {
            return Err(JournalError::Corrupt("journal start"));
        }
        if superblock.block_count > device_blocks {
            return Err(JournalError::Corrupt("larger than the device"));
        }
        if superblock.journal_blocks < JOURNAL_BLOCKS_MIN
            || superblock.journal_blocks >= superblock.block_count
        {
            return Err(JournalError::Corrupt("journal size"));
        }
        Ok(superblock)
    }

    /// The first block of the data area.
    fn data_start(&self) -> u64 {
        1 + self.journal_blocks
    }
}

fn u32_at(block: &Block, at: usize) -> u32 {
    let mut bytes = [0; 4];
    bytes.copy_from_slice(&block[at..at + 4]);
    u32::from_le_bytes(bytes)
}

fn u64_at(block: &Block, at: usize) -> u64 {
    let mut bytes = [0; 8];
    bytes.copy_from_slice(&block[at..at + 8]);
    u64::from_le_bytes(bytes)
}

/// Block writes to commit together: journaled writes (metadata: they reach their
/// places only through the journal) and file bytes (written in place at once,
/// flushed before the record of the commit that links them, so never journaled
/// unless a record since the last checkpoint wrote their block), and the blocks the
/// transaction frees.
#[derive(Clone, Debug, Default)]
pub struct Transaction {
    writes: Vec<(u64, Box<Block>)>,
    /// File bytes, as runs: a first block and the bytes of the blocks from it.
    data: Vec<(u64, Vec<u8>)>,
    freed: Vec<u64>,
}

impl Transaction {
    /// An empty transaction.
    pub fn new() -> Transaction {
        Transaction::default()
    }

    /// Writes `block` to block `number` through the journal (a later write to the
    /// same block replaces this one).
    pub fn write(&mut self, number: u64, block: &Block) {
        if let Some(bytes) = self.data_mut(number) {
            bytes.copy_from_slice(block);
            return;
        }
        match self.writes.iter_mut().find(|(target, _)| *target == number) {
            Some((_, data)) => data.copy_from_slice(block),
            None => self.writes.push((number, Box::new(*block))),
        }
    }

    /// Writes file bytes to the blocks from `number` on (`blocks`: whole blocks):
    /// in place when committed, unless the journal must carry them. They replace
    /// earlier writes of this transaction to those blocks.
    pub fn write_data(&mut self, number: u64, blocks: &[u8]) {
        for (index, block) in blocks.chunks_exact(BLOCK_SIZE).enumerate() {
            let number = number + index as u64;
            self.writes.retain(|(target, _)| *target != number);
            if let Some(bytes) = self.data_mut(number) {
                bytes.copy_from_slice(block);
                continue;
            }
            match self.data.last_mut() {
                Some((first, bytes)) if *first + (bytes.len() / BLOCK_SIZE) as u64 == number => {
                    bytes.extend_from_slice(block)
                }
                _ => self.data.push((number, block.to_vec())),
            }
        }
    }

    /// Where block `number` lies among the file bytes written: its run and the
    /// byte range in it.
    fn data_place(&self, number: u64) -> Option<(usize, core::ops::Range<usize>)> {
        self.data
            .iter()
            .enumerate()
            .find_map(|(run, (first, bytes))| {
                let index = number.checked_sub(*first)? as usize;
                let range = index * BLOCK_SIZE..(index + 1) * BLOCK_SIZE;
                (range.end <= bytes.len()).then_some((run, range))
            })
    }

    /// The bytes of block `number` among the file bytes written.
    fn data_mut(&mut self, number: u64) -> Option<&mut [u8]> {
        let (run, range) = self.data_place(number)?;
        Some(&mut self.data[run].1[range])
    }

    /// Notes that block `number` is free once this transaction commits: the
    /// journal lets nothing take it again before the next sync.
    pub fn free(&mut self, number: u64) {
        self.freed.push(number);
    }

    /// Whether this transaction frees block `number`.
    pub fn frees(&self, number: u64) -> bool {
        self.freed.contains(&number)
    }

    /// What this transaction writes to block `number`, if anything.
    pub fn written(&self, number: u64) -> Option<&Block> {
        if let Some(found) = self.writes.iter().find(|(target, _)| *target == number) {
            return Some(&*found.1);
        }
        let (run, range) = self.data_place(number)?;
        self.data[run].1[range].try_into().ok()
    }

    /// What this transaction writes through the journal to block `number`, if
    /// anything, to change in place.
    pub fn written_mut(&mut self, number: u64) -> Option<&mut Block> {
        self.writes
            .iter_mut()
            .find(|(target, _)| *target == number)
            .map(|(_, data)| &mut **data)
    }

    /// Blocks it writes.
    pub fn len(&self) -> usize {
        self.writes.len()
            + self
                .data
                .iter()
                .map(|(_, bytes)| bytes.len() / BLOCK_SIZE)
                .sum::<usize>()
    }

    /// Whether it writes nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every block it writes.
    fn targets(&self) -> impl Iterator<Item = u64> + '_ {
        self.writes
            .iter()
            .map(|(target, _)| *target)
            .chain(self.data_blocks())
    }

    /// The blocks its file bytes go to.
    fn data_blocks(&self) -> impl Iterator<Item = u64> + '_ {
        self.data
            .iter()
            .flat_map(|(first, bytes)| *first..*first + (bytes.len() / BLOCK_SIZE) as u64)
    }
}

/// A committed transaction read back from the journal.
struct Record {
    sequence: u64,
    writes: Vec<(u64, Box<Block>)>,
}

/// Reads the record at journal position `at` if it is whole, checks and carries
/// `sequence`, and fits the journal; `Ok(None)` marks the journal's end. A record
/// that checks but writes outside the data area is corruption.
fn read_record<D: BlockDevice>(
    device: &mut D,
    superblock: &Superblock,
    at: u64,
    sequence: u64,
) -> Result<Option<Record>, JournalError> {
    if at + JOURNAL_BLOCKS_MIN > superblock.journal_blocks {
        return Ok(None);
    }
    let mut descriptor = [0; BLOCK_SIZE];
    device.read(1 + at, &mut descriptor)?;
    let count = u32_at(&descriptor, 16) as usize;
    if descriptor[0..8] != DESCRIPTOR_MAGIC
        || u64_at(&descriptor, 8) != sequence
        || count == 0
        || count > TRANSACTION_BLOCKS_MAX
        || at + count as u64 + 2 > superblock.journal_blocks
    {
        return Ok(None);
    }
    let checked = DESCRIPTOR_HEADER + 8 * count;
    if crc32fast::hash(&descriptor[..checked]) != u32_at(&descriptor, checked) {
        return Ok(None);
    }
    let data_crc = u32_at(&descriptor, 20);
    let mut hasher = crc32fast::Hasher::new();
    let mut writes = Vec::with_capacity(count);
    for index in 0..count {
        let target = u64_at(&descriptor, DESCRIPTOR_HEADER + 8 * index);
        let mut data = Box::new([0; BLOCK_SIZE]);
        device.read(2 + at + index as u64, &mut data)?;
        hasher.update(&*data);
        writes.push((target, data));
    }
    let mut commit = [0; BLOCK_SIZE];
    device.read(2 + at + count as u64, &mut commit)?;
    if commit[0..8] != COMMIT_MAGIC
        || u64_at(&commit, 8) != sequence
        || u32_at(&commit, 16) != data_crc
        || hasher.finalize() != data_crc
        || crc32fast::hash(&commit[..20]) != u32_at(&commit, 20)
    {
        return Ok(None);
    }
    let outside = |(target, _): &(u64, Box<Block>)| {
        *target < superblock.data_start() || *target >= superblock.block_count
    };
    if writes.iter().any(outside) {
        return Err(JournalError::Corrupt(
            "a journal record writes outside the data area",
        ));
    }
    Ok(Some(Record { sequence, writes }))
}

/// Blocks written in runs of consecutive blocks, [`RUN_BLOCKS_MAX`] at most a
/// device write.
struct Runs {
    buffer: Vec<u8>,
    start: u64,
}

impl Runs {
    /// Room for `blocks` blocks (at most a run's).
    fn new(blocks: usize) -> Result<Runs, JournalError> {
        let mut buffer = Vec::new();
        buffer
            .try_reserve_exact(blocks.min(RUN_BLOCKS_MAX) * BLOCK_SIZE)
            .map_err(|_| JournalError::OutOfMemory)?;
        Ok(Runs { buffer, start: 0 })
    }

    /// Adds block `number`, first writing the run so far if `number` does not
    /// follow it or it is full.
    fn push<D: BlockDevice>(
        &mut self,
        device: &mut D,
        number: u64,
        block: &Block,
    ) -> Result<(), JournalError> {
        let count = self.buffer.len() / BLOCK_SIZE;
        if count > 0 && (self.start + count as u64 != number || count == RUN_BLOCKS_MAX) {
            self.finish(device)?;
        }
        if self.buffer.is_empty() {
            self.start = number;
        }
        self.buffer.extend_from_slice(block);
        Ok(())
    }

    /// Writes the run so far.
    fn finish<D: BlockDevice>(&mut self, device: &mut D) -> Result<(), JournalError> {
        if !self.buffer.is_empty() {
            device.write_run(self.start, &self.buffer)?;
            self.buffer.clear();
        }
        Ok(())
    }
}

/// What mounting found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Committed transactions the journal held and mounting wrote in place.
    pub replayed: u64,
}

/// A mounted journal over a device.
#[derive(Debug)]
pub struct Journal<D: BlockDevice> {
    device: D,
    superblock: Superblock,
    /// The journal position the next record goes to.
    head: u64,
    /// The next record's sequence number.
    next_sequence: u64,
    /// The journaled writes of commits not yet synced, merged by block (a later
    /// commit's write replaces an earlier one's): the next sync's record.
    running: BTreeMap<u64, Box<Block>>,
    /// Blocks that a record since the last checkpoint, or the running one, writes:
    /// file bytes for them go through the journal too, or a replay would put the
    /// record's older bytes over them.
    journaled: BTreeSet<u64>,
    /// Blocks that commits not yet synced free: not taken again before the sync
    /// (a crash would give them back to their file holding another's bytes).
    freed: BTreeSet<u64>,
    /// File bytes were written in place since the last flush.
    data_unflushed: bool,
}

impl<D: BlockDevice> Journal<D> {
    /// Writes an empty disk of this format to `device`: a superblock and a journal
    /// of `journal_blocks` blocks, the rest the data area (at least one block).
    pub fn format(mut device: D, journal_blocks: u64) -> Result<Journal<D>, JournalError> {
        let block_count = device.block_count();
        if journal_blocks < JOURNAL_BLOCKS_MIN || 1 + journal_blocks >= block_count {
            return Err(JournalError::TooSmall);
        }
        let superblock = Superblock {
            block_count,
            journal_blocks,
            sequence: 1,
        };
        // An earlier disk's records must not pass for this one's: its journal
        // started from sequence 1 too, and a record of it at the place of this
        // one's next record would check.
        for block in 1..=journal_blocks {
            device.write(block, &[0; BLOCK_SIZE])?;
        }
        device.write(0, &superblock.encode())?;
        device.flush()?;
        Ok(Journal {
            device,
            superblock,
            head: 0,
            next_sequence: 1,
            running: BTreeMap::new(),
            journaled: BTreeSet::new(),
            freed: BTreeSet::new(),
            data_unflushed: false,
        })
    }

    /// Mounts the disk on `device`: checks the superblock, writes in place every
    /// whole transaction the journal holds, and starts the journal again.
    pub fn mount(mut device: D) -> Result<(Journal<D>, Recovery), JournalError> {
        if device.block_count() == 0 {
            return Err(JournalError::TooSmall);
        }
        let mut block = [0; BLOCK_SIZE];
        device.read(0, &mut block)?;
        let mut superblock = Superblock::decode(&block, device.block_count())?;
        let (mut at, mut sequence, mut recovery) = (0, superblock.sequence, Recovery::default());
        while let Some(record) = read_record(&mut device, &superblock, at, sequence)? {
            for (target, data) in &record.writes {
                device.write(*target, data)?;
            }
            at += record.writes.len() as u64 + 2;
            sequence = record.sequence + 1;
            recovery.replayed += 1;
        }
        if recovery.replayed > 0 {
            // The replayed writes are durable before the journal lets them go.
            device.flush()?;
            superblock.sequence = sequence;
            device.write(0, &superblock.encode())?;
            device.flush()?;
        }
        let journal = Journal {
            device,
            superblock,
            head: 0,
            next_sequence: sequence,
            running: BTreeMap::new(),
            journaled: BTreeSet::new(),
            freed: BTreeSet::new(),
            data_unflushed: false,
        };
        Ok((journal, recovery))
    }

    /// The data area's blocks: `data_start()..block_count()`.
    pub fn data_start(&self) -> u64 {
        self.superblock.data_start()
    }

    /// Blocks of the journal.
    pub fn journal_blocks(&self) -> u64 {
        self.superblock.journal_blocks
    }

    /// Blocks of the disk.
    pub fn block_count(&self) -> u64 {
        self.superblock.block_count
    }

    /// Reads data block `number` as the committed transactions left it.
    pub fn read(&mut self, number: u64, block: &mut Block) -> Result<(), JournalError> {
        self.check_target(number)?;
        match self.running.get(&number) {
            Some(written) => {
                block.copy_from_slice(&written[..]);
                Ok(())
            }
            None => Ok(self.device.read(number, block)?),
        }
    }

    /// Reads the data blocks from `first` on into `buffer` (whole blocks), as the
    /// committed transactions left them: from the device in one run when none of
    /// them waits in the running record.
    pub fn read_run(&mut self, first: u64, buffer: &mut [u8]) -> Result<(), JournalError> {
        let count = (buffer.len() / BLOCK_SIZE) as u64;
        if count == 0 {
            return Ok(());
        }
        self.check_target(first)?;
        self.check_target(first + count - 1)?;
        if self.running.range(first..first + count).next().is_none() {
            return Ok(self.device.read_run(first, buffer)?);
        }
        let mut block = [0; BLOCK_SIZE];
        for (index, piece) in buffer.chunks_exact_mut(BLOCK_SIZE).enumerate() {
            self.read(first + index as u64, &mut block)?;
            piece.copy_from_slice(&block);
        }
        Ok(())
    }

    /// Whether block `number` may be taken again: not while a commit not yet
    /// synced frees it.
    pub fn may_reuse(&self, number: u64) -> bool {
        !self.freed.contains(&number)
    }

    /// Whether commits not yet synced free blocks (a sync makes them reusable).
    pub fn frees_waiting(&self) -> bool {
        !self.freed.is_empty()
    }

    /// Commits `transaction`: once this returns, its writes survive any crash, all
    /// of them (and every commit before it). A transaction that writes outside the
    /// data area or is too large is refused and writes nothing.
    pub fn commit(&mut self, transaction: &Transaction) -> Result<(), JournalError> {
        self.commit_owned(transaction.clone())
    }

    /// [`commit`](Self::commit), taking the transaction (its blocks move into the
    /// running record rather than being copied).
    pub fn commit_owned(&mut self, transaction: Transaction) -> Result<(), JournalError> {
        self.commit_unsynced_owned(transaction)?;
        self.sync()
    }

    /// The most blocks one record carries.
    fn record_blocks_max(&self) -> usize {
        TRANSACTION_BLOCKS_MAX.min((self.superblock.journal_blocks - 2) as usize)
    }

    /// Makes every commit so far durable: flushes the file bytes written in place,
    /// then writes the running record and flushes it, then writes its blocks in
    /// place (flushed by the next checkpoint; until then the journal has them).
    /// Nothing to do when nothing waits.
    pub fn sync(&mut self) -> Result<(), JournalError> {
        // File bytes are durable before the record that links their blocks.
        if self.data_unflushed {
            self.device.flush()?;
            self.data_unflushed = false;
        }
        if !self.running.is_empty() {
            let needed = self.running.len() as u64 + 2;
            if self.head + needed > self.superblock.journal_blocks {
                self.empty_journal()?;
            }
            let running = core::mem::take(&mut self.running);
            self.write_record(&running)?;
            self.device.flush()?;
            self.head += needed;
            self.next_sequence += 1;
            // In place, in runs of consecutive blocks.
            let mut runs = Runs::new(running.len())?;
            for (target, data) in &running {
                runs.push(&mut self.device, *target, data)?;
            }
            runs.finish(&mut self.device)?;
        }
        self.freed.clear();
        Ok(())
    }

    /// Writes `writes` as the record at the journal's head, unflushed (the cache
    /// may still reorder its blocks: their checksums tell a torn one).
    fn write_record(&mut self, writes: &BTreeMap<u64, Box<Block>>) -> Result<(), JournalError> {
        let count = writes.len();
        let sequence = self.next_sequence;
        let mut hasher = crc32fast::Hasher::new();
        for data in writes.values() {
            hasher.update(&**data);
        }
        let data_crc = hasher.finalize();
        let mut descriptor = [0; BLOCK_SIZE];
        descriptor[0..8].copy_from_slice(&DESCRIPTOR_MAGIC);
        descriptor[8..16].copy_from_slice(&sequence.to_le_bytes());
        descriptor[16..20].copy_from_slice(&(count as u32).to_le_bytes());
        descriptor[20..24].copy_from_slice(&data_crc.to_le_bytes());
        for (index, target) in writes.keys().enumerate() {
            let at = DESCRIPTOR_HEADER + 8 * index;
            descriptor[at..at + 8].copy_from_slice(&target.to_le_bytes());
        }
        let checked = DESCRIPTOR_HEADER + 8 * count;
        let crc = crc32fast::hash(&descriptor[..checked]);
        descriptor[checked..checked + 4].copy_from_slice(&crc.to_le_bytes());
        let mut commit = [0; BLOCK_SIZE];
        commit[0..8].copy_from_slice(&COMMIT_MAGIC);
        commit[8..16].copy_from_slice(&sequence.to_le_bytes());
        commit[16..20].copy_from_slice(&data_crc.to_le_bytes());
        let crc = crc32fast::hash(&commit[..20]);
        commit[20..24].copy_from_slice(&crc.to_le_bytes());
        let first = 1 + self.head;
        let mut runs = Runs::new(count + 2)?;
        runs.push(&mut self.device, first, &descriptor)?;
        for (index, data) in writes.values().enumerate() {
            runs.push(&mut self.device, first + 1 + index as u64, data)?;
        }
        runs.push(&mut self.device, first + 1 + count as u64, &commit)?;
        runs.finish(&mut self.device)
    }

    /// Commits `transaction` without waiting for the device: its file bytes are
    /// written in place and its journaled writes join the running record (read
    /// back at once), but a crash before the next [`sync`](Self::sync) may lose
    /// it, and the commits after it, whole (its file bytes over blocks the file
    /// had before may stay: an unsynced overwrite can tear). Refused as
    /// [`commit`](Self::commit) refuses. Syncs by itself when the running record
    /// is full.
    pub fn commit_unsynced(&mut self, transaction: &Transaction) -> Result<(), JournalError> {
        self.commit_unsynced_owned(transaction.clone())
    }

    /// [`commit_unsynced`](Self::commit_unsynced), taking the transaction (its
    /// blocks move into the running record rather than being copied).
    pub fn commit_unsynced_owned(&mut self, transaction: Transaction) -> Result<(), JournalError> {
        if transaction.is_empty() {
            return Ok(());
        }
        for target in transaction.targets() {
            self.check_target(target)?;
        }
        let record_max = self.record_blocks_max();
        if transaction.len() > record_max {
            return Err(JournalError::TooLarge);
        }
        // Room in the running record for the blocks it journals (its journaled
        // writes, and file bytes for blocks a record since the checkpoint wrote).
        let journaled = |target: &u64| self.journaled.contains(target);
        let added = transaction
            .writes
            .iter()
            .map(|(target, _)| *target)
            .chain(transaction.data_blocks().filter(journaled))
            .filter(|target| !self.running.contains_key(target))
            .count();
        if !self.running.is_empty()
            && self.running.len() + added > record_max.min(RUNNING_BLOCKS_MAX)
        {
            self.sync()?;
        }
        // File bytes in place, in runs, but through the journal for a block a
        // record since the last checkpoint writes.
        for (first, bytes) in &transaction.data {
            let blocks = bytes.len() / BLOCK_SIZE;
            let mut index = 0;
            while index < blocks {
                let number = first + index as u64;
                if self.journaled.contains(&number) {
                    let mut block = Box::new([0; BLOCK_SIZE]);
                    block.copy_from_slice(&bytes[index * BLOCK_SIZE..(index + 1) * BLOCK_SIZE]);
                    self.running.insert(number, block);
                    index += 1;
                    continue;
                }
                let mut end = index + 1;
                while end < blocks && !self.journaled.contains(&(first + end as u64)) {
                    end += 1;
                }
                self.device
                    .write_run(number, &bytes[index * BLOCK_SIZE..end * BLOCK_SIZE])?;
                self.data_unflushed = true;
                index = end;
            }
        }
        for (target, data) in transaction.writes {
            self.running.insert(target, data);
            self.journaled.insert(target);
        }
        self.freed.extend(transaction.freed);
        Ok(())
    }

    /// Makes every committed write durable in place and empties the journal.
    pub fn checkpoint(&mut self) -> Result<(), JournalError> {
        self.sync()?;
        self.empty_journal()
    }

    /// Flushes the synced records' in-place writes and moves the superblock past
    /// the records: the journal starts over from its first block.
    fn empty_journal(&mut self) -> Result<(), JournalError> {
        self.device.flush()?;
        self.superblock.sequence = self.next_sequence;
        self.device.write(0, &self.superblock.encode())?;
        self.device.flush()?;
        self.head = 0;
        // Only the running record's blocks are still to be journaled.
        self.journaled = self.running.keys().copied().collect();
        Ok(())
    }

    /// Checkpoints and gives the device back (a clean unmount).
    pub fn unmount(mut self) -> Result<D, JournalError> {
        self.checkpoint()?;
        Ok(self.device)
    }

    /// The device.
    pub fn device(&self) -> &D {
        &self.device
    }

    /// The device, as it is (after a crash, to look at what is left).
    pub fn into_device(self) -> D {
        self.device
    }

    fn check_target(&self, number: u64) -> Result<(), JournalError> {
        if number < self.superblock.data_start() || number >= self.superblock.block_count {
            return Err(JournalError::OutOfRange(number));
        }
        Ok(())
    }
}

/// A problem a check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The superblock does not check (what is wrong).
    Superblock(JournalError),
    /// A journal record checks but writes outside the data area.
    Journal(&'static str),
    /// The device failed while being read.
    Device(DeviceError),
}

impl core::fmt::Display for Problem {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Problem::Superblock(error) => write!(formatter, "superblock: {error}"),
            Problem::Journal(what) => write!(formatter, "journal: {what}"),
            Problem::Device(error) => write!(formatter, "device: {error}"),
        }
    }
}

/// What a check of a disk found, without changing it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Check {
    /// Problems, in the order found (none: the disk is sound).
    pub problems: Vec<Problem>,
    /// Committed transactions waiting in the journal for the next mount.
    pub pending: u64,
    /// Blocks of the disk (0 when the superblock is bad).
    pub blocks: u64,
    /// Blocks of its journal (0 when the superblock is bad).
    pub journal_blocks: u64,
}

/// Checks the disk on `device` without writing to it: the superblock, and every
/// record of the journal a mount would replay.
pub fn check<D: BlockDevice>(device: &mut D) -> Check {
    let mut report = Check::default();
    if device.block_count() == 0 {
        report
            .problems
            .push(Problem::Superblock(JournalError::TooSmall));
        return report;
    }
    let mut block = [0; BLOCK_SIZE];
    if let Err(error) = device.read(0, &mut block) {
        report.problems.push(Problem::Device(error));
        return report;
    }
    let superblock = match Superblock::decode(&block, device.block_count()) {
        Ok(superblock) => superblock,
        Err(error) => {
            report.problems.push(Problem::Superblock(error));
            return report;
        }
    };
    report.blocks = superblock.block_count;
    report.journal_blocks = superblock.journal_blocks;
    let (mut at, mut sequence) = (0, superblock.sequence);
    loop {
        match read_record(device, &superblock, at, sequence) {
            Ok(Some(record)) => {
                at += record.writes.len() as u64 + 2;
                sequence += 1;
                report.pending += 1;
            }
            Ok(None) => break,
            Err(JournalError::Device(error)) => {
                report.problems.push(Problem::Device(error));
                break;
            }
            Err(JournalError::Corrupt(what)) => {
                report.problems.push(Problem::Journal(what));
                break;
            }
            Err(_) => break,
        }
    }
    report
}
