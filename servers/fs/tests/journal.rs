//! The journal's promises, on memory disks: commits read back; bad input is refused
//! and changes nothing; a disk that is not one, or is corrupt, is refused at mount;
//! and after a crash at each point of a write-heavy workload (the write cache
//! losing or reordering what was not flushed), the disk mounts, checks clean, holds
//! every transaction whose commit returned, and each transaction whole or not at all;
//! file bytes written in place are there before any link to them, survive the
//! replay of a record that wrote their block, and go to no block freed before a sync.

use nanvix_fs::journal::{self, TRANSACTION_BLOCKS_MAX};
use nanvix_fs::{
    BLOCK_SIZE, Block, BlockDevice, CrashingDisk, Journal, JournalError, MemoryDisk, Transaction,
};

/// Blocks of the test disks.
const DISK_BLOCKS: usize = 64;
/// Journal blocks: small, so that the workload checkpoints often.
const JOURNAL_BLOCKS: u64 = 24;
/// Data blocks the workload writes, from the data area's start.
const WORKED_BLOCKS: u64 = 32;
/// Transactions of the workload.
const TRANSACTIONS: u64 = 60;

fn pattern(transaction: u64, block: u64) -> Block {
    let mut data = [(transaction * 31 + block * 7) as u8; BLOCK_SIZE];
    data[..8].copy_from_slice(&transaction.to_le_bytes());
    data[8..16].copy_from_slice(&block.to_le_bytes());
    data
}

/// The blocks transaction `number` writes (1 to 8 of the worked blocks).
fn blocks_of(number: u64) -> Vec<u64> {
    let mut state = number.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let count = 1 + (number % 8);
    let mut blocks = Vec::new();
    for _ in 0..count {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let block = state % WORKED_BLOCKS;
        if !blocks.contains(&block) {
            blocks.push(block);
        }
    }
    blocks
}

/// The worked blocks after the first `applied` transactions (zeros before any).
fn model(applied: u64) -> Vec<Block> {
    let mut blocks = vec![[0; BLOCK_SIZE]; WORKED_BLOCKS as usize];
    for number in 0..applied {
        for block in blocks_of(number) {
            blocks[block as usize] = pattern(number, block);
        }
    }
    blocks
}

/// Runs the workload until it ends or the device fails; returns how many commits
/// returned `Ok` (acknowledged).
fn workload<D: BlockDevice>(journal: &mut Journal<D>) -> u64 {
    workload_syncing(journal, None)
}

/// The workload; with `Some(every)`, its commits wait (`commit_unsynced`) and a
/// sync follows every `every`th: acknowledged are the commits before the last sync
/// that returned.
fn workload_syncing<D: BlockDevice>(journal: &mut Journal<D>, sync_every: Option<u64>) -> u64 {
    let start = journal.data_start();
    let mut acknowledged = 0;
    for number in 0..TRANSACTIONS {
        let mut transaction = Transaction::new();
        for block in blocks_of(number) {
            transaction.write(start + block, &pattern(number, block));
        }
        let committed = match sync_every {
            None => journal.commit(&transaction),
            Some(_) => journal.commit_unsynced(&transaction),
        };
        if committed.is_err() {
            return acknowledged;
        }
        match sync_every {
            None => acknowledged = number + 1,
            Some(every) if number % every == every - 1 => {
                if journal.sync().is_err() {
                    return acknowledged;
                }
                acknowledged = number + 1;
            }
            Some(_) => {}
        }
        if number % 17 == 16 {
            if journal.checkpoint().is_err() {
                return acknowledged;
            }
            // A checkpoint syncs first.
            acknowledged = number + 1;
        }
    }
    if journal.sync().is_err() {
        return acknowledged;
    }
    TRANSACTIONS
}

fn worked_blocks<D: BlockDevice>(journal: &mut Journal<D>) -> Vec<Block> {
    let start = journal.data_start();
    (0..WORKED_BLOCKS)
        .map(|block| {
            let mut data = [0; BLOCK_SIZE];
            journal.read(start + block, &mut data).unwrap();
            data
        })
        .collect()
}

fn formatted() -> MemoryDisk {
    Journal::format(MemoryDisk::new(DISK_BLOCKS), JOURNAL_BLOCKS)
        .unwrap()
        .unmount()
        .unwrap()
}

#[test]
fn commits_read_back_and_survive_a_clean_unmount() {
    let mut journal = Journal::format(MemoryDisk::new(DISK_BLOCKS), JOURNAL_BLOCKS).unwrap();
    assert_eq!(journal.data_start(), 1 + JOURNAL_BLOCKS);
    assert_eq!(workload(&mut journal), TRANSACTIONS);
    assert_eq!(worked_blocks(&mut journal), model(TRANSACTIONS));
    let disk = journal.unmount().unwrap();
    let (mut journal, recovery) = Journal::mount(disk).unwrap();
    assert_eq!(recovery.replayed, 0);
    assert_eq!(worked_blocks(&mut journal), model(TRANSACTIONS));
}

#[test]
fn bad_writes_are_refused_and_change_nothing() {
    let mut journal = Journal::mount(formatted()).unwrap().0;
    let start = journal.data_start();
    let data = pattern(9, 9);
    for outside in [0, 1, start - 1, DISK_BLOCKS as u64, u64::MAX] {
        let mut transaction = Transaction::new();
        transaction.write(start, &data);
        transaction.write(outside, &data);
        assert_eq!(
            journal.commit(&transaction),
            Err(JournalError::OutOfRange(outside))
        );
        let mut read = [0; BLOCK_SIZE];
        assert_eq!(
            journal.read(outside, &mut read),
            Err(JournalError::OutOfRange(outside))
        );
    }
    // More blocks than one descriptor (or this journal) holds.
    let mut transaction = Transaction::new();
    for block in 0..=TRANSACTION_BLOCKS_MAX as u64 {
        transaction.write(start + block % WORKED_BLOCKS, &data);
    }
    assert!(
        transaction.len() <= WORKED_BLOCKS as usize,
        "writes to one block merge"
    );
    let mut large = Transaction::new();
    for block in 0..JOURNAL_BLOCKS {
        large.write(start + block, &data);
    }
    assert_eq!(journal.commit(&large), Err(JournalError::TooLarge));
    assert_eq!(worked_blocks(&mut journal), model(0));
    let disk = journal.unmount().unwrap();
    assert_eq!(disk, formatted(), "refused transactions wrote nothing");
}

#[test]
fn format_refuses_a_device_too_small() {
    for (blocks, journal_blocks) in [(0, 3), (4, 3), (5, 2), (10, 9)] {
        assert_eq!(
            Journal::format(MemoryDisk::new(blocks), journal_blocks).err(),
            Some(JournalError::TooSmall),
            "{blocks} blocks, journal {journal_blocks}"
        );
    }
}

/// A way to corrupt a disk: what it is, what it does, the error mount gives.
type Corruption = (&'static str, fn(&mut MemoryDisk), JournalError);

/// Rewrites the superblock's checksum after a test changed its fields.
fn reseal(disk: &mut MemoryDisk) {
    let block = disk.block_mut(0).unwrap();
    let crc = crc32fast::hash(&block[..48]);
    block[48..52].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn mount_refuses_what_is_not_a_sound_disk_with_a_clear_error() {
    assert_eq!(
        Journal::mount(MemoryDisk::new(0)).err(),
        Some(JournalError::TooSmall)
    );
    let blank = MemoryDisk::new(DISK_BLOCKS);
    assert_eq!(
        Journal::mount(blank.clone()).err(),
        Some(JournalError::NotFormatted)
    );
    let cases: [Corruption; 5] = [
        (
            "a flipped bit",
            |disk| disk.block_mut(0).unwrap()[20] ^= 1,
            JournalError::Corrupt("superblock checksum"),
        ),
        (
            "another version",
            |disk| {
                disk.block_mut(0).unwrap()[8] = 9;
                reseal(disk);
            },
            JournalError::UnsupportedVersion(9),
        ),
        (
            "larger than the device",
            |disk| {
                disk.block_mut(0).unwrap()[16..24].copy_from_slice(&1000u64.to_le_bytes());
                reseal(disk);
            },
            JournalError::Corrupt("larger than the device"),
        ),
        (
            "a journal as large as the disk",
            |disk| {
                disk.block_mut(0).unwrap()[32..40].copy_from_slice(&64u64.to_le_bytes());
                reseal(disk);
            },
            JournalError::Corrupt("journal size"),
        ),
        (
            "another block size",
            |disk| {
                disk.block_mut(0).unwrap()[12..16].copy_from_slice(&512u32.to_le_bytes());
                reseal(disk);
            },
            JournalError::Corrupt("block size"),
        ),
    ];
    for (what, corrupt, error) in cases {
        let mut disk = formatted();
        corrupt(&mut disk);
        let before = disk.clone();
        assert_eq!(Journal::mount(disk.clone()).err(), Some(error), "{what}");
        let check = journal::check(&mut disk);
        assert_eq!(check.problems.len(), 1, "{what}: {check:?}");
        assert_eq!(disk, before, "{what}: the check wrote nothing");
    }
}

#[test]
fn a_journal_record_that_checks_but_writes_outside_the_data_area_is_corruption() {
    let mut journal = Journal::mount(formatted()).unwrap().0;
    let start = journal.data_start();
    let mut transaction = Transaction::new();
    transaction.write(start, &pattern(1, 1));
    journal.commit(&transaction).unwrap();
    let mut disk = journal.into_device();
    // Aim the record's one target at the superblock and seal the descriptor again.
    let descriptor = disk.block_mut(1).unwrap();
    descriptor[24..32].copy_from_slice(&0u64.to_le_bytes());
    let crc = crc32fast::hash(&descriptor[..32]);
    descriptor[32..36].copy_from_slice(&crc.to_le_bytes());
    let check = journal::check(&mut disk);
    assert_eq!(
        check.problems,
        [journal::Problem::Journal(
            "a journal record writes outside the data area"
        )]
    );
    assert_eq!(
        Journal::mount(disk).err(),
        Some(JournalError::Corrupt(
            "a journal record writes outside the data area"
        ))
    );
}

#[test]
fn committed_transactions_wait_in_the_journal_until_mounted_and_a_torn_one_is_not_replayed() {
    let mut journal = Journal::mount(formatted()).unwrap().0;
    let start = journal.data_start();
    for number in 0..3 {
        let mut transaction = Transaction::new();
        for block in blocks_of(number) {
            transaction.write(start + block, &pattern(number, block));
        }
        journal.commit(&transaction).unwrap();
    }
    let disk = journal.into_device();
    let mut checked = disk.clone();
    let check = journal::check(&mut checked);
    assert_eq!((check.problems.len(), check.pending), (0, 3), "{check:?}");
    // Tear the third record: one of its data blocks never made it.
    let mut torn = disk.clone();
    let third = 1 + (blocks_of(0).len() + 2 + blocks_of(1).len() + 2) as u64;
    torn.block_mut(third + 1).unwrap()[100] ^= 0xff;
    let (mut journal, recovery) = Journal::mount(torn).unwrap();
    assert_eq!(recovery.replayed, 2);
    // The medium held the in-place writes too (a memory disk keeps every write):
    // look at a fresh copy whose in-place blocks were lost instead.
    let _ = worked_blocks(&mut journal);
    let mut lost = disk;
    for block in 0..WORKED_BLOCKS {
        lost.block_mut(start + block).unwrap().fill(0);
    }
    lost.block_mut(third + 1).unwrap()[100] ^= 0xff;
    let (mut journal, recovery) = Journal::mount(lost).unwrap();
    assert_eq!(recovery.replayed, 2);
    assert_eq!(worked_blocks(&mut journal), model(2));
}

#[test]
fn after_a_crash_anywhere_every_acknowledged_transaction_is_there_whole() {
    crash_everywhere(None);
}

/// As above with commits that wait for a sync every fifth: a crash loses a suffix
/// of the waiting commits, never a synced one, never one before one it keeps.
#[test]
fn after_a_crash_anywhere_every_synced_transaction_is_there_and_a_prefix_of_the_rest() {
    crash_everywhere(Some(5));
}

#[test]
fn waiting_commits_read_back_at_once_and_reach_the_disk_at_the_sync() {
    let mut journal = Journal::mount(formatted()).unwrap().0;
    let mut transaction = Transaction::new();
    let data = pattern(7, 0);
    transaction.write(journal.data_start(), &data);
    journal.commit_unsynced(&transaction).unwrap();
    let mut read = [0; BLOCK_SIZE];
    journal.read(journal.data_start(), &mut read).unwrap();
    assert_eq!(read, data, "read back before the sync");
    let start = journal.data_start() as usize;
    let on_disk = |journal: &Journal<MemoryDisk>| *journal.device().block(start as u64).unwrap();
    assert_eq!(
        on_disk(&journal),
        [0; BLOCK_SIZE],
        "not in place before the sync"
    );
    journal.sync().unwrap();
    assert_eq!(on_disk(&journal), data, "in place after it");
}

fn crash_everywhere(sync_every: Option<u64>) {
    let workload = |journal: &mut Journal<CrashingDisk>| workload_syncing(journal, sync_every);
    // The workload's length in device operations, without a crash.
    let mut dry = Journal::mount(CrashingDisk::new(formatted(), 0)).unwrap().0;
    assert_eq!(workload(&mut dry), TRANSACTIONS);
    let operations = dry.into_device().operations();
    assert!(operations > 200, "{operations} operations");
    // Every state the workload passes through, once.
    let models: Vec<Vec<Block>> = (0..=TRANSACTIONS).map(model).collect();
    // A crash after every operation of the workload, each with two drawings of
    // which unflushed writes survive.
    let mut crashed = 0;
    for point in 1..operations {
        for seed in 0..2 {
            let mut device = CrashingDisk::new(formatted(), point * 7 + seed);
            device.crash_after(point);
            let mut journal = Journal::mount(device).unwrap().0;
            let acknowledged = workload(&mut journal);
            let mut device = journal.into_device();
            device.crash();
            crashed += u64::from(acknowledged < TRANSACTIONS);
            let mut medium = device.into_medium();
            let check = journal::check(&mut medium);
            assert!(check.problems.is_empty(), "point {point}: {check:?}");
            let (mut journal, _) = Journal::mount(medium)
                .unwrap_or_else(|error| panic!("point {point} seed {seed}: {error}"));
            let found = worked_blocks(&mut journal);
            let applied =
                (acknowledged..=TRANSACTIONS).find(|applied| models[*applied as usize] == found);
            assert!(
                applied.is_some(),
                "point {point} seed {seed}: {acknowledged} acknowledged, the disk holds no prefix of at least as many transactions"
            );
            // And the mounted disk goes on: a new transaction commits and reads back.
            let mut transaction = Transaction::new();
            let data = pattern(99, 0);
            transaction.write(journal.data_start(), &data);
            journal.commit(&transaction).unwrap();
            let mut read = [0; BLOCK_SIZE];
            journal.read(journal.data_start(), &mut read).unwrap();
            assert_eq!(read, data);
        }
    }
    assert!(
        crashed >= operations,
        "{crashed} of {} runs crashed before the workload's end",
        2 * (operations - 1)
    );
}

#[test]
fn a_disk_formatted_again_replays_none_of_the_earlier_disks_records() {
    // The first disk: records of sequence 1, 2, 3 in its journal, not checkpointed.
    let mut journal = Journal::mount(formatted()).unwrap().0;
    let start = journal.data_start();
    for number in 0..3 {
        let mut transaction = Transaction::new();
        transaction.write(start + number, &pattern(number, number));
        journal.commit(&transaction).unwrap();
    }
    let old = journal.into_device();
    // Formatted again, one record of another length, then a crash: the old second
    // record sits where this disk's second would go, and carries sequence 2.
    let mut journal = Journal::format(old, JOURNAL_BLOCKS).unwrap();
    let mut transaction = Transaction::new();
    transaction.write(start + 10, &pattern(10, 10));
    journal.commit(&transaction).unwrap();
    let (_, recovery) = Journal::mount(journal.into_device()).unwrap();
    assert_eq!(
        recovery.replayed, 1,
        "the earlier disk's records 2 and 3 replayed"
    );
}

/// Transactions of the ordered-data workload.
const LINKED: u64 = 40;
/// Link blocks (journaled) of the ordered-data workload.
const LINKS: u64 = 4;

/// Transaction `number` of the ordered-data workload: file bytes to a block of its
/// own (in place), and a journaled link block naming it.
fn linked_transaction(start: u64, number: u64) -> Transaction {
    let mut transaction = Transaction::new();
    transaction.write_data(start + LINKS + number, &pattern(number, LINKS + number));
    // (`pattern(0, 0)` is zeros: a link carries the transaction's number plus one.)
    transaction.write(start + number % LINKS, &pattern(number + 1, number % LINKS));
    transaction
}

/// The ordered-data workload, a sync after every second commit, until it ends or
/// the device fails: the transactions acknowledged (before the last sync).
fn linked_workload<D: BlockDevice>(journal: &mut Journal<D>) -> u64 {
    let start = journal.data_start();
    let mut acknowledged = 0;
    for number in 0..LINKED {
        if journal
            .commit_unsynced(&linked_transaction(start, number))
            .is_err()
        {
            break;
        }
        if number % 2 == 1 {
            if journal.sync().is_err() {
                break;
            }
            acknowledged = number + 1;
        }
    }
    acknowledged
}

/// File bytes go in place and only the link to them through the journal: after a
/// crash at any point, every link on the disk names bytes that are there whole, and
/// no link is older than the last synced transaction that wrote it.
#[test]
fn after_a_crash_anywhere_every_linked_block_holds_its_file_bytes() {
    let disk = || {
        Journal::format(MemoryDisk::new(128), JOURNAL_BLOCKS)
            .unwrap()
            .unmount()
            .unwrap()
    };
    let mut dry = Journal::mount(CrashingDisk::new(disk(), 0)).unwrap().0;
    assert_eq!(linked_workload(&mut dry), LINKED);
    let operations = dry.into_device().operations();
    assert!(operations > 60, "{operations} operations");
    let mut linked_seen = 0;
    for point in 1..operations {
        for seed in 0..8 {
            let mut device = CrashingDisk::new(disk(), point * 11 + seed);
            device.crash_after(point);
            let mut journal = Journal::mount(device).unwrap().0;
            let acknowledged = linked_workload(&mut journal);
            let mut device = journal.into_device();
            device.crash();
            let (mut journal, _) = Journal::mount(device.into_medium()).unwrap();
            let start = journal.data_start();
            for link in 0..LINKS {
                let mut block = [0; BLOCK_SIZE];
                journal.read(start + link, &mut block).unwrap();
                let newest_synced = (0..acknowledged)
                    .rev()
                    .find(|number| number % LINKS == link);
                if block == [0; BLOCK_SIZE] {
                    assert_eq!(
                        newest_synced, None,
                        "point {point} seed {seed}: link {link} lost"
                    );
                    continue;
                }
                let number = u64::from_le_bytes(block[..8].try_into().unwrap()) - 1;
                assert_eq!(
                    block,
                    pattern(number + 1, link),
                    "point {point}: link {link} torn"
                );
                assert!(
                    newest_synced.is_none_or(|synced| number >= synced),
                    "point {point} seed {seed}: link {link} names {number}, older than a synced one"
                );
                let mut bytes = [0; BLOCK_SIZE];
                journal.read(start + LINKS + number, &mut bytes).unwrap();
                assert_eq!(
                    bytes,
                    pattern(number, LINKS + number),
                    "point {point} seed {seed}: link {link} names transaction {number}, whose bytes are not there"
                );
                linked_seen += 1;
            }
        }
    }
    assert!(linked_seen > 1000, "{linked_seen} links checked");
}

/// A block a record wrote since the last checkpoint takes later file bytes through
/// the journal: written in place, the record's replay after a crash would put its
/// older bytes back over them.
#[test]
fn file_bytes_over_a_journaled_block_survive_the_replay_of_its_record() {
    let mut journal = Journal::mount(CrashingDisk::new(formatted(), 5)).unwrap().0;
    let block = journal.data_start() + 3;
    let mut transaction = Transaction::new();
    transaction.write(block, &pattern(1, 3));
    journal.commit(&transaction).unwrap();
    let mut transaction = Transaction::new();
    transaction.write_data(block, &pattern(2, 3));
    journal.commit(&transaction).unwrap();
    // A crash: the records are replayed at the next mount, in order.
    let mut device = journal.into_device();
    device.crash();
    let (mut journal, recovery) = Journal::mount(device.into_medium()).unwrap();
    assert_eq!(recovery.replayed, 2);
    let mut read = [0; BLOCK_SIZE];
    journal.read(block, &mut read).unwrap();
    assert_eq!(read, pattern(2, 3), "the replay undid the later file bytes");
}

/// A block a commit frees may not be taken again before the sync that makes the
/// free durable.
#[test]
fn a_freed_block_is_reusable_only_after_the_sync() {
    let mut journal = Journal::mount(formatted()).unwrap().0;
    let block = journal.data_start() + 4;
    let mut transaction = Transaction::new();
    transaction.write(journal.data_start(), &pattern(1, 0));
    transaction.free(block);
    assert!(transaction.frees(block));
    assert!(journal.may_reuse(block) && !journal.frees_waiting());
    journal.commit_unsynced(&transaction).unwrap();
    assert!(!journal.may_reuse(block) && journal.frees_waiting());
    journal.sync().unwrap();
    assert!(journal.may_reuse(block) && !journal.frees_waiting());
}
