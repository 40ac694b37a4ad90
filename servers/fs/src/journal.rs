//! A checksummed redo journal: a transaction's block writes go to the journal
//! first, and to their places only once the journal holds them durably, so after a
//! crash at any point each transaction is on the disk whole or not at all, and
//! every one whose [`Journal::commit`] returned is there.
//!
//! Layout: block 0 is the superblock; blocks `1..=journal_blocks` the journal;
//! the rest the data area the layers above own. A transaction in the journal is a
//! descriptor block (its number in sequence, its target blocks, a CRC-32 of its
//! data), its data blocks, and a commit block repeating the sequence number and the
//! data's CRC: a crash that tore any of them leaves a record that does not check,
//! and replay stops there. The superblock names the sequence number the journal's
//! first record must carry; a checkpoint (every write in place flushed) moves it on
//! and starts the journal again from its first block.
//!
//! [`Journal::commit`] is durable when it returns (one flush). A commit can also
//! wait ([`Journal::commit_unsynced`]): its record goes to the device unflushed and
//! its blocks are read from their places in the journal until [`Journal::sync`]
//! flushes every waiting record at once and only then copies their blocks in place
//! (a full journal syncs first). A crash loses a suffix of the waiting commits
//! (replay stops at the first record missing or torn), never a commit before one
//! it keeps.

use crate::device::{BLOCK_SIZE, Block, BlockDevice, DeviceError};
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
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

/// Block writes to commit together.
#[derive(Clone, Debug, Default)]
pub struct Transaction {
    writes: Vec<(u64, Box<Block>)>,
}

impl Transaction {
    /// An empty transaction.
    pub fn new() -> Transaction {
        Transaction::default()
    }

    /// Writes `block` to block `number` (a later write to the same block replaces
    /// this one).
    pub fn write(&mut self, number: u64, block: &Block) {
        match self.writes.iter_mut().find(|(target, _)| *target == number) {
            Some((_, data)) => data.copy_from_slice(block),
            None => self.writes.push((number, Box::new(*block))),
        }
    }

    /// What this transaction writes to block `number`, if anything.
    pub fn written(&self, number: u64) -> Option<&Block> {
        self.writes
            .iter()
            .find(|(target, _)| *target == number)
            .map(|(_, data)| &**data)
    }

    /// Blocks it writes.
    pub fn len(&self) -> usize {
        self.writes.len()
    }

    /// Whether it writes nothing.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
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
    /// The writes of commits not yet in place, by block: the journal block that
    /// holds each (read from there; copied in place by the next sync).
    unsynced: BTreeMap<u64, u64>,
    /// Records were written since the last flush.
    records_unsynced: bool,
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
            unsynced: BTreeMap::new(),
            records_unsynced: false,
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
            unsynced: BTreeMap::new(),
            records_unsynced: false,
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
        let at = self.unsynced.get(&number).copied().unwrap_or(number);
        Ok(self.device.read(at, block)?)
    }

    /// Reads the data blocks from `first` on into `buffer` (whole blocks), as the
    /// committed transactions left them: from the device in one run when none of
    /// them waits for a sync.
    pub fn read_run(&mut self, first: u64, buffer: &mut [u8]) -> Result<(), JournalError> {
        let count = (buffer.len() / BLOCK_SIZE) as u64;
        if count == 0 {
            return Ok(());
        }
        self.check_target(first)?;
        self.check_target(first + count - 1)?;
        if self.unsynced.range(first..first + count).next().is_none() {
            return Ok(self.device.read_run(first, buffer)?);
        }
        let mut block = [0; BLOCK_SIZE];
        for (index, piece) in buffer.chunks_exact_mut(BLOCK_SIZE).enumerate() {
            self.read(first + index as u64, &mut block)?;
            piece.copy_from_slice(&block);
        }
        Ok(())
    }

    /// Commits `transaction`: once this returns, its writes survive any crash, all
    /// of them (and every commit before it). A transaction that writes outside the
    /// data area or is too large is refused and writes nothing.
    pub fn commit(&mut self, transaction: &Transaction) -> Result<(), JournalError> {
        self.commit_unsynced(transaction)?;
        self.sync()
    }

    /// Makes every commit so far durable: flushes their records, then writes their
    /// blocks in place (flushed by the next checkpoint; until then the journal has
    /// them). Nothing to do when nothing waits.
    pub fn sync(&mut self) -> Result<(), JournalError> {
        if !self.records_unsynced {
            return Ok(());
        }
        self.device.flush()?;
        self.records_unsynced = false;
        // In place: runs of blocks that follow each other both in the journal and
        // in place move with one read and one write.
        let mut buffer = Vec::new();
        buffer
            .try_reserve_exact(self.unsynced.len().min(RUN_BLOCKS_MAX) * BLOCK_SIZE)
            .map_err(|_| JournalError::OutOfMemory)?;
        let waiting: Vec<(u64, u64)> = core::mem::take(&mut self.unsynced).into_iter().collect();
        let mut at = 0;
        while at < waiting.len() {
            let (target, source) = waiting[at];
            let mut count = 1;
            while at + count < waiting.len()
                && count < RUN_BLOCKS_MAX
                && waiting[at + count] == (target + count as u64, source + count as u64)
            {
                count += 1;
            }
            buffer.resize(count * BLOCK_SIZE, 0);
            self.device.read_run(source, &mut buffer)?;
            self.device.write_run(target, &buffer)?;
            at += count;
        }
        Ok(())
    }

    /// Commits `transaction` without waiting for the device: its record is written
    /// (not flushed) and its writes read back at once, but a crash before the next
    /// [`sync`](Self::sync) may lose it, and the commits after it, whole. Refused
    /// as [`commit`](Self::commit) refuses. Syncs by itself when the journal is full.
    pub fn commit_unsynced(&mut self, transaction: &Transaction) -> Result<(), JournalError> {
        if transaction.is_empty() {
            return Ok(());
        }
        for (target, _) in &transaction.writes {
            self.check_target(*target)?;
        }
        let count = transaction.len();
        let needed = count as u64 + 2;
        if count > TRANSACTION_BLOCKS_MAX || needed > self.superblock.journal_blocks {
            return Err(JournalError::TooLarge);
        }
        if self.head + needed > self.superblock.journal_blocks {
            self.checkpoint()?;
        }
        let sequence = self.next_sequence;
        let mut hasher = crc32fast::Hasher::new();
        for (_, data) in &transaction.writes {
            hasher.update(&**data);
        }
        let data_crc = hasher.finalize();
        let mut descriptor = [0; BLOCK_SIZE];
        descriptor[0..8].copy_from_slice(&DESCRIPTOR_MAGIC);
        descriptor[8..16].copy_from_slice(&sequence.to_le_bytes());
        descriptor[16..20].copy_from_slice(&(count as u32).to_le_bytes());
        descriptor[20..24].copy_from_slice(&data_crc.to_le_bytes());
        for (index, (target, _)) in transaction.writes.iter().enumerate() {
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
        // The record in runs (the cache may still reorder its blocks: their
        // checksums tell a torn one).
        let first = 1 + self.head;
        let mut runs = Runs::new(count + 2)?;
        runs.push(&mut self.device, first, &descriptor)?;
        for (index, (_, data)) in transaction.writes.iter().enumerate() {
            runs.push(&mut self.device, first + 1 + index as u64, data)?;
        }
        runs.push(&mut self.device, first + 1 + count as u64, &commit)?;
        runs.finish(&mut self.device)?;
        self.records_unsynced = true;
        self.head += needed;
        self.next_sequence += 1;
        // In place only once the record is flushed: until then, read from the
        // journal.
        for (index, (target, _)) in transaction.writes.iter().enumerate() {
            self.unsynced.insert(*target, first + 1 + index as u64);
        }
        Ok(())
    }

    /// Makes every committed write durable in place and empties the journal.
    pub fn checkpoint(&mut self) -> Result<(), JournalError> {
        self.sync()?;
        self.device.flush()?;
        self.superblock.sequence = self.next_sequence;
        self.device.write(0, &self.superblock.encode())?;
        self.device.flush()?;
        self.head = 0;
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
